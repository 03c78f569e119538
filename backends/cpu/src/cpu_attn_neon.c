/* Advanced SIMD attention row kernels (every AArch64 CPU; see cpu_attn.h).
 * Each K/V chunk is converted to float once and used for all G heads. */
#include <arm_neon.h>
#include <string.h>

#include "cpu_attn.h"
#include "edgehal/quant.h"

static inline float32x4_t f16x4(const uint16_t *p)
{
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

void cpu_attn_qk_f16_neon(const float *q, int G, const void *krow, int64_t D, float *s)
{
    const uint16_t *k = krow;
    float32x4_t acc[CPU_ATTN_MAX_G];
    for (int g = 0; g < G; g++)
        acc[g] = vdupq_n_f32(0.0f);
    const int64_t D4 = D / 4 * 4;
    for (int64_t d = 0; d < D4; d += 4) {
        const float32x4_t kv = f16x4(k + d);
        for (int g = 0; g < G; g++)
            acc[g] = vfmaq_f32(acc[g], vld1q_f32(q + g * D + d), kv);
    }
    for (int g = 0; g < G; g++) {
        float v = vaddvq_f32(acc[g]);
        for (int64_t d = D4; d < D; d++)
            v += q[g * D + d] * ehal_fp16_to_fp32(k[d]);
        s[g] = v;
    }
}

void cpu_attn_pv_f16_neon(float *acc, const float *p, int G, const void *vrow, int64_t D)
{
    const uint16_t *v = vrow;
    const int64_t D4 = D / 4 * 4;
    for (int64_t d = 0; d < D4; d += 4) {
        const float32x4_t x = f16x4(v + d);
        for (int g = 0; g < G; g++) {
            float *a = acc + g * D + d;
            vst1q_f32(a, vfmaq_n_f32(vld1q_f32(a), x, p[g]));
        }
    }
    for (int64_t d = D4; d < D; d++) {
        const float x = ehal_fp16_to_fp32(v[d]);
        for (int g = 0; g < G; g++)
            acc[g * D + d] += p[g] * x;
    }
}

/* 32 int8 of a Q8_0 block times its scale, as 8 float vectors. */
static inline void q8_block(const ehal_block_q8_0 *b, float32x4_t out[8])
{
    const float d = ehal_fp16_to_fp32(b->d);
    for (int h = 0; h < 2; h++) {
        const int8x16_t v = vld1q_s8(b->qs + 16 * h);
        const int16x8_t lo = vmovl_s8(vget_low_s8(v)), hi = vmovl_high_s8(v);
        out[4 * h + 0] = vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), d);
        out[4 * h + 1] = vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), d);
        out[4 * h + 2] = vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), d);
        out[4 * h + 3] = vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), d);
    }
}

void cpu_attn_qk_q8_0_neon(const float *q, int G, const void *krow, int64_t D, float *s)
{
    const ehal_block_q8_0 *k = krow;
    float32x4_t acc[CPU_ATTN_MAX_G];
    for (int g = 0; g < G; g++)
        acc[g] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < D / EHAL_QK; b++) {
        float32x4_t kv[8];
        q8_block(&k[b], kv);
        for (int g = 0; g < G; g++)
            for (int i = 0; i < 8; i++)
                acc[g] = vfmaq_f32(acc[g], vld1q_f32(q + g * D + b * EHAL_QK + 4 * i), kv[i]);
    }
    for (int g = 0; g < G; g++)
        s[g] = vaddvq_f32(acc[g]);
}

void cpu_attn_pv_q8_0_neon(float *acc, const float *p, int G, const void *vrow, int64_t D)
{
    const ehal_block_q8_0 *v = vrow;
    for (int64_t b = 0; b < D / EHAL_QK; b++) {
        float32x4_t x[8];
        q8_block(&v[b], x);
        for (int g = 0; g < G; g++)
            for (int i = 0; i < 8; i++) {
                float *a = acc + g * D + b * EHAL_QK + 4 * i;
                vst1q_f32(a, vfmaq_n_f32(vld1q_f32(a), x[i], p[g]));
            }
    }
}

/* A group of G <= 6 heads scores two keys per pass (2G accumulators);
 * returns the keys done (even). */
static inline __attribute__((always_inline)) int
qk_pairs_f16(const float *q, const int G, const uint8_t *rows, uint64_t row_bytes,
             const int64_t *slots, int n, int64_t D, float *s)
{
    const int64_t D4 = D / 4 * 4;
    int i = 0;
    for (; i + 2 <= n; i += 2) {
        const uint16_t *k0 = (const uint16_t *)(rows + (uint64_t)slots[i] * row_bytes);
        const uint16_t *k1 = (const uint16_t *)(rows + (uint64_t)slots[i + 1] * row_bytes);
        float32x4_t a0[6], a1[6];
        for (int g = 0; g < G; g++)
            a0[g] = a1[g] = vdupq_n_f32(0.0f);
        for (int64_t d = 0; d < D4; d += 4) {
            const float32x4_t x0 = f16x4(k0 + d), x1 = f16x4(k1 + d);
            for (int g = 0; g < G; g++) {
                const float32x4_t qv = vld1q_f32(q + g * D + d);
                a0[g] = vfmaq_f32(a0[g], qv, x0);
                a1[g] = vfmaq_f32(a1[g], qv, x1);
            }
        }
        for (int g = 0; g < G; g++) {
            float v0 = vaddvq_f32(a0[g]), v1 = vaddvq_f32(a1[g]);
            for (int64_t d = D4; d < D; d++) {
                v0 += q[g * D + d] * ehal_fp16_to_fp32(k0[d]);
                v1 += q[g * D + d] * ehal_fp16_to_fp32(k1[d]);
            }
            s[i * G + g] = v0;
            s[(i + 1) * G + g] = v1;
        }
    }
    return i;
}

/* A group of G <= 8 heads: NV * 4 output dims of all G heads (NV * G <= 16
 * registers) held across the tile, each V chunk converted once. */
static inline __attribute__((always_inline)) void
pv_group_chunk(float *acc, const float *p, const int G, const uint8_t *rows, uint64_t row_bytes,
               const int64_t *slots, int n, int64_t D, int64_t d0, const int NV)
{
    float32x4_t a[8][4];
    for (int g = 0; g < G; g++)
        for (int k = 0; k < NV; k++)
            a[g][k] = vld1q_f32(acc + g * D + d0 + 4 * k);
    for (int i = 0; i < n; i++) {
        const uint16_t *v = (const uint16_t *)(rows + (uint64_t)slots[i] * row_bytes) + d0;
        float32x4_t x[4];
        for (int k = 0; k < NV; k++)
            x[k] = f16x4(v + 4 * k);
        for (int g = 0; g < G; g++)
            for (int k = 0; k < NV; k++)
                a[g][k] = vfmaq_n_f32(a[g][k], x[k], p[i * G + g]);
    }
    for (int g = 0; g < G; g++)
        for (int k = 0; k < NV; k++)
            vst1q_f32(acc + g * D + d0 + 4 * k, a[g][k]);
}

static inline __attribute__((always_inline)) void
pv_group_f16(float *acc, const float *p, const int G, const uint8_t *rows, uint64_t row_bytes,
             const int64_t *slots, int n, int64_t D)
{
    const int64_t D4 = D / 4 * 4;
    const int NV = G <= 4 ? 4 : 2;
    int64_t d0 = 0;
    for (; d0 + 4 * NV <= D4; d0 += 4 * NV)
        pv_group_chunk(acc, p, G, rows, row_bytes, slots, n, D, d0, NV);
    for (; d0 < D4; d0 += 4)
        pv_group_chunk(acc, p, G, rows, row_bytes, slots, n, D, d0, 1);
    for (int64_t d = D4; d < D; d++)
        for (int i = 0; i < n; i++) {
            const float x = ehal_fp16_to_fp32(
                ((const uint16_t *)(rows + (uint64_t)slots[i] * row_bytes))[d]);
            for (int g = 0; g < G; g++)
                acc[g * D + d] += p[i * G + g] * x;
        }
}

/* One query head (G == 1) scores four keys per pass with four accumulators
 * and one pairwise reduction; groups of up to 6 heads two keys per pass;
 * larger groups take the row kernel. */
void cpu_attn_qk_tile_f16_neon(const float *q, int G, const uint8_t *rows, uint64_t row_bytes,
                               const int64_t *slots, int n, int64_t D, float *s)
{
    int i = 0;
    if (G == 1) {
        const int64_t D4 = D / 4 * 4;
        for (; i + 4 <= n; i += 4) {
            const uint16_t *k[4];
            float32x4_t a[4];
            for (int r = 0; r < 4; r++) {
                k[r] = (const uint16_t *)(rows + (uint64_t)slots[i + r] * row_bytes);
                a[r] = vdupq_n_f32(0.0f);
            }
            for (int64_t d = 0; d < D4; d += 4) {
                const float32x4_t qv = vld1q_f32(q + d);
                for (int r = 0; r < 4; r++)
                    a[r] = vfmaq_f32(a[r], qv, f16x4(k[r] + d));
            }
            vst1q_f32(s + i, vpaddq_f32(vpaddq_f32(a[0], a[1]), vpaddq_f32(a[2], a[3])));
            for (int64_t d = D4; d < D; d++)
                for (int r = 0; r < 4; r++)
                    s[i + r] += q[d] * ehal_fp16_to_fp32(k[r][d]);
        }
    }
    if (G > 1 && G <= 6) {
        switch (G) {
        case 2: i = qk_pairs_f16(q, 2, rows, row_bytes, slots, n, D, s); break;
        case 3: i = qk_pairs_f16(q, 3, rows, row_bytes, slots, n, D, s); break;
        case 4: i = qk_pairs_f16(q, 4, rows, row_bytes, slots, n, D, s); break;
        case 5: i = qk_pairs_f16(q, 5, rows, row_bytes, slots, n, D, s); break;
        default: i = qk_pairs_f16(q, 6, rows, row_bytes, slots, n, D, s); break;
        }
    }
    for (; i < n; i++)
        cpu_attn_qk_f16_neon(q, G, rows + (uint64_t)slots[i] * row_bytes, D, s + i * G);
}

/* acc[0 .. 4*NV) += sum_i p[i] * row i[d0 ..], held in registers. */
static inline __attribute__((always_inline)) void
pv_chunk_f16(float *acc, const float *p, const uint8_t *rows, uint64_t row_bytes,
             const int64_t *slots, int n, int64_t d0, const int NV)
{
    float32x4_t a[16];
    for (int k = 0; k < NV; k++)
        a[k] = vld1q_f32(acc + 4 * k);
    for (int i = 0; i < n; i++) {
        const uint16_t *v = (const uint16_t *)(rows + (uint64_t)slots[i] * row_bytes) + d0;
        for (int k = 0; k < NV; k++)
            a[k] = vfmaq_n_f32(a[k], f16x4(v + 4 * k), p[i]);
    }
    for (int k = 0; k < NV; k++)
        vst1q_f32(acc + 4 * k, a[k]);
}

void cpu_attn_pv_tile_f16_neon(float *acc, const float *p, int G, const uint8_t *rows,
                               uint64_t row_bytes, const int64_t *slots, int n, int64_t D)
{
    if (G != 1) {
        switch (G) {
        case 2: pv_group_f16(acc, p, 2, rows, row_bytes, slots, n, D); break;
        case 3: pv_group_f16(acc, p, 3, rows, row_bytes, slots, n, D); break;
        case 4: pv_group_f16(acc, p, 4, rows, row_bytes, slots, n, D); break;
        case 5: pv_group_f16(acc, p, 5, rows, row_bytes, slots, n, D); break;
        case 6: pv_group_f16(acc, p, 6, rows, row_bytes, slots, n, D); break;
        case 7: pv_group_f16(acc, p, 7, rows, row_bytes, slots, n, D); break;
        default: pv_group_f16(acc, p, 8, rows, row_bytes, slots, n, D); break;
        }
        return;
    }
    const int64_t D4 = D / 4 * 4;
    for (int64_t d0 = 0; d0 < D4; d0 += 64) {
        const int64_t left = (D4 - d0) / 4;
        float *a = acc + d0;
        switch (left < 16 ? left : 16) {
#define PV_CASE(k)                                                                             \
    case k: pv_chunk_f16(a, p, rows, row_bytes, slots, n, d0, k); break;
            PV_CASE(1) PV_CASE(2) PV_CASE(3) PV_CASE(4) PV_CASE(5) PV_CASE(6) PV_CASE(7)
            PV_CASE(8) PV_CASE(9) PV_CASE(10) PV_CASE(11) PV_CASE(12) PV_CASE(13) PV_CASE(14)
            PV_CASE(15)
#undef PV_CASE
        default: pv_chunk_f16(a, p, rows, row_bytes, slots, n, d0, 16); break;
        }
    }
    for (int64_t d = D4; d < D; d++)
        for (int i = 0; i < n; i++)
            acc[d] += p[i] * ehal_fp16_to_fp32(
                                 ((const uint16_t *)(rows + (uint64_t)slots[i] * row_bytes))[d]);
}

/* 8 values of a Q8_0 row from dim d (a multiple of 8) times the block
 * scale, as two vectors (as q8_block computes them). */
static inline __attribute__((always_inline)) void q8_vec8(const ehal_block_q8_0 *row, int64_t d,
                                                          float32x4_t out[2])
{
    const ehal_block_q8_0 *b = row + d / EHAL_QK;
    const float sc = ehal_fp16_to_fp32(b->d);
    const int16x8_t w = vmovl_s8(vld1_s8(b->qs + d % EHAL_QK));
    out[0] = vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(w))), sc);
    out[1] = vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(w)), sc);
}

/* One query head: four keys per pass, as the F16 tile; groups take the
 * row kernel. */
void cpu_attn_qk_tile_q8_0_neon(const float *q, int G, const uint8_t *rows, uint64_t row_bytes,
                                const int64_t *slots, int n, int64_t D, float *s)
{
    int i = 0;
    if (G == 1)
        for (; i + 4 <= n; i += 4) {
            const ehal_block_q8_0 *k[4];
            float32x4_t a[4];
            for (int r = 0; r < 4; r++) {
                k[r] = (const ehal_block_q8_0 *)(rows + (uint64_t)slots[i + r] * row_bytes);
                a[r] = vdupq_n_f32(0.0f);
            }
            for (int64_t d = 0; d < D; d += 8) {
                const float32x4_t q0 = vld1q_f32(q + d), q1 = vld1q_f32(q + d + 4);
                for (int r = 0; r < 4; r++) {
                    float32x4_t x[2];
                    q8_vec8(k[r], d, x);
                    a[r] = vfmaq_f32(vfmaq_f32(a[r], q0, x[0]), q1, x[1]);
                }
            }
            vst1q_f32(s + i, vpaddq_f32(vpaddq_f32(a[0], a[1]), vpaddq_f32(a[2], a[3])));
        }
    for (; i < n; i++)
        cpu_attn_qk_q8_0_neon(q, G, rows + (uint64_t)slots[i] * row_bytes, D, s + i * G);
}

/* acc[g*D + d0 .. + 8*NV) of all G heads in registers across the tile
 * (2 * NV * G <= 16 vectors). */
static inline __attribute__((always_inline)) void
pv_chunk_q8(float *acc, const float *p, const int G, const uint8_t *rows, uint64_t row_bytes,
            const int64_t *slots, int n, int64_t D, int64_t d0, const int NV)
{
    float32x4_t a[8][8];
    for (int g = 0; g < G; g++)
        for (int k = 0; k < 2 * NV; k++)
            a[g][k] = vld1q_f32(acc + g * D + d0 + 4 * k);
    for (int i = 0; i < n; i++) {
        const ehal_block_q8_0 *v = (const ehal_block_q8_0 *)(rows + (uint64_t)slots[i] * row_bytes);
        float32x4_t x[8];
        for (int k = 0; k < NV; k++)
            q8_vec8(v, d0 + 8 * k, x + 2 * k);
        for (int g = 0; g < G; g++)
            for (int k = 0; k < 2 * NV; k++)
                a[g][k] = vfmaq_n_f32(a[g][k], x[k], p[i * G + g]);
    }
    for (int g = 0; g < G; g++)
        for (int k = 0; k < 2 * NV; k++)
            vst1q_f32(acc + g * D + d0 + 4 * k, a[g][k]);
}

static inline __attribute__((always_inline)) void
pv_tile_q8(float *acc, const float *p, const int G, const uint8_t *rows, uint64_t row_bytes,
           const int64_t *slots, int n, int64_t D)
{
    const int NV = G <= 2 ? 4 : G <= 4 ? 2 : 1; /* 8-dim units; 2 * NV * G <= 16 */
    for (int64_t d0 = 0; d0 < D; d0 += 8 * NV)
        pv_chunk_q8(acc, p, G, rows, row_bytes, slots, n, D, d0, NV);
}

void cpu_attn_pv_tile_q8_0_neon(float *acc, const float *p, int G, const uint8_t *rows,
                                uint64_t row_bytes, const int64_t *slots, int n, int64_t D)
{
    switch (G) {
    case 1: pv_tile_q8(acc, p, 1, rows, row_bytes, slots, n, D); break;
    case 2: pv_tile_q8(acc, p, 2, rows, row_bytes, slots, n, D); break;
    case 3: pv_tile_q8(acc, p, 3, rows, row_bytes, slots, n, D); break;
    case 4: pv_tile_q8(acc, p, 4, rows, row_bytes, slots, n, D); break;
    case 5: pv_tile_q8(acc, p, 5, rows, row_bytes, slots, n, D); break;
    case 6: pv_tile_q8(acc, p, 6, rows, row_bytes, slots, n, D); break;
    case 7: pv_tile_q8(acc, p, 7, rows, row_bytes, slots, n, D); break;
    default: pv_tile_q8(acc, p, 8, rows, row_bytes, slots, n, D); break;
    }
}
