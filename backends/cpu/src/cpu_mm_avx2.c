/*
 * AVX2 + FMA + F16C MATMUL tiles (built with -mavx2 -mfma -mf16c; called
 * only when cpu_isa_enabled(CPU_ISA_AVX2)). Integer dot products use
 * vpmaddubsw (u8 x s8 -> s16 pairs) and vpmaddwd: Q4_0 nibbles are
 * unsigned 0..15 (the -8 offset is the layout's corr term), Q8_0 uses the
 * sign trick |w| x sign(w)*x. No s16 pair sum can saturate: the activation
 * quantizer's values lie in [-127, 127].
 *
 * Each tile is specialised for its (mr, nc) by always-inline templates so
 * the accumulators live in registers.
 */
#include <immintrin.h>
#include <string.h>

#include "cpu_matmul.h"
#include "cpu_tile.h"

#define INLINE static inline __attribute__((always_inline))

INLINE float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE uint16_t ld16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return h;
}

/* fp16 scales of 4 blocks `stride` bytes apart, as floats. */
INLINE __m128 scales4(const uint8_t *p, size_t stride)
{
    __m128i h = _mm_set_epi16(0, 0, 0, 0, (short)ld16(p + 3 * stride), (short)ld16(p + 2 * stride),
                              (short)ld16(p + stride), (short)ld16(p));
    return _mm_cvtph_ps(h);
}

/* ---- Q4_0 ------------------------------------------------------------ */

INLINE __m256i q4_load_pair(const uint8_t *blk)
{
    __m128i a = _mm_loadu_si128((const __m128i *)(blk + 2));
    __m128i b = _mm_loadu_si128((const __m128i *)(blk + sizeof(ehal_block_q4_0) + 2));
    return _mm256_set_m128i(b, a);
}

INLINE __m256i q4_dot_half(__m256i wlo, __m256i whi, const cpu_qgroup *x, int half)
{
    const __m256i alo = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * half));
    const __m256i ahi = _mm256_loadu_si256((const __m256i *)(x->qs + 64 + 32 * half));
    __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(wlo, alo), _mm256_maddubs_epi16(whi, ahi));
    __m256i s = _mm256_madd_epi16(p, _mm256_set1_epi16(1));
    return _mm256_add_epi32(s, _mm256_loadu_si256((const __m256i *)(x->corr + 8 * half)));
}

INLINE void q4_tile(const cpu_mm_tile *t, const int MR, const int NR)
{
    const int64_t nb = t->K / EHAL_QK, ng = nb / 4;
    const size_t bs = sizeof(ehal_block_q4_0);
    const __m256i m4 = _mm256_set1_epi8(15);
    const __m256i idx0 = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    const __m256i idx1 = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);
    __m256 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++)
            acc[r][c] = _mm256_setzero_ps();
    for (int64_t g = 0; g < ng; g++) {
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++) {
            const uint8_t *wb = t->w + r * t->w_stride + (size_t)g * 4 * bs;
            const __m256i w01 = q4_load_pair(wb), w23 = q4_load_pair(wb + 2 * bs);
            const __m256i lo01 = _mm256_and_si256(w01, m4);
            const __m256i hi01 = _mm256_and_si256(_mm256_srli_epi16(w01, 4), m4);
            const __m256i lo23 = _mm256_and_si256(w23, m4);
            const __m256i hi23 = _mm256_and_si256(_mm256_srli_epi16(w23, 4), m4);
            const __m128 dw = scales4(wb, bs);
#pragma GCC unroll 4
            for (int c = 0; c < NR; c++) {
                const cpu_qgroup *x = (const cpu_qgroup *)(t->x + c * t->x_stride) + g;
                const __m256 s4 = _mm256_castps128_ps256(_mm_mul_ps(dw, _mm_loadu_ps(x->d)));
                acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q4_dot_half(lo01, hi01, x, 0)),
                                            _mm256_permutevar8x32_ps(s4, idx0), acc[r][c]);
                acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q4_dot_half(lo23, hi23, x, 1)),
                                            _mm256_permutevar8x32_ps(s4, idx1), acc[r][c]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) {
            const uint8_t *wrow = t->w + r * t->w_stride;
            const cpu_qgroup *x = (const cpu_qgroup *)(t->x + c * t->x_stride);
            float v = hsum256(acc[r][c]);
            if (ng * 4 < nb)
                v += cpu_mm_tail_q4_0(wrow, ng * 4, nb, x);
            t->y[c * t->ldy + r] = v;
        }
}

/* ---- Q8_0 ------------------------------------------------------------ */

INLINE void q8_tile(const cpu_mm_tile *t, const int MR, const int NR)
{
    const int64_t nb = t->K / EHAL_QK, ng = nb / 4;
    const size_t bs = sizeof(ehal_block_q8_0);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++)
            acc[r][c] = _mm256_setzero_ps();
    for (int64_t g = 0; g < ng; g++) {
        float sc[4][4][4]; /* [r][c][block] */
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++) {
            const __m128 dw = scales4(t->w + r * t->w_stride + (size_t)g * 4 * bs, bs);
#pragma GCC unroll 4
            for (int c = 0; c < NR; c++) {
                const cpu_qgroup *x = (const cpu_qgroup *)(t->x + c * t->x_stride) + g;
                _mm_storeu_ps(sc[r][c], _mm_mul_ps(dw, _mm_loadu_ps(x->d)));
            }
        }
        for (int b = 0; b < 4; b++) {
#pragma GCC unroll 4
            for (int r = 0; r < MR; r++) {
                const uint8_t *wb = t->w + r * t->w_stride + (size_t)(g * 4 + b) * bs + 2;
                const __m256i w = _mm256_loadu_si256((const __m256i *)wb);
                const __m256i aw = _mm256_sign_epi8(w, w);
#pragma GCC unroll 4
                for (int c = 0; c < NR; c++) {
                    const cpu_qgroup *x = (const cpu_qgroup *)(t->x + c * t->x_stride) + g;
                    const __m256i a = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * b));
                    const __m256i p = _mm256_madd_epi16(
                        _mm256_maddubs_epi16(aw, _mm256_sign_epi8(a, w)), ones);
                    acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p),
                                                _mm256_set1_ps(sc[r][c][b]), acc[r][c]);
                }
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) {
            const uint8_t *wrow = t->w + r * t->w_stride;
            const cpu_qgroup *x = (const cpu_qgroup *)(t->x + c * t->x_stride);
            float v = hsum256(acc[r][c]);
            if (ng * 4 < nb)
                v += cpu_mm_tail_q8_0(wrow, ng * 4, nb, x);
            t->y[c * t->ldy + r] = v;
        }
}

/* ---- F16 x F32 ------------------------------------------------------- */

INLINE void f16_tile(const cpu_mm_tile *t, const int MR, const int NR)
{
    const int64_t K = t->K, K8 = K / 8 * 8;
    __m256 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++)
            acc[r][c] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K8; k += 8) {
        __m256 w[4];
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++)
            w[r] = _mm256_cvtph_ps(
                _mm_loadu_si128((const __m128i *)(t->w + r * t->w_stride + (size_t)k * 2)));
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) {
            const __m256 x = _mm256_loadu_ps((const float *)(t->x + c * t->x_stride) + k);
#pragma GCC unroll 4
            for (int r = 0; r < MR; r++)
                acc[r][c] = _mm256_fmadd_ps(w[r], x, acc[r][c]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) {
            const uint8_t *wrow = t->w + r * t->w_stride;
            const float *x = (const float *)(t->x + c * t->x_stride);
            float v = hsum256(acc[r][c]);
            for (int64_t k = K8; k < K; k++)
                v += _cvtsh_ss(ld16(wrow + k * 2)) * x[k];
            t->y[c * t->ldy + r] = v;
        }
}

void cpu_mm_q4_0_avx2(const cpu_mm_tile *t)
{
    CPU_TILE_DISPATCH(q4_tile, t);
}

void cpu_mm_q8_0_avx2(const cpu_mm_tile *t)
{
    CPU_TILE_DISPATCH(q8_tile, t);
}

void cpu_mm_f16_avx2(const cpu_mm_tile *t)
{
    CPU_TILE_DISPATCH(f16_tile, t);
}
