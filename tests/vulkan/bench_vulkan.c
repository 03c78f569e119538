/*
 * Benchmark smoke test of the Vulkan plugin (label `bench`): by default one
 * small shape per op, checked against the reference kernel and timed over
 * 2 runs, plus `edgehal bench --backend vulkan --json` whose report must
 * name the case asked for with a positive median. It checks that the
 * benchmark paths work, not speed.
 * EHAL_BENCH_FULL=1: the decoder-sized shapes instead, 3-10 runs each (the
 * table in docs/vulkan-backend.md; minutes on lavapipe).
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

#include "vk_validation.h"

static ph_backend g_b;
static int g_full; /* EHAL_BENCH_FULL=1: decoder-sized shapes */

static int setup(void **state) {
    (void)state;
    const char *full = getenv("EHAL_BENCH_FULL");
    g_full = full != NULL && strcmp(full, "1") == 0;
    if (vk_open(&g_b) != 0) {
        printf("SKIP vulkan bench: %s\n", g_b.skip_reason);
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ph_close(&g_b);
    return 0;
}

/* EHAL_BENCH_ONLY=<substring>: run only the cases whose name contains it. */
static int wanted(const char *what) {
    const char *only = getenv("EHAL_BENCH_ONLY");
    return !only || strstr(what, only) != NULL;
}

/* ref: the scalar double-precision reference kernel on the host, timed in
 * the same process: a yardstick for how loaded the machine was. */
static void report(const char *what, double ms, double ref, double gflop, double gbyte) {
    printf("| %-46s | %9.2f | %7.3f | %7.3f | %9.2f |\n", what, ms, gflop / (ms * 1e-3),
           gbyte / (ms * 1e-3), ref);
}

static void bench_matmul(uint32_t wdt, int64_t K, int64_t N, int64_t T) {
    char what[64];
    snprintf(what, sizeof what, "matmul %s %lldx%lld T=%lld", ehal_dtype_name(wdt), (long long)K,
             (long long)N, (long long)T);
    if (!wanted(what)) {
        return;
    }
    ph_graph g;
    ph_graph_init(&g);
    uint32_t w = ph_tensor(&g, wdt, K, N, 1);
    uint32_t x = ph_tensor(&g, EHAL_DTYPE_F32, K, T, 1);
    uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, N, T, 1);
    ph_fill(&g, w, 1, 1.0f);
    ph_fill(&g, x, 2, 1.0f);
    ph_node(&g, EHAL_OP_MATMUL, (uint32_t[]){w, x}, 2, y, NULL, 0);
    double ms = 0, ref = 0;
    assert_int_equal(ph_run_timed(&g_b, &g, g_full ? 5 : 2, &ms, &ref), 0);
    /* Q8_0/Q4_0 weights quantize the activations to Q8_0 (as the cpu
     * backend does; test_vulkan_ops checks that exactly), the reference
     * keeps them f32: measured normalized max error ~4e-3 here. */
    assert_int_equal(ph_check_close(&g, y, ehal_dtype_is_quantized(wdt) ? 2e-2 : 1e-5, "matmul"), 0);
    report(what, ms, ref, 2.0 * (double)K * (double)N * (double)T * 1e-9,
           (double)ehal_tensor_nbytes(&g.td[w]) * 1e-9);
    ph_graph_free(&g);
}

static void bench_attention(uint32_t kdt, int64_t D, int64_t Hq, int64_t Hkv, int64_t C, int64_t T) {
    char what[64];
    snprintf(what, sizeof what, "attention %s D=%lld Hq=%lld Hkv=%lld ctx=%lld T=%lld",
             ehal_dtype_name(kdt), (long long)D, (long long)Hq, (long long)Hkv, (long long)C,
             (long long)T);
    if (!wanted(what)) {
        return;
    }
    ph_graph g;
    ph_graph_init(&g);
    uint32_t q = ph_tensor(&g, EHAL_DTYPE_F32, D, Hq, T);
    uint32_t k = ph_tensor(&g, kdt, D, C, Hkv);
    uint32_t v = ph_tensor(&g, kdt, D, C, Hkv);
    uint32_t pos = ph_tensor(&g, EHAL_DTYPE_I32, T, 1, 1);
    uint32_t o = ph_tensor(&g, EHAL_DTYPE_F32, D, Hq, T);
    ph_fill(&g, q, 3, 1.0f);
    ph_fill(&g, k, 4, 1.0f);
    ph_fill(&g, v, 5, 1.0f);
    int32_t *pv = malloc((size_t)T * sizeof *pv);
    for (int64_t i = 0; i < T; i++) {
        pv[i] = (int32_t)(C - T + i);
    }
    ph_fill_i32(&g, pos, pv);
    free(pv);
    ehal_params_attention p = {0.0f, 0, 0, 0};
    ph_node(&g, EHAL_OP_ATTENTION, (uint32_t[]){q, k, v, pos}, 4, o, &p, sizeof p);
    double ms = 0, ref = 0;
    assert_int_equal(ph_run_timed(&g_b, &g, g_full ? 3 : 2, &ms, &ref), 0);
    assert_int_equal(ph_check_close(&g, o, 1e-5, "attention"), 0);
    report(what, ms, ref, 4.0 * (double)D * (double)Hq * (double)C * (double)T * 1e-9,
           2.0 * (double)ehal_tensor_nbytes(&g.td[k]) * 1e-9);
    ph_graph_free(&g);
}

static void bench_rms_norm(int64_t D, int64_t T) {
    char what[64];
    snprintf(what, sizeof what, "rms_norm %lldx%lld", (long long)D, (long long)T);
    if (!wanted(what)) {
        return;
    }
    ph_graph g;
    ph_graph_init(&g);
    uint32_t x = ph_tensor(&g, EHAL_DTYPE_F32, D, T, 1);
    uint32_t w = ph_tensor(&g, EHAL_DTYPE_F32, D, 1, 1);
    uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, D, T, 1);
    ph_fill(&g, x, 6, 1.0f);
    ph_fill(&g, w, 7, 1.0f);
    ehal_params_rms_norm p = {1e-5f};
    ph_node(&g, EHAL_OP_RMS_NORM, (uint32_t[]){x, w}, 2, y, &p, sizeof p);
    double ms = 0, ref = 0;
    assert_int_equal(ph_run_timed(&g_b, &g, g_full ? 10 : 2, &ms, &ref), 0);
    assert_int_equal(ph_check_close(&g, y, 1e-5, "rms_norm"), 0);
    report(what, ms, ref, 3.0 * (double)D * (double)T * 1e-9, 8.0 * (double)D * (double)T * 1e-9);
    ph_graph_free(&g);
}

static void test_ops_match_reference_and_are_timed(void **state) {
    (void)state;
    if (!g_b.be) {
        printf("SKIP: %s\n", g_b.skip_reason);
        skip();
    }
    const char *dis = getenv("EHAL_VULKAN_DISABLE");
    printf("EHAL_VULKAN_DISABLE=%s, %s shapes\n", dis ? dis : "",
           g_full ? "decoder-sized" : "smoke (EHAL_BENCH_FULL=1: decoder-sized)");
    printf("| %-46s | %9s | %7s | %7s | %9s |\n", "case", "ms/run", "GFLOP/s", "GB/s", "ref ms");
    printf("|%s|%s|%s|%s|%s|\n", "------------------------------------------------", "-----------",
           "---------", "---------", "-----------");
    if (!g_full) {
        bench_matmul(EHAL_DTYPE_Q4_0, 256, 128, 2);
        bench_attention(EHAL_DTYPE_F16, 64, 4, 2, 64, 1);
        bench_rms_norm(256, 4);
        return;
    }
    bench_matmul(EHAL_DTYPE_Q4_0, 4096, 4096, 1);
    bench_matmul(EHAL_DTYPE_Q8_0, 4096, 4096, 1);
    bench_matmul(EHAL_DTYPE_F16, 4096, 4096, 1);
    bench_matmul(EHAL_DTYPE_F32, 4096, 4096, 1);
    bench_matmul(EHAL_DTYPE_Q4_0, 2048, 2048, 64);
    bench_attention(EHAL_DTYPE_F16, 128, 32, 8, 1024, 1);
    bench_attention(EHAL_DTYPE_Q8_0, 128, 32, 8, 1024, 1);
    bench_attention(EHAL_DTYPE_Q8_0, 128, 32, 8, 256, 64);
    bench_rms_norm(4096, 64);
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

/* `edgehal bench --backend vulkan` on one small matmul: exit 0, and the
 * JSON report names the backend, the reps and the case asked for, with a
 * positive median and no error. */
static void test_edgehal_bench_reports_the_case_asked_for(void **state) {
    (void)state;
    if (!g_b.be) {
        printf("SKIP: %s\n", g_b.skip_reason);
        skip();
    }
    const char *bin = getenv("EHAL_TEST_BIN_DIR");
    char json[256], cmd[1024];
    snprintf(json, sizeof json, "/tmp/ehal_vulkan_bench_%ld.json", (long)getpid());
    snprintf(cmd, sizeof cmd,
             "'%s/edgehal' bench --backend vulkan --op matmul --dtype q4_0 --shape 256x128 "
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
    assert_non_null(strstr(buf, "\"backend\": \"vulkan\""));
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
        cmocka_unit_test(test_ops_match_reference_and_are_timed),
        cmocka_unit_test(test_edgehal_bench_reports_the_case_asked_for),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
