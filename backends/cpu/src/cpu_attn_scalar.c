/* Portable attention row kernels (see cpu_attn.h for the contract). */
#include "cpu_attn.h"
#include "edgehal/quant.h"

void cpu_attn_qk_f16_scalar(const float *q, int G, const void *krow, int64_t D, float *s)
{
    const uint16_t *k = krow;
    for (int g = 0; g < G; g++) {
        float acc = 0.0f;
        for (int64_t d = 0; d < D; d++)
            acc += q[g * D + d] * ehal_fp16_to_fp32(k[d]);
        s[g] = acc;
    }
}

void cpu_attn_pv_f16_scalar(float *acc, const float *p, int G, const void *vrow, int64_t D)
{
    const uint16_t *v = vrow;
    for (int64_t d = 0; d < D; d++) {
        const float x = ehal_fp16_to_fp32(v[d]);
        for (int g = 0; g < G; g++)
            acc[g * D + d] += p[g] * x;
    }
}

void cpu_attn_qk_q8_0_scalar(const float *q, int G, const void *krow, int64_t D, float *s)
{
    const ehal_block_q8_0 *k = krow;
    for (int g = 0; g < G; g++) {
        float acc = 0.0f;
        for (int64_t b = 0; b < D / EHAL_QK; b++) {
            float part = 0.0f;
            for (int i = 0; i < EHAL_QK; i++)
                part += q[g * D + b * EHAL_QK + i] * (float)k[b].qs[i];
            acc += part * ehal_fp16_to_fp32(k[b].d);
        }
        s[g] = acc;
    }
}

void cpu_attn_pv_q8_0_scalar(float *acc, const float *p, int G, const void *vrow, int64_t D)
{
    const ehal_block_q8_0 *v = vrow;
    for (int64_t b = 0; b < D / EHAL_QK; b++) {
        const float d = ehal_fp16_to_fp32(v[b].d);
        for (int i = 0; i < EHAL_QK; i++) {
            const float x = d * (float)v[b].qs[i];
            for (int g = 0; g < G; g++)
                acc[g * D + b * EHAL_QK + i] += p[g] * x;
        }
    }
}

CPU_ATTN_TILE_LOOPS(f16_scalar, cpu_attn_qk_f16_scalar, cpu_attn_pv_f16_scalar)
CPU_ATTN_TILE_LOOPS(q8_0_scalar, cpu_attn_qk_q8_0_scalar, cpu_attn_pv_q8_0_scalar)
