/*
 * Activation quantization into cpu_qgroup layouts, and the portable scalar
 * MATMUL tiles (the fallback on every CPU, and the definition the SIMD tiles
 * must agree with bit for bit in their integer parts).
 */
#include <string.h>

#include "cpu_matmul.h"

int64_t cpu_act_groups(int64_t K)
{
    return (K / EHAL_QK + 3) / 4;
}

void cpu_quantize_act(const float *x, int64_t K, int layout, cpu_qgroup *out)
{
    cpu_quantize_act_with(ehal_quantize_row_q8_0, x, K, layout, out);
}

void cpu_quantize_act_with(void (*quantize_q8_0)(const float *, ehal_block_q8_0 *, int64_t),
                           const float *x, int64_t K, int layout, cpu_qgroup *out)
{
    const int64_t nb = K / EHAL_QK;
    for (int64_t g = 0; g * 4 < nb; g++) {
        ehal_block_q8_0 blk[4];
        int nbg = nb - g * 4 < 4 ? (int)(nb - g * 4) : 4;
        quantize_q8_0(x + g * 128, blk, (int64_t)nbg * EHAL_QK);
        cpu_qgroup *q = &out[g];
        memset(q, 0, sizeof *q);
        for (int b = 0; b < nbg; b++) {
            q->d[b] = ehal_fp16_to_fp32(blk[b].d);
            if (layout == CPU_ACT_Q4 || layout == CPU_ACT_Q8S) {
                int32_t sum = 0;
                for (int j = 0; j < 16; j++) {
                    q->qs[16 * b + j] = blk[b].qs[j];
                    q->qs[64 + 16 * b + j] = blk[b].qs[16 + j];
                }
                for (int j = 0; j < 32; j++)
                    sum += blk[b].qs[j];
                q->corr[4 * b] = (layout == CPU_ACT_Q4 ? -8 : -128) * sum;
            } else {
                memcpy(q->qs + 32 * b, blk[b].qs, 32);
            }
        }
    }
}

float cpu_mm_tail_q4_0(const uint8_t *wrow, int64_t b0, int64_t nb, const cpu_qgroup *x)
{
    float acc = 0.0f;
    for (int64_t b = b0; b < nb; b++) {
        const ehal_block_q4_0 *wb = (const ehal_block_q4_0 *)(wrow + b * sizeof *wb);
        const cpu_qgroup *g = &x[b / 4];
        const int bi = (int)(b % 4);
        int32_t isum = g->corr[4 * bi];
        for (int j = 0; j < 16; j++) {
            isum += (int32_t)(wb->qs[j] & 15) * g->qs[16 * bi + j];
            isum += (int32_t)(wb->qs[j] >> 4) * g->qs[64 + 16 * bi + j];
        }
        acc += ehal_fp16_to_fp32(wb->d) * g->d[bi] * (float)isum;
    }
    return acc;
}

float cpu_mm_tail_q8_0(const uint8_t *wrow, int64_t b0, int64_t nb, const cpu_qgroup *x)
{
    float acc = 0.0f;
    for (int64_t b = b0; b < nb; b++) {
        const ehal_block_q8_0 *wb = (const ehal_block_q8_0 *)(wrow + b * sizeof *wb);
        const cpu_qgroup *g = &x[b / 4];
        const int bi = (int)(b % 4);
        int32_t isum = 0;
        for (int j = 0; j < 32; j++)
            isum += (int32_t)wb->qs[j] * g->qs[32 * bi + j];
        acc += ehal_fp16_to_fp32(wb->d) * g->d[bi] * (float)isum;
    }
    return acc;
}

void cpu_mm_q4_0_scalar(const cpu_mm_tile *t)
{
    for (int c = 0; c < t->nc; c++)
        for (int r = 0; r < t->mr; r++)
            t->y[c * t->ldy + r] =
                cpu_mm_tail_q4_0(t->w + r * t->w_stride, 0, t->K / EHAL_QK,
                                 (const cpu_qgroup *)(t->x + c * t->x_stride));
}

void cpu_mm_q8_0_scalar(const cpu_mm_tile *t)
{
    for (int c = 0; c < t->nc; c++)
        for (int r = 0; r < t->mr; r++)
            t->y[c * t->ldy + r] =
                cpu_mm_tail_q8_0(t->w + r * t->w_stride, 0, t->K / EHAL_QK,
                                 (const cpu_qgroup *)(t->x + c * t->x_stride));
}

void cpu_mm_f16_scalar(const cpu_mm_tile *t)
{
    for (int c = 0; c < t->nc; c++) {
        const float *x = (const float *)(t->x + c * t->x_stride);
        for (int r = 0; r < t->mr; r++) {
            const uint16_t *w = (const uint16_t *)(t->w + r * t->w_stride);
            float acc = 0.0f;
            for (int64_t k = 0; k < t->K; k++)
                acc += ehal_fp16_to_fp32(w[k]) * x[k];
            t->y[c * t->ldy + r] = acc;
        }
    }
}
