/* The JSON writer (tools/util/json_writer.h): exact output bytes for
 * nesting, escaping, numbers and misuse. Expected strings are written by
 * hand from RFC 8259. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json_writer.h"

typedef struct membuf {
    char data[4096];
    size_t len;
    int fail_after; /* >0: the n-th write fails */
    int writes;
} membuf;

static int mem_sink(void *user, const char *data, size_t n) {
    membuf *m = user;
    m->writes++;
    if (m->fail_after > 0 && m->writes >= m->fail_after)
        return -1;
    if (m->len + n >= sizeof(m->data))
        return -1;
    memcpy(m->data + m->len, data, n);
    m->len += n;
    m->data[m->len] = '\0';
    return 0;
}

static void start(ehal_json_writer *w, membuf *m, uint32_t flags) {
    memset(m, 0, sizeof(*m));
    ehal_json_init_sink(w, mem_sink, m, flags);
}

static void nested_containers_are_separated_by_commas(void **state) {
    ehal_json_writer w;
    membuf m;
    (void)state;
    start(&w, &m, 0);
    ehal_json_begin_object(&w);
    ehal_json_kv_string(&w, "name", "cpu");
    ehal_json_key(&w, "ops");
    ehal_json_begin_array(&w);
    ehal_json_int(&w, 1);
    ehal_json_int(&w, -2);
    ehal_json_begin_object(&w);
    ehal_json_end_object(&w);
    ehal_json_begin_array(&w);
    ehal_json_end_array(&w);
    ehal_json_end_array(&w);
    ehal_json_kv_bool(&w, "ok", 1);
    ehal_json_key(&w, "none");
    ehal_json_null(&w);
    ehal_json_kv_uint(&w, "big", UINT64_MAX);
    ehal_json_kv_int(&w, "min", INT64_MIN);
    ehal_json_end_object(&w);
    assert_int_equal(ehal_json_finish(&w), 0);
    assert_string_equal(m.data, "{\"name\":\"cpu\",\"ops\":[1,-2,{},[]],\"ok\":true,\"none\":null,"
                                "\"big\":18446744073709551615,\"min\":-9223372036854775808}");
}

static void pretty_output_indents_two_spaces(void **state) {
    ehal_json_writer w;
    membuf m;
    (void)state;
    start(&w, &m, EHAL_JSON_PRETTY);
    ehal_json_begin_object(&w);
    ehal_json_key(&w, "a");
    ehal_json_begin_array(&w);
    ehal_json_int(&w, 1);
    ehal_json_int(&w, 2);
    ehal_json_end_array(&w);
    ehal_json_key(&w, "e");
    ehal_json_begin_object(&w);
    ehal_json_end_object(&w);
    ehal_json_end_object(&w);
    assert_int_equal(ehal_json_finish(&w), 0);
    assert_string_equal(m.data, "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"e\": {}\n}\n");
}

static void strings_escape_quotes_backslashes_and_controls(void **state) {
    ehal_json_writer w;
    membuf m;
    (void)state;
    start(&w, &m, 0);
    ehal_json_string(&w, "a\"b\\c\n\t\r\b\f\x01\x1f/z");
    assert_int_equal(ehal_json_finish(&w), 0);
    assert_string_equal(m.data, "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f/z\"");
}

static void valid_utf8_passes_and_invalid_bytes_become_fffd(void **state) {
    ehal_json_writer w;
    membuf m;
    (void)state;
    start(&w, &m, 0);
    ehal_json_begin_array(&w);
    /* e-acute (2 bytes), euro sign (3), U+1F600 (4) pass unchanged. */
    ehal_json_string(&w, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    /* a lone continuation byte, a truncated sequence, an overlong '/', a
     * UTF-16 surrogate (ED A0 80) and 0xFF. */
    ehal_json_string(&w, "x\x80y\xe2\x82");
    ehal_json_string(&w, "\xc0\xaf");
    ehal_json_string(&w, "\xed\xa0\x80");
    ehal_json_string(&w, "\xff");
    ehal_json_end_array(&w);
    assert_int_equal(ehal_json_finish(&w), 0);
    assert_string_equal(m.data, "[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
                                "\"x\\ufffdy\\ufffd\\ufffd\","
                                "\"\\ufffd\\ufffd\","
                                "\"\\ufffd\\ufffd\\ufffd\","
                                "\"\\ufffd\"]");
}

static void string_n_stops_at_length_and_may_hold_nul(void **state) {
    ehal_json_writer w;
    membuf m;
    (void)state;
    start(&w, &m, 0);
    ehal_json_begin_array(&w);
    ehal_json_string_n(&w, "ab\0cd", 5);
    ehal_json_string_n(&w, "abcdef", 2);
    ehal_json_string(&w, NULL);
    ehal_json_end_array(&w);
    assert_int_equal(ehal_json_finish(&w), 0);
    assert_string_equal(m.data, "[\"ab\\u0000cd\",\"ab\",null]");
}

static void doubles_round_trip_with_fewest_digits(void **state) {
    ehal_json_writer w;
    membuf m;
    (void)state;
    start(&w, &m, 0);
    ehal_json_begin_array(&w);
    ehal_json_double(&w, 0.1);
    ehal_json_double(&w, 1.0);
    ehal_json_double(&w, -2.5);
    ehal_json_double(&w, 1.0 / 3.0);
    ehal_json_double(&w, 1e-300);
    ehal_json_double(&w, 0.30000000000000004); /* 0.1 + 0.2: needs 17 digits */
    ehal_json_end_array(&w);
    assert_int_equal(ehal_json_finish(&w), 0);
    assert_string_equal(m.data, "[0.1,1,-2.5,0.3333333333333333,1e-300,0.30000000000000004]");
}

static void nonfinite_doubles_are_null_by_default(void **state) {
    ehal_json_writer w;
    membuf m;
    (void)state;
    start(&w, &m, 0);
    ehal_json_begin_array(&w);
    ehal_json_double(&w, NAN);
    ehal_json_double(&w, INFINITY);
    ehal_json_double(&w, -INFINITY);
    ehal_json_end_array(&w);
    assert_int_equal(ehal_json_finish(&w), 0);
    assert_string_equal(m.data, "[null,null,null]");
}

static void nonfinite_doubles_are_strings_when_asked(void **state) {
    ehal_json_writer w;
    membuf m;
    (void)state;
    start(&w, &m, EHAL_JSON_NONFINITE_STRINGS);
    ehal_json_begin_object(&w);
    ehal_json_kv_double(&w, "n", NAN);
    ehal_json_kv_double(&w, "p", INFINITY);
    ehal_json_kv_double(&w, "m", -INFINITY);
    ehal_json_kv_double(&w, "f", 2.0);
    ehal_json_end_object(&w);
    assert_int_equal(ehal_json_finish(&w), 0);
    assert_string_equal(m.data, "{\"n\":\"NaN\",\"p\":\"Infinity\",\"m\":\"-Infinity\",\"f\":2}");
}

static void value_without_key_in_object_is_an_error(void **state) {
    ehal_json_writer w;
    membuf m;
    (void)state;
    start(&w, &m, 0);
    ehal_json_begin_object(&w);
    ehal_json_int(&w, 1);
    ehal_json_end_object(&w);
    assert_int_equal(ehal_json_finish(&w), -1);
    assert_string_equal(m.data, "{"); /* nothing written after the misuse */
}

static void key_in_array_and_mismatched_end_are_errors(void **state) {
    ehal_json_writer w;
    membuf m;
    (void)state;
    start(&w, &m, 0);
    ehal_json_begin_array(&w);
    ehal_json_key(&w, "k");
    assert_int_equal(ehal_json_finish(&w), -1);

    start(&w, &m, 0);
    ehal_json_begin_array(&w);
    ehal_json_end_object(&w);
    assert_int_equal(ehal_json_finish(&w), -1);

    start(&w, &m, 0);
    ehal_json_begin_object(&w);
    ehal_json_key(&w, "dangling");
    ehal_json_end_object(&w);
    assert_int_equal(ehal_json_finish(&w), -1);
}

static void incomplete_or_second_document_is_an_error(void **state) {
    ehal_json_writer w;
    membuf m;
    (void)state;
    start(&w, &m, 0);
    assert_int_equal(ehal_json_finish(&w), -1); /* nothing written */

    start(&w, &m, 0);
    ehal_json_begin_array(&w);
    assert_int_equal(ehal_json_finish(&w), -1); /* unclosed */

    start(&w, &m, 0);
    ehal_json_int(&w, 1);
    ehal_json_int(&w, 2);
    assert_int_equal(ehal_json_finish(&w), -1);
    assert_string_equal(m.data, "1");
}

static void nesting_beyond_max_depth_is_an_error(void **state) {
    ehal_json_writer w;
    membuf m;
    (void)state;
    start(&w, &m, 0);
    for (int i = 0; i < EHAL_JSON_MAX_DEPTH; i++)
        ehal_json_begin_array(&w);
    assert_int_equal(w.error, 0);
    ehal_json_begin_array(&w);
    assert_int_equal(w.error, 1);
    assert_int_equal((int)m.len, EHAL_JSON_MAX_DEPTH);
}

static void failed_write_latches_the_error(void **state) {
    ehal_json_writer w;
    membuf m;
    (void)state;
    start(&w, &m, 0);
    m.fail_after = 3;
    ehal_json_begin_array(&w); /* write 1 */
    ehal_json_int(&w, 7);      /* write 2 */
    ehal_json_int(&w, 8);      /* write 3 (",") fails */
    ehal_json_end_array(&w);
    assert_int_equal(ehal_json_finish(&w), -1);
    assert_string_equal(m.data, "[7");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nested_containers_are_separated_by_commas),
        cmocka_unit_test(pretty_output_indents_two_spaces),
        cmocka_unit_test(strings_escape_quotes_backslashes_and_controls),
        cmocka_unit_test(valid_utf8_passes_and_invalid_bytes_become_fffd),
        cmocka_unit_test(string_n_stops_at_length_and_may_hold_nul),
        cmocka_unit_test(doubles_round_trip_with_fewest_digits),
        cmocka_unit_test(nonfinite_doubles_are_null_by_default),
        cmocka_unit_test(nonfinite_doubles_are_strings_when_asked),
        cmocka_unit_test(value_without_key_in_object_is_an_error),
        cmocka_unit_test(key_in_array_and_mismatched_end_are_errors),
        cmocka_unit_test(incomplete_or_second_document_is_an_error),
        cmocka_unit_test(nesting_beyond_max_depth_is_an_error),
        cmocka_unit_test(failed_write_latches_the_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
