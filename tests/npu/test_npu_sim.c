/*
 * npu_sim, the simulated NPU, through the runtime API: its device
 * description and parameters (options and EHAL_NPU_SIM_* variables, good and
 * malformed), the W8A8 matmul (exact on a hand-made case, within the
 * conformance tolerance against a float reference), refusal of everything
 * else, the memory budget, the static-shape compile cost and the cost model.
 * Expected values are computed here by hand or by independent loops.
 */
#define _POSIX_C_SOURCE 200809L /* setenv, clock_gettime */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "edgehal/edgehal.h"
#include "edgehal/ops.h"
#include "edgehal/quant.h"

static ehal_context *ctx;
static ehal_backend *sim;

/* Opens a context with only npu_sim and the given "npu_sim.*" options.
 * Returns the backend, or NULL when npu_sim was skipped (ctx stays open so
 * the caller can read the skip reason). */
static ehal_backend *open_sim(const ehal_option *opts, uint32_t n) {
    ehal_context_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.flags = EHAL_CONTEXT_NO_DEFAULT_PATHS;
    o.backend_path = getenv("EHAL_TEST_PLUGIN_DIR");
    o.backends = "npu_sim";
    o.log_level = EHAL_LOG_ERROR;
    o.backend_options = opts;
    o.n_backend_options = n;
    assert_non_null(o.backend_path);
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    sim = ehal_backend_find(ctx, "npu_sim");
    return sim;
}

static int close_ctx(void **state) {
    (void)state;
    ehal_context_destroy(ctx);
    ctx = NULL;
    sim = NULL;
    return 0;
}

static ehal_device_info device(void) {
    ehal_backend_props p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    assert_int_equal(ehal_backend_props_get(sim, &p), EHAL_STATUS_OK);
    return p.device;
}

/* ---- small subgraph builder ------------------------------------------------- */

typedef struct graph {
    ehal_tensor_desc t[8];
    const ehal_tensor_desc *tp[8];
    ehal_node_desc n[4];
    const ehal_node_desc *np[4];
    ehal_subgraph sg;
} graph;

static void graph_init(graph *g) {
    memset(g, 0, sizeof *g);
    g->sg.struct_size = sizeof g->sg;
    g->sg.tensors = g->tp;
    g->sg.nodes = g->np;
}

static uint32_t tensor(graph *g, uint32_t dtype, int64_t ne0, int64_t ne1, ehal_buffer *buf,
                       uint64_t offset) {
    uint32_t i = g->sg.n_tensors++;
    int64_t ne[2] = {ne0, ne1};
    ehal_tensor_desc_init(&g->t[i], dtype, 2, ne);
    g->t[i].buffer = buf != NULL ? ehal_buffer_handle(buf) : NULL;
    g->t[i].offset = offset;
    g->tp[i] = &g->t[i];
    return i;
}

static void node(graph *g, uint32_t op, uint32_t a, uint32_t b, uint32_t out) {
    uint32_t i = g->sg.n_nodes++;
    g->n[i].struct_size = sizeof g->n[i];
    g->n[i].op = op;
    g->n[i].n_inputs = b == UINT32_MAX ? 1 : 2;
    g->n[i].n_outputs = 1;
    g->n[i].inputs[0] = a;
    g->n[i].inputs[1] = b == UINT32_MAX ? 0 : b;
    g->n[i].outputs[0] = out;
    g->np[i] = &g->n[i];
}

static ehal_op_support query(graph *g, uint32_t node_index) {
    ehal_op_support s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    assert_int_equal(ehal_backend_query_op(sim, &g->sg, node_index, &s), EHAL_STATUS_OK);
    return s;
}

/* Y = W X on npu_sim: W is the weight bytes (dtype wd, [K,N]), X f32 [K,T]. */
static void run_matmul(uint32_t wd, const void *w, int64_t k, int64_t n, const float *x, int64_t t,
                       float *y) {
    uint64_t wbytes = ehal_row_bytes(wd, k) * (uint64_t)n;
    uint64_t xbytes = (uint64_t)(k * t) * 4u, ybytes = (uint64_t)(n * t) * 4u;
    ehal_buffer *bw = NULL, *bx = NULL, *by = NULL;
    assert_int_equal(ehal_buffer_alloc(sim, wbytes, EHAL_BUFFER_WEIGHTS, &bw), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_alloc(sim, xbytes, 0, &bx), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_alloc(sim, ybytes, EHAL_BUFFER_HOST_READ, &by), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_write(bw, 0, w, wbytes), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_write(bx, 0, x, xbytes), EHAL_STATUS_OK);
    graph g;
    graph_init(&g);
    uint32_t tw = tensor(&g, wd, k, n, bw, 0);
    uint32_t tx = tensor(&g, EHAL_DTYPE_F32, k, t, bx, 0);
    uint32_t ty = tensor(&g, EHAL_DTYPE_F32, n, t, by, 0);
    node(&g, EHAL_OP_MATMUL, tw, tx, ty);
    assert_int_equal(query(&g, 0).level, EHAL_SUPPORT_SUPPORTED);
    ehal_executable *exe = NULL;
    assert_int_equal(ehal_prepare(sim, &g.sg, &exe), EHAL_STATUS_OK);
    assert_int_equal(ehal_execute(exe), EHAL_STATUS_OK);
    assert_int_equal(ehal_wait(exe, UINT64_MAX), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_read(by, 0, y, ybytes), EHAL_STATUS_OK);
    ehal_executable_release(exe);
    ehal_buffer_free(bw);
    ehal_buffer_free(bx);
    ehal_buffer_free(by);
}

static const ehal_option fast[] = {{"npu_sim.compile_ms", "0"}};

/* ---- device and parameters ---------------------------------------------------- */

static void test_sim_defaults_describe_a_static_shape_npu_with_a_budget(void **state) {
    (void)state;
    assert_non_null(open_sim(NULL, 0));
    ehal_device_info d = device();
    assert_int_equal(d.kind, EHAL_DEVICE_NPU);
    assert_int_equal(d.flags, EHAL_DEVICE_STATIC_SHAPES); /* not HOST_SHARED, not ASYNC */
    assert_int_equal(d.memory_bytes, 268435456u);         /* 256 MiB */
    assert_int_equal(d.max_buffer_bytes, 268435456u);
    assert_int_equal(d.link_bytes_per_s, 8000000000u); /* 8 GB/s */
    assert_int_equal(d.dispatch_overhead_ns, 200000u); /* 200 us */
    assert_non_null(strstr(d.name, "2 TOPS"));
    void *p = NULL;
    ehal_buffer *b = NULL;
    assert_int_equal(ehal_buffer_alloc(sim, 64, 0, &b), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_map(b, &p), EHAL_STATUS_UNSUPPORTED); /* separate memory */
    ehal_buffer_free(b);
    float host_mem[16];
    assert_int_equal(ehal_buffer_import_host(sim, host_mem, sizeof host_mem, 0, &b),
                     EHAL_STATUS_UNSUPPORTED);
}

static void test_sim_options_set_memory_tops_latency_compile_and_link(void **state) {
    (void)state;
    const ehal_option o[] = {{"npu_sim.memory", "64M"},    {"npu_sim.tops", "0.5"},
                             {"npu_sim.latency_us", "50"}, {"npu_sim.compile_ms", "0"},
                             {"npu_sim.link_gbps", "2.5"}, {"npu_sim.colour", "blue"}};
    assert_non_null(open_sim(o, 6));
    ehal_device_info d = device();
    assert_int_equal(d.memory_bytes, 64u << 20);
    assert_int_equal(d.dispatch_overhead_ns, 50000u);
    assert_int_equal(d.link_bytes_per_s, 2500000000u);
    assert_non_null(strstr(d.name, "0.5 TOPS"));
    assert_non_null(strstr(d.driver, "0 ms compile"));
}

static void test_sim_env_sets_parameters_and_an_option_wins(void **state) {
    (void)state;
    setenv("EHAL_NPU_SIM_LATENCY_US", "70", 1);
    setenv("EHAL_NPU_SIM_MEMORY", "2M", 1);
    setenv("EHAL_NPU_SIM_LINK_GBPS", "16", 1);
    const ehal_option o[] = {{"npu_sim.memory", "3M"}};
    ehal_backend *b = open_sim(o, 1);
    unsetenv("EHAL_NPU_SIM_LATENCY_US");
    unsetenv("EHAL_NPU_SIM_MEMORY");
    unsetenv("EHAL_NPU_SIM_LINK_GBPS");
    assert_non_null(b);
    ehal_device_info d = device();
    assert_int_equal(d.dispatch_overhead_ns, 70000u);   /* from the environment */
    assert_int_equal(d.link_bytes_per_s, 16000000000u); /* from the environment */
    assert_int_equal(d.memory_bytes, 3u << 20);         /* the option wins */
}

/* The skip reason of the one plugin that failed to load. */
static const char *skip_reason(void) {
    assert_null(sim);
    assert_int_equal(ehal_skipped_count(ctx), 1);
    return ehal_skipped_reason(ctx, 0);
}

static void test_sim_malformed_values_fail_init_naming_key_and_value(void **state) {
    (void)state;
    static const struct {
        const char *key, *value, *want;
    } bad[] = {
        {"npu_sim.tops", "fast", "option 'tops': value 'fast'"},
        {"npu_sim.tops", "0", "option 'tops': value '0'"},
        {"npu_sim.tops", "inf", "option 'tops': value 'inf'"},
        {"npu_sim.memory", "12Q", "option 'memory': value '12Q'"},
        {"npu_sim.memory", "0", "option 'memory': value '0'"},
        {"npu_sim.latency_us", "-1", "option 'latency_us': value '-1'"},
        {"npu_sim.compile_ms", "99999999", "option 'compile_ms': value '99999999'"},
        {"npu_sim.link_gbps", "2.5x", "option 'link_gbps': value '2.5x'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ehal_option o = {bad[i].key, bad[i].value};
        open_sim(&o, 1);
        const char *why = skip_reason();
        if (strstr(why, bad[i].want) == NULL)
            fail_msg("%s=%s: skip reason '%s' lacks \"%s\"", bad[i].key, bad[i].value, why,
                     bad[i].want);
        ehal_context_destroy(ctx);
        ctx = NULL;
    }
    setenv("EHAL_NPU_SIM_COMPILE_MS", "soon", 1);
    open_sim(NULL, 0);
    unsetenv("EHAL_NPU_SIM_COMPILE_MS");
    assert_non_null(strstr(skip_reason(), "EHAL_NPU_SIM_COMPILE_MS='soon'"));
}

/* ---- W8A8 matmul ---------------------------------------------------------------- */

/* K=64 (two blocks), N=2, T=2, with scales that are powers of two and
 * activations whose block maxima are 127 and 254, so the activation scales
 * are exactly 1 and 2 and every product is exact in f32. The expected
 * values are an independent int computation: sum_b dw*dx * sum_j qw*qx. */
static void test_sim_w8a8_matmul_is_exact_on_a_hand_made_q8_0_case(void **state) {
    (void)state;
    assert_non_null(open_sim(fast, 1));
    enum { K = 64, N = 2, T = 2, NB = 2 };
    ehal_block_q8_0 w[N][NB];
    const uint16_t dw_bits[N][NB] = {{0x3800, 0x3400}, {0x4000, 0x3c00}}; /* .5 .25 / 2 1 */
    const float dw[N][NB] = {{0.5f, 0.25f}, {2.0f, 1.0f}};
    for (int n = 0; n < N; n++)
        for (int b = 0; b < NB; b++) {
            w[n][b].d = dw_bits[n][b];
            for (int j = 0; j < 32; j++)
                w[n][b].qs[j] = (int8_t)(((n + 1) * (j + 3 * b) * 7) % 255 - 127);
        }
    float x[T][K];
    int32_t qx[T][K];
    float dx[T][NB];
    for (int t = 0; t < T; t++)
        for (int b = 0; b < NB; b++) {
            int scale = b == 0 ? 1 : 2; /* block max 127*scale -> d = scale */
            dx[t][b] = (float)scale;
            for (int j = 0; j < 32; j++) {
                int q = j == 5 + t ? (t == 0 ? 127 : -127) : ((j * 13 + t * 29) % 201) - 100;
                qx[t][b * 32 + j] = q;
                x[t][b * 32 + j] = (float)(q * scale);
            }
        }
    float want[T][N];
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double acc = 0.0;
            for (int b = 0; b < NB; b++) {
                int64_t isum = 0;
                for (int j = 0; j < 32; j++)
                    isum += (int64_t)w[n][b].qs[j] * qx[t][b * 32 + j];
                acc += (double)isum * dw[n][b] * dx[t][b];
            }
            want[t][n] = (float)acc;
        }
    float y[T][N];
    run_matmul(EHAL_DTYPE_Q8_0, w, K, N, &x[0][0], T, &y[0][0]);
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++)
            if (y[t][n] != want[t][n])
                fail_msg("y[%d][%d] = %.9g, want exactly %.9g", t, n, y[t][n], want[t][n]);
    /* one value by hand-checkable magnitude: not all zeros */
    assert_true(fabsf(want[0][0]) > 100.0f);
}

/* Q4_0 weights: nibble j is value j, nibble j+16 is value j+16, each minus 8. */
static void test_sim_w8a8_matmul_is_exact_on_a_hand_made_q4_0_case(void **state) {
    (void)state;
    assert_non_null(open_sim(fast, 1));
    enum { K = 32, N = 3, T = 1 };
    ehal_block_q4_0 w[N];
    int32_t wv[N][K];
    for (int n = 0; n < N; n++) {
        w[n].d = 0x3800; /* 0.5 */
        for (int j = 0; j < 16; j++) {
            int lo = (j + n) % 16, hi = (3 * j + 5 * n) % 16;
            w[n].qs[j] = (uint8_t)(lo | (hi << 4));
            wv[n][j] = lo - 8;
            wv[n][j + 16] = hi - 8;
        }
    }
    float x[K];
    int32_t qx[K];
    for (int j = 0; j < K; j++) {
        qx[j] = j == 9 ? -127 : (j * 37) % 121 - 60;
        x[j] = (float)qx[j]; /* max |x| = 127 -> d_x = 1 */
    }
    float y[N];
    run_matmul(EHAL_DTYPE_Q4_0, w, K, N, x, T, y);
    for (int n = 0; n < N; n++) {
        int64_t isum = 0;
        for (int j = 0; j < K; j++)
            isum += (int64_t)wv[n][j] * qx[j];
        float want = (float)isum * 0.5f;
        if (y[n] != want)
            fail_msg("y[%d] = %.9g, want exactly %.9g", n, y[n], want);
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float uniform(void) /* [-1, 1) */
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* Against a float reference (dequantized weights x f32 activations, in
 * double): the activation quantization costs about d^2/12 / E[x^2] ~ 1.6e-5
 * of the signal (docs/conformance.md), inside the suite's q8_0 matmul
 * tolerance of 1e-4 and clearly above the ~1e-14 of an f32 computation,
 * which shows the activations really are quantized. */
static void test_sim_w8a8_matmul_is_within_the_conformance_tolerance_of_float(void **state) {
    (void)state;
    assert_non_null(open_sim(fast, 1));
    enum { K = 256, N = 24, T = 5, NB = K / 32 };
    static float wf[N][K], x[T][K], y[T][N];
    static ehal_block_q8_0 w[N][NB];
    static float wd[N][K];
    for (int n = 0; n < N; n++) {
        for (int k = 0; k < K; k++)
            wf[n][k] = uniform();
        ehal_quantize_row_q8_0(wf[n], w[n], K);
        ehal_dequantize_row_q8_0(w[n], wd[n], K);
    }
    for (int t = 0; t < T; t++)
        for (int k = 0; k < K; k++)
            x[t][k] = uniform();
    run_matmul(EHAL_DTYPE_Q8_0, w, K, N, &x[0][0], T, &y[0][0]);
    double err = 0.0, sig = 0.0;
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double ref = 0.0;
            for (int k = 0; k < K; k++)
                ref += (double)wd[n][k] * x[t][k];
            err += (y[t][n] - ref) * (y[t][n] - ref);
            sig += ref * ref;
        }
    double nmse = err / sig;
    print_message("W8A8 nmse vs float: %.3g (tolerance 1e-4)\n", nmse);
    assert_true(nmse < 1e-4);
    assert_true(nmse > 1e-8);
}

/* ---- what it refuses ---------------------------------------------------------------- */

static void test_sim_refuses_unsupported_ops_at_query_and_prepare(void **state) {
    (void)state;
    assert_non_null(open_sim(fast, 1));
    ehal_buffer *buf = NULL;
    assert_int_equal(ehal_buffer_alloc(sim, 65536, 0, &buf), EHAL_STATUS_OK);
    static const struct {
        uint32_t op, wdtype;
        const char *want;
    } cases[] = {
        {EHAL_OP_MATMUL, EHAL_DTYPE_F32, "matmul weight dtype f32"},
        {EHAL_OP_MATMUL, EHAL_DTYPE_F16, "matmul weight dtype f16"},
        {EHAL_OP_SOFTMAX, EHAL_DTYPE_F32, "op softmax is not run by the NPU"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        graph g;
        graph_init(&g);
        uint32_t out;
        if (cases[i].op == EHAL_OP_MATMUL) {
            uint32_t w = tensor(&g, cases[i].wdtype, 32, 4, buf, 0);
            uint32_t x = tensor(&g, EHAL_DTYPE_F32, 32, 2, buf, 4096);
            out = tensor(&g, EHAL_DTYPE_F32, 4, 2, buf, 8192);
            node(&g, EHAL_OP_MATMUL, w, x, out);
        } else {
            uint32_t x = tensor(&g, EHAL_DTYPE_F32, 32, 2, buf, 0);
            out = tensor(&g, EHAL_DTYPE_F32, 32, 2, buf, 4096);
            node(&g, cases[i].op, x, UINT32_MAX, out);
        }
        ehal_op_support s = query(&g, 0);
        assert_int_equal(s.level, EHAL_SUPPORT_UNSUPPORTED);
        ehal_executable *exe = NULL;
        assert_int_equal(ehal_prepare(sim, &g.sg, &exe), EHAL_STATUS_UNSUPPORTED);
        assert_null(exe);
        if (strstr(ehal_last_error(ctx), cases[i].want) == NULL)
            fail_msg("case %zu: error '%s' lacks \"%s\"", i, ehal_last_error(ctx), cases[i].want);
    }
    /* a supported node followed by an unsupported one: prepare names node 1 */
    graph g;
    graph_init(&g);
    uint32_t a = tensor(&g, EHAL_DTYPE_F32, 32, 1, buf, 0);
    uint32_t b = tensor(&g, EHAL_DTYPE_F32, 32, 1, buf, 128);
    uint32_t c = tensor(&g, EHAL_DTYPE_F32, 32, 1, buf, 256);
    uint32_t d = tensor(&g, EHAL_DTYPE_F32, 32, 1, buf, 384);
    node(&g, EHAL_OP_ADD, a, b, c);
    node(&g, EHAL_OP_SOFTMAX, c, UINT32_MAX, d);
    assert_int_equal(query(&g, 0).level, EHAL_SUPPORT_SUPPORTED);
    assert_int_equal(query(&g, 1).level, EHAL_SUPPORT_UNSUPPORTED);
    ehal_executable *exe = NULL;
    assert_int_equal(ehal_prepare(sim, &g.sg, &exe), EHAL_STATUS_UNSUPPORTED);
    assert_non_null(strstr(ehal_last_error(ctx), "node 1 (softmax)"));
    ehal_buffer_free(buf);
}

/* ---- device memory -------------------------------------------------------------------- */

static void test_sim_allocation_beyond_the_budget_fails_until_memory_is_freed(void **state) {
    (void)state;
    const ehal_option o[] = {{"npu_sim.memory", "1M"}, {"npu_sim.compile_ms", "0"}};
    assert_non_null(open_sim(o, 2));
    assert_int_equal(device().memory_bytes, 1048576u);
    ehal_buffer *big = NULL, *more = NULL;
    assert_int_equal(ehal_buffer_alloc(sim, 786432, 0, &big), EHAL_STATUS_OK); /* 768 KiB */
    assert_int_equal(ehal_buffer_alloc(sim, 524288, 0, &more), EHAL_STATUS_OUT_OF_MEMORY);
    assert_null(more);
    const char *e = ehal_last_error(ctx);
    if (strstr(e, "524288 bytes requested, 262144 of 1048576 bytes available") == NULL)
        fail_msg("error '%s' does not name requested and available bytes", e);
    /* the backend is still usable: a fitting allocation works, and after
     * the free the large one does */
    assert_int_equal(ehal_buffer_alloc(sim, 262144, 0, &more), EHAL_STATUS_OK);
    ehal_buffer_free(more);
    ehal_buffer_free(big);
    assert_int_equal(ehal_buffer_alloc(sim, 524288, 0, &more), EHAL_STATUS_OK);
    ehal_buffer_free(more);
    assert_int_equal(ehal_buffer_alloc(sim, 1048577, 0, &more), EHAL_STATUS_OUT_OF_MEMORY);
}

/* ---- static shapes and the cost model ------------------------------------------------ */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double timed_add_prepare(ehal_op_support *s) {
    ehal_buffer *buf = NULL;
    assert_int_equal(ehal_buffer_alloc(sim, 4096, 0, &buf), EHAL_STATUS_OK);
    graph g;
    graph_init(&g);
    uint32_t a = tensor(&g, EHAL_DTYPE_F32, 64, 2, buf, 0);
    uint32_t b = tensor(&g, EHAL_DTYPE_F32, 64, 2, buf, 1024);
    uint32_t c = tensor(&g, EHAL_DTYPE_F32, 64, 2, buf, 2048);
    node(&g, EHAL_OP_ADD, a, b, c);
    *s = query(&g, 0);
    ehal_executable *exe = NULL;
    double t0 = now_ms();
    assert_int_equal(ehal_prepare(sim, &g.sg, &exe), EHAL_STATUS_OK);
    double ms = now_ms() - t0;
    ehal_executable_release(exe);
    ehal_buffer_free(buf);
    return ms;
}

static void test_sim_prepare_compiles_for_the_configured_time(void **state) {
    (void)state;
    const ehal_option o[] = {{"npu_sim.compile_ms", "80"}};
    assert_non_null(open_sim(o, 1));
    ehal_op_support s;
    double ms = timed_add_prepare(&s);
    assert_int_equal(s.prepare_ns, 80000000u);
    print_message("prepare with compile_ms=80 took %.1f ms\n", ms);
    assert_true(ms >= 79.0);
    ehal_context_destroy(ctx);
    ctx = NULL;

    assert_non_null(open_sim(fast, 1));
    ms = timed_add_prepare(&s);
    assert_int_equal(s.prepare_ns, 0u);
    assert_true(ms < 60.0);
}

/* cost_ns = latency + 2KNT/tops + vector work * 32/tops (ns at 1e12 ops/s),
 * computed here for the defaults (2 TOPS, 200 us). */
static void test_sim_cost_is_latency_plus_work_over_throughput(void **state) {
    (void)state;
    assert_non_null(open_sim(NULL, 0));
    graph g;
    graph_init(&g);
    uint32_t w = tensor(&g, EHAL_DTYPE_Q8_0, 4096, 4096, NULL, 0);
    uint32_t x1 = tensor(&g, EHAL_DTYPE_F32, 4096, 1, NULL, 0);
    uint32_t y1 = tensor(&g, EHAL_DTYPE_F32, 4096, 1, NULL, 0);
    uint32_t x128 = tensor(&g, EHAL_DTYPE_F32, 4096, 128, NULL, 0);
    uint32_t y128 = tensor(&g, EHAL_DTYPE_F32, 4096, 128, NULL, 0);
    node(&g, EHAL_OP_MATMUL, w, x1, y1);     /* decode */
    node(&g, EHAL_OP_MATMUL, w, x128, y128); /* prefill */
    node(&g, EHAL_OP_ADD, x1, y1, y1);       /* small elementwise */
    ehal_op_support dec = query(&g, 0), pre = query(&g, 1), add = query(&g, 2);
    /* 200000 + 2*4096*4096/2000 + 3*4096*32/2000 = 216973.824 */
    assert_int_equal(dec.cost_ns, 216974u);
    /* 200000 + 2*4096*4096*128/2000 + 3*4096*128*32/2000 = 2372649.472 */
    assert_int_equal(pre.cost_ns, 2372649u);
    /* 200000 + 4096*32/2000 = 200065.536 */
    assert_int_equal(add.cost_ns, 200066u);
    assert_int_equal(dec.prepare_ns, 20000000u); /* default 20 ms compile */
    /* per token, prefill is ~12x cheaper than decode: latency amortized */
    assert_true((double)pre.cost_ns / 128.0 * 10.0 < (double)dec.cost_ns);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sim_defaults_describe_a_static_shape_npu_with_a_budget,
                                  close_ctx),
        cmocka_unit_test_teardown(test_sim_options_set_memory_tops_latency_compile_and_link,
                                  close_ctx),
        cmocka_unit_test_teardown(test_sim_env_sets_parameters_and_an_option_wins, close_ctx),
        cmocka_unit_test_teardown(test_sim_malformed_values_fail_init_naming_key_and_value,
                                  close_ctx),
        cmocka_unit_test_teardown(test_sim_w8a8_matmul_is_exact_on_a_hand_made_q8_0_case,
                                  close_ctx),
        cmocka_unit_test_teardown(test_sim_w8a8_matmul_is_exact_on_a_hand_made_q4_0_case,
                                  close_ctx),
        cmocka_unit_test_teardown(test_sim_w8a8_matmul_is_within_the_conformance_tolerance_of_float,
                                  close_ctx),
        cmocka_unit_test_teardown(test_sim_refuses_unsupported_ops_at_query_and_prepare, close_ctx),
        cmocka_unit_test_teardown(test_sim_allocation_beyond_the_budget_fails_until_memory_is_freed,
                                  close_ctx),
        cmocka_unit_test_teardown(test_sim_prepare_compiles_for_the_configured_time, close_ctx),
        cmocka_unit_test_teardown(test_sim_cost_is_latency_plus_work_over_throughput, close_ctx),
    };
    return cmocka_run_group_tests_name("npu_sim", tests, NULL, NULL);
}
