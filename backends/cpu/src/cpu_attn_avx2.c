/*
 * AVX2 + FMA + F16C attention row kernels (see cpu_attn.h; built with
 * -mavx2 -mfma -mf16c, called only when cpu_isa_enabled(CPU_ISA_AVX2)).
 * Each K/V chunk is converted to float once and used for all G heads.
 */
#include <immintrin.h>
#include <string.h>

#include "cpu_attn.h"
#include "edgehal/quant.h"

#define INLINE static inline __attribute__((always_inline))

INLINE float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE void qk_f16(const float *q, const int G, const uint16_t *k, int64_t D, float *s)
{
    __m256 acc[CPU_ATTN_MAX_G];
    for (int g = 0; g < G; g++)
        acc[g] = _mm256_setzero_ps();
    const int64_t D8 = D / 8 * 8;
    for (int64_t d = 0; d < D8; d += 8) {
        const __m256 kv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + d)));
        for (int g = 0; g < G; g++)
            acc[g] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * D + d), kv, acc[g]);
    }
    for (int g = 0; g < G; g++) {
        float v = hsum256(acc[g]);
        for (int64_t d = D8; d < D; d++)
            v += q[g * D + d] * _cvtsh_ss(k[d]);
        s[g] = v;
    }
}

INLINE void qk_q8(const float *q, const int G, const ehal_block_q8_0 *k, int64_t D, float *s)
{
    __m256 acc[CPU_ATTN_MAX_G];
    for (int g = 0; g < G; g++)
        acc[g] = _mm256_setzero_ps();
    for (int64_t b = 0; b < D / EHAL_QK; b++) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(k[b].d));
        __m256 kv[4];
        for (int i = 0; i < 4; i++) {
            __m128i b8 = _mm_loadl_epi64((const __m128i *)(k[b].qs + 8 * i));
            kv[i] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b8)));
        }
        for (int g = 0; g < G; g++)
            for (int i = 0; i < 4; i++)
                acc[g] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * D + b * EHAL_QK + 8 * i), kv[i],
                                         acc[g]);
    }
    for (int g = 0; g < G; g++)
        s[g] = hsum256(acc[g]);
}

#define G_DISPATCH(call, G)                                                                   \
    switch (G) {                                                                              \
    case 1: call(1); break;                                                                   \
    case 2: call(2); break;                                                                   \
    case 4: call(4); break;                                                                   \
    case 8: call(8); break;                                                                   \
    default: call(G); break;                                                                  \
    }

void cpu_attn_qk_f16_avx2(const float *q, int G, const void *krow, int64_t D, float *s)
{
#define CALL(n) qk_f16(q, n, krow, D, s)
    G_DISPATCH(CALL, G)
#undef CALL
}

void cpu_attn_qk_q8_0_avx2(const float *q, int G, const void *krow, int64_t D, float *s)
{
#define CALL(n) qk_q8(q, n, krow, D, s)
    G_DISPATCH(CALL, G)
#undef CALL
}

void cpu_attn_pv_f16_avx2(float *acc, const float *p, int G, const void *vrow, int64_t D)
{
    const uint16_t *v = vrow;
    __m256 pg[CPU_ATTN_MAX_G];
    for (int g = 0; g < G; g++)
        pg[g] = _mm256_set1_ps(p[g]);
    const int64_t D8 = D / 8 * 8;
    for (int64_t d = 0; d < D8; d += 8) {
        const __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + d)));
        for (int g = 0; g < G; g++) {
            float *a = acc + g * D + d;
            _mm256_storeu_ps(a, _mm256_fmadd_ps(pg[g], x, _mm256_loadu_ps(a)));
        }
    }
    for (int64_t d = D8; d < D; d++) {
        const float x = _cvtsh_ss(v[d]);
        for (int g = 0; g < G; g++)
            acc[g * D + d] += p[g] * x;
    }
}

void cpu_attn_pv_q8_0_avx2(float *acc, const float *p, int G, const void *vrow, int64_t D)
{
    const ehal_block_q8_0 *v = vrow;
    __m256 pg[CPU_ATTN_MAX_G];
    for (int g = 0; g < G; g++)
        pg[g] = _mm256_set1_ps(p[g]);
    for (int64_t b = 0; b < D / EHAL_QK; b++) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(v[b].d));
        for (int i = 0; i < 4; i++) {
            __m128i b8 = _mm_loadl_epi64((const __m128i *)(v[b].qs + 8 * i));
            const __m256 x = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b8)));
            for (int g = 0; g < G; g++) {
                float *a = acc + g * D + b * EHAL_QK + 8 * i;
                _mm256_storeu_ps(a, _mm256_fmadd_ps(pg[g], x, _mm256_loadu_ps(a)));
            }
        }
    }
}

/* Eight scores at once: a[r] holds key r's partial sums; returns
 * (sum a[0], ..., sum a[7]). */
INLINE __m256 reduce8(const __m256 a[8])
{
    const __m256 u = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    const __m256 v = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
    return _mm256_add_ps(_mm256_permute2f128_ps(u, v, 0x20), _mm256_permute2f128_ps(u, v, 0x31));
}

/* A group of G <= 6 heads scores two keys per pass (2G accumulators), each
 * score summed as the row kernel does; returns the keys done (even). */
INLINE int qk_pairs_f16(const float *q, const int G, const uint8_t *rows, uint64_t row_bytes,
                        const int64_t *slots, int n, int64_t D, float *s)
{
    const int64_t D8 = D / 8 * 8;
    int i = 0;
    for (; i + 2 <= n; i += 2) {
        const uint16_t *k0 = (const uint16_t *)(rows + (uint64_t)slots[i] * row_bytes);
        const uint16_t *k1 = (const uint16_t *)(rows + (uint64_t)slots[i + 1] * row_bytes);
        __m256 a0[6], a1[6];
        for (int g = 0; g < G; g++)
            a0[g] = a1[g] = _mm256_setzero_ps();
        for (int64_t d = 0; d < D8; d += 8) {
            const __m256 x0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k0 + d)));
            const __m256 x1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k1 + d)));
            for (int g = 0; g < G; g++) {
                const __m256 qv = _mm256_loadu_ps(q + g * D + d);
                a0[g] = _mm256_fmadd_ps(qv, x0, a0[g]);
                a1[g] = _mm256_fmadd_ps(qv, x1, a1[g]);
            }
        }
        for (int g = 0; g < G; g++) {
            float v0 = hsum256(a0[g]), v1 = hsum256(a1[g]);
            for (int64_t d = D8; d < D; d++) {
                v0 += q[g * D + d] * _cvtsh_ss(k0[d]);
                v1 += q[g * D + d] * _cvtsh_ss(k1[d]);
            }
            s[i * G + g] = v0;
            s[(i + 1) * G + g] = v1;
        }
    }
    return i;
}

/* One query head (G == 1) scores eight keys per pass with eight
 * accumulators and one transposing reduction; groups of up to 6 heads two
 * keys per pass; larger groups take the row kernel. */
void cpu_attn_qk_tile_f16_avx2(const float *q, int G, const uint8_t *rows, uint64_t row_bytes,
                               const int64_t *slots, int n, int64_t D, float *s)
{
    int i = 0;
    if (G == 1) {
        const int64_t D8 = D / 8 * 8;
        for (; i + 8 <= n; i += 8) {
            const uint16_t *k[8];
            __m256 a[8];
            for (int r = 0; r < 8; r++) {
                k[r] = (const uint16_t *)(rows + (uint64_t)slots[i + r] * row_bytes);
                a[r] = _mm256_setzero_ps();
            }
            for (int64_t d = 0; d < D8; d += 8) {
                const __m256 qv = _mm256_loadu_ps(q + d);
                for (int r = 0; r < 8; r++)
                    a[r] = _mm256_fmadd_ps(
                        qv, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k[r] + d))), a[r]);
            }
            _mm256_storeu_ps(s + i, reduce8(a));
            for (int64_t d = D8; d < D; d++)
                for (int r = 0; r < 8; r++)
                    s[i + r] += q[d] * _cvtsh_ss(k[r][d]);
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
        cpu_attn_qk_f16_avx2(q, G, rows + (uint64_t)slots[i] * row_bytes, D, s + i * G);
}

/* acc[0 .. 8*NV) += sum_i p[i] * row i[d0 ..], the accumulators held in
 * registers across the tile (same fma order per element as the row kernel). */
INLINE void pv_chunk_f16(float *acc, const float *p, const uint8_t *rows, uint64_t row_bytes,
                         const int64_t *slots, int n, int64_t d0, const int NV)
{
    __m256 a[8];
    for (int k = 0; k < NV; k++)
        a[k] = _mm256_loadu_ps(acc + 8 * k);
    for (int i = 0; i < n; i++) {
        const uint16_t *v = (const uint16_t *)(rows + (uint64_t)slots[i] * row_bytes) + d0;
        const __m256 pi = _mm256_set1_ps(p[i]);
        for (int k = 0; k < NV; k++)
            a[k] = _mm256_fmadd_ps(pi, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + 8 * k))),
                                   a[k]);
    }
    for (int k = 0; k < NV; k++)
        _mm256_storeu_ps(acc + 8 * k, a[k]);
}

/* A group of G <= 8 heads: each 16 (G <= 4) or 8 output dims of all G
 * heads held in registers across the tile, each V chunk converted once
 * (same fma order per element as the row kernel). */
INLINE void pv_group_f16(float *acc, const float *p, const int G, const uint8_t *rows,
                         uint64_t row_bytes, const int64_t *slots, int n, int64_t D)
{
    const int64_t D8 = D / 8 * 8;
    int64_t d0 = 0;
    if (G <= 4)
        for (; d0 + 16 <= D8; d0 += 16) {
            __m256 a0[4], a1[4];
            for (int g = 0; g < G; g++) {
                a0[g] = _mm256_loadu_ps(acc + g * D + d0);
                a1[g] = _mm256_loadu_ps(acc + g * D + d0 + 8);
            }
            for (int i = 0; i < n; i++) {
                const uint16_t *v = (const uint16_t *)(rows + (uint64_t)slots[i] * row_bytes) + d0;
                const __m256 x0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)v));
                const __m256 x1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + 8)));
                for (int g = 0; g < G; g++) {
                    const __m256 pg = _mm256_set1_ps(p[i * G + g]);
                    a0[g] = _mm256_fmadd_ps(pg, x0, a0[g]);
                    a1[g] = _mm256_fmadd_ps(pg, x1, a1[g]);
                }
            }
            for (int g = 0; g < G; g++) {
                _mm256_storeu_ps(acc + g * D + d0, a0[g]);
                _mm256_storeu_ps(acc + g * D + d0 + 8, a1[g]);
            }
        }
    for (; d0 < D8; d0 += 8) {
        __m256 a[8];
        for (int g = 0; g < G; g++)
            a[g] = _mm256_loadu_ps(acc + g * D + d0);
        for (int i = 0; i < n; i++) {
            const uint16_t *v = (const uint16_t *)(rows + (uint64_t)slots[i] * row_bytes) + d0;
            const __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)v));
            for (int g = 0; g < G; g++)
                a[g] = _mm256_fmadd_ps(_mm256_set1_ps(p[i * G + g]), x, a[g]);
        }
        for (int g = 0; g < G; g++)
            _mm256_storeu_ps(acc + g * D + d0, a[g]);
    }
    for (int64_t d = D8; d < D; d++)
        for (int i = 0; i < n; i++) {
            const float x = _cvtsh_ss(((const uint16_t *)(rows + (uint64_t)slots[i] * row_bytes))[d]);
            for (int g = 0; g < G; g++)
                acc[g * D + d] += p[i * G + g] * x;
        }
}

void cpu_attn_pv_tile_f16_avx2(float *acc, const float *p, int G, const uint8_t *rows,
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
    const int64_t D8 = D / 8 * 8;
    for (int64_t d0 = 0; d0 < D8; d0 += 64) {
        const int64_t left = (D8 - d0) / 8;
        float *a = acc + d0;
        switch (left < 8 ? left : 8) {
        case 1: pv_chunk_f16(a, p, rows, row_bytes, slots, n, d0, 1); break;
        case 2: pv_chunk_f16(a, p, rows, row_bytes, slots, n, d0, 2); break;
        case 3: pv_chunk_f16(a, p, rows, row_bytes, slots, n, d0, 3); break;
        case 4: pv_chunk_f16(a, p, rows, row_bytes, slots, n, d0, 4); break;
        case 5: pv_chunk_f16(a, p, rows, row_bytes, slots, n, d0, 5); break;
        case 6: pv_chunk_f16(a, p, rows, row_bytes, slots, n, d0, 6); break;
        case 7: pv_chunk_f16(a, p, rows, row_bytes, slots, n, d0, 7); break;
        default: pv_chunk_f16(a, p, rows, row_bytes, slots, n, d0, 8); break;
        }
    }
    for (int64_t d = D8; d < D; d++)
        for (int i = 0; i < n; i++)
            acc[d] += p[i] * _cvtsh_ss(((const uint16_t *)(rows + (uint64_t)slots[i] * row_bytes))[d]);
}

/* 8 values of a Q8_0 row starting at dim d (a multiple of 8), times the
 * block scale, as the row kernels compute them. */
INLINE __m256 q8_vec(const ehal_block_q8_0 *row, int64_t d)
{
    const ehal_block_q8_0 *b = row + d / EHAL_QK;
    const __m128i b8 = _mm_loadl_epi64((const __m128i *)(b->qs + d % EHAL_QK));
    return _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(b->d)),
                         _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b8)));
}

/* One query head: eight keys per pass, as the F16 tile; groups take the
 * row kernel. */
void cpu_attn_qk_tile_q8_0_avx2(const float *q, int G, const uint8_t *rows, uint64_t row_bytes,
                                const int64_t *slots, int n, int64_t D, float *s)
{
    int i = 0;
    if (G == 1)
        for (; i + 8 <= n; i += 8) {
            const ehal_block_q8_0 *k[8];
            __m256 a[8];
            for (int r = 0; r < 8; r++) {
                k[r] = (const ehal_block_q8_0 *)(rows + (uint64_t)slots[i + r] * row_bytes);
                a[r] = _mm256_setzero_ps();
            }
            for (int64_t d = 0; d < D; d += 8) {
                const __m256 qv = _mm256_loadu_ps(q + d);
                for (int r = 0; r < 8; r++)
                    a[r] = _mm256_fmadd_ps(qv, q8_vec(k[r], d), a[r]);
            }
            _mm256_storeu_ps(s + i, reduce8(a));
        }
    for (; i < n; i++)
        cpu_attn_qk_q8_0_avx2(q, G, rows + (uint64_t)slots[i] * row_bytes, D, s + i * G);
}

/* acc[g*D + d0 .. + 8*NV) for all G heads held in registers across the
 * tile (NV * G <= 8); same mul-then-fma per element as the row kernel. */
INLINE void pv_chunk_q8(float *acc, const float *p, const int G, const uint8_t *rows,
                        uint64_t row_bytes, const int64_t *slots, int n, int64_t D, int64_t d0,
                        const int NV)
{
    __m256 a[8][4];
    for (int g = 0; g < G; g++)
        for (int k = 0; k < NV; k++)
            a[g][k] = _mm256_loadu_ps(acc + g * D + d0 + 8 * k);
    for (int i = 0; i < n; i++) {
        const ehal_block_q8_0 *v = (const ehal_block_q8_0 *)(rows + (uint64_t)slots[i] * row_bytes);
        __m256 x[4];
        for (int k = 0; k < NV; k++)
            x[k] = q8_vec(v, d0 + 8 * k);
        for (int g = 0; g < G; g++) {
            const __m256 pg = _mm256_set1_ps(p[i * G + g]);
            for (int k = 0; k < NV; k++)
                a[g][k] = _mm256_fmadd_ps(pg, x[k], a[g][k]);
        }
    }
    for (int g = 0; g < G; g++)
        for (int k = 0; k < NV; k++)
            _mm256_storeu_ps(acc + g * D + d0 + 8 * k, a[g][k]);
}

INLINE void pv_tile_q8(float *acc, const float *p, const int G, const uint8_t *rows,
                       uint64_t row_bytes, const int64_t *slots, int n, int64_t D)
{
    const int NV = G == 1 ? 4 : G == 2 ? 4 : G <= 4 ? 2 : 1; /* NV * G <= 8 */
    for (int64_t d0 = 0; d0 < D; d0 += 8 * NV)
        pv_chunk_q8(acc, p, G, rows, row_bytes, slots, n, D, d0, NV);
}

void cpu_attn_pv_tile_q8_0_avx2(float *acc, const float *p, int G, const uint8_t *rows,
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
