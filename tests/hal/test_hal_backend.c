/*
 * Capability queries: ehal_backend_query_op validates before asking the
 * plugin; ehal_backend_op_support builds a representative instance per
 * (op, dtype) that the catalog accepts; ehal_op_dtype_defined's table.
 */
#include "edgehal/ops.h"
#include "hal_test.h"

static void query_op_validates_then_asks_the_backend(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(MOCK_SO, NULL);
    ehal_backend *be = ehal_backend_get(ctx, 0);
    ehal_tensor_desc t[3] = {f32_tensor(4, 3, NULL, 0), f32_tensor(4, 3, NULL, 0),
                             f32_tensor(4, 3, NULL, 0)};
    const ehal_tensor_desc *tp[3] = {&t[0], &t[1], &t[2]};
    ehal_node_desc n = binary_node(EHAL_OP_ADD, 0, 1, 2);
    const ehal_node_desc *np[1] = {&n};
    ehal_subgraph sg = {
        .struct_size = sizeof sg, .n_tensors = 3, .n_nodes = 1, .tensors = tp, .nodes = np};
    ehal_op_support s = {.struct_size = sizeof s};
    assert_int_equal(ehal_backend_query_op(be, &sg, 0, &s), EHAL_STATUS_OK);
    assert_int_equal(s.level, EHAL_SUPPORT_SUPPORTED);
    assert_int_equal(s.cost_ns, 12); /* mock's estimate: one ns per element */

    n.op = EHAL_OP_MUL;
    assert_int_equal(ehal_backend_query_op(be, &sg, 0, &s), EHAL_STATUS_OK);
    assert_int_equal(s.level, EHAL_SUPPORT_UNSUPPORTED);

    n.op = EHAL_OP_SOFTMAX; /* arity 1, given 2 inputs */
    char msg[400];
    ehal_status_t expect = ehal_op_validate(&sg, 0, msg, sizeof msg);
    assert_int_not_equal(expect, EHAL_STATUS_OK);
    assert_int_equal(ehal_backend_query_op(be, &sg, 0, &s), expect);
    assert_int_equal(s.level, EHAL_SUPPORT_UNSUPPORTED);
    assert_string_equal(ehal_last_error(ctx), msg);

    n.op = EHAL_OP_ADD;
    assert_int_equal(ehal_backend_query_op(be, &sg, 1, &s), EHAL_STATUS_INVALID_ARGUMENT);
    assert_string_equal(ehal_last_error(ctx),
                        "query_op: node 1 out of range (subgraph has 1 nodes)");
    ehal_context_destroy(ctx);
}

static void op_dtype_defined_follows_the_catalog(void **state) {
    (void)state;
    const uint32_t all4[] = {EHAL_DTYPE_F32, EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0, EHAL_DTYPE_Q4_0};
    const uint32_t wide[] = {EHAL_OP_MATMUL, EHAL_OP_GET_ROWS, EHAL_OP_KV_WRITE, EHAL_OP_ATTENTION,
                             EHAL_OP_COPY};
    const uint32_t f32only[] = {EHAL_OP_RMS_NORM, EHAL_OP_ROPE,   EHAL_OP_ADD,
                                EHAL_OP_MUL,      EHAL_OP_SWIGLU, EHAL_OP_SOFTMAX};
    for (int i = 0; i < 5; i++) {
        for (int d = 0; d < 4; d++)
            assert_int_equal(ehal_op_dtype_defined(wide[i], all4[d]), 1);
        assert_int_equal(ehal_op_dtype_defined(wide[i], EHAL_DTYPE_I32), 0);
    }
    for (int i = 0; i < 6; i++) {
        assert_int_equal(ehal_op_dtype_defined(f32only[i], EHAL_DTYPE_F32), 1);
        for (int d = 1; d < 4; d++)
            assert_int_equal(ehal_op_dtype_defined(f32only[i], all4[d]), 0);
    }
    assert_int_equal(ehal_op_dtype_defined(EHAL_OP_NONE, EHAL_DTYPE_F32), 0);
    assert_int_equal(ehal_op_dtype_defined(63, EHAL_DTYPE_F32), 0);
}

/* With claim_all, mock says SUPPORTED to every node that reaches it, so the
 * matrix shows exactly which representative instances pass validation. */
static void every_defined_pair_has_a_valid_representative_instance(void **state) {
    (void)state;
    const ehal_option opt = {"mock.claim_all", "1"};
    ehal_context_options o = test_options(MOCK_SO, NULL, EHAL_LOG_ERROR);
    o.backend_options = &opt;
    o.n_backend_options = 1;
    ehal_context *ctx = NULL;
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    ehal_backend *be = ehal_backend_get(ctx, 0);
    const uint32_t *ops, *dtypes;
    uint32_t n_ops = ehal_op_list(&ops), n_dt = ehal_dtype_list(&dtypes);
    assert_int_equal(n_ops, 11);
    int defined = 0;
    for (uint32_t i = 0; i < n_ops; i++) {
        for (uint32_t d = 0; d < n_dt; d++) {
            uint32_t lvl = ehal_backend_op_support(be, ops[i], dtypes[d]);
            if (ehal_op_dtype_defined(ops[i], dtypes[d])) {
                defined++;
                if (lvl != EHAL_SUPPORT_SUPPORTED)
                    fail_msg("%s x %s: representative instance rejected: %s", ehal_op_name(ops[i]),
                             ehal_dtype_name(dtypes[d]), ehal_last_error(ctx));
            } else {
                assert_int_equal(lvl, EHAL_SUPPORT_UNSUPPORTED);
            }
        }
    }
    assert_int_equal(defined, 5 * 4 + 6);
    ehal_context_destroy(ctx);
}

static void the_matrix_reflects_what_a_backend_offers(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(MOCK_SO ":" FROZEN_SO, NULL);
    ehal_backend *mock = ehal_backend_find(ctx, "mock"),
                 *frozen = ehal_backend_find(ctx, "frozen1");
    assert_int_equal(ehal_backend_op_support(mock, EHAL_OP_ADD, EHAL_DTYPE_F32),
                     EHAL_SUPPORT_SUPPORTED);
    assert_int_equal(ehal_backend_op_support(mock, EHAL_OP_MUL, EHAL_DTYPE_F32),
                     EHAL_SUPPORT_UNSUPPORTED);
    assert_int_equal(ehal_backend_op_support(mock, EHAL_OP_ADD, EHAL_DTYPE_F16),
                     EHAL_SUPPORT_UNSUPPORTED);
    assert_int_equal(ehal_backend_op_support(mock, EHAL_OP_MATMUL, EHAL_DTYPE_Q4_0),
                     EHAL_SUPPORT_UNSUPPORTED);
    assert_int_equal(ehal_backend_op_support(frozen, EHAL_OP_MUL, EHAL_DTYPE_F32),
                     EHAL_SUPPORT_SUPPORTED);
    assert_int_equal(ehal_backend_op_support(frozen, EHAL_OP_ADD, EHAL_DTYPE_F32),
                     EHAL_SUPPORT_UNSUPPORTED);
    assert_int_equal(ehal_backend_op_support(NULL, EHAL_OP_ADD, EHAL_DTYPE_F32),
                     EHAL_SUPPORT_UNSUPPORTED);
    ehal_context_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(query_op_validates_then_asks_the_backend),
        cmocka_unit_test(op_dtype_defined_follows_the_catalog),
        cmocka_unit_test(every_defined_pair_has_a_valid_representative_instance),
        cmocka_unit_test(the_matrix_reflects_what_a_backend_offers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
