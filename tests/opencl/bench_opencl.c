/*
 * Decoder-sized shapes on the OpenCL plugin: each checked against the
 * reference, then timed (ms per execute+wait, mean of several runs). The
 * figures in docs/opencl-backend.md come from this test. Labelled slow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ocl_harness.h"

static ot_backend g_b;

static int group_setup(void **state) {
    (void)state;
    if (ot_open(&g_b) != 0) {
        printf("SKIP opencl bench: %s\n", g_b.skip_reason);
    }
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    ot_close(&g_b);
    return 0;
}

#define REQUIRE_DEVICE()                           \
    do {                                           \
        if (!g_b.be) {                             \
            printf("SKIP: %s\n", g_b.skip_reason); \
            skip();                                \
        }                                          \
    } while (0)

#define ITERS 5

static void timed(ot_graph *g, uint32_t out, double tol, const char *what) {
    double ms = 0.0;
    assert_int_equal(ot_run_timed(&g_b, g, ITERS, &ms), 0);
    assert_int_equal(ot_check_close(g, out, tol, what), 0);
    printf("BENCH %-44s %9.3f ms\n", what, ms);
}

static void test_bench_matmul(void **state) {
    (void)state;
    REQUIRE_DEVICE();
    const uint32_t dts[4] = {EHAL_DTYPE_F32, EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0, EHAL_DTYPE_Q4_0};
    const int64_t shapes[2][3] = {{4096, 4096, 1}, {2048, 2048, 64}}; /* K, N, T */
    for (int s = 0; s < 2; s++) {
        for (int d = 0; d < 4; d++) {
            int64_t K = shapes[s][0], N = shapes[s][1], T = shapes[s][2];
            ot_graph g;
            ot_graph_init(&g);
            uint32_t w = ot_tensor(&g, dts[d], K, N, 1);
            uint32_t x = ot_tensor(&g, EHAL_DTYPE_F32, K, T, 1);
            uint32_t y = ot_tensor(&g, EHAL_DTYPE_F32, N, T, 1);
            ot_fill(&g, w, 1u + (uint32_t)d, 0.1f);
            ot_fill(&g, x, 9u, 1.0f);
            ot_node(&g, EHAL_OP_MATMUL, (uint32_t[]){w, x}, 2, y, NULL, 0);
            char what[80];
            snprintf(what, sizeof what, "matmul %s K=%lld N=%lld T=%lld (%s)",
                     ehal_dtype_name(dts[d]), (long long)K, (long long)N, (long long)T,
                     T == 1 ? "gemv" : "gemm");
            timed(&g, y, 1e-5, what);
            ot_graph_free(&g);
        }
    }
}

static void test_bench_attention_decode(void **state) {
    (void)state;
    REQUIRE_DEVICE();
    const uint32_t dts[2] = {EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0};
    for (int d = 0; d < 2; d++) {
        const int64_t D = 128, Hq = 32, Hkv = 8, C = 2048;
        ot_graph g;
        ot_graph_init(&g);
        uint32_t q = ot_tensor(&g, EHAL_DTYPE_F32, D, Hq, 1);
        uint32_t k = ot_tensor(&g, dts[d], D, C, Hkv);
        uint32_t v = ot_tensor(&g, dts[d], D, C, Hkv);
        uint32_t pos = ot_tensor(&g, EHAL_DTYPE_I32, 1, 1, 1);
        uint32_t o = ot_tensor(&g, EHAL_DTYPE_F32, D, Hq, 1);
        ot_fill(&g, q, 1, 1.0f);
        ot_fill(&g, k, 2, 1.0f);
        ot_fill(&g, v, 3, 1.0f);
        ot_fill_i32(&g, pos, (int32_t[]){2000});
        ehal_params_attention p = {0.0f, 0, 0, 0};
        ot_node(&g, EHAL_OP_ATTENTION, (uint32_t[]){q, k, v, pos}, 4, o, &p, sizeof p);
        char what[80];
        snprintf(what, sizeof what, "attention %s D=128 Hq=32 Hkv=8 pos=2000",
                 ehal_dtype_name(dts[d]));
        timed(&g, o, 1e-5, what);
        ot_graph_free(&g);
    }
}

static void test_bench_small_ops(void **state) {
    (void)state;
    REQUIRE_DEVICE();
    {
        ot_graph g;
        ot_graph_init(&g);
        uint32_t x = ot_tensor(&g, EHAL_DTYPE_F32, 4096, 64, 1);
        uint32_t w = ot_tensor(&g, EHAL_DTYPE_F32, 4096, 1, 1);
        uint32_t y = ot_tensor(&g, EHAL_DTYPE_F32, 4096, 64, 1);
        ot_fill(&g, x, 1, 1.0f);
        ot_fill(&g, w, 2, 1.0f);
        ehal_params_rms_norm p = {1e-5f};
        ot_node(&g, EHAL_OP_RMS_NORM, (uint32_t[]){x, w}, 2, y, &p, sizeof p);
        timed(&g, y, 1e-5, "rms_norm D=4096 T=64");
        ot_graph_free(&g);
    }
    {
        ot_graph g;
        ot_graph_init(&g);
        uint32_t s = ot_tensor(&g, EHAL_DTYPE_F32, 128, 8, 64);
        uint32_t pos = ot_tensor(&g, EHAL_DTYPE_I32, 64, 1, 1);
        uint32_t c = ot_tensor(&g, EHAL_DTYPE_Q8_0, 128, 2048, 8);
        ot_fill(&g, s, 1, 1.0f);
        int32_t pv[64];
        for (int i = 0; i < 64; i++) {
            pv[i] = 100 + i;
        }
        ot_fill_i32(&g, pos, pv);
        ehal_params_kv p = {0, 0};
        ot_node(&g, EHAL_OP_KV_WRITE, (uint32_t[]){s, pos, c}, 3, c, &p, sizeof p);
        double ms = 0.0;
        assert_int_equal(ot_run_timed(&g_b, &g, ITERS, &ms), 0);
        assert_int_equal(ot_check_bytes(&g, c, "kv_write q8_0"), 0);
        printf("BENCH %-44s %9.3f ms\n", "kv_write q8_0 D=128 Hkv=8 T=64", ms);
        ot_graph_free(&g);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_matmul),
        cmocka_unit_test(test_bench_attention_decode),
        cmocka_unit_test(test_bench_small_ops),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
