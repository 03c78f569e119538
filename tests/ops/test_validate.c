/* ehal_op_validate: each rule has a failing case whose status and message
 * (node index, op name, tensor and offending value) are checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ops_test_util.h"

/* Status must be `want` and msg must contain every needle (NULL-ended). */
static void expect_fail(tnode *g, ehal_status_t want, ...) {
    ehal_status_t st = tn_validate(g);
    if (st != want) {
        print_error("status %d, want %d; message: %s\n", st, want, g->msg);
        fail();
    }
    va_list ap;
    va_start(ap, want);
    for (const char *needle = va_arg(ap, const char *); needle;
         needle = va_arg(ap, const char *)) {
        if (!strstr(g->msg, needle)) {
            print_error("message \"%s\" lacks \"%s\"\n", g->msg, needle);
            va_end(ap);
            fail();
        }
    }
    va_end(ap);
}

static void expect_ok(tnode *g) {
    ehal_status_t st = tn_validate(g);
    if (st != EHAL_STATUS_OK) {
        print_error("status %d: %s\n", st, g->msg);
        fail();
    }
    assert_string_equal(g->msg, "");
}

#define INVALID EHAL_STATUS_INVALID_ARGUMENT
#define UNSUPPORTED EHAL_STATUS_UNSUPPORTED

/* ---- valid nodes of every op, mutated by the cases below ------------------ */

static void matmul_ok(tnode *g) {
    tn_init(g, EHAL_OP_MATMUL, NULL, 0);
    tn_tensor(g, 0, EHAL_DTYPE_Q4_0, 128, 64, 1, 1, NULL);
    tn_tensor(g, 1, EHAL_DTYPE_F32, 128, 3, 1, 1, NULL);
    tn_tensor(g, 2, EHAL_DTYPE_F32, 64, 3, 1, 1, NULL);
}

static void get_rows_ok(tnode *g) {
    tn_init(g, EHAL_OP_GET_ROWS, NULL, 0);
    tn_tensor(g, 0, EHAL_DTYPE_Q8_0, 64, 10, 1, 1, NULL);
    tn_tensor(g, 1, EHAL_DTYPE_I32, 5, 1, 1, 1, NULL);
    tn_tensor(g, 2, EHAL_DTYPE_F32, 64, 5, 1, 1, NULL);
}

static ehal_params_rms_norm rms_params;
static void rms_norm_ok(tnode *g) {
    rms_params.eps = 1e-5f;
    tn_init(g, EHAL_OP_RMS_NORM, &rms_params, sizeof rms_params);
    tn_tensor(g, 0, EHAL_DTYPE_F32, 16, 3, 1, 1, NULL);
    tn_tensor(g, 1, EHAL_DTYPE_F32, 16, 1, 1, 1, NULL);
    tn_tensor(g, 2, EHAL_DTYPE_F32, 16, 3, 1, 1, NULL);
}

static ehal_params_rope rope_params;
static void rope_ok(tnode *g) {
    memset(&rope_params, 0, sizeof rope_params);
    tn_init(g, EHAL_OP_ROPE, &rope_params, sizeof rope_params);
    tn_tensor(g, 0, EHAL_DTYPE_F32, 64, 4, 3, 1, NULL);
    tn_tensor(g, 1, EHAL_DTYPE_I32, 3, 1, 1, 1, NULL);
    tn_tensor(g, 2, EHAL_DTYPE_F32, 64, 4, 3, 1, NULL);
}

static void binary_ok(tnode *g, uint32_t op) {
    tn_init(g, op, NULL, 0);
    for (uint32_t i = 0; i < 3; i++) {
        tn_tensor(g, i, EHAL_DTYPE_F32, 8, 3, 2, 1, NULL);
    }
}

static ehal_params_softmax softmax_params;
static void softmax_ok(tnode *g) {
    softmax_params.scale = 0.5f;
    tn_init(g, EHAL_OP_SOFTMAX, &softmax_params, sizeof softmax_params);
    tn_tensor(g, 0, EHAL_DTYPE_F32, 10, 4, 1, 1, NULL);
    tn_tensor(g, 1, EHAL_DTYPE_F32, 10, 4, 1, 1, NULL);
}

static ehal_params_kv kv_params;
/* src [64, 2, 3], pos [3], cache f16 [64, 16, 2]; output is input 2 */
static void kv_write_ok(tnode *g) {
    memset(&kv_params, 0, sizeof kv_params);
    tn_init(g, EHAL_OP_KV_WRITE, &kv_params, sizeof kv_params);
    tn_tensor(g, 0, EHAL_DTYPE_F32, 64, 2, 3, 1, NULL);
    tn_tensor(g, 1, EHAL_DTYPE_I32, 3, 1, 1, 1, NULL);
    tn_tensor(g, 2, EHAL_DTYPE_F16, 64, 16, 2, 1, NULL);
    g->node.outputs[0] = 2;
    g->sg.n_tensors = 3;
}

static ehal_params_attention attn_params;
/* Q [64, 8, 3], K/V f16 [64, 16, 2], pos [3], out [64, 8, 3] */
static void attention_ok(tnode *g) {
    memset(&attn_params, 0, sizeof attn_params);
    tn_init(g, EHAL_OP_ATTENTION, &attn_params, sizeof attn_params);
    tn_tensor(g, 0, EHAL_DTYPE_F32, 64, 8, 3, 1, NULL);
    tn_tensor(g, 1, EHAL_DTYPE_F16, 64, 16, 2, 1, NULL);
    tn_tensor(g, 2, EHAL_DTYPE_F16, 64, 16, 2, 1, NULL);
    tn_tensor(g, 3, EHAL_DTYPE_I32, 3, 1, 1, 1, NULL);
    tn_tensor(g, 4, EHAL_DTYPE_F32, 64, 8, 3, 1, NULL);
}

static void copy_ok(tnode *g) {
    tn_init(g, EHAL_OP_COPY, NULL, 0);
    tn_tensor(g, 0, EHAL_DTYPE_F32, 64, 2, 1, 1, NULL);
    tn_tensor(g, 1, EHAL_DTYPE_Q8_0, 128, 1, 1, 1, NULL);
}

static void well_formed_nodes_of_every_op_pass(void **state) {
    (void)state;
    tnode g;
    matmul_ok(&g);
    expect_ok(&g);
    g.t[0].dtype = EHAL_DTYPE_F16;
    expect_ok(&g);
    g.t[1].ne[2] = 5; /* batched activations flatten: out [64, 3, 5] */
    g.t[2].ne[2] = 5;
    expect_ok(&g);
    get_rows_ok(&g);
    expect_ok(&g);
    rms_norm_ok(&g);
    expect_ok(&g);
    rope_ok(&g);
    expect_ok(&g);
    rope_params.mode = EHAL_ROPE_NEOX;
    rope_params.n_rot = 32;
    expect_ok(&g);
    binary_ok(&g, EHAL_OP_ADD);
    expect_ok(&g);
    binary_ok(&g, EHAL_OP_MUL);
    expect_ok(&g);
    binary_ok(&g, EHAL_OP_SWIGLU);
    expect_ok(&g);
    softmax_ok(&g);
    expect_ok(&g);
    kv_write_ok(&g);
    expect_ok(&g);
    g.t[2].dtype = EHAL_DTYPE_F32; /* an F32 cache is allowed too */
    expect_ok(&g);
    g.t[2].dtype = EHAL_DTYPE_Q4_0;
    expect_ok(&g);
    attention_ok(&g);
    expect_ok(&g);
    copy_ok(&g);
    expect_ok(&g);
    g.t[0].dtype = EHAL_DTYPE_I32;
    g.t[1].dtype = EHAL_DTYPE_I32;
    expect_ok(&g);
}

/* Params are optional: every op validates with none (defaults apply). */
static void nodes_without_params_use_defaults(void **state) {
    (void)state;
    tnode g;
    rope_ok(&g);
    g.node.params = NULL;
    g.node.params_size = 0;
    expect_ok(&g);
    attention_ok(&g);
    g.node.params = NULL;
    g.node.params_size = 0;
    expect_ok(&g);
}

/* ---- generic rules ------------------------------------------------------------ */

static void unusable_subgraph_or_node_is_rejected(void **state) {
    (void)state;
    char msg[128];
    assert_int_equal(ehal_op_validate(NULL, 0, msg, sizeof msg), INVALID);
    assert_non_null(strstr(msg, "subgraph is NULL"));
    assert_int_equal(ehal_op_validate(NULL, 0, NULL, 0), INVALID); /* msg optional */

    tnode g;
    matmul_ok(&g);
    assert_int_equal(ehal_op_validate(&g.sg, 3, msg, sizeof msg), INVALID);
    assert_non_null(strstr(msg, "node 3"));
    assert_non_null(strstr(msg, "n_nodes=1"));

    g.sg.struct_size = 8;
    expect_fail(&g, INVALID, "node 0", "subgraph struct_size=8", NULL);
    matmul_ok(&g);
    g.np[0] = NULL;
    expect_fail(&g, INVALID, "node 0", "node is NULL", NULL);
    matmul_ok(&g);
    g.node.struct_size = 8;
    expect_fail(&g, INVALID, "node 0", "node struct_size=8", NULL);
    /* a node from an older writer that ends before its params fields is
     * fine: it has no params, and garbage there is never read */
    rope_ok(&g);
    g.node.struct_size = offsetof(ehal_node_desc, params_size);
    g.node.params = NULL;
    g.node.params_size = 999;
    expect_ok(&g);
    matmul_ok(&g);
    g.sg.tensors = NULL;
    expect_fail(&g, INVALID, "node 0 (matmul)", "tensors is NULL", "n_tensors=3", NULL);
}

static void unknown_op_is_unsupported(void **state) {
    (void)state;
    tnode g;
    matmul_ok(&g);
    g.node.op = 42;
    expect_fail(&g, UNSUPPORTED, "node 0", "op id 42", NULL);
    g.node.op = EHAL_OP_NONE;
    expect_fail(&g, UNSUPPORTED, "node 0", "op id 0", NULL);
}

static void arity_must_match_the_catalog(void **state) {
    (void)state;
    tnode g;
    matmul_ok(&g);
    g.node.n_inputs = 3;
    expect_fail(&g, INVALID, "node 0 (matmul)", "n_inputs=3", "takes 2", NULL);
    matmul_ok(&g);
    g.node.n_inputs = 1000; /* garbage count: no out-of-bounds read */
    expect_fail(&g, INVALID, "node 0 (matmul)", "n_inputs=1000", NULL);
    matmul_ok(&g);
    g.node.n_outputs = 0;
    expect_fail(&g, INVALID, "node 0 (matmul)", "n_outputs=0", "makes 1", NULL);
}

static void params_pointer_must_back_its_size(void **state) {
    (void)state;
    tnode g;
    rope_ok(&g);
    g.node.params = NULL;
    g.node.params_size = 16;
    expect_fail(&g, INVALID, "node 0 (rope)", "params is NULL", "params_size=16", NULL);
}

static void tensor_references_must_be_usable(void **state) {
    (void)state;
    tnode g;
    matmul_ok(&g);
    g.node.inputs[1] = 9;
    expect_fail(&g, INVALID, "node 0 (matmul)", "input 1", "index 9", "n_tensors=3", NULL);
    matmul_ok(&g);
    g.node.outputs[0] = UINT32_MAX;
    expect_fail(&g, INVALID, "node 0 (matmul)", "output 0", "index 4294967295", NULL);
    matmul_ok(&g);
    g.tp[0] = NULL;
    expect_fail(&g, INVALID, "node 0 (matmul)", "input 0 tensor 0 is NULL", NULL);
    matmul_ok(&g);
    g.t[1].struct_size = 4;
    expect_fail(&g, INVALID, "node 0 (matmul)", "input 1", "struct_size=4", NULL);
    /* a desc from an older writer ending before `buffer` still has a shape */
    matmul_ok(&g);
    g.t[1].struct_size = offsetof(ehal_tensor_desc, buffer);
    expect_ok(&g);
}

static void tensor_dtype_and_shape_must_be_valid(void **state) {
    (void)state;
    tnode g;
    matmul_ok(&g);
    g.t[1].dtype = 5;
    expect_fail(&g, INVALID, "node 0 (matmul)", "input 1", "dtype id 5", NULL);
    matmul_ok(&g);
    g.t[2].ne[2] = 0;
    expect_fail(&g, INVALID, "node 0 (matmul)", "output 0", "ne[2]=0", NULL);
    matmul_ok(&g);
    g.t[1].ne[1] = -3;
    expect_fail(&g, INVALID, "node 0 (matmul)", "input 1", "ne[1]=-3", NULL);
    matmul_ok(&g);
    g.t[0].ne[0] = 100; /* Q4_0 rows are whole 32-value blocks */
    expect_fail(&g, INVALID, "node 0 (matmul)", "input 0", "ne[0]=100", "q4_0", NULL);
    matmul_ok(&g);
    g.t[1].ne[1] = 1LL << 40;
    g.t[1].ne[2] = 1LL << 40;
    expect_fail(&g, INVALID, "node 0 (matmul)", "input 1", "overflows", NULL);
}

/* ---- op rules ----------------------------------------------------------------- */

static void matmul_rules(void **state) {
    (void)state;
    tnode g;
    matmul_ok(&g);
    g.t[0].dtype = EHAL_DTYPE_F32;
    g.t[1].ne[0] = 100;
    ehal_status_t st = tn_validate(&g);
    assert_int_equal(st, INVALID);
    assert_string_equal(g.msg,
                        "node 0 (matmul): input 1 ne[0]=100 does not match input 0 ne[0]=128");
    matmul_ok(&g);
    g.t[0].dtype = EHAL_DTYPE_I32;
    expect_fail(&g, UNSUPPORTED, "node 0 (matmul)", "input 0 dtype i32",
                "f32, f16, q4_0 or q8_0", NULL);
    matmul_ok(&g);
    g.t[1].dtype = EHAL_DTYPE_F16;
    expect_fail(&g, UNSUPPORTED, "node 0 (matmul)", "input 1 dtype f16", "want f32", NULL);
    matmul_ok(&g);
    g.t[2].dtype = EHAL_DTYPE_F16;
    expect_fail(&g, UNSUPPORTED, "node 0 (matmul)", "output 0 dtype f16", NULL);
    matmul_ok(&g);
    g.t[2].ne[0] = 63;
    expect_fail(&g, INVALID, "node 0 (matmul)", "output 0 ne[0]=63", "input 0 ne[1]=64", NULL);
    matmul_ok(&g);
    g.t[2].ne[1] = 4;
    expect_fail(&g, INVALID, "node 0 (matmul)", "output 0 ne[1]=4", "input 1 ne[1]=3", NULL);
    matmul_ok(&g);
    g.t[0].ne[2] = 2;
    expect_fail(&g, INVALID, "node 0 (matmul)", "input 0 ne[2]=2", NULL);
}

static void get_rows_rules(void **state) {
    (void)state;
    tnode g;
    get_rows_ok(&g);
    g.t[1].dtype = EHAL_DTYPE_F32;
    expect_fail(&g, UNSUPPORTED, "node 0 (get_rows)", "input 1 dtype f32", "want i32", NULL);
    get_rows_ok(&g);
    g.t[1].ne[1] = 2;
    expect_fail(&g, INVALID, "node 0 (get_rows)", "input 1 ne[1]=2", NULL);
    get_rows_ok(&g);
    g.t[2].ne[0] = 32;
    expect_fail(&g, INVALID, "node 0 (get_rows)", "output 0 ne[0]=32", "input 0 ne[0]=64",
                NULL);
    get_rows_ok(&g);
    g.t[2].ne[1] = 6;
    expect_fail(&g, INVALID, "node 0 (get_rows)", "output 0 ne[1]=6", "input 1 ne[0]=5", NULL);
    get_rows_ok(&g);
    g.t[0].ne[2] = 3;
    expect_fail(&g, INVALID, "node 0 (get_rows)", "input 0 ne[2]=3", NULL);
    get_rows_ok(&g);
    g.t[0].dtype = EHAL_DTYPE_I32;
    expect_fail(&g, UNSUPPORTED, "node 0 (get_rows)", "input 0 dtype i32", NULL);
    get_rows_ok(&g);
    g.t[2].dtype = EHAL_DTYPE_Q8_0;
    expect_fail(&g, UNSUPPORTED, "node 0 (get_rows)", "output 0 dtype q8_0", NULL);
}

static void rms_norm_rules(void **state) {
    (void)state;
    tnode g;
    rms_norm_ok(&g);
    g.t[1].ne[0] = 8;
    expect_fail(&g, INVALID, "node 0 (rms_norm)", "input 1 ne[0]=8", "input 0 ne[0]=16", NULL);
    rms_norm_ok(&g);
    g.t[1].ne[1] = 3;
    expect_fail(&g, INVALID, "node 0 (rms_norm)", "input 1 ne[1]=3", NULL);
    rms_norm_ok(&g);
    g.t[2].ne[1] = 2;
    expect_fail(&g, INVALID, "node 0 (rms_norm)", "output 0 ne[1]=2", NULL);
    rms_norm_ok(&g);
    g.t[0].dtype = EHAL_DTYPE_F16;
    expect_fail(&g, UNSUPPORTED, "node 0 (rms_norm)", "input 0 dtype f16", NULL);
    rms_norm_ok(&g);
    g.t[1].dtype = EHAL_DTYPE_F16;
    expect_fail(&g, UNSUPPORTED, "node 0 (rms_norm)", "input 1 dtype f16", NULL);
    rms_norm_ok(&g);
    rms_params.eps = -1.0f;
    expect_fail(&g, INVALID, "node 0 (rms_norm)", "eps=-1", NULL);
    rms_params.eps = NAN;
    expect_fail(&g, INVALID, "node 0 (rms_norm)", "eps=nan", NULL);
}

static void rope_rules(void **state) {
    (void)state;
    tnode g;
    rope_ok(&g);
    rope_params.n_rot = 3;
    expect_fail(&g, INVALID, "node 0 (rope)", "n_rot=3", NULL);
    rope_params.n_rot = 128;
    expect_fail(&g, INVALID, "node 0 (rope)", "n_rot=128", "ne[0]=64", NULL);
    rope_ok(&g);
    rope_params.mode = 2;
    expect_fail(&g, INVALID, "node 0 (rope)", "mode=2", NULL);
    rope_ok(&g);
    rope_params.freq_base = -1.0f;
    expect_fail(&g, INVALID, "node 0 (rope)", "freq_base=-1", NULL);
    rope_ok(&g);
    rope_params.freq_scale = INFINITY;
    expect_fail(&g, INVALID, "node 0 (rope)", "freq_scale=inf", NULL);
    rope_ok(&g);
    g.t[1].ne[0] = 2;
    expect_fail(&g, INVALID, "node 0 (rope)", "input 1 ne[0]=2", "input 0 ne[2]=3", NULL);
    rope_ok(&g);
    g.t[0].ne[3] = 2;
    expect_fail(&g, INVALID, "node 0 (rope)", "input 0 ne[3]=2", NULL);
    rope_ok(&g);
    g.t[1].dtype = EHAL_DTYPE_F32;
    expect_fail(&g, UNSUPPORTED, "node 0 (rope)", "input 1 dtype f32", NULL);
}

static void elementwise_rules(void **state) {
    (void)state;
    const uint32_t ops[] = {EHAL_OP_ADD, EHAL_OP_MUL, EHAL_OP_SWIGLU};
    const char *names[] = {"node 0 (add)", "node 0 (mul)", "node 0 (swiglu)"};
    for (int i = 0; i < 3; i++) {
        tnode g;
        binary_ok(&g, ops[i]);
        g.t[1].ne[1] = 4;
        expect_fail(&g, INVALID, names[i], "input 1 ne[1]=4", "input 0 ne[1]=3", NULL);
        binary_ok(&g, ops[i]);
        g.t[2].ne[2] = 1;
        expect_fail(&g, INVALID, names[i], "output 0 ne[2]=1", "input 0 ne[2]=2", NULL);
        binary_ok(&g, ops[i]);
        g.t[0].dtype = EHAL_DTYPE_F16;
        expect_fail(&g, UNSUPPORTED, names[i], "input 0 dtype f16", NULL);
    }
}

static void softmax_rules(void **state) {
    (void)state;
    tnode g;
    softmax_ok(&g);
    softmax_params.scale = INFINITY;
    expect_fail(&g, INVALID, "node 0 (softmax)", "scale=inf", NULL);
    softmax_ok(&g);
    g.t[1].ne[0] = 11;
    expect_fail(&g, INVALID, "node 0 (softmax)", "output 0 ne[0]=11", NULL);
}

static void kv_write_rules(void **state) {
    (void)state;
    tnode g;
    kv_write_ok(&g);
    g.tp[3] = &g.t[3];
    g.sg.n_tensors = 4;
    g.node.outputs[0] = 3;
    g.t[3] = g.t[2]; /* same shape but another tensor: not in place */
    expect_fail(&g, INVALID, "node 0 (kv_write)", "output 0 is tensor 3", "input 2", NULL);
    kv_write_ok(&g);
    g.t[2].dtype = EHAL_DTYPE_I32;
    expect_fail(&g, UNSUPPORTED, "node 0 (kv_write)", "input 2 dtype i32", NULL);
    kv_write_ok(&g);
    g.t[0].ne[0] = 32;
    expect_fail(&g, INVALID, "node 0 (kv_write)", "input 0 ne[0]=32", "input 2 ne[0]=64", NULL);
    kv_write_ok(&g);
    g.t[0].ne[1] = 4;
    expect_fail(&g, INVALID, "node 0 (kv_write)", "input 0 ne[1]=4", "input 2 ne[2]=2", NULL);
    kv_write_ok(&g);
    g.t[1].ne[0] = 4;
    expect_fail(&g, INVALID, "node 0 (kv_write)", "input 1 ne[0]=4", "input 0 ne[2]=3", NULL);
    kv_write_ok(&g);
    g.t[0].dtype = EHAL_DTYPE_F16;
    expect_fail(&g, UNSUPPORTED, "node 0 (kv_write)", "input 0 dtype f16", NULL);
    kv_write_ok(&g);
    g.t[1].ne[1] = 3;
    expect_fail(&g, INVALID, "node 0 (kv_write)", "input 1 ne[1]=3", NULL);
    kv_write_ok(&g);
    g.t[2].ne[3] = 2;
    expect_fail(&g, INVALID, "node 0 (kv_write)", "input 2 ne[3]=2", NULL);
    kv_write_ok(&g);
    g.t[2].ne[0] = 48;
    g.t[2].dtype = EHAL_DTYPE_Q8_0;
    expect_fail(&g, INVALID, "node 0 (kv_write)", "input 2 ne[0]=48", "q8_0", NULL);
}

/* C = 16, T = 3: the ring (C - n_sink slots) must hold window + T - 1 keys. */
static void kv_window_must_fit_the_cache(void **state) {
    (void)state;
    tnode g;
    kv_write_ok(&g);
    kv_params.window = 14; /* 14 + 3 - 1 = 16 slots: fits exactly */
    expect_ok(&g);
    kv_params.window = 15;
    expect_fail(&g, INVALID, "node 0 (kv_write)", "window=15", "needs 17",
                "capacity 16", "leaves 16", NULL);
    kv_params.window = 12;
    kv_params.n_sink = 2; /* 16 - 2 = 14 >= 12 + 2 */
    expect_ok(&g);
    kv_params.n_sink = 3;
    expect_fail(&g, INVALID, "node 0 (kv_write)", "window=12", "n_sink=3", "leaves 13", NULL);
    kv_params.n_sink = 16;
    expect_fail(&g, INVALID, "node 0 (kv_write)", "n_sink=16", "capacity 16", NULL);
    kv_params.window = 0; /* full cache: sinks are meaningless, no rule */
    expect_ok(&g);

    attention_ok(&g);
    attn_params.window = 15;
    expect_fail(&g, INVALID, "node 0 (attention)", "window=15", "needs 17", NULL);
    attn_params.window = 14;
    expect_ok(&g);
}

static void attention_rules(void **state) {
    (void)state;
    tnode g;
    attention_ok(&g);
    g.t[0].ne[1] = 6;
    g.t[4].ne[1] = 6;
    g.t[1].ne[2] = 4;
    g.t[2].ne[2] = 4;
    expect_fail(&g, INVALID, "node 0 (attention)", "input 0 ne[1]=6", "input 1 ne[2]=4",
                NULL);
    attention_ok(&g);
    g.t[2].dtype = EHAL_DTYPE_Q8_0;
    expect_fail(&g, UNSUPPORTED, "node 0 (attention)", "input 2 dtype q8_0",
                "input 1 dtype f16", NULL);
    attention_ok(&g);
    g.t[2].ne[1] = 8;
    expect_fail(&g, INVALID, "node 0 (attention)", "input 2 ne[1]=8", "input 1 ne[1]=16",
                NULL);
    attention_ok(&g);
    g.t[1].ne[0] = 32;
    g.t[2].ne[0] = 32;
    expect_fail(&g, INVALID, "node 0 (attention)", "input 1 ne[0]=32", "input 0 ne[0]=64",
                NULL);
    attention_ok(&g);
    g.t[3].ne[0] = 1;
    expect_fail(&g, INVALID, "node 0 (attention)", "input 3 ne[0]=1", "input 0 ne[2]=3", NULL);
    attention_ok(&g);
    g.t[3].dtype = EHAL_DTYPE_F32;
    expect_fail(&g, UNSUPPORTED, "node 0 (attention)", "input 3 dtype f32", NULL);
    attention_ok(&g);
    g.t[4].ne[2] = 1;
    expect_fail(&g, INVALID, "node 0 (attention)", "output 0 ne[2]=1", NULL);
    attention_ok(&g);
    g.t[0].ne[3] = 2;
    g.t[4].ne[3] = 2;
    expect_fail(&g, INVALID, "node 0 (attention)", "input 0 ne[3]=2", NULL);
    attention_ok(&g);
    g.t[0].dtype = EHAL_DTYPE_F16;
    expect_fail(&g, UNSUPPORTED, "node 0 (attention)", "input 0 dtype f16", NULL);
    attention_ok(&g);
    attn_params.flags = 2;
    expect_fail(&g, INVALID, "node 0 (attention)", "flags=0x2", NULL);
    attention_ok(&g);
    attn_params.scale = NAN;
    expect_fail(&g, INVALID, "node 0 (attention)", "scale=nan", NULL);
    attention_ok(&g);
    g.t[1].dtype = EHAL_DTYPE_I32;
    g.t[2].dtype = EHAL_DTYPE_I32;
    expect_fail(&g, UNSUPPORTED, "node 0 (attention)", "input 1 dtype i32", NULL);
}

static void copy_rules(void **state) {
    (void)state;
    tnode g;
    copy_ok(&g);
    g.t[1].dtype = EHAL_DTYPE_F32;
    g.t[1].ne[0] = 100;
    expect_fail(&g, INVALID, "node 0 (copy)", "output 0 has 100 elements",
                "input 0 has 128", NULL);
    copy_ok(&g);
    g.t[0].dtype = EHAL_DTYPE_I32;
    g.t[1].dtype = EHAL_DTYPE_F32;
    expect_fail(&g, UNSUPPORTED, "node 0 (copy)", "input 0 dtype i32", "output 0 dtype f32",
                NULL);
    copy_ok(&g);
    g.t[1].ne[0] = 96;
    g.t[1].ne[1] = 1;
    g.t[0].ne[0] = 32;
    g.t[0].ne[1] = 3;
    expect_ok(&g); /* [32,3] f32 -> [96] q8_0 */
    g.t[1].ne[0] = 48;
    g.t[1].ne[1] = 2;
    expect_fail(&g, INVALID, "node 0 (copy)", "output 0 ne[0]=48", "q8_0", NULL);
}

/* Messages name the node's own index, and a short msg buffer is truncated,
 * not overrun. */
static void messages_name_the_node_index_and_fit_the_buffer(void **state) {
    (void)state;
    ehal_tensor_desc t[3];
    int64_t w[2] = {128, 64}, x[2] = {100, 3}, y[2] = {64, 3};
    ehal_tensor_desc_init(&t[0], EHAL_DTYPE_F32, 2, w);
    ehal_tensor_desc_init(&t[1], EHAL_DTYPE_F32, 2, x);
    ehal_tensor_desc_init(&t[2], EHAL_DTYPE_F32, 2, y);
    const ehal_tensor_desc *tp[3] = {&t[0], &t[1], &t[2]};
    ehal_node_desc ok, bad;
    memset(&ok, 0, sizeof ok);
    ok.struct_size = sizeof ok;
    ok.op = EHAL_OP_COPY;
    ok.n_inputs = 1;
    ok.n_outputs = 1;
    ok.inputs[0] = 2;
    ok.outputs[0] = 2;
    bad = ok;
    bad.op = EHAL_OP_MATMUL;
    bad.n_inputs = 2;
    bad.inputs[0] = 0;
    bad.inputs[1] = 1;
    const ehal_node_desc *np[3] = {&ok, &ok, &bad};
    ehal_subgraph sg = {sizeof sg, 3, 3, 0, tp, np};
    char msg[128];
    assert_int_equal(ehal_op_validate(&sg, 0, msg, sizeof msg), EHAL_STATUS_OK);
    assert_int_equal(ehal_op_validate(&sg, 2, msg, sizeof msg), INVALID);
    assert_string_equal(msg, "node 2 (matmul): input 1 ne[0]=100 does not match input 0 ne[0]=128");
    char tiny[12];
    memset(tiny, 'x', sizeof tiny);
    assert_int_equal(ehal_op_validate(&sg, 2, tiny, 10), INVALID);
    assert_string_equal(tiny, "node 2 (m");
    assert_int_equal(tiny[10], 'x');
}

static uint32_t rng_state = 88172645u;
static uint32_t rng(void) { /* xorshift32 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Random garbage within the caller's contract (pointers point at what
 * their counts say): validation returns OK with an empty message, or an
 * error with one non-empty line naming node 0. */
static void garbage_nodes_get_a_one_line_message(void **state) {
    (void)state;
    static const uint32_t dtypes[] = {0, 1, 2, 8, 26, 3, 99};
    static const int64_t dims[] = {-1, 0, 1, 1, 2, 3, 32, 64, 1LL << 40, INT64_MAX};
    unsigned char params[64];
    int ok = 0, failed = 0;
    for (int iter = 0; iter < 50000; iter++) {
        tnode g;
        tn_init(&g, rng() % 13, NULL, 0);
        if (rng() % 8 == 0) { /* mostly the right arity, to reach the op checks */
            g.node.n_inputs = rng() % 6;
            g.node.n_outputs = rng() % 3;
        }
        for (int i = 0; i < EHAL_MAX_INPUTS; i++) {
            if (rng() % 4 == 0) {
                g.node.inputs[i] = rng() % 7;
            }
        }
        if (rng() % 4 == 0) {
            g.node.outputs[0] = rng() % 7;
        }
        for (size_t i = 0; i < sizeof params; i++) {
            params[i] = (unsigned char)rng();
        }
        g.node.params_size = rng() % 3 ? 0 : rng() % (sizeof params + 1);
        g.node.params = rng() % 8 ? params : NULL;
        for (int i = 0; i < TN_MAX; i++) {
            g.t[i].dtype = dtypes[rng() % (rng() % 4 ? 5 : 7)];
            for (int d = 0; d < 4; d++) {
                g.t[i].ne[d] = rng() % 8 ? dims[2 + rng() % 4] : dims[rng() % 10];
            }
            if (rng() % 16 == 0) {
                g.t[i].struct_size = rng() % 64;
            }
            if (rng() % 16 == 0) {
                g.tp[i] = NULL;
            }
        }
        if (rng() % 4 == 0) {
            g.sg.n_tensors = rng() % (TN_MAX + 1);
        }
        ehal_status_t st = tn_validate(&g);
        if (st == EHAL_STATUS_OK) {
            assert_string_equal(g.msg, "");
            ok++;
            continue;
        }
        failed++;
        assert_true(st == INVALID || st == UNSUPPORTED);
        assert_true(strncmp(g.msg, "node 0", 6) == 0);
        assert_null(strchr(g.msg, '\n'));
    }
    assert_true(failed > 0);
    assert_true(ok > 0);
    print_message("garbage: %d valid, %d rejected\n", ok, failed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(well_formed_nodes_of_every_op_pass),
        cmocka_unit_test(nodes_without_params_use_defaults),
        cmocka_unit_test(unusable_subgraph_or_node_is_rejected),
        cmocka_unit_test(unknown_op_is_unsupported),
        cmocka_unit_test(arity_must_match_the_catalog),
        cmocka_unit_test(params_pointer_must_back_its_size),
        cmocka_unit_test(tensor_references_must_be_usable),
        cmocka_unit_test(tensor_dtype_and_shape_must_be_valid),
        cmocka_unit_test(matmul_rules),
        cmocka_unit_test(get_rows_rules),
        cmocka_unit_test(rms_norm_rules),
        cmocka_unit_test(rope_rules),
        cmocka_unit_test(elementwise_rules),
        cmocka_unit_test(softmax_rules),
        cmocka_unit_test(kv_write_rules),
        cmocka_unit_test(kv_window_must_fit_the_cache),
        cmocka_unit_test(attention_rules),
        cmocka_unit_test(copy_rules),
        cmocka_unit_test(messages_name_the_node_index_and_fit_the_buffer),
        cmocka_unit_test(garbage_nodes_get_a_one_line_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
