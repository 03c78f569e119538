/*
 * The op tests shared by the GPU plugins' test programs (see op_cases.h):
 * every catalog op and dtype against the ehal_ops reference kernels, on
 * decode (T=1) and prefill (T=37/64) shapes, odd sizes, GQA 4:1 and
 * window+sink eviction, one prepared decoder chain, and re-execution with
 * new positions past the ring wrap.
 */
#include "op_cases.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "int8_act_ref.h"

ph_backend ph_case_backend;
void (*ph_case_after_run)(void);

static const uint32_t k_float_dtypes[4] = {EHAL_DTYPE_F32, EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0,
                                           EHAL_DTYPE_Q4_0};

void ph_case_run_ok(ph_graph *g) {
    unsigned errs = ph_error_logs;
    assert_int_equal(ph_run(&ph_case_backend, g), 0);
    assert_int_equal(ph_error_logs, errs);
    if (ph_case_after_run) {
        ph_case_after_run();
    }
}

void ph_test_get_rows_matches_reference(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    const int64_t Ts[2] = {1, 37};
    for (int d = 0; d < 4; d++) {
        for (int ti = 0; ti < 2; ti++) {
            ph_graph g;
            ph_graph_init(&g);
            uint32_t tab = ph_tensor(&g, k_float_dtypes[d], 96, 50, 1);
            uint32_t ids = ph_tensor(&g, EHAL_DTYPE_I32, Ts[ti], 1, 1);
            uint32_t out = ph_tensor(&g, EHAL_DTYPE_F32, 96, Ts[ti], 1);
            ph_fill(&g, tab, 1u + (uint32_t)d, 1.0f);
            int32_t idv[37];
            for (int i = 0; i < 37; i++) {
                idv[i] = (i * 17 + 5) % 50;
            }
            ph_fill_i32(&g, ids, idv);
            ph_node(&g, EHAL_OP_GET_ROWS, (uint32_t[]){tab, ids}, 2, out, NULL, 0);
            ph_case_run_ok(&g);
            char what[64];
            snprintf(what, sizeof what, "get_rows %s T=%lld", ehal_dtype_name(k_float_dtypes[d]),
                     (long long)Ts[ti]);
            assert_int_equal(ph_check_close(&g, out, 0.0, what), 0); /* exact */
            ph_graph_free(&g);
        }
    }
}

/* Quantized weights: the device must follow the int8-activation model
 * (int8_act_ref.h: X quantized to Q8_0 as the cpu backend does, exact
 * integer block dots) to f32 rounding, normalized max error 2e-6 (a value
 * quantized to a neighbouring step would show as ~1e-3), and stay within
 * 0.1 of the f32-activation reference (measured ~4e-3). */
void ph_case_check_int8_act(const ph_graph *g, uint32_t w, uint32_t x, uint32_t y, const char *what) {
    const ehal_tensor_desc *wt = &g->td[w];
    int64_t n = ehal_tensor_nelements(&g->td[y]);
    double *m = malloc((size_t)n * sizeof *m);
    assert_non_null(m);
    assert_int_equal(ia_matmul(wt->dtype, g->host[w], wt->ne[0], wt->ne[1], g->host[x],
                               ehal_tensor_nelements(&g->td[x]) / wt->ne[0], m),
                     0);
    assert_true(ia_error(g->dev[y], m, n, 2e-6, what) <= 2e-6);
    free(m);
    assert_int_equal(ph_check_close(g, y, 0.1, what), 0);
}

static void matmul_case(uint32_t wdt, int64_t K, int64_t N, int64_t T, uint32_t seed) {
    ph_graph g;
    ph_graph_init(&g);
    uint32_t w = ph_tensor(&g, wdt, K, N, 1);
    uint32_t x = ph_tensor(&g, EHAL_DTYPE_F32, K, T, 1);
    uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, N, T, 1);
    ph_fill(&g, w, seed, 1.0f);
    ph_fill(&g, x, seed + 100u, 1.0f);
    if (ehal_dtype_is_quantized(wdt)) {
        ia_half_steps(g.host[x], K, T); /* roundf on exact half steps */
    }
    ph_node(&g, EHAL_OP_MATMUL, (uint32_t[]){w, x}, 2, y, NULL, 0);
    ph_case_run_ok(&g);
    char what[80];
    snprintf(what, sizeof what, "matmul W %s K=%lld N=%lld T=%lld", ehal_dtype_name(wdt),
             (long long)K, (long long)N, (long long)T);
    if (ehal_dtype_is_quantized(wdt)) {
        ph_case_check_int8_act(&g, w, x, y, what);
    } else {
        assert_int_equal(ph_check_close(&g, y, 1e-5, what), 0);
    }
    ph_graph_free(&g);
}

void ph_test_matmul_gemv_decode_matches_reference(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    const int64_t Ts[3] = {1, 4, 8};
    for (int d = 0; d < 4; d++) {
        for (int ti = 0; ti < 3; ti++) {
            matmul_case(k_float_dtypes[d], 256, 70, Ts[ti], 10u + (uint32_t)d);
        }
    }
    matmul_case(EHAL_DTYPE_F32, 45, 33, 1, 7); /* odd K for the float weights */
    matmul_case(EHAL_DTYPE_F16, 45, 33, 3, 8);
}

void ph_test_matmul_gemm_prefill_matches_reference(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    const int64_t Ts[3] = {9, 37, 64};
    for (int d = 0; d < 4; d++) {
        for (int ti = 0; ti < 3; ti++) {
            matmul_case(k_float_dtypes[d], 96, 70, Ts[ti], 20u + (uint32_t)d);
        }
    }
    matmul_case(EHAL_DTYPE_F32, 45, 33, 37, 9);
}

void ph_test_rms_norm_matches_reference(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    /* odd D, a wide row, and many short rows: 70000 is more workgroups
     * than Vulkan's maxComputeWorkGroupCount[0] (a 2D grid) */
    const int64_t shapes[4][2] = {{64, 1}, {333, 37}, {4096, 2}, {4, 70000}};
    for (int s = 0; s < 4; s++) {
        ph_graph g;
        ph_graph_init(&g);
        uint32_t x = ph_tensor(&g, EHAL_DTYPE_F32, shapes[s][0], shapes[s][1], 1);
        uint32_t w = ph_tensor(&g, EHAL_DTYPE_F32, shapes[s][0], 1, 1);
        uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, shapes[s][0], shapes[s][1], 1);
        ph_fill(&g, x, 30u + (uint32_t)s, 2.0f);
        ph_fill(&g, w, 40u + (uint32_t)s, 1.0f);
        ehal_params_rms_norm p = {1e-5f};
        ph_node(&g, EHAL_OP_RMS_NORM, (uint32_t[]){x, w}, 2, y, &p, sizeof p);
        ph_case_run_ok(&g);
        assert_int_equal(ph_check_close(&g, y, 1e-5, "rms_norm"), 0);
        ph_graph_free(&g);
    }
}

void ph_test_rope_normal_and_neox_match_reference(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    for (uint32_t mode = 0; mode < 2; mode++) {
        for (int c = 0; c < 2; c++) {
            int64_t D = 64, H = 4, T = c == 0 ? 1 : 37;
            ph_graph g;
            ph_graph_init(&g);
            uint32_t x = ph_tensor(&g, EHAL_DTYPE_F32, D, H, T);
            uint32_t pos = ph_tensor(&g, EHAL_DTYPE_I32, T, 1, 1);
            uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, D, H, T);
            ph_fill(&g, x, 50u + mode, 1.0f);
            int32_t pv[37];
            for (int i = 0; i < 37; i++) {
                pv[i] = c == 0 ? 4095 : i * 3;
            }
            ph_fill_i32(&g, pos, pv);
            ehal_params_rope p = {mode, c == 0 ? 64u : 32u, 10000.0f, c == 0 ? 1.0f : 0.5f};
            ph_node(&g, EHAL_OP_ROPE, (uint32_t[]){x, pos}, 2, y, &p, sizeof p);
            ph_case_run_ok(&g);
            /* theta up to 4095 rad: the two-float angle product and
             * reduction keep float trig within ~1e-6 of the double reference */
            assert_int_equal(ph_check_close(&g, y, 2e-6, mode ? "rope neox" : "rope normal"), 0);
            ph_graph_free(&g);
        }
    }
}

void ph_test_add_mul_swiglu_match_reference(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    const uint32_t ops[3] = {EHAL_OP_ADD, EHAL_OP_MUL, EHAL_OP_SWIGLU};
    for (int o = 0; o < 3; o++) {
        ph_graph g;
        ph_graph_init(&g);
        uint32_t a = ph_tensor(&g, EHAL_DTYPE_F32, 1001, 3, 1);
        uint32_t b = ph_tensor(&g, EHAL_DTYPE_F32, 1001, 3, 1);
        uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, 1001, 3, 1);
        ph_fill(&g, a, 60u + (uint32_t)o, 4.0f);
        ph_fill(&g, b, 70u + (uint32_t)o, 4.0f);
        ph_node(&g, ops[o], (uint32_t[]){a, b}, 2, y, NULL, 0);
        ph_case_run_ok(&g);
        assert_int_equal(ph_check_close(&g, y, 1e-6, ehal_op_name(ops[o])), 0);
        ph_graph_free(&g);
    }
}

void ph_test_softmax_matches_reference(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    const int64_t shapes[2][2] = {{77, 37}, {1000, 1}};
    for (int s = 0; s < 2; s++) {
        ph_graph g;
        ph_graph_init(&g);
        uint32_t x = ph_tensor(&g, EHAL_DTYPE_F32, shapes[s][0], shapes[s][1], 1);
        uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, shapes[s][0], shapes[s][1], 1);
        ph_fill(&g, x, 80u + (uint32_t)s, 5.0f);
        ehal_params_softmax p = {s == 0 ? 0.5f : 0.0f};
        ph_node(&g, EHAL_OP_SOFTMAX, (uint32_t[]){x}, 1, y, &p, sizeof p);
        ph_case_run_ok(&g);
        assert_int_equal(ph_check_close(&g, y, 1e-5, "softmax"), 0);
        ph_graph_free(&g);
    }
}

/* KV_WRITE cases: {T, C, window, n_sink, first position}. */
static const int kv_cases[4][5] = {
    {1, 16, 0, 0, 5}, {5, 16, 0, 0, 3}, {5, 16, 8, 2, 20}, {3, 16, 8, 2, 0}};

void ph_test_kv_write_bytes_match_the_reference_quantizer(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    for (int d = 0; d < 4; d++) {
        for (int c = 0; c < 4; c++) {
            int64_t D = 64, H = 2, T = kv_cases[c][0], C = kv_cases[c][1];
            ph_graph g;
            ph_graph_init(&g);
            uint32_t src = ph_tensor(&g, EHAL_DTYPE_F32, D, H, T);
            uint32_t pos = ph_tensor(&g, EHAL_DTYPE_I32, T, 1, 1);
            uint32_t cache = ph_tensor(&g, k_float_dtypes[d], D, C, H);
            ph_fill(&g, src, 90u + (uint32_t)c, 3.0f);
            ph_fill(&g, cache, 95u + (uint32_t)c, 1.0f); /* old contents must survive */
            int32_t pv[8];
            for (int i = 0; i < T; i++) {
                pv[i] = kv_cases[c][4] + i;
            }
            ph_fill_i32(&g, pos, pv);
            ehal_params_kv p = {(uint32_t)kv_cases[c][2], (uint32_t)kv_cases[c][3]};
            ph_node(&g, EHAL_OP_KV_WRITE, (uint32_t[]){src, pos, cache}, 3, cache, &p, sizeof p);
            ph_case_run_ok(&g);
            char what[64];
            snprintf(what, sizeof what, "kv_write %s case %d", ehal_dtype_name(k_float_dtypes[d]),
                     c);
            assert_int_equal(ph_check_bytes(&g, cache, what), 0);
            ph_graph_free(&g);
        }
    }
}

/* ATTENTION cases: {T, C, window, n_sink, first position, flags}. */
static const int attn_cases[5][6] = {
    {1, 32, 0, 0, 20, 0}, /* decode */
    {5, 32, 0, 0, 10, 0}, /* short prefill, causal */
    {4, 16, 8, 2, 30, 0}, /* window + sinks over an evicted ring */
    {37, 40, 0, 0, 0, 0}, /* prefill T=37 */
    {3, 32, 0, 0, 7, 1},  /* non-causal */
};

void ph_test_attention_matches_reference(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    for (int d = 0; d < 4; d++) {
        for (int c = 0; c < 7; c++) {
            /* cases 5, 6 reuse case 1 with head dims 128 and (float caches) 80 */
            int64_t D = c == 5 ? 128 : c == 6 ? (d < 2 ? 80 : 96) : 64;
            int ci = c >= 5 ? 1 : c;
            int64_t Hq = 8, Hkv = 2, T = attn_cases[ci][0], C = attn_cases[ci][1];
            ph_graph g;
            ph_graph_init(&g);
            uint32_t q = ph_tensor(&g, EHAL_DTYPE_F32, D, Hq, T);
            uint32_t k = ph_tensor(&g, k_float_dtypes[d], D, C, Hkv);
            uint32_t v = ph_tensor(&g, k_float_dtypes[d], D, C, Hkv);
            uint32_t pos = ph_tensor(&g, EHAL_DTYPE_I32, T, 1, 1);
            uint32_t o = ph_tensor(&g, EHAL_DTYPE_F32, D, Hq, T);
            ph_fill(&g, q, 100u + (uint32_t)c, 1.0f);
            ph_fill(&g, k, 110u + (uint32_t)c, 1.0f);
            ph_fill(&g, v, 120u + (uint32_t)c, 1.0f);
            int32_t pv[64];
            for (int i = 0; i < T; i++) {
                pv[i] = attn_cases[ci][4] + i;
            }
            ph_fill_i32(&g, pos, pv);
            ehal_params_attention p = {0.0f, (uint32_t)attn_cases[ci][2],
                                       (uint32_t)attn_cases[ci][3], (uint32_t)attn_cases[ci][5]};
            ph_node(&g, EHAL_OP_ATTENTION, (uint32_t[]){q, k, v, pos}, 4, o, &p, sizeof p);
            ph_case_run_ok(&g);
            char what[64];
            snprintf(what, sizeof what, "attention %s case %d", ehal_dtype_name(k_float_dtypes[d]),
                     c);
            assert_int_equal(ph_check_close(&g, o, 1e-5, what), 0);
            ph_graph_free(&g);
        }
    }
}

void ph_test_copy_converts_every_pair_bit_exactly(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    for (int s = 0; s < 5; s++) {
        for (int d = 0; d < 5; d++) {
            uint32_t sdt = s < 4 ? k_float_dtypes[s] : EHAL_DTYPE_I32;
            uint32_t ddt = d < 4 ? k_float_dtypes[d] : EHAL_DTYPE_I32;
            if ((sdt == EHAL_DTYPE_I32) != (ddt == EHAL_DTYPE_I32)) {
                continue;
            }
            ph_graph g;
            ph_graph_init(&g);
            uint32_t a = ph_tensor(&g, sdt, 96, 7, 1);
            uint32_t b = ph_tensor(&g, ddt, 96, 7, 1);
            if (sdt == EHAL_DTYPE_I32) {
                int32_t v[96 * 7];
                for (int i = 0; i < 96 * 7; i++) {
                    v[i] = i * 7919 - 2000000;
                }
                ph_fill_i32(&g, a, v);
            } else {
                ph_fill(&g, a, 130u + (uint32_t)s, 2.0f);
            }
            ph_node(&g, EHAL_OP_COPY, (uint32_t[]){a}, 1, b, NULL, 0);
            ph_case_run_ok(&g);
            char what[64];
            snprintf(what, sizeof what, "copy %s -> %s", ehal_dtype_name(sdt),
                     ehal_dtype_name(ddt));
            assert_int_equal(ph_check_bytes(&g, b, what), 0);
            ph_graph_free(&g);
        }
    }
}

/* A decoder-layer chain in one prepared subgraph (Vulkan: one command
 * buffer recorded at prepare; OpenCL: kernels and arguments set once at
 * prepare, enqueued in order on the in-order queue). */
void ph_test_decoder_chain_in_one_prepared_graph(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    const int64_t D = 64, H = 4, Hkv = 2, C = 16, F = 96;
    ph_graph g;
    ph_graph_init(&g);
    uint32_t x = ph_tensor(&g, EHAL_DTYPE_F32, D, H, 1);
    uint32_t kx = ph_tensor(&g, EHAL_DTYPE_F32, D, Hkv, 1);
    uint32_t nw = ph_tensor(&g, EHAL_DTYPE_F32, D, 1, 1);
    /* Float weights: Q8_0/Q4_0 matmuls quantize activations (their own
     * tests check them against the int8-activation model), which the f32
     * reference chain does not; here every stage is compared tightly. */
    uint32_t wq = ph_tensor(&g, EHAL_DTYPE_F32, D, D, 1);
    uint32_t wk = ph_tensor(&g, EHAL_DTYPE_F16, D, D, 1);
    uint32_t pos = ph_tensor(&g, EHAL_DTYPE_I32, 1, 1, 1);
    uint32_t kc = ph_tensor(&g, EHAL_DTYPE_Q8_0, D, C, Hkv);
    uint32_t vc = ph_tensor(&g, EHAL_DTYPE_Q8_0, D, C, Hkv);
    uint32_t xn = ph_tensor(&g, EHAL_DTYPE_F32, D, H, 1);
    uint32_t q = ph_tensor(&g, EHAL_DTYPE_F32, D, H, 1);
    uint32_t qr = ph_tensor(&g, EHAL_DTYPE_F32, D, H, 1);
    uint32_t k = ph_tensor(&g, EHAL_DTYPE_F32, D, Hkv, 1);
    uint32_t kr = ph_tensor(&g, EHAL_DTYPE_F32, D, Hkv, 1);
    uint32_t att = ph_tensor(&g, EHAL_DTYPE_F32, D, H, 1);
    uint32_t res = ph_tensor(&g, EHAL_DTYPE_F32, D, H, 1);
    uint32_t w1 = ph_tensor(&g, EHAL_DTYPE_F16, D, F, 1);
    uint32_t h1 = ph_tensor(&g, EHAL_DTYPE_F32, F, H, 1);
    uint32_t h2 = ph_tensor(&g, EHAL_DTYPE_F32, F, H, 1);
    uint32_t sw = ph_tensor(&g, EHAL_DTYPE_F32, F, H, 1);
    ph_fill(&g, x, 200, 1.0f);
    ph_fill(&g, kx, 207, 1.0f);
    ph_fill(&g, nw, 201, 1.0f);
    ph_fill(&g, wq, 202, 0.2f);
    ph_fill(&g, wk, 203, 0.2f);
    ph_fill(&g, kc, 204, 1.0f);
    ph_fill(&g, vc, 205, 1.0f);
    ph_fill(&g, w1, 206, 0.2f);
    ph_fill_i32(&g, pos, (int32_t[]){9});
    ehal_params_rms_norm pn = {1e-6f};
    ehal_params_rope pr = {EHAL_ROPE_NEOX, 0, 10000.0f, 1.0f};
    ehal_params_kv pk = {0, 0};
    ehal_params_attention pa = {0.0f, 0, 0, 0};
    ph_node(&g, EHAL_OP_RMS_NORM, (uint32_t[]){x, nw}, 2, xn, &pn, sizeof pn);
    ph_node(&g, EHAL_OP_MATMUL, (uint32_t[]){wq, xn}, 2, q, NULL, 0);
    ph_node(&g, EHAL_OP_MATMUL, (uint32_t[]){wk, kx}, 2, k, NULL, 0);
    ph_node(&g, EHAL_OP_ROPE, (uint32_t[]){q, pos}, 2, qr, &pr, sizeof pr);
    ph_node(&g, EHAL_OP_ROPE, (uint32_t[]){k, pos}, 2, kr, &pr, sizeof pr);
    ph_node(&g, EHAL_OP_KV_WRITE, (uint32_t[]){kr, pos, kc}, 3, kc, &pk, sizeof pk);
    ph_node(&g, EHAL_OP_KV_WRITE, (uint32_t[]){k, pos, vc}, 3, vc, &pk, sizeof pk);
    ph_node(&g, EHAL_OP_ATTENTION, (uint32_t[]){qr, kc, vc, pos}, 4, att, &pa, sizeof pa);
    ph_node(&g, EHAL_OP_ADD, (uint32_t[]){att, x}, 2, res, NULL, 0);
    ph_node(&g, EHAL_OP_MATMUL, (uint32_t[]){w1, res}, 2, h1, NULL, 0);
    ph_node(&g, EHAL_OP_MUL, (uint32_t[]){h1, h1}, 2, h2, NULL, 0);
    ph_node(&g, EHAL_OP_SWIGLU, (uint32_t[]){h1, h2}, 2, sw, NULL, 0);
    ph_case_run_ok(&g);
    assert_int_equal(ph_check_bytes(&g, vc, "chain v cache"), 0);
    assert_int_equal(ph_check_close(&g, att, 1e-5, "chain attention"), 0);
    assert_int_equal(ph_check_close(&g, res, 1e-5, "chain residual"), 0);
    assert_int_equal(ph_check_close(&g, sw, 1e-5, "chain swiglu"), 0);
    ph_graph_free(&g);
}

/* prepare once, execute many: each step rewrites positions and inputs in
 * their buffers, the prepared executable is reused unchanged (R18:
 * buffer_write/read are ordered after the previous execute). */
void ph_test_prepared_graph_reexecutes_with_new_positions(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    const ehal_backend_iface *f = ph_case_backend.iface;
    const int64_t D = 64, Hq = 4, Hkv = 1, C = 12;
    ehal_params_kv pk = {6, 1};
    ehal_params_attention pa = {0.0f, 6, 1, 0};
    ph_graph g;
    ph_graph_init(&g);
    uint32_t src = ph_tensor(&g, EHAL_DTYPE_F32, D, Hkv, 1);
    uint32_t vsrc = ph_tensor(&g, EHAL_DTYPE_F32, D, Hkv, 1);
    uint32_t q = ph_tensor(&g, EHAL_DTYPE_F32, D, Hq, 1);
    uint32_t pos = ph_tensor(&g, EHAL_DTYPE_I32, 1, 1, 1);
    uint32_t kc = ph_tensor(&g, EHAL_DTYPE_Q4_0, D, C, Hkv);
    uint32_t vc = ph_tensor(&g, EHAL_DTYPE_Q4_0, D, C, Hkv);
    uint32_t out = ph_tensor(&g, EHAL_DTYPE_F32, D, Hq, 1);
    ph_node(&g, EHAL_OP_KV_WRITE, (uint32_t[]){src, pos, kc}, 3, kc, &pk, sizeof pk);
    ph_node(&g, EHAL_OP_KV_WRITE, (uint32_t[]){vsrc, pos, vc}, 3, vc, &pk, sizeof pk);
    ph_node(&g, EHAL_OP_ATTENTION, (uint32_t[]){q, kc, vc, pos}, 4, out, &pa, sizeof pa);

    /* one device buffer per tensor */
    ehal_buffer_impl *bufs[PH_MAX_TENSORS];
    ph_graph dg = g;
    for (uint32_t i = 0; i < g.n_tensors; i++) {
        uint64_t nb = ehal_tensor_nbytes(&g.td[i]);
        assert_int_equal(f->buffer_alloc(ph_case_backend.be, nb, 0, &bufs[i]), EHAL_STATUS_OK);
        dg.tp[i] = &dg.td[i];
        dg.td[i].buffer = bufs[i];
        dg.td[i].offset = 0;
        assert_int_equal(f->buffer_write(ph_case_backend.be, bufs[i], 0, g.host[i], nb), EHAL_STATUS_OK);
        memcpy(g.ref[i], g.host[i], (size_t)nb);
    }
    for (uint32_t k = 0; k < g.n_nodes; k++) {
        dg.np[k] = &dg.nd[k];
        dg.nd[k].params = dg.params[k];
    }
    dg.sg.tensors = dg.tp;
    dg.sg.nodes = dg.np;
    ehal_executable_impl *exe = NULL;
    assert_int_equal(f->prepare(ph_case_backend.be, &dg.sg, &exe), EHAL_STATUS_OK);
    for (int32_t p = 0; p < 15; p++) { /* 15 > C: the ring wraps past the sink */
        ph_fill(&g, src, 300u + (uint32_t)p, 1.0f);
        ph_fill(&g, vsrc, 400u + (uint32_t)p, 1.0f);
        ph_fill(&g, q, 500u + (uint32_t)p, 1.0f);
        ph_fill_i32(&g, pos, &p);
        const uint32_t ins[4] = {src, vsrc, q, pos};
        for (int i = 0; i < 4; i++) {
            uint64_t nb = ehal_tensor_nbytes(&g.td[ins[i]]);
            memcpy(g.ref[ins[i]], g.host[ins[i]], (size_t)nb);
            assert_int_equal(f->buffer_write(ph_case_backend.be, bufs[ins[i]], 0, g.host[ins[i]], nb), 0);
        }
        assert_int_equal(ph_run_ref(&g, 0), 0);
        assert_int_equal(f->execute(ph_case_backend.be, exe, NULL), EHAL_STATUS_OK);
        if (p % 2 == 0) { /* odd steps rely on buffer_read waiting (R18) */
            assert_int_equal(f->wait(ph_case_backend.be, exe, UINT64_MAX), EHAL_STATUS_OK);
        }
        assert_int_equal(
            f->buffer_read(ph_case_backend.be, bufs[out], 0, g.dev[out], ehal_tensor_nbytes(&g.td[out])),
            EHAL_STATUS_OK);
        assert_int_equal(
            f->buffer_read(ph_case_backend.be, bufs[kc], 0, g.dev[kc], ehal_tensor_nbytes(&g.td[kc])),
            EHAL_STATUS_OK);
        char what[48];
        snprintf(what, sizeof what, "step %d attention", (int)p);
        assert_int_equal(ph_check_close(&g, out, 1e-5, what), 0);
        snprintf(what, sizeof what, "step %d k cache", (int)p);
        assert_int_equal(ph_check_bytes(&g, kc, what), 0);
    }
    f->release(ph_case_backend.be, exe);
    for (uint32_t i = 0; i < g.n_tensors; i++) {
        f->buffer_free(ph_case_backend.be, bufs[i]);
    }
    ph_graph_free(&g);
}

/* Sizes that are not multiples of the work-group or block: float tables
 * and copies with ne0 = 45, a MATMUL whose X has two batch dims (T = 2*19
 * through GEMM), and a 1x1 softmax. */
void ph_test_odd_sizes_match_reference(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    for (int d = 0; d < 2; d++) {
        ph_graph g;
        ph_graph_init(&g);
        uint32_t tab = ph_tensor(&g, k_float_dtypes[d], 45, 7, 1);
        uint32_t ids = ph_tensor(&g, EHAL_DTYPE_I32, 5, 1, 1);
        uint32_t out = ph_tensor(&g, EHAL_DTYPE_F32, 45, 5, 1);
        uint32_t cp = ph_tensor(&g, k_float_dtypes[1 - d], 45, 5, 1);
        ph_fill(&g, tab, 140u + (uint32_t)d, 3.0f);
        ph_fill_i32(&g, ids, (int32_t[]){6, 0, 3, 3, 1});
        ph_node(&g, EHAL_OP_GET_ROWS, (uint32_t[]){tab, ids}, 2, out, NULL, 0);
        ph_node(&g, EHAL_OP_COPY, (uint32_t[]){out}, 1, cp, NULL, 0);
        ph_case_run_ok(&g);
        assert_int_equal(ph_check_close(&g, out, 0.0, "get_rows D=45"), 0);
        assert_int_equal(ph_check_bytes(&g, cp, "copy 45x5"), 0);
        ph_graph_free(&g);
    }
    {
        ph_graph g;
        ph_graph_init(&g);
        uint32_t w = ph_tensor(&g, EHAL_DTYPE_Q8_0, 64, 21, 1);
        uint32_t x = ph_tensor(&g, EHAL_DTYPE_F32, 64, 19, 2);
        uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, 21, 19, 2);
        ph_fill(&g, w, 150, 1.0f);
        ph_fill(&g, x, 151, 1.0f);
        ph_node(&g, EHAL_OP_MATMUL, (uint32_t[]){w, x}, 2, y, NULL, 0);
        ph_case_run_ok(&g);
        ph_case_check_int8_act(&g, w, x, y, "matmul X[64,19,2]");
        ph_graph_free(&g);
    }
    {
        ph_graph g;
        ph_graph_init(&g);
        uint32_t x = ph_tensor(&g, EHAL_DTYPE_F32, 1, 1, 1);
        uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, 1, 1, 1);
        ph_fill(&g, x, 160, 5.0f);
        ph_node(&g, EHAL_OP_SOFTMAX, (uint32_t[]){x}, 1, y, NULL, 0);
        ph_case_run_ok(&g);
        assert_true(((float *)g.dev[y])[0] == 1.0f);
        ph_graph_free(&g);
    }
}
