/*
 * ATTENTION row kernels: one table (the attention family) of variants per
 * KV-cache dtype, named kvdtype_attention_qk_pv__isa. A variant supplies the
 * two inner loops of a tiled online-softmax attention, each over G query
 * heads that share one KV head (grouped-query attention reads every K and V
 * row once for the whole group, without copies):
 *   qk: s[g] = dot(q[g*D .. g*D+D), K row)               for g < G
 *   pv: acc[g*D + d] = acc[g*D + d] * 1 + p[g] * V row[d]  for g < G
 * D is the head dim (a multiple of 32 for Q8_0 rows, any for F16).
 */
#ifndef EHAL_CPU_ATTN_H
#define EHAL_CPU_ATTN_H

#include <stdint.h>

#include "cpu_isa.h"
#include "edgehal/backend_abi.h"

#define CPU_ATTN_MAX_G 8 /* heads per call; larger groups are split */

typedef void (*cpu_attn_qk_fn)(const float *q, int G, const void *krow, int64_t D, float *s);
typedef void (*cpu_attn_pv_fn)(float *acc, const float *p, int G, const void *vrow, int64_t D);

typedef struct cpu_attn_variant {
    const char *name;
    uint32_t kvtype; /* dtype of the K and V caches */
    cpu_isa isa;
    cpu_attn_qk_fn qk;
    cpu_attn_pv_fn pv;
} cpu_attn_variant;

/* Best first per kvtype; ends with a NULL name. */
extern const cpu_attn_variant cpu_attn_variants[];
const cpu_attn_variant *cpu_attn_pick(uint32_t kvtype);

void cpu_attn_qk_f16_scalar(const float *q, int G, const void *krow, int64_t D, float *s);
void cpu_attn_pv_f16_scalar(float *acc, const float *p, int G, const void *vrow, int64_t D);
void cpu_attn_qk_q8_0_scalar(const float *q, int G, const void *krow, int64_t D, float *s);
void cpu_attn_pv_q8_0_scalar(float *acc, const float *p, int G, const void *vrow, int64_t D);
void cpu_attn_qk_f16_neon(const float *q, int G, const void *krow, int64_t D, float *s);
void cpu_attn_pv_f16_neon(float *acc, const float *p, int G, const void *vrow, int64_t D);
void cpu_attn_qk_q8_0_neon(const float *q, int G, const void *krow, int64_t D, float *s);
void cpu_attn_pv_q8_0_neon(float *acc, const float *p, int G, const void *vrow, int64_t D);
void cpu_attn_qk_f16_avx2(const float *q, int G, const void *krow, int64_t D, float *s);
void cpu_attn_pv_f16_avx2(float *acc, const float *p, int G, const void *vrow, int64_t D);
void cpu_attn_qk_q8_0_avx2(const float *q, int G, const void *krow, int64_t D, float *s);
void cpu_attn_pv_q8_0_avx2(float *acc, const float *p, int G, const void *vrow, int64_t D);

/* Runs the ATTENTION node in a with variant v over the pool (NULL: on the
 * caller). UNSUPPORTED, nothing written, for what it does not cover
 * (another KV dtype, positions the reference rejects). */
struct cpu_pool;
struct ehal_kernel_args;
ehal_status_t cpu_attention_run(struct cpu_pool *pool, const cpu_attn_variant *v,
                                const struct ehal_kernel_args *a,
                                const ehal_host_services *host);

#endif
