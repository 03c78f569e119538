#define _POSIX_C_SOURCE 200809L /* mkstemp */
/* The executor end to end: the built-in model through sessions on the
 * reference-kernel test backends (gt_a, gt_b) against the host reference
 * path, partitioned runs against single-backend runs, and the real plugins
 * of the build (cpu, and any other, split with cpu) against the reference. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "edgehal/graph.h"
#include "edgehal/ops.h"

static ehal_model *g_model; /* built-in preset, q8_0 weights */

static int setup(void **state) {
    (void)state;
    ehal_model_hparams hp;
    char err[256];
    if (ehal_model_preset_hparams("builtin", &hp) != EHAL_STATUS_OK)
        return -1;
    return ehal_model_generate(&hp, EHAL_DTYPE_Q8_0, 42, &g_model, err, sizeof err) ==
                   EHAL_STATUS_OK
               ? 0
               : -1;
}

static int teardown(void **state) {
    (void)state;
    ehal_model_free(g_model);
    return 0;
}

/* A context over the test plugins only (gt_dir) or the build's plugins. */
static ehal_context *open_ctx_flags(int test_plugins, const char *backends, const ehal_option *bo,
                                    uint32_t nbo, uint32_t flags) {
    const char *dir = getenv(test_plugins ? "EHAL_GT_PLUGIN_DIR" : "EHAL_TEST_PLUGIN_DIR");
    if (!dir)
        return NULL;
    ehal_context_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.flags = flags;
    o.backends = backends;
    o.backend_path = dir;
    o.log_level = EHAL_LOG_ERROR;
    o.backend_options = bo;
    o.n_backend_options = nbo;
    ehal_context *ctx = NULL;
    if (ehal_context_create(&o, &ctx) != EHAL_STATUS_OK)
        return NULL;
    if (backends && ehal_backend_count(ctx) == 0) {
        ehal_context_destroy(ctx);
        return NULL;
    }
    return ctx;
}

static ehal_context *open_ctx(int test_plugins, const char *backends, const ehal_option *bo,
                              uint32_t nbo) {
    return open_ctx_flags(test_plugins, backends, bo, nbo,
                          EHAL_CONTEXT_NO_DEFAULT_PATHS | EHAL_CONTEXT_NO_ENV);
}

/* A context of the test plugins with EHAL_FAULT=rule (the only variable of
 * the environment read: EHAL_BACKEND_PATH is cleared for the call). */
static ehal_context *open_ctx_fault(const char *backends, const ehal_option *bo, uint32_t nbo,
                                    const char *rule) {
    const char *old_path = getenv("EHAL_BACKEND_PATH");
    char *saved = old_path ? strdup(old_path) : NULL;
    unsetenv("EHAL_BACKEND_PATH");
    setenv("EHAL_FAULT", rule, 1);
    ehal_context *ctx = open_ctx_flags(1, backends, bo, nbo, EHAL_CONTEXT_NO_DEFAULT_PATHS);
    unsetenv("EHAL_FAULT");
    if (saved)
        setenv("EHAL_BACKEND_PATH", saved, 1), free(saved);
    return ctx;
}

static const int32_t prompt[5] = {1, 17, 300, 42, 5};
#define N_DECODE 4
#define N_POS (5 + N_DECODE)

/* Runs the prompt then N_DECODE greedy steps; logits[N_POS][vocab] (all
 * positions), tokens[N_DECODE + 1]. Returns 0 or fails the test. */
static void run_session(ehal_context *ctx, const ehal_session_options *so, float *logits,
                        int32_t *tokens, ehal_session_stats *stats) {
    const uint32_t V = ehal_model_get_hparams(g_model)->vocab;
    ehal_session *s = NULL;
    char err[320];
    if (ehal_session_create(ctx, g_model, so, &s, err, sizeof err) != EHAL_STATUS_OK)
        fail_msg("session: %s", err);
    if (ehal_session_eval(s, prompt, 5, logits) != EHAL_STATUS_OK)
        fail_msg("prefill: %s", ehal_session_last_error(s));
    for (int i = 0; i <= N_DECODE; i++) {
        const float *l = logits + (size_t)(4 + i) * V;
        uint32_t b = 0;
        for (uint32_t k = 1; k < V; k++)
            if (l[k] > l[b])
                b = k;
        tokens[i] = (int32_t)b;
        if (i == N_DECODE)
            break;
        if (ehal_session_eval(s, &tokens[i], 1, logits + (size_t)(5 + i) * V) != EHAL_STATUS_OK)
            fail_msg("decode %d: %s", i, ehal_session_last_error(s));
    }
    if (stats)
        ehal_session_get_stats(s, stats);
    ehal_session_free(s);
}

static void run_reference(const ehal_session_options *so, const int32_t *tokens, float *logits) {
    const uint32_t V = ehal_model_get_hparams(g_model)->vocab;
    ehal_refrun *r = NULL;
    char err[256];
    assert_int_equal(ehal_refrun_create(g_model, so, &r, err, sizeof err), EHAL_STATUS_OK);
    if (ehal_refrun_eval(r, prompt, 5, logits, err, sizeof err) != EHAL_STATUS_OK)
        fail_msg("reference prefill: %s", err);
    for (int i = 0; i < N_DECODE; i++)
        if (ehal_refrun_eval(r, &tokens[i], 1, logits + (size_t)(5 + i) * V, err, sizeof err) !=
            EHAL_STATUS_OK)
            fail_msg("reference decode: %s", err);
    ehal_refrun_free(r);
}

static double max_diff(const float *a, const float *b, size_t n, double *max_ref) {
    double m = 0;
    *max_ref = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d)
            m = d != d ? INFINITY : d;
        if (fabs((double)b[i]) > *max_ref)
            *max_ref = fabs((double)b[i]);
    }
    return m;
}

static ehal_session_options opts(const char *const *pins, uint32_t n_pins, uint32_t kv_dtype) {
    ehal_session_options so;
    memset(&so, 0, sizeof so);
    so.struct_size = sizeof so;
    so.pins = pins;
    so.n_pins = n_pins;
    so.kv_dtype = kv_dtype;
    so.kv_capacity = 64;
    so.all_logits = 1;
    return so;
}

#define NL (N_POS * 512)

static void single_backend_equals_reference_path(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(1, "gt_a", NULL, 0);
    if (!ctx) {
        print_message("skipped: test plugins not found in EHAL_GT_PLUGIN_DIR\n");
        skip();
    }
    static float got[NL], want[NL];
    int32_t tok[N_DECODE + 1];
    ehal_session_options so = opts(NULL, 0, EHAL_DTYPE_F16);
    run_session(ctx, &so, got, tok, NULL);
    run_reference(&so, tok, want);
    double mr;
    /* the same reference kernels on the same graph: identical bits */
    assert_true(max_diff(got, want, NL, &mr) == 0.0);
    assert_true(mr > 0.1);
    ehal_context_destroy(ctx);
}

static void same_run_twice_gives_identical_tokens(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(1, "gt_a", NULL, 0);
    if (!ctx) {
        print_message("skipped: test plugins not found\n");
        skip();
    }
    static float l1[NL], l2[NL];
    int32_t t1[N_DECODE + 1], t2[N_DECODE + 1];
    ehal_session_options so = opts(NULL, 0, EHAL_DTYPE_Q8_0);
    run_session(ctx, &so, l1, t1, NULL);
    run_session(ctx, &so, l2, t2, NULL);
    assert_memory_equal(t1, t2, sizeof t1);
    assert_memory_equal(l1, l2, sizeof l1);
    ehal_context_destroy(ctx);
}

/* Split across gt_a and gt_b; import=1: boundary tensors are read in place
 * (zero copy), import=0: they are copied. Both equal the single run. */
static void split_run(int import) {
    ehal_option bo[2] = {{"gt_a.import", import ? "1" : "0"}, {"gt_b.import", import ? "1" : "0"}};
    ehal_context *one = open_ctx(1, "gt_a", NULL, 0);
    ehal_context *two = open_ctx(1, "gt_a,gt_b", bo, 2);
    if (!one || !two || ehal_backend_count(two) != 2) {
        print_message("skipped: test plugins not found\n");
        ehal_context_destroy(one), ehal_context_destroy(two);
        skip();
    }
    static float a[NL], b[NL];
    int32_t ta[N_DECODE + 1], tb[N_DECODE + 1];
    const char *pins[] = {"layers 0-1=gt_a", "layers 2-3=gt_b", "layer 1 attention=gt_b",
                          "lm_head=gt_a"};
    ehal_session_options s1 = opts(NULL, 0, EHAL_DTYPE_F16), s2 = opts(pins, 4, EHAL_DTYPE_F16);
    ehal_session_stats st;
    run_session(one, &s1, a, ta, NULL);
    run_session(two, &s2, b, tb, &st);
    assert_memory_equal(ta, tb, sizeof ta);
    double mr;
    assert_true(max_diff(b, a, NL, &mr) == 0.0);
    /* it really was split: both backends ran and tensors crossed */
    assert_true(st.backend_ns[0] > 0 && st.backend_ns[1] > 0);
    if (import) {
        assert_true(st.zero_copy_bytes > 0);
        assert_int_equal(st.transfer_bytes, 0);
    } else {
        assert_true(st.transfer_bytes > 0);
        assert_int_equal(st.zero_copy_bytes, 0);
    }
    ehal_context_destroy(one), ehal_context_destroy(two);
}

static void partitioned_run_reading_in_place_equals_single_run(void **state) {
    (void)state;
    split_run(1);
}

static void partitioned_run_copying_boundaries_equals_single_run(void **state) {
    (void)state;
    split_run(0);
}

static void kv_cache_stays_on_the_attention_backend(void **state) {
    (void)state;
    ehal_context *two = open_ctx(1, "gt_a,gt_b", NULL, 0);
    if (!two) {
        print_message("skipped: test plugins not found\n");
        skip();
    }
    /* prefill pins attention of layer 2 to gt_b; decode must follow it */
    const char *pins[] = {"layer 2 attention=gt_b"};
    ehal_session_options so = opts(pins, 1, EHAL_DTYPE_F16);
    ehal_session *s = NULL;
    char err[320];
    assert_int_equal(ehal_session_create(two, g_model, &so, &s, err, sizeof err), EHAL_STATUS_OK);
    const ehal_plan *pp = ehal_session_plan(s, 5);
    assert_non_null(pp);
    const ehal_plan *dp = ehal_session_plan(s, 1);
    assert_non_null(dp);
    ehal_graph *g = NULL;
    ehal_llama_options lo = {1, EHAL_DTYPE_F16, 64, 0, 0, 1};
    assert_int_equal(ehal_graph_build_llama(g_model, &lo, &g, err, sizeof err), EHAL_STATUS_OK);
    int checked = 0;
    for (uint32_t i = 0; i < ehal_graph_node_count(g); i++) {
        const ehal_graph_node *n = ehal_graph_node_get(g, i);
        if (n->op == EHAL_OP_ATTENTION || n->op == EHAL_OP_KV_WRITE) {
            uint32_t want = n->layer == 2 ? 1u : ehal_plan_node_backend(pp, i);
            assert_int_equal(ehal_plan_node_backend(dp, i), want);
            checked++;
        }
    }
    assert_int_equal(checked, 12);
    ehal_graph_free(g);
    ehal_session_free(s);
    ehal_context_destroy(two);
}

static void sliding_window_with_sinks_matches_reference(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(1, "gt_a,gt_b", NULL, 0);
    if (!ctx) {
        print_message("skipped: test plugins not found\n");
        skip();
    }
    const char *pins[] = {"layers 2-3=gt_b"};
    ehal_session_options so = opts(pins, 1, EHAL_DTYPE_Q8_0);
    so.kv_capacity = 8; /* 1 sink + a 7-slot ring: the 9 positions wrap */
    so.kv_window = 3;
    so.kv_sinks = 1;
    static float got[NL], want[NL];
    int32_t tok[N_DECODE + 1];
    run_session(ctx, &so, got, tok, NULL);
    run_reference(&so, tok, want);
    double mr;
    assert_true(max_diff(got, want, NL, &mr) == 0.0);
    ehal_context_destroy(ctx);
}

static void memory_limit_keeps_weights_off_a_small_device(void **state) {
    (void)state;
    /* gt_b is 10x cheaper but declares 300 KiB: it cannot hold all ~880 KiB
     * of weights, so the plan must leave some on gt_a. */
    ehal_option bo[2] = {{"gt_b.cost", "10"}, {"gt_b.memory", "307200"}};
    ehal_context *ctx = open_ctx(1, "gt_a,gt_b", bo, 2);
    if (!ctx) {
        print_message("skipped: test plugins not found\n");
        skip();
    }
    ehal_session_options so = opts(NULL, 0, EHAL_DTYPE_F16);
    ehal_session *s = NULL;
    char err[320];
    assert_int_equal(ehal_session_create(ctx, g_model, &so, &s, err, sizeof err), EHAL_STATUS_OK);
    const ehal_plan *p = ehal_session_plan(s, 1);
    if (!p)
        fail_msg("plan: %s", ehal_session_last_error(s));
    ehal_session_stats st;
    ehal_session_get_stats(s, &st);
    uint32_t on_b = 0;
    for (uint32_t i = 0; i < 71; i++)
        on_b += ehal_plan_node_backend(p, i) == 1;
    assert_true(on_b > 0 && on_b < 71);
    /* what gt_b holds (weights counted per reader, KV at its writer) fits */
    ehal_graph *g = NULL;
    ehal_llama_options lo = {1, EHAL_DTYPE_F16, 64, 0, 0, 1};
    assert_int_equal(ehal_graph_build_llama(g_model, &lo, &g, err, sizeof err), EHAL_STATUS_OK);
    uint64_t held = 0;
    for (uint32_t i = 0; i < ehal_graph_node_count(g); i++) {
        const ehal_graph_node *n = ehal_graph_node_get(g, i);
        if (ehal_plan_node_backend(p, i) != 1)
            continue;
        for (uint32_t q = 0; q < n->n_inputs; q++) {
            const ehal_graph_tensor *t = ehal_graph_tensor_get(g, n->inputs[q]);
            if (t->desc.role == EHAL_ROLE_WEIGHT)
                held += ehal_tensor_nbytes(&t->desc);
        }
        if (n->op == EHAL_OP_KV_WRITE)
            held += ehal_tensor_nbytes(&ehal_graph_tensor_get(g, n->output)->desc);
    }
    assert_true(held > 0 && held <= 307200);
    ehal_graph_free(g);
    float logits[512];
    int32_t t = 3;
    assert_int_equal(ehal_session_eval(s, &t, 1, logits), EHAL_STATUS_OK);
    ehal_session_free(s);
    ehal_context_destroy(ctx);
}

static const float g_w1[64] = {
    0.5f, -1,   0,    2,    0.25f, 0,    1,    -0.5f, 1,  1,    1, 1,    1, 1,    1, 1,
    -2,   0,    0,    0,    0,     0,    0,    3,     0,  0.5f, 0, 0.5f, 0, 0.5f, 0, 0.5f,
    3,    -3,   2,    -2,   1,     -1,   0.5f, -0.5f, 0,  0,    0, 0,    0, 0,    0, 1,
    0.1f, 0.2f, 0.3f, 0.4f, 0.5f,  0.6f, 0.7f, 0.8f,  -1, -1,   0, 0,    1, 1,    2, 2};
static const float g_nw[8] = {1, 2, 0.5f, 1, -1, 1, 3, 0.25f};

static const void *weight_source(void *user, const char *name, uint64_t nbytes) {
    (void)user;
    if (!strcmp(name, "w1") && nbytes == sizeof g_w1)
        return g_w1;
    if (!strcmp(name, "nw") && nbytes == sizeof g_nw)
        return g_nw;
    return NULL;
}

/* y = rms_norm(W1 x) * nw + x, computed directly. */
static void expected_small(const float *x, float *y) {
    for (int t = 0; t < 2; t++) {
        float h[8];
        double ss = 0;
        for (int n = 0; n < 8; n++) {
            double a = 0;
            for (int k = 0; k < 8; k++)
                a += (double)g_w1[n * 8 + k] * x[t * 8 + k];
            h[n] = (float)a;
            ss += a * a;
        }
        double r = 1.0 / sqrt(ss / 8 + 1e-5);
        for (int n = 0; n < 8; n++)
            y[t * 8 + n] = (float)(h[n] * r * g_nw[n] + x[t * 8 + n]);
    }
}

static void callers_graph_runs_split_across_backends(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(1, "gt_a,gt_b", NULL, 0);
    if (!ctx) {
        print_message("skipped: test plugins not found\n");
        skip();
    }
    ehal_graph *g;
    assert_int_equal(ehal_graph_create(&g), EHAL_STATUS_OK);
    int64_t xs[2] = {8, 2}, ws[2] = {8, 8}, ns[1] = {8};
    uint32_t x = ehal_graph_add_tensor(g, "x", EHAL_DTYPE_F32, EHAL_ROLE_INPUT, 2, xs);
    uint32_t w1 = ehal_graph_add_tensor(g, "w1", EHAL_DTYPE_F32, EHAL_ROLE_WEIGHT, 2, ws);
    uint32_t nw = ehal_graph_add_tensor(g, "nw", EHAL_DTYPE_F32, EHAL_ROLE_WEIGHT, 1, ns);
    uint32_t h = ehal_graph_add_tensor(g, "h", EHAL_DTYPE_F32, EHAL_ROLE_ACTIVATION, 2, xs);
    uint32_t hn = ehal_graph_add_tensor(g, "hn", EHAL_DTYPE_F32, EHAL_ROLE_ACTIVATION, 2, xs);
    uint32_t y = ehal_graph_add_tensor(g, "y", EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, 2, xs);
    ehal_params_rms_norm rp = {1e-5f};
    ehal_graph_add_node(g, "mm", EHAL_OP_MATMUL, (uint32_t[]){w1, x}, 2, h, NULL, 0);
    ehal_graph_add_node(g, "norm", EHAL_OP_RMS_NORM, (uint32_t[]){h, nw}, 2, hn, &rp, sizeof rp);
    ehal_graph_add_node(g, "res", EHAL_OP_ADD, (uint32_t[]){hn, x}, 2, y, NULL, 0);
    assert_int_equal(ehal_graph_validate(g), EHAL_STATUS_OK);
    const char *pins[] = {"all=gt_a", "op:rms_norm=gt_b"};
    ehal_plan_options po = {sizeof po, pins, 2, NULL, NULL, NULL};
    ehal_graph_exec *e = NULL;
    char err[320];
    if (ehal_graph_exec_create(ctx, g, &po, weight_source, NULL, &e, err, sizeof err) !=
        EHAL_STATUS_OK)
        fail_msg("graph_exec: %s", err);
    assert_int_equal(ehal_plan_partition_count(ehal_graph_exec_plan(e)), 3);
    for (int run = 0; run < 2; run++) {
        float in[16], out[16], want[16];
        for (int i = 0; i < 16; i++)
            in[i] = (float)((i * 7 + run * 3) % 11) - 5.0f;
        assert_int_equal(ehal_graph_exec_set_input(e, x, in, sizeof in), EHAL_STATUS_OK);
        assert_int_equal(ehal_graph_exec_run(e), EHAL_STATUS_OK);
        assert_int_equal(ehal_graph_exec_read(e, y, out, sizeof out), EHAL_STATUS_OK);
        expected_small(in, want);
        for (int i = 0; i < 16; i++)
            assert_float_equal(out[i], want[i], 1e-4);
    }
    /* misuse is refused with the tensor named */
    float small[4] = {0};
    assert_int_equal(ehal_graph_exec_set_input(e, x, small, sizeof small),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(ehal_graph_exec_last_error(e), "'x' is 64 bytes, got 16"));
    assert_int_equal(ehal_graph_exec_read(e, h, small, sizeof small), EHAL_STATUS_INVALID_ARGUMENT);
    ehal_graph_exec_free(e);
    ehal_graph_free(g);
    ehal_context_destroy(ctx);
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void trace_has_a_track_per_backend_and_a_slice_per_op(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(1, "gt_a,gt_b", NULL, 0);
    if (!ctx) {
        print_message("skipped: test plugins not found\n");
        skip();
    }
    const char *pins[] = {"layers 0-1=gt_a", "layers 2-3=gt_b", "all lm_head=gt_a"};
    ehal_session_options so = opts(pins, 3, EHAL_DTYPE_F16);
    so.trace = 1;
    so.trace_ops = 1;
    ehal_session *s = NULL;
    char err[320];
    assert_int_equal(ehal_session_create(ctx, g_model, &so, &s, err, sizeof err), EHAL_STATUS_OK);
    static float logits[NL];
    int32_t t = 9;
    assert_int_equal(ehal_session_eval(s, prompt, 5, logits), EHAL_STATUS_OK);
    assert_int_equal(ehal_session_eval(s, &t, 1, logits), EHAL_STATUS_OK);
    char path[] = "/tmp/ehal_trace_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(ehal_session_write_trace(s, path), EHAL_STATUS_OK);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    remove(path);
    assert_true(n > 0 && n < sizeof text - 1);
    assert_int_equal(count(text, "\"thread_name\""), 3); /* gt_a, gt_b, transfers */
    assert_int_equal(count(text, "\"name\":\"gt_a\""), 1);
    assert_int_equal(count(text, "\"name\":\"gt_b\""), 1);
    /* one slice per op per step: 71 nodes x 2 steps, e.g. blk.2.attention */
    assert_int_equal(count(text, "\"name\":\"blk.2.attention\""), 2);
    assert_int_equal(count(text, "\"name\":\"embed\""), 2);
    /* and an enclosing slice per plan partition: 3 partitions x 2 steps */
    assert_int_equal(count(text, "\"name\":\"T5 p"), 3);
    assert_int_equal(count(text, "\"name\":\"T1 p"), 3);
    assert_int_equal(text[n - 2], '}');
    ehal_session_free(s);
    ehal_context_destroy(ctx);
}

static void lost_backend_is_replanned_and_history_replayed(void **state) {
    (void)state;
    /* gt_b runs layers 2-3 and dies at its 3rd execute (during decode). */
    ehal_option bo[1] = {{"gt_b.fail_after", "3"}};
    ehal_context *one = open_ctx(1, "gt_a", NULL, 0);
    ehal_context *two = open_ctx(1, "gt_a,gt_b", bo, 1);
    if (!one || !two || ehal_backend_count(two) != 2) {
        print_message("skipped: test plugins not found\n");
        ehal_context_destroy(one), ehal_context_destroy(two);
        skip();
    }
    static float a[NL], b[NL];
    int32_t ta[N_DECODE + 1], tb[N_DECODE + 1];
    const char *pins[] = {"layers 2-3=gt_b"};
    ehal_session_options s1 = opts(NULL, 0, EHAL_DTYPE_F16), s2 = opts(pins, 1, EHAL_DTYPE_F16);
    ehal_session_stats st;
    run_session(one, &s1, a, ta, NULL);
    run_session(two, &s2, b, tb, &st);
    assert_int_equal(st.replans, 1);
    assert_int_equal(st.lost_mask, 2u);
    assert_memory_equal(ta, tb, sizeof ta);
    double mr, d = max_diff(b, a, NL, &mr);
    print_message("after the loss: max |logit diff| %.3g\n", d);
    assert_true(d <= 1e-4 * (mr > 1 ? mr : 1));
    ehal_context_destroy(one), ehal_context_destroy(two);
}

/* gt_b runs layers 2-3 and starts failing at its 3rd execute with `status`
 * ("internal" or "oom"), `times` executes (0: for ever). Returns the stats
 * and checks the tokens equal a healthy gt_a-only run. */
static int failing_run(const char *status, const char *times, ehal_session_stats *st) {
    ehal_option bo[3] = {
        {"gt_b.fail_after", "3"}, {"gt_b.fail_status", status}, {"gt_b.fail_times", times}};
    ehal_context *one = open_ctx(1, "gt_a", NULL, 0);
    ehal_context *two = open_ctx(1, "gt_a,gt_b", bo, 3);
    if (!one || !two || ehal_backend_count(two) != 2) {
        print_message("skipped: test plugins not found\n");
        ehal_context_destroy(one), ehal_context_destroy(two);
        return 0;
    }
    static float a[NL], b[NL];
    int32_t ta[N_DECODE + 1], tb[N_DECODE + 1];
    const char *pins[] = {"layers 2-3=gt_b"};
    ehal_session_options s1 = opts(NULL, 0, EHAL_DTYPE_F16), s2 = opts(pins, 1, EHAL_DTYPE_F16);
    run_session(one, &s1, a, ta, NULL);
    run_session(two, &s2, b, tb, st);
    assert_memory_equal(ta, tb, sizeof ta);
    double mr, d = max_diff(b, a, NL, &mr);
    print_message("gt_b failing with %s (%s times): max |logit diff| %.3g\n", status, times, d);
    assert_true(d <= 1e-4 * (mr > 1 ? mr : 1));
    ehal_context_destroy(one), ehal_context_destroy(two);
    return 1;
}

static void backend_that_keeps_failing_is_dropped_after_one_retry(void **state) {
    (void)state;
    ehal_session_stats st;
    if (!failing_run("internal", "0", &st))
        skip();
    assert_int_equal(st.replans, 1);
    assert_int_equal(st.lost_mask, 2u);
    if (!failing_run("oom", "0", &st))
        skip();
    assert_int_equal(st.replans, 1);
    assert_int_equal(st.lost_mask, 2u);
}

static void backend_failing_once_is_retried_not_dropped(void **state) {
    (void)state;
    ehal_session_stats st;
    if (!failing_run("internal", "1", &st))
        skip();
    assert_int_equal(st.replans, 0);
    assert_int_equal(st.lost_mask, 0u);
}

/* Host<->device traffic (input writes, boundary moves, logits reads) that
 * keeps failing on gt_b is gt_b's failure: dropped after one retry, the
 * history replayed, the tokens those of a healthy run. */
static void failing_reads_and_writes_drop_the_backend(void **state) {
    (void)state;
    const char *rules[] = {"gt_b:write:after=6", "gt_b:read:after=2"};
    ehal_option bo[1] = {{"gt_b.import", "0"}};
    for (int r = 0; r < 2; r++) {
        ehal_context *one = open_ctx(1, "gt_a", NULL, 0);
        ehal_context *two = open_ctx_fault("gt_a,gt_b", bo, 1, rules[r]);
        if (!one || !two || ehal_backend_count(two) != 2) {
            print_message("skipped: test plugins not found\n");
            ehal_context_destroy(one), ehal_context_destroy(two);
            skip();
        }
        static float a[NL], b[NL];
        int32_t ta[N_DECODE + 1], tb[N_DECODE + 1];
        const char *pins[] = {"layers 2-3=gt_b"};
        ehal_session_options s1 = opts(NULL, 0, EHAL_DTYPE_F16), s2 = opts(pins, 1, EHAL_DTYPE_F16);
        ehal_session_stats st;
        run_session(one, &s1, a, ta, NULL);
        run_session(two, &s2, b, tb, &st);
        print_message("%s: %u re-plan(s), lost mask %u\n", rules[r], st.replans, st.lost_mask);
        assert_int_equal(st.replans, 1);
        assert_int_equal(st.lost_mask, 2u);
        assert_memory_equal(ta, tb, sizeof ta);
        double mr, d = max_diff(b, a, NL, &mr);
        assert_true(d <= 1e-4 * (mr > 1 ? mr : 1));
        ehal_context_destroy(one), ehal_context_destroy(two);
    }
}

static void last_backend_failing_ends_with_one_line_error(void **state) {
    (void)state;
    ehal_option bo[2] = {{"gt_a.fail_after", "1"}, {"gt_a.fail_status", "internal"}};
    ehal_context *ctx = open_ctx(1, "gt_a", bo, 2);
    if (!ctx) {
        print_message("skipped: test plugins not found\n");
        skip();
    }
    static float l[NL];
    ehal_session_options so = opts(NULL, 0, EHAL_DTYPE_F16);
    ehal_session *s = NULL;
    char err[320];
    assert_int_equal(ehal_session_create(ctx, g_model, &so, &s, err, sizeof err), EHAL_STATUS_OK);
    /* The prefill is gt_a's first execute (one partition): it works. */
    assert_int_equal(ehal_session_eval(s, prompt, 5, l), EHAL_STATUS_OK);
    int32_t t = 7;
    ehal_status_t rc = ehal_session_eval(s, &t, 1, l);
    assert_int_equal(rc, EHAL_STATUS_DEVICE_LOST);
    const char *msg = ehal_session_last_error(s);
    print_message("error: %s\n", msg);
    assert_non_null(strstr(msg, "every backend was lost; last: gt_a ("));
    assert_non_null(strstr(msg, ehal_status_string(EHAL_STATUS_INTERNAL)));
    assert_null(strchr(msg, '\n'));
    ehal_session_stats st;
    ehal_session_get_stats(s, &st);
    assert_int_equal(st.lost_mask, 1u);
    ehal_session_free(s);
    ehal_context_destroy(ctx);
}

static void calibration_corrects_a_backend_that_overclaims(void **state) {
    (void)state;
    /* gt_b claims to be 100x faster than gt_a; both run the same kernels.
     * The claim is far off so that timing noise on a loaded machine (each
     * factor is a best of three) cannot hide it: the check needs 10x. */
    ehal_option bo[1] = {{"gt_b.cost", "1"}};
    ehal_context *ctx = open_ctx(1, "gt_a,gt_b", bo, 1);
    if (!ctx) {
        print_message("skipped: test plugins not found\n");
        skip();
    }
    ehal_session_options so = opts(NULL, 0, EHAL_DTYPE_F16);
    so.calibrate = 1;
    ehal_session *s = NULL;
    char err[320];
    assert_int_equal(ehal_session_create(ctx, g_model, &so, &s, err, sizeof err), EHAL_STATUS_OK);
    const ehal_plan *p = ehal_session_plan(s, 1);
    if (!p)
        fail_msg("plan: %s", ehal_session_last_error(s));
    double a = ehal_session_cost_scale(s, 0), b = ehal_session_cost_scale(s, 1);
    print_message("calibration: gt_a x%.3g, gt_b x%.3g\n", a, b);
    assert_true(a > 0 && b > 0);
    assert_true(b / a > 10.0); /* ~100 up to timing noise */
    float logits[512];
    int32_t t = 5;
    assert_int_equal(ehal_session_eval(s, &t, 1, logits), EHAL_STATUS_OK);
    ehal_session_free(s);
    ehal_context_destroy(ctx);
}

static uint64_t plan_cost(ehal_context *ctx, const ehal_graph *g, const char *pin) {
    const char *pins[1] = {pin};
    ehal_plan_options po = {sizeof po, pins, pin ? 1 : 0, NULL, NULL, NULL};
    ehal_plan *p = NULL;
    char err[256];
    if (ehal_plan_create(ctx, g, &po, &p, err, sizeof err) != EHAL_STATUS_OK)
        fail_msg("plan with %s: %s", pin ? pin : "no pin", err);
    uint64_t c = ehal_plan_cost_ns(p);
    ehal_plan_free(p);
    return c;
}

/* cpu (one thread, so the outcome does not depend on the core count) +
 * the simulated NPU: the prefill FFN (gate, up, SWIGLU, down: the largest
 * matmuls, one NPU partition) goes to the NPU (cheap per token at T=128);
 * the attention projections may stay on the cpu, where its estimate beats
 * the NPU's 200 us per dispatch and partition (an int8 GEMM at ~250
 * GFLOP/s a thread with AVX-512 VNNI: then q and o stay too); what the NPU
 * cannot run stays on the cpu; the decode plan is whatever the cost model
 * makes cheapest, never worse than all-cpu or than the prefill placement. */
static void plan_with_npu_sim_sends_prefill_matmuls_there(void **state) {
    (void)state;
    const ehal_option one_thread = {"cpu.threads", "1"};
    ehal_context *ctx = open_ctx(0, "cpu,npu_sim", &one_thread, 1);
    if (!ctx || ehal_backend_count(ctx) != 2) {
        print_message("skipped: the cpu and npu_sim plugins are not both built\n");
        ehal_context_destroy(ctx);
        skip();
    }
    uint32_t npu = ehal_backend_find(ctx, "npu_sim") == ehal_backend_get(ctx, 1) ? 1 : 0;
    ehal_model_hparams hp;
    assert_int_equal(ehal_model_preset_hparams("small", &hp), EHAL_STATUS_OK);
    hp.n_layers = 2;
    hp.vocab = 4096;
    ehal_model *m = NULL;
    char err[256];
    if (ehal_model_generate(&hp, EHAL_DTYPE_Q8_0, 3, &m, err, sizeof err) != EHAL_STATUS_OK)
        fail_msg("generate: %s", err);
    for (uint32_t T = 128; T >= 1; T = T == 128 ? 1 : 0) {
        ehal_llama_options lo = {T, EHAL_DTYPE_F16, 256, 0, 0, 0};
        ehal_graph *g = NULL;
        assert_int_equal(ehal_graph_build_llama(m, &lo, &g, err, sizeof err), EHAL_STATUS_OK);
        ehal_plan *p = NULL;
        assert_int_equal(ehal_plan_create(ctx, g, NULL, &p, err, sizeof err), EHAL_STATUS_OK);
        uint32_t mm = 0, mm_npu = 0, ffn = 0, ffn_npu = 0;
        for (uint32_t i = 0; i < ehal_graph_node_count(g); i++) {
            const ehal_graph_node *n = ehal_graph_node_get(g, i);
            uint32_t b = ehal_plan_node_backend(p, i);
            if (n->op == EHAL_OP_ROPE || n->op == EHAL_OP_ATTENTION || n->op == EHAL_OP_KV_WRITE ||
                n->op == EHAL_OP_GET_ROWS)
                assert_int_not_equal(b, npu); /* unsupported there */
            if (n->op == EHAL_OP_MATMUL && n->layer >= 0) {
                mm++;
                mm_npu += b == npu;
                const int64_t *ne = ehal_graph_tensor_get(g, n->inputs[0])->desc.ne;
                if (ne[0] == hp.ffn_dim || ne[1] == hp.ffn_dim) {
                    ffn++;
                    ffn_npu += b == npu;
                }
            }
        }
        uint64_t best = ehal_plan_cost_ns(p);
        print_message("T=%u: %u of %u layer matmuls on npu_sim, %u partitions, %.3f ms\n", T,
                      mm_npu, mm, ehal_plan_partition_count(p), (double)best / 1e6);
        if (T == 128) {
            assert_int_equal(ffn, 6);
            assert_int_equal(ffn_npu, ffn);
        }
        assert_true(best <= plan_cost(ctx, g, "all=cpu"));
        assert_true(best <= plan_cost(ctx, g, "op:matmul=npu_sim"));
        ehal_plan_free(p);
        ehal_graph_free(g);
    }
    ehal_model_free(m);
    ehal_context_destroy(ctx);
}

/* The build's real plugins: every combination that includes cpu, with the
 * layers dealt round-robin over the combination's backends, against the
 * reference path. */
/* How a real backend can take a layer of the built-in model: every node of
 * it, only its matmuls, or nothing. Decided by planning both step sizes
 * (prefill T=5 and decode T=1) with the pin on a context of cpu and that
 * backend: the answer comes from the backend's query_op on the model's
 * actual nodes (shapes, rope mode, positions), not from
 * ehal_backend_op_support's representative instances, which can say yes
 * to an op the model's instance of it is refused for. Cached per name. */
enum { PIN_UNKNOWN, PIN_WHOLE, PIN_MATMUL, PIN_NONE };
static struct {
    char name[32];
    int kind;
} g_pin_kind[8];

static int plans_with(const char *backend, const char *pin) {
    char list[80];
    snprintf(list, sizeof list, "cpu,%.31s", backend);
    ehal_context *ctx = open_ctx(0, list, NULL, 0);
    if (!ctx)
        return 0;
    const char *pins[1] = {pin};
    ehal_session_options so = opts(pins, 1, EHAL_DTYPE_F16);
    ehal_session *s = NULL;
    char err[320];
    int ok = ehal_session_create(ctx, g_model, &so, &s, err, sizeof err) == EHAL_STATUS_OK &&
             ehal_session_plan(s, 5) != NULL && ehal_session_plan(s, 1) != NULL;
    if (!ok)
        print_message("%s: cannot take '%s': %s\n", backend, pin,
                      s ? ehal_session_last_error(s) : err);
    ehal_session_free(s);
    ehal_context_destroy(ctx);
    return ok;
}

static int layer_pin_kind(const char *backend) {
    if (!strcmp(backend, "cpu"))
        return PIN_WHOLE; /* the reference backend: runs every op */
    uint32_t i = 0;
    for (; i < 8 && g_pin_kind[i].kind != PIN_UNKNOWN; i++)
        if (!strcmp(g_pin_kind[i].name, backend))
            return g_pin_kind[i].kind;
    char pin[64];
    snprintf(pin, sizeof pin, "layer 1=%.31s", backend);
    int kind = PIN_NONE;
    if (plans_with(backend, pin)) {
        kind = PIN_WHOLE;
    } else {
        snprintf(pin, sizeof pin, "layer 1 op:matmul=%.31s", backend);
        if (plans_with(backend, pin))
            kind = PIN_MATMUL;
    }
    print_message("%s takes %s of a layer\n", backend,
                  kind == PIN_WHOLE    ? "every node"
                  : kind == PIN_MATMUL ? "only the matmuls"
                                       : "no node (not pinned: it supports no matmul here)");
    if (i < 8) {
        snprintf(g_pin_kind[i].name, sizeof g_pin_kind[i].name, "%.31s", backend);
        g_pin_kind[i].kind = kind;
    }
    return kind;
}

static void real_backends_match_reference_path(void **state) {
    (void)state;
    ehal_context *all = open_ctx(0, NULL, NULL, 0);
    if (!all || !ehal_backend_find(all, "cpu")) {
        print_message("skipped: the cpu plugin is not in EHAL_TEST_PLUGIN_DIR\n");
        ehal_context_destroy(all);
        skip();
    }
    uint32_t nb = ehal_backend_count(all), cpu = 0;
    char names[8][32];
    if (nb > 8)
        nb = 8;
    for (uint32_t b = 0; b < nb; b++) {
        ehal_backend_props pr;
        memset(&pr, 0, sizeof pr);
        pr.struct_size = sizeof pr;
        pr.device.struct_size = sizeof pr.device;
        ehal_backend_props_get(ehal_backend_get(all, b), &pr);
        snprintf(names[b], sizeof names[b], "%.31s", pr.name ? pr.name : "?");
        if (!strcmp(names[b], "cpu"))
            cpu = b;
    }
    ehal_context_destroy(all);
    int combos = 0;
    for (uint32_t mask = 0; mask < (1u << nb); mask++) {
        if (!(mask & (1u << cpu)))
            continue;
        char list[300] = "";
        const char *members[8];
        uint32_t k = 0;
        for (uint32_t b = 0; b < nb; b++)
            if (mask & (1u << b)) {
                members[k++] = names[b];
                strncat(list, k > 1 ? "," : "", sizeof list - strlen(list) - 1);
                strncat(list, names[b], sizeof list - strlen(list) - 1);
            }
        ehal_context *ctx = open_ctx(0, list, NULL, 0);
        if (!ctx)
            fail_msg("cannot open a context with backends %s", list);
        /* Deal layer l to members[l % k] with the strongest pin that
         * member can take (see layer_pin_kind). */
        char pin_text[4][64];
        const char *pins[4];
        uint32_t n_pins = 0;
        for (uint32_t l = 0; l < 4 && k > 1; l++) {
            int kind = layer_pin_kind(members[l % k]);
            if (kind == PIN_NONE)
                continue;
            snprintf(pin_text[n_pins], sizeof pin_text[n_pins], "layer %u%s=%.31s", l,
                     kind == PIN_WHOLE ? "" : " op:matmul", members[l % k]);
            pins[n_pins] = pin_text[n_pins];
            n_pins++;
        }
        static float got[NL], want[NL];
        int32_t tok[N_DECODE + 1];
        ehal_session_options so = opts(pins, n_pins, EHAL_DTYPE_F16);
        run_session(ctx, &so, got, tok, NULL);
        run_reference(&so, tok, want);
        double mr, d = max_diff(got, want, NL, &mr);
        double tol = 0.02 * (mr > 1 ? mr : 1);
        char shown[300] = "";
        for (uint32_t q = 0; q < n_pins; q++) {
            strncat(shown, q ? ", " : " pins: ", sizeof shown - strlen(shown) - 1);
            strncat(shown, pins[q], sizeof shown - strlen(shown) - 1);
        }
        print_message("%s:%s max |logit diff| %.3g (tolerance %.3g)\n", list, shown, d, tol);
        if (!(d <= tol))
            fail_msg("%s: logits differ from the reference by %g > %g", list, d, tol);
        for (uint32_t p = 0; p < N_POS; p++) {
            uint32_t ga = 0, wa = 0;
            for (uint32_t v = 1; v < 512; v++) {
                if (got[p * 512 + v] > got[p * 512 + ga])
                    ga = v;
                if (want[p * 512 + v] > want[p * 512 + wa])
                    wa = v;
            }
            if (ga != wa)
                fail_msg("%s: position %u top-1 %u, reference %u", list, p, ga, wa);
        }
        ehal_context_destroy(ctx);
        combos++;
    }
    assert_true(combos >= 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(single_backend_equals_reference_path),
        cmocka_unit_test(same_run_twice_gives_identical_tokens),
        cmocka_unit_test(partitioned_run_reading_in_place_equals_single_run),
        cmocka_unit_test(partitioned_run_copying_boundaries_equals_single_run),
        cmocka_unit_test(kv_cache_stays_on_the_attention_backend),
        cmocka_unit_test(sliding_window_with_sinks_matches_reference),
        cmocka_unit_test(memory_limit_keeps_weights_off_a_small_device),
        cmocka_unit_test(callers_graph_runs_split_across_backends),
        cmocka_unit_test(trace_has_a_track_per_backend_and_a_slice_per_op),
        cmocka_unit_test(lost_backend_is_replanned_and_history_replayed),
        cmocka_unit_test(backend_that_keeps_failing_is_dropped_after_one_retry),
        cmocka_unit_test(backend_failing_once_is_retried_not_dropped),
        cmocka_unit_test(failing_reads_and_writes_drop_the_backend),
        cmocka_unit_test(last_backend_failing_ends_with_one_line_error),
        cmocka_unit_test(calibration_corrects_a_backend_that_overclaims),
        cmocka_unit_test(plan_with_npu_sim_sends_prefill_matmuls_there),
        cmocka_unit_test(real_backends_match_reference_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
