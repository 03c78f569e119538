/*
 * Every op of the catalog run by the CPU plugin through the ABI (dlopen,
 * no core), one small subgraph each plus a chained one, and the capability
 * query. Every expected value is computed by hand (or by a closed formula
 * written here), never by the reference kernels the plugin runs.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu_test_util.h"

static void test_add_sums_elementwise(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t a = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1), b = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    g_node(&g, EHAL_OP_ADD, 2, (uint32_t[]){a, b}, y, NULL, 0);
    g_bind(&g);
    g_set(&g, a, (float[]){1, 2, 3, 4});
    g_set(&g, b, (float[]){10, 20, 30, -40});
    g_run(&g);
    float out[4];
    g_get(&g, y, out);
    assert_floats(out, (double[]){11, 22, 33, -36}, 4, 0);
    g_free(&g);
}

static void test_mul_multiplies_elementwise(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t a = g_tensor(&g, EHAL_DTYPE_F32, 3, 1, 1), b = g_tensor(&g, EHAL_DTYPE_F32, 3, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 3, 1, 1);
    g_node(&g, EHAL_OP_MUL, 2, (uint32_t[]){a, b}, y, NULL, 0);
    g_bind(&g);
    g_set(&g, a, (float[]){1.5f, -2, 0});
    g_set(&g, b, (float[]){2, 3, 9});
    g_run(&g);
    float out[3];
    g_get(&g, y, out);
    assert_floats(out, (double[]){3, -6, 0}, 3, 0);
    g_free(&g);
}

/* W[K=3,N=2] rows (1,2,3), (4,5,6); X[K=3,T=2] rows (1,0,-1), (2,1,0).
 * Y[t][n] = W[n].X[t]: t0: -2, -2; t1: 4, 13. */
static void test_matmul_f32_2x3(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t w = g_tensor(&g, EHAL_DTYPE_F32, 3, 2, 1), x = g_tensor(&g, EHAL_DTYPE_F32, 3, 2, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 2, 2, 1);
    g_node(&g, EHAL_OP_MATMUL, 2, (uint32_t[]){w, x}, y, NULL, 0);
    g_bind(&g);
    g_set(&g, w, (float[]){1, 2, 3, 4, 5, 6});
    g_set(&g, x, (float[]){1, 0, -1, 2, 1, 0});
    g_run(&g);
    float out[4];
    g_get(&g, y, out);
    assert_floats(out, (double[]){-2, -2, 4, 13}, 4, 0);
    g_free(&g);
}

/* X[D=4,T=3], w = (1,2,0.5,-1), eps 0:
 *  (1,1,1,1):   rms 1            -> w
 *  (3,4,0,0):   rms sqrt(25/4)=2.5 -> (1.2,1.6,0,0)*w
 *  (2,-2,2,-2): rms 2            -> (1,-1,1,-1)*w */
static void test_rms_norm_scales_rows_by_their_rms(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t x = g_tensor(&g, EHAL_DTYPE_F32, 4, 3, 1), w = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 4, 3, 1);
    ehal_params_rms_norm p = {0.0f};
    g_node(&g, EHAL_OP_RMS_NORM, 2, (uint32_t[]){x, w}, y, &p, sizeof p);
    g_bind(&g);
    g_set(&g, x, (float[]){1, 1, 1, 1, 3, 4, 0, 0, 2, -2, 2, -2});
    g_set(&g, w, (float[]){1, 2, 0.5f, -1});
    g_run(&g);
    float out[12];
    g_get(&g, y, out);
    assert_floats(out, (double[]){1, 2, 0.5, -1, 1.2, 3.2, 0, 0, 1, -2, 0.5, 1}, 12, 1e-6);
    g_free(&g);
}

/* silu(g) * u with silu(g) = g / (1 + e^-g). */
static void test_swiglu_gates_with_silu(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t gate = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1), up = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    g_node(&g, EHAL_OP_SWIGLU, 2, (uint32_t[]){gate, up}, y, NULL, 0);
    g_bind(&g);
    g_set(&g, gate, (float[]){0, 1, -1, 2});
    g_set(&g, up, (float[]){5, 2, 3, 4});
    g_run(&g);
    float out[4];
    g_get(&g, y, out);
    double want[4] = {0.0, 1.0 / (1.0 + exp(-1.0)) * 2.0, -1.0 / (1.0 + exp(1.0)) * 3.0,
                      2.0 / (1.0 + exp(-2.0)) * 4.0};
    assert_floats(out, want, 4, 1e-6);
    g_free(&g);
}

/* Quantized weights, one block of K=32 each, x = 1 for k < 16 and 2 after:
 *  Q8_0, d = 0.5 (fp16 0x3800), q[j] = j - 16:
 *     sum_{j<16} (j-16)/2 + 2 sum_{j>=16} (j-16)/2 = -68 + 120 = 52
 *  Q4_0, d = 1 (fp16 0x3c00), byte j = j | 15 << 4: value j is j - 8 and
 *     value j+16 is 15 - 8 = 7: sum_{j<16} (j-8) + 2 * 16 * 7 = -8 + 224 = 216
 * The plugin quantizes activations to Q8_0 blocks (d_x = max|x|/127 = 2/127)
 * for integer dot products, so each x is off by at most d_x/2 (plus fp16
 * rounding of d_x, relative 2^-11): the result is within
 * sum|w| * (d_x/2 + 2 * 2^-11) of the exact value, sum|w| being
 * 256/2 = 128 (Q8_0) and 72 + 112 = 184 (Q4_0). */
static void test_matmul_dequantizes_q8_0_and_q4_0_weights(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t w8 = g_tensor(&g, EHAL_DTYPE_Q8_0, 32, 1, 1), w4 = g_tensor(&g, EHAL_DTYPE_Q4_0, 32, 1, 1);
    uint32_t x = g_tensor(&g, EHAL_DTYPE_F32, 32, 1, 1);
    uint32_t y8 = g_tensor(&g, EHAL_DTYPE_F32, 1, 1, 1), y4 = g_tensor(&g, EHAL_DTYPE_F32, 1, 1, 1);
    g_node(&g, EHAL_OP_MATMUL, 2, (uint32_t[]){w8, x}, y8, NULL, 0);
    g_node(&g, EHAL_OP_MATMUL, 2, (uint32_t[]){w4, x}, y4, NULL, 0);
    g_bind(&g);
    uint8_t q8[34], q4[18];
    q8[0] = 0x00; /* d, little-endian fp16 */
    q8[1] = 0x38;
    for (int j = 0; j < 32; j++)
        q8[2 + j] = (uint8_t)(int8_t)(j - 16);
    q4[0] = 0x00;
    q4[1] = 0x3c;
    for (int j = 0; j < 16; j++)
        q4[2 + j] = (uint8_t)(j | 15 << 4);
    float xv[32];
    for (int k = 0; k < 32; k++)
        xv[k] = k < 16 ? 1.0f : 2.0f;
    g_set(&g, w8, q8);
    g_set(&g, w4, q4);
    g_set(&g, x, xv);
    g_run(&g);
    float out8, out4;
    g_get(&g, y8, &out8);
    g_get(&g, y4, &out4);
    const double slack = 1.0 / 127.0 + 2.0 / 2048.0;
    assert_floats(&out8, (double[]){52.0}, 1, 128.0 * slack);
    assert_floats(&out4, (double[]){216.0}, 1, 184.0 * slack);
    g_free(&g);
}

/* A prefill-sized MATMUL on a 3-thread backend (200 token columns: the
 * backend may split them over its workers, 64 at a time). Weight scales are
 * 1 and every activation block holds a 127, so the int8 activations are the
 * integers given and every product sum is exact: Y[t][n] = sum_k W[n][k] x[t][k]
 * with W8[n][k] = (5n + k) % 21 - 10, W4[n][k] = (n + k) % 16 - 8,
 * x[t][k] = 127 at a block's start, else (7k + 3t) % 255 - 127. */
static void test_matmul_prefill_on_three_threads_is_exact_for_integer_data(void **state)
{
    (void)state;
    enum { K = 64, N = 8, TT = 200 };
    fx.iface->destroy(fx.be);
    fx.be = NULL;
    const ehal_option opt = {"threads", "3"};
    assert_int_equal(fx.iface->init(&host, &opt, 1, &fx.be), EHAL_STATUS_OK);
    graph g;
    g_init(&g);
    uint32_t w8 = g_tensor(&g, EHAL_DTYPE_Q8_0, K, N, 1), w4 = g_tensor(&g, EHAL_DTYPE_Q4_0, K, N, 1);
    uint32_t x = g_tensor(&g, EHAL_DTYPE_F32, K, TT, 1);
    uint32_t y8 = g_tensor(&g, EHAL_DTYPE_F32, N, TT, 1), y4 = g_tensor(&g, EHAL_DTYPE_F32, N, TT, 1);
    g_node(&g, EHAL_OP_MATMUL, 2, (uint32_t[]){w8, x}, y8, NULL, 0);
    g_node(&g, EHAL_OP_MATMUL, 2, (uint32_t[]){w4, x}, y4, NULL, 0);
    g_bind(&g);
    static uint8_t q8[N * K / 32 * 34], q4[N * K / 32 * 18];
    static float xv[TT * K], out[TT * N];
    static double want8[TT * N], want4[TT * N];
    for (int n = 0; n < N; n++)
        for (int b = 0; b < K / 32; b++) {
            uint8_t *b8 = q8 + (n * K / 32 + b) * 34, *b4 = q4 + (n * K / 32 + b) * 18;
            b8[0] = b4[0] = 0x00; /* d = 1.0, little-endian fp16 */
            b8[1] = b4[1] = 0x3c;
            for (int j = 0; j < 32; j++)
                b8[2 + j] = (uint8_t)(int8_t)((5 * n + 32 * b + j) % 21 - 10);
            for (int j = 0; j < 16; j++) /* value j in the low nibble, j + 16 in the high */
                b4[2 + j] = (uint8_t)((n + 32 * b + j) % 16 | ((n + 32 * b + j + 16) % 16) << 4);
        }
    for (int t = 0; t < TT; t++)
        for (int k = 0; k < K; k++)
            xv[t * K + k] = k % 32 == 0 ? 127.0f : (float)((7 * k + 3 * t) % 255 - 127);
    for (int t = 0; t < TT; t++)
        for (int n = 0; n < N; n++) {
            long s8 = 0, s4 = 0;
            for (int k = 0; k < K; k++) {
                s8 += (long)((5 * n + k) % 21 - 10) * (long)xv[t * K + k];
                s4 += (long)((n + k) % 16 - 8) * (long)xv[t * K + k];
            }
            want8[t * N + n] = (double)s8;
            want4[t * N + n] = (double)s4;
        }
    g_set(&g, w8, q8);
    g_set(&g, w4, q4);
    g_set(&g, x, xv);
    g_run(&g);
    g_get(&g, y8, out);
    assert_floats(out, want8, TT * N, 0);
    g_get(&g, y4, out);
    assert_floats(out, want4, TT * N, 0);
    g_free(&g);
}

/* Scale 2: row (3,3) -> (1/2, 1/2); row (0,1) -> (1, e^2) / (1 + e^2). */
static void test_softmax_normalizes_scaled_rows(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t x = g_tensor(&g, EHAL_DTYPE_F32, 2, 2, 1), y = g_tensor(&g, EHAL_DTYPE_F32, 2, 2, 1);
    ehal_params_softmax p = {2.0f};
    g_node(&g, EHAL_OP_SOFTMAX, 1, (uint32_t[]){x}, y, &p, sizeof p);
    g_bind(&g);
    g_set(&g, x, (float[]){3, 3, 0, 1});
    g_run(&g);
    float out[4];
    g_get(&g, y, out);
    double e2 = exp(2.0);
    assert_floats(out, (double[]){0.5, 0.5, 1.0 / (1.0 + e2), e2 / (1.0 + e2)}, 4, 1e-6);
    g_free(&g);
}

/* Normal mode, one pair, pos 1, theta = 1 rad: (1, 0) -> (cos 1, sin 1);
 * pos 0 leaves (0.5, 2) unchanged. */
static void test_rope_rotates_pairs_by_position(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t x = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 2), pos = g_tensor(&g, EHAL_DTYPE_I32, 2, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 2);
    ehal_params_rope p = {EHAL_ROPE_NORMAL, 2, 10000.0f, 1.0f};
    g_node(&g, EHAL_OP_ROPE, 2, (uint32_t[]){x, pos}, y, &p, sizeof p);
    g_bind(&g);
    g_set(&g, x, (float[]){1, 0, 0.5f, 2});
    g_set(&g, pos, (int32_t[]){1, 0});
    g_run(&g);
    float out[4];
    g_get(&g, y, out);
    assert_floats(out, (double[]){cos(1.0), sin(1.0), 0.5, 2}, 4, 1e-6);
    g_free(&g);
}

/* table rows (1,2), (3,4), (5,6); ids (2, 0) -> (5,6), (1,2). */
static void test_get_rows_gathers_rows_by_id(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t tab = g_tensor(&g, EHAL_DTYPE_F32, 2, 3, 1), ids = g_tensor(&g, EHAL_DTYPE_I32, 2, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 2, 2, 1);
    g_node(&g, EHAL_OP_GET_ROWS, 2, (uint32_t[]){tab, ids}, y, NULL, 0);
    g_bind(&g);
    g_set(&g, tab, (float[]){1, 2, 3, 4, 5, 6});
    g_set(&g, ids, (int32_t[]){2, 0});
    g_run(&g);
    float out[4];
    g_get(&g, y, out);
    assert_floats(out, (double[]){5, 6, 1, 2}, 4, 0);
    g_free(&g);
}

/* Rows of 37 values (no vector width divides them), 3 rows, through five
 * nodes at once: a = (i % 23 - 11) / 4, b = 1/2 + (i % 7) / 8 and
 * w = 1 + d/100 are exact in float, so ADD and MUL are exact; SWIGLU,
 * SOFTMAX (scale 1) and RMS_NORM (eps 0) are checked against their
 * formulas evaluated here in double. */
static void test_elementwise_ops_handle_rows_longer_than_a_vector(void **state)
{
    (void)state;
    enum { D = 37, R = 3, N = D * R };
    graph g;
    g_init(&g);
    uint32_t a = g_tensor(&g, EHAL_DTYPE_F32, D, R, 1), b = g_tensor(&g, EHAL_DTYPE_F32, D, R, 1);
    uint32_t w = g_tensor(&g, EHAL_DTYPE_F32, D, 1, 1);
    uint32_t ys[5];
    for (int k = 0; k < 5; k++)
        ys[k] = g_tensor(&g, EHAL_DTYPE_F32, D, R, 1);
    ehal_params_softmax sp = {1.0f};
    ehal_params_rms_norm rp = {0.0f};
    g_node(&g, EHAL_OP_ADD, 2, (uint32_t[]){a, b}, ys[0], NULL, 0);
    g_node(&g, EHAL_OP_MUL, 2, (uint32_t[]){a, b}, ys[1], NULL, 0);
    g_node(&g, EHAL_OP_SWIGLU, 2, (uint32_t[]){a, b}, ys[2], NULL, 0);
    g_node(&g, EHAL_OP_SOFTMAX, 1, (uint32_t[]){a}, ys[3], &sp, sizeof sp);
    g_node(&g, EHAL_OP_RMS_NORM, 2, (uint32_t[]){a, w}, ys[4], &rp, sizeof rp);
    g_bind(&g);
    float av[N], bv[N], wv[D];
    for (int i = 0; i < N; i++) {
        av[i] = (float)(i % 23 - 11) / 4.0f;
        bv[i] = 0.5f + (float)(i % 7) / 8.0f;
    }
    for (int d = 0; d < D; d++)
        wv[d] = 1.0f + (float)d / 100.0f;
    g_set(&g, a, av);
    g_set(&g, b, bv);
    g_set(&g, w, wv);
    g_run(&g);
    static double want[5][N];
    for (int r = 0; r < R; r++) {
        double mx = -INFINITY, sum = 0.0, ss = 0.0;
        for (int d = 0; d < D; d++) {
            const double x = av[r * D + d];
            mx = x > mx ? x : mx;
            ss += x * x;
        }
        for (int d = 0; d < D; d++)
            sum += exp((double)av[r * D + d] - mx);
        for (int d = 0; d < D; d++) {
            const int i = r * D + d;
            const double x = av[i], y = bv[i];
            want[0][i] = x + y;
            want[1][i] = x * y;
            want[2][i] = x / (1.0 + exp(-x)) * y;
            want[3][i] = exp(x - mx) / sum;
            want[4][i] = x / sqrt(ss / D) * wv[d];
        }
    }
    static const double tol[5] = {0, 0, 2e-6, 1e-7, 1e-5};
    float out[N];
    for (int k = 0; k < 5; k++) {
        g_get(&g, ys[k], out);
        assert_floats(out, want[k], N, tol[k]);
    }
    g_free(&g);
}

/* NEOX ROPE, D = 10 with n_rot = 6 (dims 6..9 copied), 3 heads, positions
 * 5 and 9, freq_base 100: pair i of (x[i], x[i+3]) turns by
 * pos * 100^(-2i/6) = pos * 100^(-i/3); every head of a position alike. */
static void test_rope_neox_rotates_every_head_of_a_position(void **state)
{
    (void)state;
    enum { D = 10, H = 3, T = 2, N = D * H * T };
    graph g;
    g_init(&g);
    uint32_t x = g_tensor(&g, EHAL_DTYPE_F32, D, H, T), pos = g_tensor(&g, EHAL_DTYPE_I32, T, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, D, H, T);
    ehal_params_rope p = {EHAL_ROPE_NEOX, 6, 100.0f, 1.0f};
    g_node(&g, EHAL_OP_ROPE, 2, (uint32_t[]){x, pos}, y, &p, sizeof p);
    g_bind(&g);
    float xv[N];
    for (int i = 0; i < N; i++)
        xv[i] = (float)(i % 11) / 4.0f - 1.0f;
    const int32_t pv[T] = {5, 9};
    g_set(&g, x, xv);
    g_set(&g, pos, pv);
    g_run(&g);
    double want[N];
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++) {
            const int o = (t * H + h) * D;
            for (int i = 0; i < 3; i++) {
                const double th = pv[t] * pow(100.0, -(double)i / 3.0);
                want[o + i] = xv[o + i] * cos(th) - xv[o + i + 3] * sin(th);
                want[o + i + 3] = xv[o + i] * sin(th) + xv[o + i + 3] * cos(th);
            }
            for (int i = 6; i < D; i++)
                want[o + i] = xv[o + i];
        }
    float out[N];
    g_get(&g, y, out);
    assert_floats(out, want, N, 2e-6);
    g_free(&g);
}

/* KV_WRITE of two positions into an F16 cache (D = 37: values 1, -2, 0.5, 4
 * repeating, halves 0x3c00 0xc000 0x3800 0x4400) and a Q8_0 cache (D = 32:
 * x0 = -127, x_j = j - 16, so d = 1 (0x3c00) and q_j = x_j exactly). Slot
 * 2 gets position 2, slot 0 position 0; other slots keep their bytes. */
static void test_kv_write_stores_f16_and_q8_0_rows_exactly(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t sf = g_tensor(&g, EHAL_DTYPE_F32, 37, 1, 2), s8 = g_tensor(&g, EHAL_DTYPE_F32, 32, 1, 2);
    uint32_t pos = g_tensor(&g, EHAL_DTYPE_I32, 2, 1, 1);
    uint32_t cf = g_tensor(&g, EHAL_DTYPE_F16, 37, 4, 1), c8 = g_tensor(&g, EHAL_DTYPE_Q8_0, 32, 4, 1);
    ehal_params_kv kv = {0, 0};
    g_node(&g, EHAL_OP_KV_WRITE, 3, (uint32_t[]){sf, pos, cf}, cf, &kv, sizeof kv);
    g_node(&g, EHAL_OP_KV_WRITE, 3, (uint32_t[]){s8, pos, c8}, c8, &kv, sizeof kv);
    g_bind(&g);
    static const float pat[4] = {1.0f, -2.0f, 0.5f, 4.0f};
    static const uint16_t half[4] = {0x3c00, 0xc000, 0x3800, 0x4400};
    float fv[74], qv[64];
    for (int i = 0; i < 74; i++)
        fv[i] = pat[i % 4];
    for (int t = 0; t < 2; t++)
        for (int j = 0; j < 32; j++)
            qv[t * 32 + j] = j == 0 ? -127.0f : (float)(j - 16 + t);
    uint16_t cache_f[37 * 4];
    memset(cache_f, 0x11, sizeof cache_f);
    uint8_t cache_8[34 * 4];
    memset(cache_8, 0x22, sizeof cache_8);
    g_set(&g, sf, fv);
    g_set(&g, s8, qv);
    g_set(&g, pos, (int32_t[]){2, 0});
    g_set(&g, cf, cache_f);
    g_set(&g, c8, cache_8);
    g_run(&g);
    g_get(&g, cf, cache_f);
    g_get(&g, c8, cache_8);
    for (int d = 0; d < 37; d++) {
        assert_int_equal(cache_f[2 * 37 + d], half[d % 4]);      /* position 2: t = 0 */
        assert_int_equal(cache_f[0 * 37 + d], half[(37 + d) % 4]); /* position 0: t = 1 */
        assert_int_equal(cache_f[1 * 37 + d], 0x1111);
        assert_int_equal(cache_f[3 * 37 + d], 0x1111);
    }
    for (int t = 0; t < 2; t++) {
        const uint8_t *blk = cache_8 + 34 * (t == 0 ? 2 : 0);
        assert_int_equal(blk[0] | blk[1] << 8, 0x3c00);
        for (int j = 0; j < 32; j++)
            assert_int_equal((int8_t)blk[2 + j], j == 0 ? -127 : j - 16 + t);
    }
    assert_int_equal(cache_8[34], 0x22);
    assert_int_equal(cache_8[34 * 3 + 33], 0x22);
    g_free(&g);
}

/* F32 -> F16: 1 = 0x3c00, 0.5 = 0x3800, -2 = 0xc000, 65504 = 0x7bff. */
static void test_copy_converts_f32_to_f16(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t x = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1), y = g_tensor(&g, EHAL_DTYPE_F16, 4, 1, 1);
    g_node(&g, EHAL_OP_COPY, 1, (uint32_t[]){x}, y, NULL, 0);
    g_bind(&g);
    g_set(&g, x, (float[]){1, 0.5f, -2, 65504});
    g_run(&g);
    uint16_t out[4];
    g_get(&g, y, out);
    assert_int_equal(out[0], 0x3c00);
    assert_int_equal(out[1], 0x3800);
    assert_int_equal(out[2], 0xc000);
    assert_int_equal(out[3], 0x7bff);
    g_free(&g);
}

/* D=2, one kv head, F16 caches of capacity 4. Positions 0 and 1 write
 * k = (1,0), (0,1) and v = (1,2), (3,4). Queries, scale 1:
 *  q0 = (2,0) at pos 0 sees key 0 only            -> v0 = (1,2)
 *  q1 = (1,2) at pos 1: scores (1, 2), weights (1, e)/(1+e)
 *                                               -> ((1+3e), (2+4e))/(1+e) */
static void test_kv_write_then_attention_over_two_positions(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t ks = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 2), vs = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 2);
    uint32_t pos = g_tensor(&g, EHAL_DTYPE_I32, 2, 1, 1);
    uint32_t kc = g_tensor(&g, EHAL_DTYPE_F16, 2, 4, 1), vc = g_tensor(&g, EHAL_DTYPE_F16, 2, 4, 1);
    uint32_t q = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 2), o = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 2);
    g.t[kc].role = g.t[vc].role = EHAL_ROLE_KV;
    ehal_params_kv kv = {0, 0};
    ehal_params_attention at = {1.0f, 0, 0, 0};
    g_node(&g, EHAL_OP_KV_WRITE, 3, (uint32_t[]){ks, pos, kc}, kc, &kv, sizeof kv);
    g_node(&g, EHAL_OP_KV_WRITE, 3, (uint32_t[]){vs, pos, vc}, vc, &kv, sizeof kv);
    g_node(&g, EHAL_OP_ATTENTION, 4, (uint32_t[]){q, kc, vc, pos}, o, &at, sizeof at);
    g_bind(&g);
    g_set(&g, ks, (float[]){1, 0, 0, 1});
    g_set(&g, vs, (float[]){1, 2, 3, 4});
    g_set(&g, pos, (int32_t[]){0, 1});
    g_set(&g, q, (float[]){2, 0, 1, 2});
    g_run(&g);

    uint16_t kbits[8], vbits[8];
    g_get(&g, kc, kbits);
    g_get(&g, vc, vbits);
    const uint16_t kwant[8] = {0x3c00, 0, 0, 0x3c00, 0, 0, 0, 0};
    const uint16_t vwant[8] = {0x3c00, 0x4000, 0x4200, 0x4400, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(kbits[i], kwant[i]);
        assert_int_equal(vbits[i], vwant[i]);
    }
    float out[4];
    g_get(&g, o, out);
    double e = exp(1.0);
    assert_floats(out, (double[]){1, 2, (1 + 3 * e) / (1 + e), (2 + 4 * e) / (1 + e)}, 4, 1e-6);
    g_free(&g);
}

/* A causal prefill of 100 positions, 4 query heads over 2 KV heads (run
 * over the backend's worker pool, which hands the (position, head) units
 * out unevenly). Keys are zero, so a query at t weighs keys 0..t equally;
 * V of KV head h at position p is p + 1000 h (exact in F16), so the output
 * of query head qh at t is t / 2 + 1000 (qh / 2) in every dimension. */
static void test_attention_prefill_weighs_exactly_the_keys_up_to_each_position(void **state)
{
    (void)state;
    enum { D = 32, HQ = 4, HKV = 2, TT = 100 };
    graph g;
    g_init(&g);
    uint32_t ks = g_tensor(&g, EHAL_DTYPE_F32, D, HKV, TT);
    uint32_t vs = g_tensor(&g, EHAL_DTYPE_F32, D, HKV, TT);
    uint32_t pos = g_tensor(&g, EHAL_DTYPE_I32, TT, 1, 1);
    uint32_t kc = g_tensor(&g, EHAL_DTYPE_F16, D, TT, HKV);
    uint32_t vc = g_tensor(&g, EHAL_DTYPE_F16, D, TT, HKV);
    uint32_t q = g_tensor(&g, EHAL_DTYPE_F32, D, HQ, TT), o = g_tensor(&g, EHAL_DTYPE_F32, D, HQ, TT);
    g.t[kc].role = g.t[vc].role = EHAL_ROLE_KV;
    ehal_params_kv kv = {0, 0};
    ehal_params_attention at = {0.125f, 0, 0, 0};
    g_node(&g, EHAL_OP_KV_WRITE, 3, (uint32_t[]){ks, pos, kc}, kc, &kv, sizeof kv);
    g_node(&g, EHAL_OP_KV_WRITE, 3, (uint32_t[]){vs, pos, vc}, vc, &kv, sizeof kv);
    g_node(&g, EHAL_OP_ATTENTION, 4, (uint32_t[]){q, kc, vc, pos}, o, &at, sizeof at);
    g_bind(&g);
    static float zeros[D * HKV * TT], vals[D * HKV * TT], qv[D * HQ * TT], out[D * HQ * TT];
    static double want[D * HQ * TT];
    int32_t p[TT];
    for (int t = 0; t < TT; t++) {
        p[t] = t;
        for (int h = 0; h < HKV; h++)
            for (int d = 0; d < D; d++)
                vals[(t * HKV + h) * D + d] = (float)(t + 1000 * h);
        for (int h = 0; h < HQ; h++)
            for (int d = 0; d < D; d++) {
                qv[(t * HQ + h) * D + d] = (float)(d % 7) - 3.0f;
                want[(t * HQ + h) * D + d] = t / 2.0 + 1000.0 * (h / 2);
            }
    }
    g_set(&g, ks, zeros);
    g_set(&g, vs, vals);
    g_set(&g, pos, p);
    g_set(&g, q, qv);
    g_run(&g);
    g_get(&g, o, out);
    assert_floats(out, want, D * HQ * TT, 1e-3);
    g_free(&g);
}

/* MATMUL -> ADD -> RMS_NORM; the intermediates stay readable in the buffer.
 * W[K=2,N=4] rows (1,0), (0,1), (1,1), (1,-1); x = (3,1) -> (3,1,4,2);
 * + (1,1,-2,2) -> (4,2,2,4); rms sqrt(10), w = 1 -> (4,2,2,4)/sqrt(10). */
static void test_chained_subgraph_passes_activations_between_nodes(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t w = g_tensor(&g, EHAL_DTYPE_F32, 2, 4, 1), x = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 1);
    uint32_t h = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1), b = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    uint32_t s = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1), nw = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    ehal_params_rms_norm p = {0.0f};
    g_node(&g, EHAL_OP_MATMUL, 2, (uint32_t[]){w, x}, h, NULL, 0);
    g_node(&g, EHAL_OP_ADD, 2, (uint32_t[]){h, b}, s, NULL, 0);
    g_node(&g, EHAL_OP_RMS_NORM, 2, (uint32_t[]){s, nw}, y, &p, sizeof p);
    g_bind(&g);
    g_set(&g, w, (float[]){1, 0, 0, 1, 1, 1, 1, -1});
    g_set(&g, x, (float[]){3, 1});
    g_set(&g, b, (float[]){1, 1, -2, 2});
    g_set(&g, nw, (float[]){1, 1, 1, 1});
    g_run(&g);
    float hv[4], sv[4], yv[4];
    g_get(&g, h, hv);
    g_get(&g, s, sv);
    g_get(&g, y, yv);
    assert_floats(hv, (double[]){3, 1, 4, 2}, 4, 0);
    assert_floats(sv, (double[]){4, 2, 2, 4}, 4, 0);
    double r = sqrt(10.0);
    assert_floats(yv, (double[]){4 / r, 2 / r, 2 / r, 4 / r}, 4, 1e-6);

    /* a second run over changed inputs reuses the prepared executable */
    g_set(&g, x, (float[]){1, 1});
    assert_int_equal(fx.iface->execute(fx.be, g.exe, NULL), EHAL_STATUS_OK);
    g_get(&g, h, hv);
    assert_floats(hv, (double[]){1, 1, 2, 0}, 4, 0);
    g_free(&g);
}

/* A kernel failure (position beyond a full cache) is the execute's status,
 * and wait reports it too. */
static void test_execute_failure_is_reported_by_wait(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t ks = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 1), pos = g_tensor(&g, EHAL_DTYPE_I32, 1, 1, 1);
    uint32_t kc = g_tensor(&g, EHAL_DTYPE_F16, 2, 4, 1);
    ehal_params_kv kv = {0, 0};
    g_node(&g, EHAL_OP_KV_WRITE, 3, (uint32_t[]){ks, pos, kc}, kc, &kv, sizeof kv);
    g_bind(&g);
    g_set(&g, pos, (int32_t[]){9});
    assert_int_equal(fx.iface->prepare(fx.be, &g.sg, &g.exe), EHAL_STATUS_OK);
    last_log[0] = '\0';
    ehal_status_t st = fx.iface->execute(fx.be, g.exe, NULL);
    assert_int_equal(st, EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(fx.iface->wait(fx.be, g.exe, 0), st);
    assert_non_null(strstr(last_log, "kv_write"));
    g_free(&g);
}

/* ---- capability query ---------------------------------------------------------------------- */

static void query(graph *g, ehal_op_support *s)
{
    memset(s, 0, sizeof *s);
    s->struct_size = sizeof *s;
    assert_int_equal(fx.iface->query_op(fx.be, &g->sg, 0, s), EHAL_STATUS_OK);
}

static void test_query_supports_valid_nodes_with_a_cost_growing_with_size(void **state)
{
    (void)state;
    graph small, big;
    g_init(&small);
    g_init(&big);
    uint32_t w = g_tensor(&small, EHAL_DTYPE_F32, 64, 64, 1), x = g_tensor(&small, EHAL_DTYPE_F32, 64, 1, 1);
    uint32_t y = g_tensor(&small, EHAL_DTYPE_F32, 64, 1, 1);
    g_node(&small, EHAL_OP_MATMUL, 2, (uint32_t[]){w, x}, y, NULL, 0);
    w = g_tensor(&big, EHAL_DTYPE_F32, 1024, 1024, 1);
    x = g_tensor(&big, EHAL_DTYPE_F32, 1024, 1, 1);
    y = g_tensor(&big, EHAL_DTYPE_F32, 1024, 1, 1);
    g_node(&big, EHAL_OP_MATMUL, 2, (uint32_t[]){w, x}, y, NULL, 0);
    ehal_op_support s1, s2;
    query(&small, &s1);
    query(&big, &s2);
    assert_int_equal(s1.level, EHAL_SUPPORT_SUPPORTED);
    assert_int_equal(s2.level, EHAL_SUPPORT_SUPPORTED);
    assert_true(s1.cost_ns > 0);
    /* F32 weights have no SIMD tile: 2*1024*1024 flops at the scalar
     * 2 GFLOP/s a thread (1 to 4 threads) is 0.26-1.05 ms, above the 4 MiB
     * of weights at 16 GB/s a thread; the small one is mostly the 0.5 us
     * dispatch cost. */
    assert_true(s2.cost_ns > 200000ull && s2.cost_ns < 1200000ull);
    assert_true(s2.cost_ns > 20 * s1.cost_ns);
}

static void test_query_answers_unsupported_for_invalid_nodes(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t a = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1), b = g_tensor(&g, EHAL_DTYPE_F16, 4, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    g_node(&g, EHAL_OP_ADD, 2, (uint32_t[]){a, b}, y, NULL, 0);
    ehal_op_support s;
    query(&g, &s);
    assert_int_equal(s.level, EHAL_SUPPORT_UNSUPPORTED); /* F16 operand */
    g.n[0].op = 60;
    query(&g, &s);
    assert_int_equal(s.level, EHAL_SUPPORT_UNSUPPORTED); /* unknown op */
    /* out of range node index is a caller error, not an answer */
    s.struct_size = sizeof s;
    assert_int_equal(fx.iface->query_op(fx.be, &g.sg, 1, &s), EHAL_STATUS_INVALID_ARGUMENT);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, open_backend, close_backend)
    const struct CMUnitTest tests[] = {
        T(test_add_sums_elementwise),
        T(test_mul_multiplies_elementwise),
        T(test_matmul_f32_2x3),
        T(test_matmul_dequantizes_q8_0_and_q4_0_weights),
        T(test_matmul_prefill_on_three_threads_is_exact_for_integer_data),
        T(test_rms_norm_scales_rows_by_their_rms),
        T(test_swiglu_gates_with_silu),
        T(test_softmax_normalizes_scaled_rows),
        T(test_rope_rotates_pairs_by_position),
        T(test_get_rows_gathers_rows_by_id),
        T(test_copy_converts_f32_to_f16),
        T(test_elementwise_ops_handle_rows_longer_than_a_vector),
        T(test_rope_neox_rotates_every_head_of_a_position),
        T(test_kv_write_stores_f16_and_q8_0_rows_exactly),
        T(test_kv_write_then_attention_over_two_positions),
        T(test_attention_prefill_weighs_exactly_the_keys_up_to_each_position),
        T(test_chained_subgraph_passes_activations_between_nodes),
        T(test_execute_failure_is_reported_by_wait),
        T(test_query_supports_valid_nodes_with_a_cost_growing_with_size),
        T(test_query_answers_unsupported_for_invalid_nodes),
    };
#undef T
    return cmocka_run_group_tests_name("cpu ops", tests, load_plugin, unload_plugin);
}
