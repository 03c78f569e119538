/*
 * Benchmark smoke test of the OpenCL plugin (label `bench`): by default one
 * small shape per op, checked against the reference and timed over 2 runs,
 * plus `edgehal bench --backend opencl --json` whose report must name the
 * case asked for with a positive median. It checks that the benchmark
 * paths work, not speed.
 * EHAL_BENCH_FULL=1: the decoder-sized shapes, 5 runs each (the figures in
 * docs/opencl-backend.md; seconds per case on PoCL).
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin_harness.h"

static ph_backend g_b;
static int g_full; /* EHAL_BENCH_FULL=1: decoder-sized shapes */

static int group_setup(void **state) {
    (void)state;
    const char *full = getenv("EHAL_BENCH_FULL");
    g_full = full != NULL && strcmp(full, "1") == 0;
    if (ph_open(&g_b, "opencl", NULL, 0) != 0) {
        printf("SKIP opencl bench: %s\n", g_b.skip_reason);
    }
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    ph_close(&g_b);
    return 0;
}

#define REQUIRE_DEVICE()                           \
    do {                                           \
        if (!g_b.be) {                             \
            printf("SKIP: %s\n", g_b.skip_reason); \
            skip();                                \
        }                                          \
    } while (0)

#define ITERS (g_full ? 5 : 2)

static void timed(ph_graph *g, uint32_t out, double tol, const char *what) {
    double ms = 0.0;
    assert_int_equal(ph_run_timed(&g_b, g, ITERS, &ms, NULL), 0);
    assert_int_equal(ph_check_close(g, out, tol, what), 0);
    printf("BENCH %-44s %9.3f ms\n", what, ms);
}

static void test_bench_matmul(void **state) {
    (void)state;
    REQUIRE_DEVICE();
    const uint32_t dts[4] = {EHAL_DTYPE_F32, EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0, EHAL_DTYPE_Q4_0};
    const int64_t full[2][3] = {{4096, 4096, 1}, {2048, 2048, 64}}; /* K, N, T */
    const int64_t smoke[1][3] = {{256, 128, 2}};
    const int64_t(*shapes)[3] = g_full ? full : smoke;
    for (int s = 0; s < (g_full ? 2 : 1); s++) {
        for (int d = 0; d < 4; d++) {
            int64_t K = shapes[s][0], N = shapes[s][1], T = shapes[s][2];
            ph_graph g;
            ph_graph_init(&g);
            uint32_t w = ph_tensor(&g, dts[d], K, N, 1);
            uint32_t x = ph_tensor(&g, EHAL_DTYPE_F32, K, T, 1);
            uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, N, T, 1);
            ph_fill(&g, w, 1u + (uint32_t)d, 0.1f);
            ph_fill(&g, x, 9u, 1.0f);
            ph_node(&g, EHAL_OP_MATMUL, (uint32_t[]){w, x}, 2, y, NULL, 0);
            char what[80];
            snprintf(what, sizeof what, "matmul %s K=%lld N=%lld T=%lld (%s)",
                     ehal_dtype_name(dts[d]), (long long)K, (long long)N, (long long)T,
                     T == 1 ? "gemv" : "gemm");
            /* Q8_0/Q4_0 weights quantize the activations to Q8_0 (as the
             * cpu backend does; test_opencl_ops checks that exactly), the
             * reference keeps them f32: ~4e-3 normalized max error. */
            timed(&g, y, ehal_dtype_is_quantized(dts[d]) ? 2e-2 : 1e-5, what);
            ph_graph_free(&g);
        }
    }
}

static void test_bench_attention_decode(void **state) {
    (void)state;
    REQUIRE_DEVICE();
    const uint32_t dts[2] = {EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0};
    for (int d = 0; d < 2; d++) {
        const int64_t D = g_full ? 128 : 64, Hq = g_full ? 32 : 4, Hkv = g_full ? 8 : 2,
                      C = g_full ? 2048 : 64;
        ph_graph g;
        ph_graph_init(&g);
        uint32_t q = ph_tensor(&g, EHAL_DTYPE_F32, D, Hq, 1);
        uint32_t k = ph_tensor(&g, dts[d], D, C, Hkv);
        uint32_t v = ph_tensor(&g, dts[d], D, C, Hkv);
        uint32_t pos = ph_tensor(&g, EHAL_DTYPE_I32, 1, 1, 1);
        uint32_t o = ph_tensor(&g, EHAL_DTYPE_F32, D, Hq, 1);
        ph_fill(&g, q, 1, 1.0f);
        ph_fill(&g, k, 2, 1.0f);
        ph_fill(&g, v, 3, 1.0f);
        const int32_t at = (int32_t)C - 48;
        ph_fill_i32(&g, pos, &at);
        ehal_params_attention p = {0.0f, 0, 0, 0};
        ph_node(&g, EHAL_OP_ATTENTION, (uint32_t[]){q, k, v, pos}, 4, o, &p, sizeof p);
        char what[80];
        snprintf(what, sizeof what, "attention %s D=%lld Hq=%lld Hkv=%lld pos=%d",
                 ehal_dtype_name(dts[d]), (long long)D, (long long)Hq, (long long)Hkv, (int)at);
        timed(&g, o, 1e-5, what);
        ph_graph_free(&g);
    }
}

static void test_bench_small_ops(void **state) {
    (void)state;
    REQUIRE_DEVICE();
    const int64_t D = g_full ? 4096 : 256, T = g_full ? 64 : 4;
    {
        ph_graph g;
        ph_graph_init(&g);
        uint32_t x = ph_tensor(&g, EHAL_DTYPE_F32, D, T, 1);
        uint32_t w = ph_tensor(&g, EHAL_DTYPE_F32, D, 1, 1);
        uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, D, T, 1);
        ph_fill(&g, x, 1, 1.0f);
        ph_fill(&g, w, 2, 1.0f);
        ehal_params_rms_norm p = {1e-5f};
        ph_node(&g, EHAL_OP_RMS_NORM, (uint32_t[]){x, w}, 2, y, &p, sizeof p);
        char what[64];
        snprintf(what, sizeof what, "rms_norm D=%lld T=%lld", (long long)D, (long long)T);
        timed(&g, y, 1e-5, what);
        ph_graph_free(&g);
    }
    {
        ph_graph g;
        ph_graph_init(&g);
        const int64_t hd = g_full ? 128 : 64, hkv = g_full ? 8 : 2, nt = g_full ? 64 : 4;
        uint32_t s = ph_tensor(&g, EHAL_DTYPE_F32, hd, hkv, nt);
        uint32_t pos = ph_tensor(&g, EHAL_DTYPE_I32, nt, 1, 1);
        uint32_t c = ph_tensor(&g, EHAL_DTYPE_Q8_0, hd, 2048, hkv);
        ph_fill(&g, s, 1, 1.0f);
        int32_t pv[64];
        for (int i = 0; i < nt; i++) {
            pv[i] = 100 + i;
        }
        ph_fill_i32(&g, pos, pv);
        ehal_params_kv p = {0, 0};
        ph_node(&g, EHAL_OP_KV_WRITE, (uint32_t[]){s, pos, c}, 3, c, &p, sizeof p);
        double ms = 0.0;
        assert_int_equal(ph_run_timed(&g_b, &g, ITERS, &ms, NULL), 0);
        assert_int_equal(ph_check_bytes(&g, c, "kv_write q8_0"), 0);
        char what[64];
        snprintf(what, sizeof what, "kv_write q8_0 D=%lld Hkv=%lld T=%lld", (long long)hd,
                 (long long)hkv, (long long)nt);
        printf("BENCH %-44s %9.3f ms\n", what, ms);
        ph_graph_free(&g);
    }
}

/* The integer after `"key": ` in s, or -1. */
static long long json_int(const char *s, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(s, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static double json_num(const char *s, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(s, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1.0;
}

/* `edgehal bench --backend opencl` on one small matmul: exit 0, and the
 * JSON report names the backend, the reps and the case asked for, with a
 * positive median and no error. */
static void test_edgehal_bench_reports_the_case_asked_for(void **state) {
    (void)state;
    REQUIRE_DEVICE();
    const char *bin = getenv("EHAL_TEST_BIN_DIR");
    char json[256], cmd[1024];
    snprintf(json, sizeof json, "/tmp/ehal_opencl_bench_%ld.json", (long)getpid());
    snprintf(cmd, sizeof cmd,
             "'%s/edgehal' bench --backend opencl --op matmul --dtype q4_0 --shape 256x128 "
             "--reps 2 --json '%s' </dev/null",
             bin ? bin : "bin", json);
    printf("%s\n", cmd);
    fflush(stdout);
    int rc = system(cmd);
    assert_int_equal(rc, 0);
    FILE *f = fopen(json, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    remove(json);
    assert_non_null(strstr(buf, "\"backend\": \"opencl\""));
    assert_int_equal(json_int(buf, "reps"), 2);
    assert_non_null(strstr(buf, "\"op\": \"matmul\", \"dtype\": \"q4_0\""));
    assert_int_equal(json_int(buf, "k"), 256);
    assert_int_equal(json_int(buf, "n_out"), 128);
    assert_int_equal(json_int(buf, "n"), 1);
    assert_null(strstr(buf, "\"error\""));
    double us = json_num(buf, "median_us");
    printf("edgehal bench: matmul q4_0 256x128 median %.2f us\n", us);
    assert_true(us > 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_matmul),
        cmocka_unit_test(test_bench_attention_decode),
        cmocka_unit_test(test_bench_small_ops),
        cmocka_unit_test(test_edgehal_bench_reports_the_case_asked_for),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
