/*
 * ATTENTION row kernels: one table (the attention family) of variants per
 * KV-cache dtype, named kvdtype_attention_qk_pv__isa. A variant supplies the
 * two inner loops of a tiled online-softmax attention, each over G query
 * heads that share one KV head (grouped-query attention reads every K and V
 * row once for the whole group, without copies):
 *   qk: s[g] = dot(q[g*D .. g*D+D), K row)               for g < G
 *   pv: acc[g*D + d] = acc[g*D + d] * 1 + p[g] * V row[d]  for g < G
 * D is the head dim (a multiple of 32 for Q8_0 rows, any for F16).
 * The tile forms run the same over n <= 64 cache rows at once (row i at
 * rows + slots[i] * row_bytes), so a variant keeps its accumulators in
 * registers across keys and the driver makes one call per tile:
 *   qk_tile: s[i*G + g] = dot(q[g*D ..], row i)         for i < n, g < G
 *   pv_tile: acc[g*D + d] += sum_i p[i*G + g] * row i[d]
 */
#ifndef EHAL_CPU_ATTN_H
#define EHAL_CPU_ATTN_H

#include <stdint.h>

#include "cpu_isa.h"
#include "edgehal/backend_abi.h"

#define CPU_ATTN_MAX_G 8 /* heads per call; larger groups are split */

typedef void (*cpu_attn_qk_fn)(const float *q, int G, const void *krow, int64_t D, float *s);
typedef void (*cpu_attn_pv_fn)(float *acc, const float *p, int G, const void *vrow, int64_t D);
typedef void (*cpu_attn_qk_tile_fn)(const float *q, int G, const uint8_t *rows,
                                    uint64_t row_bytes, const int64_t *slots, int n, int64_t D,
                                    float *s);
typedef void (*cpu_attn_pv_tile_fn)(float *acc, const float *p, int G, const uint8_t *rows,
                                    uint64_t row_bytes, const int64_t *slots, int n, int64_t D);

typedef struct cpu_attn_variant {
    const char *name;
    uint32_t kvtype; /* dtype of the K and V caches */
    cpu_isa isa;
    cpu_attn_qk_fn qk;
    cpu_attn_pv_fn pv;
    cpu_attn_qk_tile_fn qk_tile;
    cpu_attn_pv_tile_fn pv_tile;
} cpu_attn_variant;

/* Tile forms that loop a variant's row kernels (for variants without
 * their own); `sfx` names them cpu_attn_{qk,pv}_tile_<sfx>. */
#define CPU_ATTN_TILE_LOOPS(sfx, qk_row, pv_row)                                               \
    void cpu_attn_qk_tile_##sfx(const float *q, int G, const uint8_t *rows, uint64_t row_bytes, \
                                const int64_t *slots, int n, int64_t D, float *s)               \
    {                                                                                           \
        for (int i = 0; i < n; i++)                                                             \
            qk_row(q, G, rows + (uint64_t)slots[i] * row_bytes, D, s + i * G);                  \
    }                                                                                           \
    void cpu_attn_pv_tile_##sfx(float *acc, const float *p, int G, const uint8_t *rows,         \
                                uint64_t row_bytes, const int64_t *slots, int n, int64_t D)     \
    {                                                                                           \
        for (int i = 0; i < n; i++)                                                             \
            pv_row(acc, p + i * G, G, rows + (uint64_t)slots[i] * row_bytes, D);                \
    }

/* Best first per kvtype; ends with a NULL name. */
extern const cpu_attn_variant cpu_attn_variants[];
const cpu_attn_variant *cpu_attn_pick(uint32_t kvtype);

#define CPU_ATTN_TILE_DECL(sfx)                                                                \
    void cpu_attn_qk_tile_##sfx(const float *q, int G, const uint8_t *rows, uint64_t row_bytes, \
                                const int64_t *slots, int n, int64_t D, float *s);              \
    void cpu_attn_pv_tile_##sfx(float *acc, const float *p, int G, const uint8_t *rows,         \
                                uint64_t row_bytes, const int64_t *slots, int n, int64_t D);
CPU_ATTN_TILE_DECL(f16_scalar)
CPU_ATTN_TILE_DECL(q8_0_scalar)
CPU_ATTN_TILE_DECL(f16_neon)
CPU_ATTN_TILE_DECL(q8_0_neon)
CPU_ATTN_TILE_DECL(f16_avx2)
CPU_ATTN_TILE_DECL(q8_0_avx2)

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
