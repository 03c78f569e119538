/*
 * AArch64 Advanced SIMD MATMUL tiles, written once and instantiated by
 * cpu_mm_neon.c (baseline: widening multiplies) and cpu_mm_dotprod.c
 * (SDOT). The includer defines NEON_SUFFIX and DOT4(acc, a, b): acc (int32x4)
 * plus, per lane i, the sum of the four int8 products a[4i..4i+3]*b[4i..4i+3]
 * (any grouping into lanes works here as long as each lane stays within one
 * block: lanes are only summed per block).
 *
 * Q4_0: nibbles as int8 0..15 against the Q4 layout, each block's sum
 * starting from its corr lane (-8 * sum x); Q8_0: int8 x int8.
 */
#include <arm_neon.h>
#include <string.h>

#include "cpu_matmul.h"
#include "cpu_tile.h"

#define INLINE static inline __attribute__((always_inline))
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)

INLINE float32x4_t scales4(const uint8_t *p, size_t stride)
{
    uint16_t h[4];
    for (int i = 0; i < 4; i++)
        memcpy(&h[i], p + i * stride, 2);
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}

/* [sum(s0), sum(s1), sum(s2), sum(s3)] */
INLINE int32x4_t sum4(int32x4_t s0, int32x4_t s1, int32x4_t s2, int32x4_t s3)
{
    return vpaddq_s32(vpaddq_s32(s0, s1), vpaddq_s32(s2, s3));
}

/* Each tile runs its full groups of 4 blocks in place and the partial last
 * group (K not a multiple of 128) through the same group code on a
 * padded copy of the rows' tail blocks (cpu_tile_tail_copy). A group
 * function takes the group's weight base wg (row r at wg + r * ws) and
 * the group index g into the activation columns. */

INLINE void q4_group(float32x4_t acc[4][4], const uint8_t *wg, size_t ws, const cpu_mm_tile *t,
                     int64_t g, const int MR, const int NR)
{
    const size_t bs = sizeof(ehal_block_q4_0);
    const uint8x16_t m4 = vdupq_n_u8(15);
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        const uint8_t *wb = wg + r * ws;
        int8x16_t lo[4], hi[4];
#pragma GCC unroll 4
        for (int b = 0; b < 4; b++) {
            const uint8x16_t w = vld1q_u8(wb + b * bs + 2);
            lo[b] = vreinterpretq_s8_u8(vandq_u8(w, m4));
            hi[b] = vreinterpretq_s8_u8(vshrq_n_u8(w, 4));
        }
        const float32x4_t dw = scales4(wb, bs);
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) {
            const cpu_qgroup *x = (const cpu_qgroup *)(t->x + c * t->x_stride) + g;
            int32x4_t s[4];
#pragma GCC unroll 4
            for (int b = 0; b < 4; b++) {
                s[b] = DOT4(vld1q_s32(x->corr + 4 * b), lo[b], vld1q_s8(x->qs + 16 * b));
                s[b] = DOT4(s[b], hi[b], vld1q_s8(x->qs + 64 + 16 * b));
            }
            const float32x4_t sc = vmulq_f32(dw, vld1q_f32(x->d));
            acc[r][c] = vfmaq_f32(acc[r][c], vcvtq_f32_s32(sum4(s[0], s[1], s[2], s[3])), sc);
        }
    }
}

INLINE void q8_group(float32x4_t acc[4][4], const uint8_t *wg, size_t ws, const cpu_mm_tile *t,
                     int64_t g, const int MR, const int NR)
{
    const size_t bs = sizeof(ehal_block_q8_0);
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        const uint8_t *wb = wg + r * ws;
        const float32x4_t dw = scales4(wb, bs);
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) {
            const cpu_qgroup *x = (const cpu_qgroup *)(t->x + c * t->x_stride) + g;
            int32x4_t s[4];
#pragma GCC unroll 4
            for (int b = 0; b < 4; b++) {
                const int8_t *w = (const int8_t *)(wb + b * bs + 2);
                s[b] = DOT4(vdupq_n_s32(0), vld1q_s8(w), vld1q_s8(x->qs + 32 * b));
                s[b] = DOT4(s[b], vld1q_s8(w + 16), vld1q_s8(x->qs + 32 * b + 16));
            }
            const float32x4_t sc = vmulq_f32(dw, vld1q_f32(x->d));
            acc[r][c] = vfmaq_f32(acc[r][c], vcvtq_f32_s32(sum4(s[0], s[1], s[2], s[3])), sc);
        }
    }
}

/* The tile over full groups and the padded tail, Q8 selecting the kind. */
INLINE void mm_tile(const cpu_mm_tile *t, const int MR, const int NR, const int Q8)
{
    const size_t bs = Q8 ? sizeof(ehal_block_q8_0) : sizeof(ehal_block_q4_0);
    const int64_t nb = t->K / EHAL_QK, ng = nb / 4;
    float32x4_t acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++)
            acc[r][c] = vdupq_n_f32(0.0f);
    for (int64_t g = 0; g < ng; g++) {
        if (Q8)
            q8_group(acc, t->w + (size_t)g * 4 * bs, t->w_stride, t, g, MR, NR);
        else
            q4_group(acc, t->w + (size_t)g * 4 * bs, t->w_stride, t, g, MR, NR);
    }
    if (ng * 4 < nb) {
        uint8_t tail[4 * 4 * sizeof(ehal_block_q8_0)];
        cpu_tile_tail_copy(tail, t, ng * 4, nb, bs, MR);
        if (Q8)
            q8_group(acc, tail, 4 * bs, t, ng, MR, NR);
        else
            q4_group(acc, tail, 4 * bs, t, ng, MR, NR);
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++)
            t->y[c * t->ldy + r] = vaddvq_f32(acc[r][c]);
}

INLINE void q4_tile(const cpu_mm_tile *t, const int MR, const int NR)
{
    mm_tile(t, MR, NR, 0);
}

INLINE void q8_tile(const cpu_mm_tile *t, const int MR, const int NR)
{
    mm_tile(t, MR, NR, 1);
}

void CAT(cpu_mm_q4_0_, NEON_SUFFIX)(const cpu_mm_tile *t)
{
    CPU_TILE_DISPATCH(q4_tile, t);
}

void CAT(cpu_mm_q8_0_, NEON_SUFFIX)(const cpu_mm_tile *t)
{
    CPU_TILE_DISPATCH(q8_tile, t);
}
