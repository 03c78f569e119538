/* The KV slot rule, reference KV_WRITE and ATTENTION against caches whose
 * slots and softmax weights are worked out by hand. Cache layout
 * [D, C, Hkv]: value d of slot s of kv head h is at (h*C + s)*D + d. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ops_test_util.h"

static const double LN2 = 0.69314718055994531;
static const double LN3 = 1.09861228866810969;

static void kv_slot_follows_the_rule(void **state) {
    (void)state;
    /* full cache: slot = p, and p >= C has no slot */
    assert_int_equal(ehal_kv_slot(0, 8, 0, 0), 0);
    assert_int_equal(ehal_kv_slot(7, 8, 0, 3), 7);
    assert_int_equal(ehal_kv_slot(8, 8, 0, 0), -1);
    /* window 4, 2 sinks, C 8: ring of 6 slots 2..7 */
    const int64_t want[16] = {0, 1, 2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6, 7, 2, 3};
    for (int64_t p = 0; p < 16; p++) {
        assert_int_equal(ehal_kv_slot(p, 8, 4, 2), want[p]);
    }
    assert_int_equal(ehal_kv_slot(1000003, 8, 4, 2), 2 + (1000003 - 2) % 6); /* = 7 */
    assert_int_equal(ehal_kv_slot(1000003, 8, 4, 2), 7);
    /* no sinks: plain ring */
    assert_int_equal(ehal_kv_slot(5, 3, 2, 0), 2);
    assert_int_equal(ehal_kv_slot(6, 3, 2, 0), 0);
    /* unusable arguments */
    assert_int_equal(ehal_kv_slot(-1, 8, 0, 0), -1);
    assert_int_equal(ehal_kv_slot(3, 0, 0, 0), -1);
    assert_int_equal(ehal_kv_slot(9, 8, 4, 8), -1); /* sinks fill the cache */
    assert_int_equal(ehal_kv_slot(5, 8, 4, 8), 5);  /* a sink itself is still at p */
}

/* ---- KV_WRITE ------------------------------------------------------------------ */

static void kv_node(tnode *g, const ehal_params_kv *p, const float *src, int64_t D,
                    int64_t Hkv, int64_t T, const int32_t *pos, uint32_t cache_dt, int64_t C,
                    void *cache) {
    tn_init(g, EHAL_OP_KV_WRITE, p, p ? sizeof *p : 0);
    tn_tensor(g, 0, EHAL_DTYPE_F32, D, Hkv, T, 1, (void *)src);
    tn_tensor(g, 1, EHAL_DTYPE_I32, T, 1, 1, 1, (void *)pos);
    tn_tensor(g, 2, cache_dt, D, C, Hkv, 1, cache);
    g->node.outputs[0] = 2;
    g->sg.n_tensors = 3;
}

/* D 2, Hkv 2, T 2 at positions 1 and 3 into an F32 cache of C 4:
 * token 0 -> slot 1 of both heads, token 1 -> slot 3; the rest untouched. */
static void kv_write_puts_rows_at_their_slots(void **state) {
    (void)state;
    const float src[8] = {1, 2, 3, 4, 5, 6, 7, 8}; /* [t0h0, t0h1, t1h0, t1h1] */
    const int32_t pos[2] = {1, 3};
    float cache[16];
    for (int i = 0; i < 16; i++) {
        cache[i] = -1;
    }
    tnode g;
    kv_node(&g, NULL, src, 2, 2, 2, pos, EHAL_DTYPE_F32, 4, cache);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[16] = {-1, -1, 1, 2, -1, -1, 5, 6,  /* head 0, slots 0..3 */
                             -1, -1, 3, 4, -1, -1, 7, 8}; /* head 1 */
    assert_floats_close(cache, want, 16, 0.0);
}

/* Quantized caches get the row quantizers' bytes: a row with amax 127
 * has d = 1 in Q8_0 (q = value); a row whose extreme is -8 has d = 1 in
 * Q4_0 (q = value + 8). F16 rows are the halves. */
static void kv_write_quantizes_into_the_cache(void **state) {
    (void)state;
    float src[32];
    for (int j = 0; j < 32; j++) {
        src[j] = (float)(j % 8) - 4.0f; /* -4..3 */
    }
    src[5] = -8.0f;
    const int32_t pos[1] = {1};
    ehal_block_q4_0 q4[2];
    memset(q4, 0xee, sizeof q4);
    tnode g;
    kv_node(&g, NULL, src, 32, 1, 1, pos, EHAL_DTYPE_Q4_0, 2, q4);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    assert_int_equal(q4[1].d, 0x3c00);
    for (int j = 0; j < 16; j++) {
        int lo = (int)src[j] + 8, hi = (int)src[j + 16] + 8;
        assert_int_equal(q4[1].qs[j], lo | (hi << 4));
    }
    assert_int_equal(q4[0].d, 0xeeee); /* slot 0 untouched */

    src[5] = 127.0f;
    ehal_block_q8_0 q8[2];
    memset(q8, 0, sizeof q8);
    kv_node(&g, NULL, src, 32, 1, 1, pos, EHAL_DTYPE_Q8_0, 2, q8);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    assert_int_equal(q8[1].d, 0x3c00);
    for (int j = 0; j < 32; j++) {
        assert_int_equal(q8[1].qs[j], (int)src[j]);
    }

    uint16_t h[64] = {0};
    kv_node(&g, NULL, src, 32, 1, 1, pos, EHAL_DTYPE_F16, 2, h);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    assert_int_equal(h[32 + 0], 0xc400); /* -4 */
    assert_int_equal(h[32 + 5], 0x57f0); /* 127 = 2^6 * 1.984375 */
    assert_int_equal(h[0], 0);
}

/* window 2, 1 sink, C 4 (ring 1..3): writing positions 0..6 one at a time
 * with value p+1 leaves slot 0 = pos 0, and slot(p) = 1 + (p-1) % 3:
 * pos 4 -> 1, 5 -> 2, 6 -> 3, so the cache reads [1, 5, 6, 7]. */
static void kv_write_wraps_the_ring_and_keeps_sinks(void **state) {
    (void)state;
    float cache[4] = {0};
    ehal_params_kv p = {2, 1};
    for (int32_t pos = 0; pos <= 6; pos++) {
        float v = (float)(pos + 1);
        tnode g;
        kv_node(&g, &p, &v, 1, 1, 1, &pos, EHAL_DTYPE_F32, 4, cache);
        assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    }
    const double want[4] = {1, 5, 6, 7};
    assert_floats_close(cache, want, 4, 0.0);
}

/* Bad positions are refused before anything is written. */
static void kv_write_refuses_bad_positions(void **state) {
    (void)state;
    const float src[2] = {5, 6};
    float cache[4] = {0, 0, 0, 0};
    const int32_t negative[2] = {0, -1};
    const int32_t past_end[2] = {1, 4}; /* full cache of capacity 4 */
    tnode g;
    kv_node(&g, NULL, src, 1, 1, 2, negative, EHAL_DTYPE_F32, 4, cache);
    assert_int_equal(tn_run(&g), EHAL_STATUS_INVALID_ARGUMENT);
    kv_node(&g, NULL, src, 1, 1, 2, past_end, EHAL_DTYPE_F32, 4, cache);
    assert_int_equal(tn_run(&g), EHAL_STATUS_INVALID_ARGUMENT);
    const double zero[4] = {0, 0, 0, 0};
    assert_floats_close(cache, zero, 4, 0.0);
    /* with a window, any position >= 0 has a slot */
    ehal_params_kv p = {2, 0};
    kv_node(&g, &p, src, 1, 1, 2, past_end, EHAL_DTYPE_F32, 4, cache);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[4] = {6, 5, 0, 0}; /* slot(1) = 1, slot(4) = 0 */
    assert_floats_close(cache, want, 4, 0.0);
}

/* ---- ATTENTION ----------------------------------------------------------------- */

static void attn_node(tnode *g, const ehal_params_attention *p, const float *q, int64_t D,
                      int64_t Hq, int64_t T, uint32_t kv_dt, int64_t C, int64_t Hkv,
                      const void *k, const void *v, const int32_t *pos, float *out) {
    tn_init(g, EHAL_OP_ATTENTION, p, p ? sizeof *p : 0);
    tn_tensor(g, 0, EHAL_DTYPE_F32, D, Hq, T, 1, (void *)q);
    tn_tensor(g, 1, kv_dt, D, C, Hkv, 1, (void *)k);
    tn_tensor(g, 2, kv_dt, D, C, Hkv, 1, (void *)v);
    tn_tensor(g, 3, EHAL_DTYPE_I32, T, 1, 1, 1, (void *)pos);
    tn_tensor(g, 4, EHAL_DTYPE_F32, D, Hq, T, 1, out);
}

/* One query at pos 1 over two keys, scale 1: Q = [1, 0], K0 = [0, 5],
 * K1 = [ln 2, 7] give scores [0, ln 2], weights [1/3, 2/3];
 * V0 = [3, 0], V1 = [0, 3] -> O = [1, 2]. */
static void attention_two_keys_by_hand(void **state) {
    (void)state;
    const float q[2] = {1, 0};
    const float k[4] = {0, 5, (float)LN2, 7};
    const float v[4] = {3, 0, 0, 3};
    const int32_t pos[1] = {1};
    float o[2];
    ehal_params_attention p = {1.0f, 0, 0, 0};
    tnode g;
    attn_node(&g, &p, q, 2, 1, 1, EHAL_DTYPE_F32, 2, 1, k, v, pos, o);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[2] = {1, 2};
    assert_floats_close(o, want, 2, 1e-6);
}

/* Default scale 1/sqrt(4) = 0.5: Q = [2, 0, 0, 0], K1 = [ln 3, 0, 0, 0]:
 * scores [0, ln 3], weights [1/4, 3/4]; V0 = [4,0,0,0], V1 = [0,4,0,0]
 * -> O = [1, 3, 0, 0]. */
static void attention_default_scale_is_inverse_sqrt_d(void **state) {
    (void)state;
    const float q[4] = {2, 0, 0, 0};
    const float k[8] = {0, 0, 0, 0, (float)LN3, 0, 0, 0};
    const float v[8] = {4, 0, 0, 0, 0, 4, 0, 0};
    const int32_t pos[1] = {1};
    float o[4];
    tnode g;
    attn_node(&g, NULL, q, 4, 1, 1, EHAL_DTYPE_F32, 2, 1, k, v, pos, o);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[4] = {1, 3, 0, 0};
    assert_floats_close(o, want, 4, 1e-6);
}

/* Causal: the token at pos 0 sees key 0 only (O = V0 = [3, 0]); the token
 * at pos 1 sees both ([1, 2] as above). NONCAUSAL: both see keys 0..1. */
static void attention_is_causal_unless_told(void **state) {
    (void)state;
    const float q[4] = {1, 0, 1, 0};
    const float k[4] = {0, 5, (float)LN2, 7};
    const float v[4] = {3, 0, 0, 3};
    const int32_t pos[2] = {0, 1};
    float o[4];
    ehal_params_attention p = {1.0f, 0, 0, 0};
    tnode g;
    attn_node(&g, &p, q, 2, 1, 2, EHAL_DTYPE_F32, 2, 1, k, v, pos, o);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double causal[4] = {3, 0, 1, 2};
    assert_floats_close(o, causal, 4, 1e-6);
    p.flags = EHAL_ATTN_NONCAUSAL;
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double noncausal[4] = {1, 2, 1, 2};
    assert_floats_close(o, noncausal, 4, 1e-6);
}

/* Hq 4, Hkv 2: query heads 0, 1 use kv head 0 and heads 2, 3 kv head 1
 * (h / (Hq/Hkv), not h % Hkv). kv head 0: K = [[0,0], [ln2,0]] -> weights
 * [1/3, 2/3]; kv head 1: K = [[ln2,0], [0,0]] -> [2/3, 1/3]; both V =
 * [[3,0], [0,3]]: O = [1,2], [1,2], [2,1], [2,1]. */
static void attention_maps_query_heads_to_kv_groups(void **state) {
    (void)state;
    const float q[8] = {1, 0, 1, 0, 1, 0, 1, 0};
    const float k[8] = {0, 0, (float)LN2, 0, (float)LN2, 0, 0, 0};
    const float v[8] = {3, 0, 0, 3, 3, 0, 0, 3};
    const int32_t pos[1] = {1};
    float o[8];
    ehal_params_attention p = {1.0f, 0, 0, 0};
    tnode g;
    attn_node(&g, &p, q, 2, 4, 1, EHAL_DTYPE_F32, 2, 2, k, v, pos, o);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[8] = {1, 2, 1, 2, 2, 1, 2, 1};
    assert_floats_close(o, want, 8, 1e-6);
}

/* window 2, 1 sink, C 4, query at pos 6. Attended keys: 0 (sink), 5 and
 * 6 (6 - k < 2); key 4 (slot 1 = 1 + 3 % 3) is outside the window.
 * Slots: 0 -> 0, 5 -> 1 + 4 % 3 = 2, 6 -> 1 + 5 % 3 = 3. All K zero, so
 * the weights are equal: O = (V[0] + V[2] + V[3]) / 3 = (3 + 6 + 9) / 3 = 6;
 * slot 1 holds 1000 and must not leak in. Without sinks (C 3, ring 0..2):
 * keys 5 -> slot 2, 6 -> slot 0, key 4 -> slot 1 masked: (10 + 20)/2 = 15. */
static void attention_window_and_sinks_over_a_ring(void **state) {
    (void)state;
    const float q[1] = {1};
    const float k[4] = {0, 0, 0, 0};
    const float v[4] = {3, 1000, 6, 9};
    const int32_t pos[1] = {6};
    float o[1];
    ehal_params_attention p = {1.0f, 2, 1, 0};
    tnode g;
    attn_node(&g, &p, q, 1, 1, 1, EHAL_DTYPE_F32, 4, 1, k, v, pos, o);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    assert_close(o[0], 6.0, 1e-5);

    const float v3[3] = {10, 1000, 20};
    ehal_params_attention p0 = {1.0f, 2, 0, 0};
    attn_node(&g, &p0, q, 1, 1, 1, EHAL_DTYPE_F32, 3, 1, k, v3, pos, o);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    assert_close(o[0], 15.0, 1e-5);
}

/* KV_WRITE then ATTENTION share the slot rule: write positions 0..6 (value
 * p + 1, K zero) into a window-2, 1-sink cache of C 4, then a query at 6
 * attends to positions 0, 5, 6: O = (1 + 6 + 7) / 3 = 14/3. */
static void attention_reads_what_kv_write_wrote(void **state) {
    (void)state;
    float kc[4], vc[4];
    for (int i = 0; i < 4; i++) {
        kc[i] = vc[i] = -100;
    }
    ehal_params_kv kp = {2, 1};
    for (int32_t pos = 0; pos <= 6; pos++) {
        float kval = 0, vval = (float)(pos + 1);
        tnode g;
        kv_node(&g, &kp, &kval, 1, 1, 1, &pos, EHAL_DTYPE_F32, 4, kc);
        assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
        kv_node(&g, &kp, &vval, 1, 1, 1, &pos, EHAL_DTYPE_F32, 4, vc);
        assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    }
    const float q[1] = {1};
    const int32_t pos[1] = {6};
    float o[1];
    ehal_params_attention p = {1.0f, 2, 1, 0};
    tnode g;
    attn_node(&g, &p, q, 1, 1, 1, EHAL_DTYPE_F32, 4, 1, kc, vc, pos, o);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    assert_close(o[0], 14.0 / 3.0, 1e-6);
}

/* Quantized caches, D 32, scale 1, Q = [ln 2, 0, ...], query at pos 1:
 * K0 = 0, K1 has element 0 = 1 -> weights [1/3, 2/3]; V0 = 3, V1 = 6
 * everywhere -> O = 1 + 4 = 5 in every dimension. */
static void attention_over_quantized_caches(void **state) {
    (void)state;
    float q[32] = {(float)LN2};
    const int32_t pos[1] = {1};
    ehal_params_attention p = {1.0f, 0, 0, 0};
    float o[32];
    double want[32];
    for (int d = 0; d < 32; d++) {
        want[d] = 5.0;
    }
    tnode g;

    ehal_block_q8_0 k8[2], v8[2];
    memset(k8, 0, sizeof k8);
    k8[1].d = 0x3c00;
    k8[1].qs[0] = 1;
    v8[0].d = 0x3c00;
    v8[1].d = 0x4000; /* 2 */
    memset(v8[0].qs, 3, sizeof v8[0].qs);
    memset(v8[1].qs, 3, sizeof v8[1].qs);
    attn_node(&g, &p, q, 32, 1, 1, EHAL_DTYPE_Q8_0, 2, 1, k8, v8, pos, o);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    assert_floats_close(o, want, 32, 1e-5);

    ehal_block_q4_0 k4[2], v4[2];
    k4[0].d = k4[1].d = 0x3c00;
    memset(k4[0].qs, 0x88, sizeof k4[0].qs); /* all 0 */
    memset(k4[1].qs, 0x88, sizeof k4[1].qs);
    k4[1].qs[0] = 0x89; /* element 0 = 9 - 8 = 1 */
    v4[0].d = 0x3c00;
    v4[1].d = 0x4000;
    memset(v4[0].qs, 0xbb, sizeof v4[0].qs); /* all 11 - 8 = 3 */
    memset(v4[1].qs, 0xbb, sizeof v4[1].qs);
    attn_node(&g, &p, q, 32, 1, 1, EHAL_DTYPE_Q4_0, 2, 1, k4, v4, pos, o);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    assert_floats_close(o, want, 32, 1e-5);

    uint16_t k16[64] = {0}, v16[64];
    k16[32] = 0x3c00;
    for (int d = 0; d < 32; d++) {
        v16[d] = 0x4200;      /* 3 */
        v16[32 + d] = 0x4600; /* 6 */
    }
    attn_node(&g, &p, q, 32, 1, 1, EHAL_DTYPE_F16, 2, 1, k16, v16, pos, o);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    assert_floats_close(o, want, 32, 1e-5);
}

static void attention_refuses_bad_positions(void **state) {
    (void)state;
    const float q[1] = {1}, k[2] = {0, 0}, v[2] = {1, 2};
    float o[1] = {-7};
    const int32_t negative[1] = {-1}, past_end[1] = {2};
    tnode g;
    attn_node(&g, NULL, q, 1, 1, 1, EHAL_DTYPE_F32, 2, 1, k, v, negative, o);
    assert_int_equal(tn_run(&g), EHAL_STATUS_INVALID_ARGUMENT);
    attn_node(&g, NULL, q, 1, 1, 1, EHAL_DTYPE_F32, 2, 1, k, v, past_end, o);
    assert_int_equal(tn_run(&g), EHAL_STATUS_INVALID_ARGUMENT);
    assert_true(o[0] == -7.0f);
}

/* NaN in one query head gives NaN in that head only. */
static void attention_propagates_nan_per_head(void **state) {
    (void)state;
    const float q[4] = {NAN, 0, 1, 0};
    const float k[4] = {0, 5, (float)LN2, 7};
    const float v[4] = {3, 0, 0, 3};
    const int32_t pos[1] = {1};
    float o[4];
    ehal_params_attention p = {1.0f, 0, 0, 0};
    tnode g;
    attn_node(&g, &p, q, 2, 2, 1, EHAL_DTYPE_F32, 2, 1, k, v, pos, o);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    assert_true(isnan(o[0]) && isnan(o[1]));
    const double want[2] = {1, 2};
    assert_floats_close(o + 2, want, 2, 1e-6);
}

static uint32_t rng_state = 2463534242u;
static uint32_t rng(void) { /* xorshift32 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}
static float rng_unit(void) { return (float)((double)(rng() >> 8) / 8388608.0 - 1.0); }

enum { RD_MAX = 4, RH_MAX = 6, RP_MAX = 14 };

/* Attention computed with no cache at all: keys and values kept per
 * position in full arrays, the mask written straight from backend_abi.h
 * (k <= q unless non-causal; k < n_sink or window == 0 or q - k < window). */
static void attention_by_mask(const float *q, int64_t D, int64_t Hq, int64_t Hkv, int32_t qpos,
                              int32_t last, uint32_t window, uint32_t n_sink, double scale,
                              const float kfull[RP_MAX][RH_MAX][RD_MAX],
                              const float vfull[RP_MAX][RH_MAX][RD_MAX], double *out) {
    for (int64_t h = 0; h < Hq; h++) {
        int64_t kvh = h / (Hq / Hkv);
        double s[RP_MAX], m = -INFINITY, sum = 0;
        int use[RP_MAX];
        for (int32_t k = 0; k <= last; k++) {
            use[k] = window == 0 || k < (int32_t)n_sink || qpos - k < (int32_t)window;
            if (!use[k]) {
                continue;
            }
            double dot = 0;
            for (int64_t d = 0; d < D; d++) {
                dot += (double)q[h * D + d] * kfull[k][kvh][d];
            }
            s[k] = scale * dot;
            m = s[k] > m ? s[k] : m;
        }
        for (int64_t d = 0; d < D; d++) {
            out[h * D + d] = 0;
        }
        for (int32_t k = 0; k <= last; k++) {
            if (use[k]) {
                double e = exp(s[k] - m);
                sum += e;
                for (int64_t d = 0; d < D; d++) {
                    out[h * D + d] += e * vfull[k][kvh][d];
                }
            }
        }
        for (int64_t d = 0; d < D; d++) {
            out[h * D + d] /= sum;
        }
    }
}

/* Random configurations (GQA, windows, sinks, chunk sizes, capacities at
 * the edge of the capacity rule): a sequence written chunk by chunk into
 * ring caches with KV_WRITE and attended with ATTENTION must equal the
 * cache-free mask formulation. */
static void ring_cache_attention_matches_the_mask_formulation(void **state) {
    (void)state;
    for (int iter = 0; iter < 400; iter++) {
        const int64_t D = 1 + rng() % RD_MAX;
        const int64_t Hkv = 1 + rng() % 2;
        const int64_t Hq = Hkv * (1 + rng() % 3);
        const int64_t Tmax = 1 + rng() % 3;
        const int32_t n_pos = 4 + (int32_t)(rng() % (RP_MAX - 4 + 1));
        const uint32_t window = rng() % 2 ? 0 : 1 + rng() % 5;
        const uint32_t n_sink = window ? rng() % 3 : 0;
        const int noncausal = rng() % 4 == 0;
        const int64_t C = window ? (int64_t)n_sink + window + Tmax - 1 + rng() % 2 : n_pos;
        static float kc[RP_MAX * RH_MAX * RD_MAX], vc[RP_MAX * RH_MAX * RD_MAX];
        static float kfull[RP_MAX][RH_MAX][RD_MAX], vfull[RP_MAX][RH_MAX][RD_MAX];
        for (size_t i = 0; i < sizeof kc / sizeof kc[0]; i++) {
            kc[i] = vc[i] = NAN; /* never-written slots must never be read */
        }
        ehal_params_kv kp = {window, n_sink};
        ehal_params_attention ap = {0.0f, window, n_sink, noncausal ? EHAL_ATTN_NONCAUSAL : 0};
        for (int32_t p0 = 0; p0 < n_pos; p0 += (int32_t)Tmax) {
            const int64_t T = p0 + Tmax <= n_pos ? Tmax : n_pos - p0;
            int32_t pos[3];
            float ksrc[3 * RH_MAX * RD_MAX], vsrc[3 * RH_MAX * RD_MAX], q[3 * RH_MAX * RD_MAX];
            float o[3 * RH_MAX * RD_MAX];
            for (int64_t t = 0; t < T; t++) {
                pos[t] = p0 + (int32_t)t;
                for (int64_t h = 0; h < Hkv; h++) {
                    for (int64_t d = 0; d < D; d++) {
                        float kv = rng_unit(), vv = rng_unit();
                        ksrc[(t * Hkv + h) * D + d] = kfull[pos[t]][h][d] = kv;
                        vsrc[(t * Hkv + h) * D + d] = vfull[pos[t]][h][d] = vv;
                    }
                }
                for (int64_t i = 0; i < Hq * D; i++) {
                    q[t * Hq * D + i] = 2.0f * rng_unit();
                }
            }
            tnode g;
            kv_node(&g, &kp, ksrc, D, Hkv, T, pos, EHAL_DTYPE_F32, C, kc);
            assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
            kv_node(&g, &kp, vsrc, D, Hkv, T, pos, EHAL_DTYPE_F32, C, vc);
            assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
            attn_node(&g, &ap, q, D, Hq, T, EHAL_DTYPE_F32, C, Hkv, kc, vc, pos, o);
            assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
            for (int64_t t = 0; t < T; t++) {
                double want[RH_MAX * RD_MAX];
                int32_t last = noncausal ? pos[T - 1] : pos[t];
                attention_by_mask(q + t * Hq * D, D, Hq, Hkv, pos[t], last, window, n_sink,
                                  1.0 / sqrt((double)D), (const float(*)[RH_MAX][RD_MAX])kfull,
                                  (const float(*)[RH_MAX][RD_MAX])vfull, want);
                for (int64_t i = 0; i < Hq * D; i++) {
                    if (!(fabs(o[t * Hq * D + i] - want[i]) <= 1e-5)) {
                        print_error("iter %d (D %lld Hq %lld Hkv %lld C %lld window %u sinks %u "
                                    "T %lld noncausal %d) pos %d elem %lld: got %g want %g\n",
                                    iter, (long long)D, (long long)Hq, (long long)Hkv,
                                    (long long)C, window, n_sink, (long long)T, noncausal,
                                    pos[t], (long long)i, (double)o[t * Hq * D + i], want[i]);
                        fail();
                    }
                }
            }
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kv_slot_follows_the_rule),
        cmocka_unit_test(kv_write_puts_rows_at_their_slots),
        cmocka_unit_test(kv_write_quantizes_into_the_cache),
        cmocka_unit_test(kv_write_wraps_the_ring_and_keeps_sinks),
        cmocka_unit_test(kv_write_refuses_bad_positions),
        cmocka_unit_test(attention_two_keys_by_hand),
        cmocka_unit_test(attention_default_scale_is_inverse_sqrt_d),
        cmocka_unit_test(attention_is_causal_unless_told),
        cmocka_unit_test(attention_maps_query_heads_to_kv_groups),
        cmocka_unit_test(attention_window_and_sinks_over_a_ring),
        cmocka_unit_test(attention_reads_what_kv_write_wrote),
        cmocka_unit_test(attention_over_quantized_caches),
        cmocka_unit_test(attention_refuses_bad_positions),
        cmocka_unit_test(attention_propagates_nan_per_head),
        cmocka_unit_test(ring_cache_attention_matches_the_mask_formulation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
