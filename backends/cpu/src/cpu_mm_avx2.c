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

/* Stores the sums of acc[0..MR) (one column) to y[0..MR): with MR == 4 the
 * four horizontal sums share their shuffles and one store. */
INLINE void store_col(float *y, const __m256 *acc, const int MR)
{
    if (MR == 4) {
        const __m256 h =
            _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3]));
        _mm_storeu_ps(y, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
        return;
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
        y[r] = hsum256(acc[r]);
}

INLINE uint16_t ld16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return h;
}

/* fp16 scales of 4 blocks `stride` bytes apart, as floats. The four
 * halves are put together in a general register: the vector ports are
 * what the tiles run out of, the scalar ones are idle. */
INLINE __m128 scales4(const uint8_t *p, size_t stride)
{
    const uint64_t h = (uint64_t)ld16(p) | (uint64_t)ld16(p + stride) << 16 |
                       (uint64_t)ld16(p + 2 * stride) << 32 | (uint64_t)ld16(p + 3 * stride) << 48;
    return _mm_cvtph_ps(_mm_set_epi64x(0, (long long)h));
}

/* Each tile runs its full groups of 4 blocks in place and the partial last
 * group (K not a multiple of 128) through the same group code on a padded
 * copy of the rows' tail blocks (cpu_tile_tail_copy). The group functions
 * take the group's weight base wg (row r at wg + r * ws), the group index
 * g into the activation columns, and NH, the pairs of blocks to run: 2 for
 * a group, 1 for a partial group of 1 or 2 blocks (its second pair would
 * only meet zero activations). */

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

INLINE void q4_group(__m256 acc[4][4], const uint8_t *wg, size_t ws, const cpu_mm_tile *t,
                     int64_t g, const int MR, const int NR, const int NH)
{
    const size_t bs = sizeof(ehal_block_q4_0);
    const __m256i m4 = _mm256_set1_epi8(15);
    /* a half's lanes 0-3 / 4-7 hold its first / second block */
    const __m256i idx0 = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    const __m256i idx1 = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        const uint8_t *wb = wg + r * ws;
        const __m256i w01 = q4_load_pair(wb);
        const __m256i w23 = NH > 1 ? q4_load_pair(wb + 2 * bs) : _mm256_setzero_si256();
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
            if (NH > 1)
                acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q4_dot_half(lo23, hi23, x, 1)),
                                            _mm256_permutevar8x32_ps(s4, idx1), acc[r][c]);
        }
    }
}

INLINE void q4_tile(const cpu_mm_tile *t, const int MR, const int NR)
{
    const int64_t nb = t->K / EHAL_QK, ng = nb / 4;
    const size_t bs = sizeof(ehal_block_q4_0);
    __m256 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++)
            acc[r][c] = _mm256_setzero_ps();
    const uint8_t *pf = NULL;
    for (int64_t g = 0; g < ng; g++) {
        if (t->pf != CPU_MM_PF_NONE)
            cpu_tile_prefetch(t, &pf, g + 1, 4 * bs, MR);
        q4_group(acc, t->w + (size_t)g * 4 * bs, t->w_stride, t, g, MR, NR, 2);
    }
    if (ng * 4 < nb) {
        uint8_t tail[4 * 4 * sizeof(ehal_block_q4_0)];
        cpu_tile_tail_copy(tail, t, ng * 4, nb, bs, MR);
        if (nb - ng * 4 <= 2)
            q4_group(acc, tail, 4 * bs, t, ng, MR, NR, 1);
        else
            q4_group(acc, tail, 4 * bs, t, ng, MR, NR, 2);
    }
#pragma GCC unroll 4
    for (int c = 0; c < NR; c++) {
        __m256 col[4];
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++)
            col[r] = acc[r][c];
        store_col(t->y + c * t->ldy, col, MR);
    }
}

/* ---- Q8_0 ------------------------------------------------------------ */

/* 8 int32 partial sums of one block: |w| x (x negated where w < 0). */
INLINE __m256i q8_dot(__m256i aw, __m256i w, __m256i a)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(a, w)),
                             _mm256_set1_epi16(1));
}

/* Partial sums s0, s1 of two blocks folded into one vector whose lanes
 * hold blocks [0, 0, 1, 1 | 0, 0, 1, 1]: one convert and one FMA then
 * serve both blocks. */
INLINE __m256i q8_fold2(__m256i s0, __m256i s1)
{
    return _mm256_add_epi32(_mm256_unpacklo_epi64(s0, s1), _mm256_unpackhi_epi64(s0, s1));
}

INLINE void q8_group(__m256 acc[4][4], const uint8_t *wg, size_t ws, const cpu_mm_tile *t,
                     int64_t g, const int MR, const int NR, const int NH)
{
    const size_t bs = sizeof(ehal_block_q8_0);
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        const uint8_t *wb = wg + r * ws;
        __m256i w[4], aw[4];
#pragma GCC unroll 4
        for (int b = 0; b < 2 * NH; b++) {
            w[b] = _mm256_loadu_si256((const __m256i *)(wb + b * bs + 2));
            aw[b] = _mm256_sign_epi8(w[b], w[b]);
        }
        const __m128 dw = scales4(wb, bs);
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) {
            const cpu_qgroup *x = (const cpu_qgroup *)(t->x + c * t->x_stride) + g;
            const __m128 s4 = _mm_mul_ps(dw, _mm_loadu_ps(x->d));
            const __m256 s = _mm256_set_m128(s4, s4);
            __m256i d[4];
#pragma GCC unroll 4
            for (int b = 0; b < 2 * NH; b++)
                d[b] = q8_dot(aw[b], w[b], _mm256_loadu_si256((const __m256i *)(x->qs + 32 * b)));
            acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q8_fold2(d[0], d[1])),
                                        _mm256_permute_ps(s, 0x50), acc[r][c]);
            if (NH > 1)
                acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q8_fold2(d[2], d[3])),
                                            _mm256_permute_ps(s, 0xFA), acc[r][c]);
        }
    }
}

INLINE void q8_tile(const cpu_mm_tile *t, const int MR, const int NR)
{
    const int64_t nb = t->K / EHAL_QK, ng = nb / 4;
    const size_t bs = sizeof(ehal_block_q8_0);
    __m256 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++)
            acc[r][c] = _mm256_setzero_ps();
    const uint8_t *pf = NULL;
    for (int64_t g = 0; g < ng; g++) {
        if (t->pf != CPU_MM_PF_NONE)
            cpu_tile_prefetch(t, &pf, g + 1, 4 * bs, MR);
        q8_group(acc, t->w + (size_t)g * 4 * bs, t->w_stride, t, g, MR, NR, 2);
    }
    if (ng * 4 < nb) {
        uint8_t tail[4 * 4 * sizeof(ehal_block_q8_0)];
        cpu_tile_tail_copy(tail, t, ng * 4, nb, bs, MR);
        if (nb - ng * 4 <= 2)
            q8_group(acc, tail, 4 * bs, t, ng, MR, NR, 1);
        else
            q8_group(acc, tail, 4 * bs, t, ng, MR, NR, 2);
    }
#pragma GCC unroll 4
    for (int c = 0; c < NR; c++) {
        __m256 col[4];
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++)
            col[r] = acc[r][c];
        store_col(t->y + c * t->ldy, col, MR);
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
