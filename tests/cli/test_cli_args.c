/* The shared command-line helpers (tools/edgehal/cli.h): option forms,
 * common options, errors, and number parsing with ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

enum { OPT_JSON = 1, OPT_N, OPT_OUT };

static const ehal_cli_opt opts[] = {
    {"json", 0, 0, OPT_JSON},
    {"n", 'n', 1, OPT_N},
    {"out", 'o', 1, OPT_OUT},
    {NULL, 0, 0, 0},
};

static int usage_calls;
static void usage(FILE *out) {
    (void)out;
    usage_calls++;
}

static void init(ehal_cli_parser *p, int argc, char **argv) {
    usage_calls = 0;
    ehal_cli_parser_init(p, argc, argv, opts, usage);
}

static void long_options_take_values_in_both_forms(void **state) {
    char *argv[] = {"demo", "--n", "5", "--out=x.json", "--json", "file", NULL};
    ehal_cli_parser p;
    (void)state;
    init(&p, 6, argv);
    assert_string_equal(p.cmd, "demo");
    assert_int_equal(ehal_cli_next(&p), OPT_N);
    assert_string_equal(p.value, "5");
    assert_string_equal(p.opt_name, "--n");
    assert_int_equal(ehal_cli_next(&p), OPT_OUT);
    assert_string_equal(p.value, "x.json");
    assert_string_equal(p.opt_name, "--out");
    assert_int_equal(ehal_cli_next(&p), OPT_JSON);
    assert_int_equal(ehal_cli_next(&p), EHAL_CLI_ARG);
    assert_string_equal(p.value, "file");
    assert_int_equal(ehal_cli_next(&p), EHAL_CLI_END);
    assert_int_equal(usage_calls, 0);
}

static void short_options_group_and_attach_values(void **state) {
    char *argv[] = {"demo", "-n7", "-o", "f", "-vvn", "3", NULL};
    ehal_cli_parser p;
    ehal_cli_common c;
    (void)state;
    init(&p, 6, argv);
    ehal_cli_common_init(&c);
    p.common = &c;
    assert_int_equal(ehal_cli_next(&p), OPT_N);
    assert_string_equal(p.value, "7");
    assert_int_equal(ehal_cli_next(&p), OPT_OUT);
    assert_string_equal(p.value, "f");
    assert_int_equal(ehal_cli_next(&p), OPT_N); /* -v -v consumed on the way */
    assert_string_equal(p.value, "3");
    assert_int_equal(ehal_cli_next(&p), EHAL_CLI_END);
    assert_int_equal(c.verbose, 2);
}

static void double_dash_makes_the_rest_positional(void **state) {
    char *argv[] = {"demo", "--", "--json", "-", NULL};
    ehal_cli_parser p;
    (void)state;
    init(&p, 4, argv);
    assert_int_equal(ehal_cli_next(&p), EHAL_CLI_ARG);
    assert_string_equal(p.value, "--json");
    assert_int_equal(ehal_cli_next(&p), EHAL_CLI_ARG);
    assert_string_equal(p.value, "-");
    assert_int_equal(ehal_cli_next(&p), EHAL_CLI_END);
}

static void unknown_option_is_an_error_with_usage(void **state) {
    char *argv1[] = {"demo", "--bogus=1", NULL};
    char *argv2[] = {"demo", "-x", NULL};
    ehal_cli_parser p;
    (void)state;
    init(&p, 2, argv1);
    assert_int_equal(ehal_cli_next(&p), EHAL_CLI_ERROR);
    assert_string_equal(p.opt_name, "--bogus");
    assert_int_equal(usage_calls, 1);
    assert_int_equal(ehal_cli_exit_code(EHAL_CLI_ERROR), 2);
    init(&p, 2, argv2);
    assert_int_equal(ehal_cli_next(&p), EHAL_CLI_ERROR);
    assert_int_equal(usage_calls, 1);
}

static void missing_value_and_value_on_flag_are_errors(void **state) {
    char *argv1[] = {"demo", "--n", NULL};
    char *argv2[] = {"demo", "--json=yes", NULL};
    char *argv3[] = {"demo", "-o", NULL};
    ehal_cli_parser p;
    (void)state;
    init(&p, 2, argv1);
    assert_int_equal(ehal_cli_next(&p), EHAL_CLI_ERROR);
    init(&p, 2, argv2);
    assert_int_equal(ehal_cli_next(&p), EHAL_CLI_ERROR);
    init(&p, 2, argv3);
    assert_int_equal(ehal_cli_next(&p), EHAL_CLI_ERROR);
    assert_int_equal(usage_calls, 1);
}

static void common_options_only_when_enabled(void **state) {
    char *argv[] = {"demo",
                    "--backends",
                    "cpu,-vulkan",
                    "--backend-path=/a:/b",
                    "--option",
                    "cpu.threads=2",
                    "--option=vulkan.device=1",
                    "--verbose",
                    NULL};
    ehal_cli_parser p;
    ehal_cli_common c;
    (void)state;
    init(&p, 8, argv);
    assert_int_equal(ehal_cli_next(&p), EHAL_CLI_ERROR); /* not enabled */

    init(&p, 8, argv);
    ehal_cli_common_init(&c);
    p.common = &c;
    assert_int_equal(ehal_cli_next(&p), EHAL_CLI_END);
    assert_string_equal(c.backends, "cpu,-vulkan");
    assert_string_equal(c.backend_path, "/a:/b");
    assert_int_equal(c.n_options, 2);
    assert_string_equal(c.options[0].key, "cpu.threads");
    assert_string_equal(c.options[0].value, "2");
    assert_string_equal(c.options[1].key, "vulkan.device");
    assert_string_equal(c.options[1].value, "1");
    assert_int_equal(c.verbose, 1);
}

static void malformed_backend_option_is_rejected(void **state) {
    ehal_cli_common c;
    (void)state;
    ehal_cli_common_init(&c);
    assert_int_equal(ehal_cli_common_add_option(&c, "t", "threads=2"), -1);   /* no backend */
    assert_int_equal(ehal_cli_common_add_option(&c, "t", "cpu.threads"), -1); /* no value */
    assert_int_equal(ehal_cli_common_add_option(&c, "t", ".threads=2"), -1);
    assert_int_equal(ehal_cli_common_add_option(&c, "t", "cpu.=2"), -1);
    assert_int_equal(ehal_cli_common_add_option(&c, "t", "a=b.c"), -1); /* dot after = */
    assert_int_equal(c.n_options, 0);
    assert_int_equal(ehal_cli_common_add_option(&c, "t", "cpu.path=a=b"), 0);
    assert_string_equal(c.options[0].key, "cpu.path");
    assert_string_equal(c.options[0].value, "a=b");
    for (int i = 1; i < EHAL_CLI_MAX_OPTIONS; i++)
        assert_int_equal(ehal_cli_common_add_option(&c, "t", "cpu.k=v"), 0);
    assert_int_equal(ehal_cli_common_add_option(&c, "t", "cpu.k=v"), -1); /* full */
    assert_int_equal(c.n_options, EHAL_CLI_MAX_OPTIONS);
}

static void help_is_reported_to_the_caller(void **state) {
    char *argv[] = {"demo", "--json", "-h", "--bogus", NULL};
    ehal_cli_parser p;
    (void)state;
    init(&p, 4, argv);
    assert_int_equal(ehal_cli_next(&p), OPT_JSON);
    assert_int_equal(ehal_cli_next(&p), EHAL_CLI_HELP);
    assert_int_equal(usage_calls, 1);
    assert_int_equal(ehal_cli_exit_code(EHAL_CLI_HELP), 0);
}

static void unsigned_numbers_are_range_checked(void **state) {
    uint64_t v = 99;
    (void)state;
    assert_int_equal(ehal_cli_parse_u64("t", "--n", "0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(ehal_cli_parse_u64("t", "--n", "10", 0, 10, &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(ehal_cli_parse_u64("t", "--n", "0x1F", 0, 100, &v), 0);
    assert_int_equal(v, 31);
    assert_int_equal(ehal_cli_parse_u64("t", "--n", "18446744073709551615", 0, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    v = 5;
    assert_int_equal(ehal_cli_parse_u64("t", "--n", "11", 0, 10, &v), -1);
    assert_int_equal(ehal_cli_parse_u64("t", "--n", "-1", 0, 10, &v), -1);
    assert_int_equal(ehal_cli_parse_u64("t", "--n", "18446744073709551616", 0, UINT64_MAX, &v), -1);
    assert_int_equal(ehal_cli_parse_u64("t", "--n", "", 0, 10, &v), -1);
    assert_int_equal(ehal_cli_parse_u64("t", "--n", " 3", 0, 10, &v), -1);
    assert_int_equal(ehal_cli_parse_u64("t", "--n", "3x", 0, 10, &v), -1);
    assert_int_equal(ehal_cli_parse_u64("t", "--n", "0x", 0, 10, &v), -1);
    assert_int_equal(ehal_cli_parse_u64("t", "--n", NULL, 0, 10, &v), -1);
    assert_int_equal(v, 5); /* untouched on failure */
}

static void signed_numbers_cover_the_full_range(void **state) {
    int64_t v = 0;
    (void)state;
    assert_int_equal(ehal_cli_parse_i64("t", "--x", "-42", -100, 100, &v), 0);
    assert_int_equal(v, -42);
    assert_int_equal(
        ehal_cli_parse_i64("t", "--x", "-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(
        ehal_cli_parse_i64("t", "--x", "9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(
        ehal_cli_parse_i64("t", "--x", "9223372036854775808", INT64_MIN, INT64_MAX, &v), -1);
    assert_int_equal(ehal_cli_parse_i64("t", "--x", "-101", -100, 100, &v), -1);
    assert_int_equal(ehal_cli_parse_i64("t", "--x", "--1", -100, 100, &v), -1);
    assert_true(v == INT64_MAX);
}

static void doubles_are_finite_and_range_checked(void **state) {
    double v = 0;
    (void)state;
    assert_int_equal(ehal_cli_parse_double("t", "--temp", "0.75", 0.0, 2.0, &v), 0);
    assert_true(v == 0.75);
    assert_int_equal(ehal_cli_parse_double("t", "--temp", "1e-3", 0.0, 2.0, &v), 0);
    assert_true(v == 1e-3);
    assert_int_equal(ehal_cli_parse_double("t", "--temp", "2.5", 0.0, 2.0, &v), -1);
    assert_int_equal(ehal_cli_parse_double("t", "--temp", "nan", 0.0, 2.0, &v), -1);
    assert_int_equal(ehal_cli_parse_double("t", "--temp", "inf", 0.0, 1e300, &v), -1);
    assert_int_equal(ehal_cli_parse_double("t", "--temp", "1.0x", 0.0, 2.0, &v), -1);
    assert_int_equal(ehal_cli_parse_double("t", "--temp", "", 0.0, 2.0, &v), -1);
    assert_true(v == 1e-3);
}

static void parser_value_helpers_use_the_current_option(void **state) {
    char *argv[] = {"demo", "--n=12", "--n", "x", NULL};
    ehal_cli_parser p;
    uint64_t v = 0;
    (void)state;
    init(&p, 4, argv);
    assert_int_equal(ehal_cli_next(&p), OPT_N);
    assert_int_equal(ehal_cli_value_u64(&p, 1, 100, &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(ehal_cli_next(&p), OPT_N);
    assert_int_equal(ehal_cli_value_u64(&p, 1, 100, &v), -1);
    assert_int_equal(v, 12);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(long_options_take_values_in_both_forms),
        cmocka_unit_test(short_options_group_and_attach_values),
        cmocka_unit_test(double_dash_makes_the_rest_positional),
        cmocka_unit_test(unknown_option_is_an_error_with_usage),
        cmocka_unit_test(missing_value_and_value_on_flag_are_errors),
        cmocka_unit_test(common_options_only_when_enabled),
        cmocka_unit_test(malformed_backend_option_is_rejected),
        cmocka_unit_test(help_is_reported_to_the_caller),
        cmocka_unit_test(unsigned_numbers_are_range_checked),
        cmocka_unit_test(signed_numbers_cover_the_full_range),
        cmocka_unit_test(doubles_are_finite_and_range_checked),
        cmocka_unit_test(parser_value_helpers_use_the_current_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
