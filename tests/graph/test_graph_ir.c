/* Graph IR: building, views, and validation messages that name the node,
 * the tensor and the value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "edgehal/graph.h"

static uint32_t t2(ehal_graph *g, const char *name, uint32_t dtype, uint32_t role, int64_t a,
                   int64_t b) {
    int64_t ne[2] = {a, b};
    return ehal_graph_add_tensor(g, name, dtype, role, 2, ne);
}

static void valid_matmul_graph_passes_and_records_producers(void **state) {
    (void)state;
    ehal_graph *g;
    assert_int_equal(ehal_graph_create(&g), EHAL_STATUS_OK);
    uint32_t w = t2(g, "w", EHAL_DTYPE_F32, EHAL_ROLE_WEIGHT, 8, 4);
    uint32_t x = t2(g, "x", EHAL_DTYPE_F32, EHAL_ROLE_INPUT, 8, 3);
    uint32_t y = t2(g, "y", EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, 4, 3);
    uint32_t in[2] = {w, x};
    uint32_t n = ehal_graph_add_node(g, "mm", EHAL_OP_MATMUL, in, 2, y, NULL, 0);
    assert_int_equal(n, 0);
    assert_int_equal(ehal_graph_validate(g), EHAL_STATUS_OK);
    assert_int_equal(ehal_graph_tensor_get(g, y)->producer, 0);
    assert_int_equal(ehal_graph_tensor_get(g, x)->producer, EHAL_GRAPH_NONE);
    assert_int_equal(ehal_graph_tensor_find(g, "y"), y);
    ehal_graph_free(g);
}

static void shape_mismatch_names_node_and_value(void **state) {
    (void)state;
    ehal_graph *g;
    assert_int_equal(ehal_graph_create(&g), EHAL_STATUS_OK);
    uint32_t w = t2(g, "w", EHAL_DTYPE_F32, EHAL_ROLE_WEIGHT, 8, 4);
    uint32_t x = t2(g, "x", EHAL_DTYPE_F32, EHAL_ROLE_INPUT, 7, 3); /* K mismatch: 7 != 8 */
    uint32_t y = t2(g, "y", EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, 4, 3);
    uint32_t in[2] = {w, x};
    ehal_graph_add_node(g, "blk.0.q", EHAL_OP_MATMUL, in, 2, y, NULL, 0);
    assert_int_not_equal(ehal_graph_validate(g), EHAL_STATUS_OK);
    const char *e = ehal_graph_last_error(g);
    assert_non_null(strstr(e, "blk.0.q"));
    assert_non_null(strstr(e, "matmul"));
    assert_non_null(strstr(e, "7"));
    ehal_graph_free(g);
}

static void unproduced_input_names_tensor(void **state) {
    (void)state;
    ehal_graph *g;
    assert_int_equal(ehal_graph_create(&g), EHAL_STATUS_OK);
    uint32_t a = t2(g, "a", EHAL_DTYPE_F32, EHAL_ROLE_ACTIVATION, 4, 2);
    uint32_t b = t2(g, "b", EHAL_DTYPE_F32, EHAL_ROLE_INPUT, 4, 2);
    uint32_t c = t2(g, "c", EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, 4, 2);
    uint32_t in[2] = {a, b};
    ehal_graph_add_node(g, "sum", EHAL_OP_ADD, in, 2, c, NULL, 0);
    assert_int_equal(ehal_graph_validate(g), EHAL_STATUS_INVALID_ARGUMENT);
    const char *e = ehal_graph_last_error(g);
    assert_non_null(strstr(e, "'sum'"));
    assert_non_null(strstr(e, "'a'"));
    assert_non_null(strstr(e, "never produced"));
    ehal_graph_free(g);
}

static void second_writer_is_refused(void **state) {
    (void)state;
    ehal_graph *g;
    assert_int_equal(ehal_graph_create(&g), EHAL_STATUS_OK);
    uint32_t a = t2(g, "a", EHAL_DTYPE_F32, EHAL_ROLE_INPUT, 4, 2);
    uint32_t c = t2(g, "c", EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, 4, 2);
    uint32_t in[2] = {a, a};
    ehal_graph_add_node(g, "first", EHAL_OP_ADD, in, 2, c, NULL, 0);
    ehal_graph_add_node(g, "second", EHAL_OP_MUL, in, 2, c, NULL, 0);
    assert_int_equal(ehal_graph_validate(g), EHAL_STATUS_INVALID_ARGUMENT);
    const char *e = ehal_graph_last_error(g);
    assert_non_null(strstr(e, "'second'"));
    assert_non_null(strstr(e, "already written by node 0"));
    ehal_graph_free(g);
}

static void bad_builder_call_sticks_and_names_value(void **state) {
    (void)state;
    ehal_graph *g;
    assert_int_equal(ehal_graph_create(&g), EHAL_STATUS_OK);
    int64_t ne[2] = {4, 0};
    assert_int_equal(ehal_graph_add_tensor(g, "zero", EHAL_DTYPE_F32, EHAL_ROLE_INPUT, 2, ne),
                     EHAL_GRAPH_NONE);
    int64_t q[1] = {33};
    assert_int_equal(ehal_graph_add_tensor(g, "q", EHAL_DTYPE_Q8_0, EHAL_ROLE_WEIGHT, 1, q),
                     EHAL_GRAPH_NONE);
    assert_int_equal(ehal_graph_validate(g), EHAL_STATUS_INVALID_ARGUMENT);
    const char *e = ehal_graph_last_error(g);
    /* the first error sticks */
    assert_non_null(strstr(e, "'zero'"));
    assert_non_null(strstr(e, "ne[1] = 0"));
    ehal_graph_free(g);
}

static void view_shares_base_bytes_and_is_bounds_checked(void **state) {
    (void)state;
    ehal_graph *g;
    assert_int_equal(ehal_graph_create(&g), EHAL_STATUS_OK);
    uint32_t a = t2(g, "a", EHAL_DTYPE_F32, EHAL_ROLE_INPUT, 8, 3); /* 96 bytes */
    int64_t v3[3] = {4, 2, 3};
    uint32_t v = ehal_graph_add_view(g, "a.heads", a, 0, 3, v3);
    assert_int_not_equal(v, EHAL_GRAPH_NONE);
    assert_int_equal(ehal_graph_tensor_root(g, v), a);
    int64_t last[2] = {8, 1};
    uint32_t l = ehal_graph_add_view(g, "a.last", v, 64, 2, last);
    assert_int_not_equal(l, EHAL_GRAPH_NONE);
    assert_int_equal(ehal_graph_tensor_get(g, l)->view_offset, 64);
    assert_int_equal(ehal_graph_tensor_root(g, l), a);
    assert_int_equal(ehal_graph_add_view(g, "a.past", a, 72, 2, last), EHAL_GRAPH_NONE);
    assert_non_null(strstr(ehal_graph_last_error(g), "'a.past'"));
    assert_non_null(strstr(ehal_graph_last_error(g), "offset 72"));
    ehal_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_matmul_graph_passes_and_records_producers),
        cmocka_unit_test(shape_mismatch_names_node_and_value),
        cmocka_unit_test(unproduced_input_names_tensor),
        cmocka_unit_test(second_writer_is_refused),
        cmocka_unit_test(bad_builder_call_sticks_and_names_value),
        cmocka_unit_test(view_shares_base_bytes_and_is_bounds_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
