/*
 * Larger, decoder-sized shapes on the Vulkan plugin: each case is checked
 * against the reference kernel, then timed (execute + wait of the prepared
 * graph). Prints a table for docs/vulkan-backend.md. Label: slow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vk_harness.h"

static vt_backend g_b;

static int setup(void **state) {
    (void)state;
    if (vt_open(&g_b) != 0) {
        printf("SKIP vulkan bench: %s\n", g_b.skip_reason);
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    vt_close(&g_b);
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
    vt_graph g;
    vt_graph_init(&g);
    uint32_t w = vt_tensor(&g, wdt, K, N, 1);
    uint32_t x = vt_tensor(&g, EHAL_DTYPE_F32, K, T, 1);
    uint32_t y = vt_tensor(&g, EHAL_DTYPE_F32, N, T, 1);
    vt_fill(&g, w, 1, 1.0f);
    vt_fill(&g, x, 2, 1.0f);
    vt_node(&g, EHAL_OP_MATMUL, (uint32_t[]){w, x}, 2, y, NULL, 0);
    double ms = 0, ref = 0;
    assert_int_equal(vt_run_timed(&g_b, &g, 5, &ms, &ref), 0);
    assert_int_equal(vt_check_close(&g, y, 1e-5, "matmul"), 0);
    report(what, ms, ref, 2.0 * (double)K * (double)N * (double)T * 1e-9,
           (double)ehal_tensor_nbytes(&g.td[w]) * 1e-9);
    vt_graph_free(&g);
}

static void bench_attention(uint32_t kdt, int64_t D, int64_t Hq, int64_t Hkv, int64_t C, int64_t T) {
    char what[64];
    snprintf(what, sizeof what, "attention %s D=%lld Hq=%lld Hkv=%lld ctx=%lld T=%lld",
             ehal_dtype_name(kdt), (long long)D, (long long)Hq, (long long)Hkv, (long long)C,
             (long long)T);
    if (!wanted(what)) {
        return;
    }
    vt_graph g;
    vt_graph_init(&g);
    uint32_t q = vt_tensor(&g, EHAL_DTYPE_F32, D, Hq, T);
    uint32_t k = vt_tensor(&g, kdt, D, C, Hkv);
    uint32_t v = vt_tensor(&g, kdt, D, C, Hkv);
    uint32_t pos = vt_tensor(&g, EHAL_DTYPE_I32, T, 1, 1);
    uint32_t o = vt_tensor(&g, EHAL_DTYPE_F32, D, Hq, T);
    vt_fill(&g, q, 3, 1.0f);
    vt_fill(&g, k, 4, 1.0f);
    vt_fill(&g, v, 5, 1.0f);
    int32_t *pv = malloc((size_t)T * sizeof *pv);
    for (int64_t i = 0; i < T; i++) {
        pv[i] = (int32_t)(C - T + i);
    }
    vt_fill_i32(&g, pos, pv);
    free(pv);
    ehal_params_attention p = {0.0f, 0, 0, 0};
    vt_node(&g, EHAL_OP_ATTENTION, (uint32_t[]){q, k, v, pos}, 4, o, &p, sizeof p);
    double ms = 0, ref = 0;
    assert_int_equal(vt_run_timed(&g_b, &g, 3, &ms, &ref), 0);
    assert_int_equal(vt_check_close(&g, o, 1e-5, "attention"), 0);
    report(what, ms, ref, 4.0 * (double)D * (double)Hq * (double)C * (double)T * 1e-9,
           2.0 * (double)ehal_tensor_nbytes(&g.td[k]) * 1e-9);
    vt_graph_free(&g);
}

static void bench_rms_norm(int64_t D, int64_t T) {
    char what[64];
    snprintf(what, sizeof what, "rms_norm %lldx%lld", (long long)D, (long long)T);
    if (!wanted(what)) {
        return;
    }
    vt_graph g;
    vt_graph_init(&g);
    uint32_t x = vt_tensor(&g, EHAL_DTYPE_F32, D, T, 1);
    uint32_t w = vt_tensor(&g, EHAL_DTYPE_F32, D, 1, 1);
    uint32_t y = vt_tensor(&g, EHAL_DTYPE_F32, D, T, 1);
    vt_fill(&g, x, 6, 1.0f);
    vt_fill(&g, w, 7, 1.0f);
    ehal_params_rms_norm p = {1e-5f};
    vt_node(&g, EHAL_OP_RMS_NORM, (uint32_t[]){x, w}, 2, y, &p, sizeof p);
    double ms = 0, ref = 0;
    assert_int_equal(vt_run_timed(&g_b, &g, 10, &ms, &ref), 0);
    assert_int_equal(vt_check_close(&g, y, 1e-5, "rms_norm"), 0);
    report(what, ms, ref, 3.0 * (double)D * (double)T * 1e-9, 8.0 * (double)D * (double)T * 1e-9);
    vt_graph_free(&g);
}

static void test_decoder_sized_ops_match_reference_and_are_timed(void **state) {
    (void)state;
    if (!g_b.be) {
        printf("SKIP: %s\n", g_b.skip_reason);
        skip();
    }
    const char *dis = getenv("EHAL_VULKAN_DISABLE");
    printf("EHAL_VULKAN_DISABLE=%s\n", dis ? dis : "");
    printf("| %-46s | %9s | %7s | %7s | %9s |\n", "case", "ms/run", "GFLOP/s", "GB/s", "ref ms");
    printf("|%s|%s|%s|%s|%s|\n", "------------------------------------------------", "-----------",
           "---------", "---------", "-----------");
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decoder_sized_ops_match_reference_and_are_timed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
