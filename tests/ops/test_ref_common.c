/* The reference kernel table and ehal_kernel_args_fill. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ops_test_util.h"

static void kernel_table_maps_each_op_to_its_kernel(void **state) {
    (void)state;
    const struct {
        uint32_t op;
        ehal_kernel_fn fn;
    } want[] = {
        {EHAL_OP_GET_ROWS, ehal_ref_GET_ROWS},   {EHAL_OP_MATMUL, ehal_ref_MATMUL},
        {EHAL_OP_RMS_NORM, ehal_ref_RMS_NORM},   {EHAL_OP_ROPE, ehal_ref_ROPE},
        {EHAL_OP_ADD, ehal_ref_ADD},             {EHAL_OP_MUL, ehal_ref_MUL},
        {EHAL_OP_SWIGLU, ehal_ref_SWIGLU},       {EHAL_OP_SOFTMAX, ehal_ref_SOFTMAX},
        {EHAL_OP_KV_WRITE, ehal_ref_KV_WRITE},   {EHAL_OP_ATTENTION, ehal_ref_ATTENTION},
        {EHAL_OP_COPY, ehal_ref_COPY},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_true(ehal_ref_kernel(want[i].op) == want[i].fn);
    }
    for (uint32_t op = 12; op < 70; op++) {
        assert_null(ehal_ref_kernel(op));
    }
}

static void args_fill_resolves_every_tensor(void **state) {
    (void)state;
    float q[4], k[4], v[4], o[4];
    int32_t pos[1];
    tnode g;
    tn_init(&g, EHAL_OP_ATTENTION, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 4, 1, 1, 1, q);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, 4, 1, 1, 1, k);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 4, 1, 1, 1, v);
    tn_tensor(&g, 3, EHAL_DTYPE_I32, 1, 1, 1, 1, pos);
    tn_tensor(&g, 4, EHAL_DTYPE_F32, 4, 1, 1, 1, o);
    /* shuffle the tensor table so indices differ from slots */
    g.tp[0] = &g.t[4];
    g.tp[4] = &g.t[0];
    g.node.inputs[0] = 4;
    g.node.outputs[0] = 0;
    ehal_kernel_args a;
    memset(&a, 0x5a, sizeof a);
    ehal_kernel_args_fill(&a, &g.sg, 0, tn_resolve, &g);
    assert_ptr_equal(a.sg, &g.sg);
    assert_int_equal(a.node, 0);
    assert_ptr_equal(a.in[0], &g.t[0]);
    assert_ptr_equal(a.in_data[0], q);
    assert_ptr_equal(a.in[1], &g.t[1]);
    assert_ptr_equal(a.in_data[1], k);
    assert_ptr_equal(a.in_data[2], v);
    assert_ptr_equal(a.in_data[3], pos);
    assert_ptr_equal(a.out, &g.t[4]);
    assert_ptr_equal(a.out_data, o);
}

static void args_fill_leaves_unusable_slots_null(void **state) {
    (void)state;
    float x[2];
    tnode g;
    tn_init(&g, EHAL_OP_SOFTMAX, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 2, 1, 1, 1, x);
    g.node.outputs[0] = 7; /* out of range */
    ehal_kernel_args a;
    memset(&a, 0x5a, sizeof a);
    ehal_kernel_args_fill(&a, &g.sg, 0, tn_resolve, &g);
    assert_ptr_equal(a.in[0], &g.t[0]);
    assert_ptr_equal(a.in_data[0], x);
    assert_null(a.in[1]);
    assert_null(a.in_data[1]);
    assert_null(a.out);
    assert_null(a.out_data);
    assert_int_equal(ehal_ref_SOFTMAX(&a), EHAL_STATUS_INVALID_ARGUMENT);

    ehal_kernel_args_fill(&a, &g.sg, 0, NULL, NULL); /* no resolver: descs only */
    assert_ptr_equal(a.in[0], &g.t[0]);
    assert_null(a.in_data[0]);

    ehal_kernel_args_fill(&a, &g.sg, 3, tn_resolve, &g); /* no node 3 */
    assert_ptr_equal(a.sg, &g.sg);
    assert_int_equal(a.node, 3);
    assert_null(a.in[0]);
    assert_null(a.out);
    ehal_kernel_args_fill(NULL, &g.sg, 0, tn_resolve, &g); /* ignored */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kernel_table_maps_each_op_to_its_kernel),
        cmocka_unit_test(args_fill_resolves_every_tensor),
        cmocka_unit_test(args_fill_leaves_unusable_slots_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
