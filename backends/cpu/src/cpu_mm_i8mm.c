/*
 * Advanced SIMD GEMM tiles with the int8 matrix-multiply extension (SMMLA;
 * built with -march=armv8.2-a+dotprod+i8mm, called only when HWCAP2_I8MM
 * is set). vmmlaq_s32(acc, a, b) adds to the 2x2 int32 matrix in acc's
 * lanes [00, 01, 10, 11] the products of a (two rows of 8 int8: bytes 0-7
 * and 8-15) with b (two columns of 8 int8, the same way):
 * acc[2i + j] += sum_k a[8i + k] * b[8j + k]. Here a holds 8 values of two
 * weight rows and b the same 8 positions of two activation columns, so one
 * SMMLA does a 2x2 block of outputs over 8 values; a 32-value block takes
 * four, whose int32 sums are exact and then scaled per block in float.
 *
 * The tile is 4x4 (two row pairs x two column pairs). Edge tiles with an
 * odd row or column count run the last pair with that row (column) twice
 * and store only the real outputs. Weights: Q8_0 int8 as they are; Q4_0
 * nibbles minus 8 (signed, -8..7) against the CPU_ACT_Q4 layout's values,
 * whose corr lanes are then not used. Full groups of 4 blocks run in
 * place, the partial last group on a padded copy (cpu_tile_tail_copy).
 * GEMV (one column) stays on the SDOT tiles: a column pair would be half
 * wasted.
 */
#include <arm_neon.h>
#include <string.h>

#include "cpu_matmul.h"
#include "cpu_tile.h"

#define INLINE static inline __attribute__((always_inline))

/* [a[0..7], b[0..7]] and [a[8..15], b[8..15]]: 8 values of two rows (or
 * columns) side by side, an SMMLA operand. */
INLINE int8x16_t pair_lo(int8x16_t a, int8x16_t b)
{
    return vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}

INLINE int8x16_t pair_hi(int8x16_t a, int8x16_t b)
{
    return vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}

INLINE float32x4_t zip1_64(float32x4_t a, float32x4_t b)
{
    return vreinterpretq_f32_f64(vzip1q_f64(vreinterpretq_f64_f32(a), vreinterpretq_f64_f32(b)));
}

INLINE float32x4_t zip2_64(float32x4_t a, float32x4_t b)
{
    return vreinterpretq_f32_f64(vzip2q_f64(vreinterpretq_f64_f32(a), vreinterpretq_f64_f32(b)));
}

/* From two rows' block scales (lanes = blocks 0..3): [a_b, a_b, c_b, c_b],
 * the weight side of the 2x2 lanes [00, 01, 10, 11]. */
INLINE float32x4_t rows_scale(float32x4_t a, float32x4_t c, const int b)
{
    const float32x4_t aa = b < 2 ? vzip1q_f32(a, a) : vzip2q_f32(a, a);
    const float32x4_t cc = b < 2 ? vzip1q_f32(c, c) : vzip2q_f32(c, c);
    return (b & 1) ? zip2_64(aa, cc) : zip1_64(aa, cc);
}

/* From two columns' block scales: [a_b, c_b, a_b, c_b], the column side. */
INLINE float32x4_t cols_scale(float32x4_t a, float32x4_t c, const int b)
{
    const float32x4_t ac = b < 2 ? vzip1q_f32(a, c) : vzip2q_f32(a, c);
    return (b & 1) ? zip2_64(ac, ac) : zip1_64(ac, ac);
}

INLINE float32x4_t scales4(const uint8_t *p, size_t stride)
{
    uint16_t h[4];
    for (int i = 0; i < 4; i++)
        memcpy(&h[i], p + i * stride, 2);
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}

/* A weight row's block b as two signed halves h[0], h[1] that line up with
 * the activation layout's halves (act_halves). */
INLINE void w_halves(const uint8_t *wb, int8x16_t h[2], const int Q8)
{
    if (Q8) {
        h[0] = vld1q_s8((const int8_t *)wb + 2);
        h[1] = vld1q_s8((const int8_t *)wb + 18);
    } else {
        const uint8x16_t q = vld1q_u8(wb + 2);
        const int8x16_t eight = vdupq_n_s8(8);
        h[0] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(15))), eight);
        h[1] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
    }
}

/* Block b of an activation group: Q8 layout values 0-15 and 16-31; Q4
 * layout the values the low and the high nibbles meet. */
INLINE void act_halves(const cpu_qgroup *x, int b, int8x16_t h[2], const int Q8)
{
    h[0] = vld1q_s8(x->qs + (Q8 ? 32 * b : 16 * b));
    h[1] = vld1q_s8(x->qs + (Q8 ? 32 * b + 16 : 64 + 16 * b));
}

/* One group of 4 blocks: row r of the tile at wg + min(r, MR-1) * ws,
 * column c at group g of activation column min(c, NR-1). acc[p][q] holds
 * rows 2p, 2p+1 x columns 2q, 2q+1 in SMMLA's lane order. */
INLINE void mm_group(float32x4_t acc[2][2], const uint8_t *wg, size_t ws, const cpu_mm_tile *t,
                     int64_t g, const int MR, const int NR, const int Q8)
{
    const size_t bs = Q8 ? sizeof(ehal_block_q8_0) : sizeof(ehal_block_q4_0);
    enum { P_MAX = 2, Q_MAX = 2 };
    const int P = (MR + 1) / 2, Q = (NR + 1) / 2;
    const uint8_t *w[2 * P_MAX];
    const cpu_qgroup *x[2 * Q_MAX];
    float32x4_t dw[2 * P_MAX], dx[2 * Q_MAX];
#pragma GCC unroll 4
    for (int r = 0; r < 2 * P; r++) {
        w[r] = wg + (size_t)(r < MR ? r : MR - 1) * ws;
        dw[r] = scales4(w[r], bs);
    }
#pragma GCC unroll 4
    for (int c = 0; c < 2 * Q; c++) {
        x[c] = (const cpu_qgroup *)(t->x + (size_t)(c < NR ? c : NR - 1) * t->x_stride) + g;
        dx[c] = vld1q_f32(x[c]->d);
    }
    /* the block scales d_w * d_x of each pair of pairs, in SMMLA's lanes */
    float32x4_t sc[P_MAX][Q_MAX][4];
#pragma GCC unroll 2
    for (int p = 0; p < P; p++)
#pragma GCC unroll 2
        for (int q = 0; q < Q; q++)
#pragma GCC unroll 4
            for (int b = 0; b < 4; b++)
                sc[p][q][b] = vmulq_f32(rows_scale(dw[2 * p], dw[2 * p + 1], b),
                                        cols_scale(dx[2 * q], dx[2 * q + 1], b));
#pragma GCC unroll 1
    for (int b = 0; b < 4; b++) {
        int8x16_t wa[P_MAX][4], xa[Q_MAX][4];
#pragma GCC unroll 2
        for (int p = 0; p < P; p++) {
            int8x16_t h0[2], h1[2];
            w_halves(w[2 * p] + b * bs, h0, Q8);
            w_halves(w[2 * p + 1] + b * bs, h1, Q8);
            wa[p][0] = pair_lo(h0[0], h1[0]);
            wa[p][1] = pair_hi(h0[0], h1[0]);
            wa[p][2] = pair_lo(h0[1], h1[1]);
            wa[p][3] = pair_hi(h0[1], h1[1]);
        }
#pragma GCC unroll 2
        for (int q = 0; q < Q; q++) {
            int8x16_t h0[2], h1[2];
            act_halves(x[2 * q], b, h0, Q8);
            act_halves(x[2 * q + 1], b, h1, Q8);
            xa[q][0] = pair_lo(h0[0], h1[0]);
            xa[q][1] = pair_hi(h0[0], h1[0]);
            xa[q][2] = pair_lo(h0[1], h1[1]);
            xa[q][3] = pair_hi(h0[1], h1[1]);
        }
#pragma GCC unroll 2
        for (int p = 0; p < P; p++) {
#pragma GCC unroll 2
            for (int q = 0; q < Q; q++) {
                int32x4_t s = vmmlaq_s32(vdupq_n_s32(0), wa[p][0], xa[q][0]);
                s = vmmlaq_s32(s, wa[p][1], xa[q][1]);
                s = vmmlaq_s32(s, wa[p][2], xa[q][2]);
                s = vmmlaq_s32(s, wa[p][3], xa[q][3]);
                acc[p][q] = vfmaq_f32(acc[p][q], vcvtq_f32_s32(s), sc[p][q][b]);
            }
        }
    }
}

/* An MR x NR tile (1..4 each) over full groups and the padded tail. */
INLINE void mm_tile(const cpu_mm_tile *t, const int MR, const int NR, const int Q8)
{
    const size_t bs = Q8 ? sizeof(ehal_block_q8_0) : sizeof(ehal_block_q4_0);
    const int64_t nb = t->K / EHAL_QK, ng = nb / 4;
    const int P = (MR + 1) / 2, Q = (NR + 1) / 2;
    float32x4_t acc[2][2];
#pragma GCC unroll 2
    for (int p = 0; p < P; p++)
#pragma GCC unroll 2
        for (int q = 0; q < Q; q++)
            acc[p][q] = vdupq_n_f32(0.0f);
    const uint8_t *pf = NULL;
    for (int64_t g = 0; g < ng; g++) {
        mm_group(acc, t->w + (size_t)g * 4 * bs, t->w_stride, t, g, MR, NR, Q8);
        cpu_tile_prefetch(t, &pf, g + 1, 4 * bs, MR);
    }
    if (ng * 4 < nb) {
        uint8_t tail[4 * 4 * sizeof(ehal_block_q8_0)];
        cpu_tile_tail_copy(tail, t, ng * 4, nb, bs, MR);
        mm_group(acc, tail, 4 * bs, t, ng, MR, NR, Q8);
    }
#pragma GCC unroll 2
    for (int p = 0; p < P; p++)
#pragma GCC unroll 2
        for (int q = 0; q < Q; q++) {
            float o[4];
            vst1q_f32(o, acc[p][q]);
            for (int i = 0; i < 2 && 2 * p + i < MR; i++)
                for (int j = 0; j < 2 && 2 * q + j < NR; j++)
                    t->y[(size_t)(2 * q + j) * t->ldy + 2 * p + i] = o[2 * i + j];
        }
}

#define TILE_CASES(q8)                                                                         \
    switch ((t->mr - 1) * 4 + (t->nc - 1)) {                                                   \
    case 0: mm_tile(t, 1, 1, q8); break;                                                       \
    case 1: mm_tile(t, 1, 2, q8); break;                                                       \
    case 2: mm_tile(t, 1, 3, q8); break;                                                       \
    case 3: mm_tile(t, 1, 4, q8); break;                                                       \
    case 4: mm_tile(t, 2, 1, q8); break;                                                       \
    case 5: mm_tile(t, 2, 2, q8); break;                                                       \
    case 6: mm_tile(t, 2, 3, q8); break;                                                       \
    case 7: mm_tile(t, 2, 4, q8); break;                                                       \
    case 8: mm_tile(t, 3, 1, q8); break;                                                       \
    case 9: mm_tile(t, 3, 2, q8); break;                                                       \
    case 10: mm_tile(t, 3, 3, q8); break;                                                      \
    case 11: mm_tile(t, 3, 4, q8); break;                                                      \
    case 12: mm_tile(t, 4, 1, q8); break;                                                      \
    case 13: mm_tile(t, 4, 2, q8); break;                                                      \
    case 14: mm_tile(t, 4, 3, q8); break;                                                      \
    default: mm_tile(t, 4, 4, q8); break;                                                      \
    }

/* Tiles of up to 4x4 (t->mr, t->nc in 1..4). */
void cpu_mm_q4_0_i8mm(const cpu_mm_tile *t)
{
    TILE_CASES(0)
}

void cpu_mm_q8_0_i8mm(const cpu_mm_tile *t)
{
    TILE_CASES(1)
}
