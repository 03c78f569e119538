/* ehal_op_get_params: tolerant copy (ABI R1) and the documented defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ops_test_util.h"

static void rope_zero_fields_take_their_defaults(void **state) {
    (void)state;
    tnode g;
    ehal_params_rope in = {EHAL_ROPE_NEOX, 0, 0.0f, 0.0f};
    tn_init(&g, EHAL_OP_ROPE, &in, sizeof in);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 64, 4, 3, 1, NULL);
    ehal_params_rope p;
    memset(&p, 0xff, sizeof p);
    ehal_op_get_params(&g.sg, 0, &p, sizeof p);
    assert_int_equal(p.mode, EHAL_ROPE_NEOX);
    assert_int_equal(p.n_rot, 64); /* D = input 0 ne[0] */
    assert_true(p.freq_base == 10000.0f);
    assert_true(p.freq_scale == 1.0f);
}

static void rope_given_fields_are_kept(void **state) {
    (void)state;
    tnode g;
    ehal_params_rope in = {EHAL_ROPE_NORMAL, 32, 500000.0f, 0.25f};
    tn_init(&g, EHAL_OP_ROPE, &in, sizeof in);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 64, 4, 3, 1, NULL);
    ehal_params_rope p;
    ehal_op_get_params(&g.sg, 0, &p, sizeof p);
    assert_int_equal(p.mode, EHAL_ROPE_NORMAL);
    assert_int_equal(p.n_rot, 32);
    assert_true(p.freq_base == 500000.0f);
    assert_true(p.freq_scale == 0.25f);
}

/* An older writer that only knew `mode` (params_size 4): the rest reads as
 * absent, i.e. zero, and then defaults. */
static void short_params_from_an_older_writer_read_as_zero(void **state) {
    (void)state;
    tnode g;
    ehal_params_rope in = {EHAL_ROPE_NEOX, 8, 123.0f, 7.0f};
    tn_init(&g, EHAL_OP_ROPE, &in, 4);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 16, 1, 1, 1, NULL);
    ehal_params_rope p;
    ehal_op_get_params(&g.sg, 0, &p, sizeof p);
    assert_int_equal(p.mode, EHAL_ROPE_NEOX);
    assert_int_equal(p.n_rot, 16);
    assert_true(p.freq_base == 10000.0f);
    assert_true(p.freq_scale == 1.0f);
}

/* A newer writer with a longer struct: the bytes we know are read, the
 * rest ignored, and nothing is written beyond out_size. */
static void long_params_from_a_newer_writer_are_truncated(void **state) {
    (void)state;
    struct {
        ehal_params_attention known;
        uint32_t future_field;
    } in = {{0.5f, 16, 4, EHAL_ATTN_NONCAUSAL}, 0xdeadbeef};
    tnode g;
    tn_init(&g, EHAL_OP_ATTENTION, &in, sizeof in);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 64, 1, 1, 1, NULL);
    struct {
        ehal_params_attention p;
        uint32_t guard;
    } out;
    out.guard = 0x12345678;
    ehal_op_get_params(&g.sg, 0, &out.p, sizeof out.p);
    assert_true(out.p.scale == 0.5f);
    assert_int_equal(out.p.window, 16);
    assert_int_equal(out.p.n_sink, 4);
    assert_int_equal(out.p.flags, EHAL_ATTN_NONCAUSAL);
    assert_int_equal(out.guard, 0x12345678);
}

static void attention_scale_defaults_to_inverse_sqrt_of_head_dim(void **state) {
    (void)state;
    tnode g;
    tn_init(&g, EHAL_OP_ATTENTION, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 64, 8, 2, 1, NULL);
    ehal_params_attention p;
    ehal_op_get_params(&g.sg, 0, &p, sizeof p);
    assert_true(p.scale == 0.125f); /* 1/sqrt(64) */
    assert_int_equal(p.window, 0);
    assert_int_equal(p.n_sink, 0);
    assert_int_equal(p.flags, 0);
}

static void softmax_scale_defaults_to_one(void **state) {
    (void)state;
    tnode g;
    ehal_params_softmax in = {0.0f};
    tn_init(&g, EHAL_OP_SOFTMAX, &in, sizeof in);
    ehal_params_softmax p;
    ehal_op_get_params(&g.sg, 0, &p, sizeof p);
    assert_true(p.scale == 1.0f);
    in.scale = -2.5f;
    ehal_op_get_params(&g.sg, 0, &p, sizeof p);
    assert_true(p.scale == -2.5f);
}

static void kv_and_rms_norm_params_have_no_defaults(void **state) {
    (void)state;
    tnode g;
    tn_init(&g, EHAL_OP_KV_WRITE, NULL, 0);
    ehal_params_kv kv;
    memset(&kv, 0x55, sizeof kv);
    ehal_op_get_params(&g.sg, 0, &kv, sizeof kv);
    assert_int_equal(kv.window, 0);
    assert_int_equal(kv.n_sink, 0);

    ehal_params_rms_norm in = {1e-5f};
    tn_init(&g, EHAL_OP_RMS_NORM, &in, sizeof in);
    ehal_params_rms_norm p;
    ehal_op_get_params(&g.sg, 0, &p, sizeof p);
    assert_true(p.eps == 1e-5f);
}

/* A short out buffer gets the prefix of the defaulted struct only. */
static void short_out_buffer_gets_the_prefix(void **state) {
    (void)state;
    tnode g;
    tn_init(&g, EHAL_OP_ROPE, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 32, 1, 1, 1, NULL);
    uint32_t out[3] = {0xaaaaaaaa, 0xaaaaaaaa, 0xaaaaaaaa};
    ehal_op_get_params(&g.sg, 0, out, 2 * sizeof(uint32_t));
    assert_int_equal(out[0], EHAL_ROPE_NORMAL);
    assert_int_equal(out[1], 32);
    assert_int_equal(out[2], 0xaaaaaaaa);
}

static void unusable_node_zero_fills(void **state) {
    (void)state;
    ehal_params_rope p;
    memset(&p, 0xff, sizeof p);
    ehal_op_get_params(NULL, 0, &p, sizeof p);
    assert_int_equal(p.mode, 0);
    assert_int_equal(p.n_rot, 0);
    assert_true(p.freq_base == 0.0f);

    tnode g;
    tn_init(&g, EHAL_OP_ROPE, NULL, 0);
    memset(&p, 0xff, sizeof p);
    ehal_op_get_params(&g.sg, 5, &p, sizeof p); /* no node 5 */
    assert_int_equal(p.n_rot, 0);
    ehal_op_get_params(&g.sg, 0, NULL, 16); /* ignored */
}

/* A node from a writer whose node struct ends before params_size/params
 * carries no params (R1), whatever those bytes hold. */
static void node_without_params_fields_has_no_params(void **state) {
    (void)state;
    tnode g;
    ehal_params_rope in = {EHAL_ROPE_NEOX, 8, 5.0f, 3.0f};
    tn_init(&g, EHAL_OP_ROPE, &in, sizeof in);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 16, 1, 1, 1, NULL);
    g.node.struct_size = offsetof(ehal_node_desc, params_size);
    ehal_params_rope p;
    ehal_op_get_params(&g.sg, 0, &p, sizeof p);
    assert_int_equal(p.mode, EHAL_ROPE_NORMAL);
    assert_int_equal(p.n_rot, 16);
    assert_true(p.freq_base == 10000.0f);
    assert_true(p.freq_scale == 1.0f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rope_zero_fields_take_their_defaults),
        cmocka_unit_test(rope_given_fields_are_kept),
        cmocka_unit_test(short_params_from_an_older_writer_read_as_zero),
        cmocka_unit_test(long_params_from_a_newer_writer_are_truncated),
        cmocka_unit_test(attention_scale_defaults_to_inverse_sqrt_of_head_dim),
        cmocka_unit_test(softmax_scale_defaults_to_one),
        cmocka_unit_test(kv_and_rms_norm_params_have_no_defaults),
        cmocka_unit_test(short_out_buffer_gets_the_prefix),
        cmocka_unit_test(unusable_node_zero_fills),
        cmocka_unit_test(node_without_params_fields_has_no_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
