/*
 * AVX-512 VNNI MATMUL tiles (built with -mavx512f -mavx512bw -mavx512vl
 * -mavx512vnni -mfma -mf16c; called only when
 * cpu_isa_enabled(CPU_ISA_AVX512VNNI)). vpdpbusd multiplies unsigned by
 * signed bytes and accumulates 4 products per int32 lane:
 *  Q4_0: one zmm holds the 4 blocks of a group (16 nibble bytes each);
 *        low nibbles against qs[0..63], high against qs[64..127], the
 *        accumulation starting from the layout's corr (-8 * sum x).
 *  Q8_0: |w| against x negated where w < 0 (mask subtract), 2 blocks a zmm.
 * GEMV tiles (4x1) load a row's group as it comes. For GEMM the driver
 * has a row tile's groups unpacked once per column chunk (codes split into
 * lo / hi and scales spread to their lanes, by word permutes: the work a
 * GEMM tile did for each column tile before), and one tile (4x4) serves
 * both weight kinds: 16 accumulators, 12 row registers, each column's
 * group loaded once for the 4 rows. Q8_0 weights unpack as unsigned
 * w + 128 in the Q4 order, against the Q8S activation layout, so both
 * kinds cost 2 vpdpbusd a row, column and group.
 */
#include <immintrin.h>
#include <string.h>

#include "cpu_matmul.h"
#include "cpu_tile.h"

#define INLINE static inline __attribute__((always_inline))

INLINE uint16_t ld16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return h;
}

INLINE __m128 scales4(const uint8_t *p, size_t stride)
{
    __m128i h = _mm_set_epi16(0, 0, 0, 0, (short)ld16(p + 3 * stride), (short)ld16(p + 2 * stride),
                              (short)ld16(p + stride), (short)ld16(p));
    return _mm_cvtph_ps(h);
}

/* Each tile runs its full groups of 4 blocks in place and the partial last
 * group (K not a multiple of 128) through the same group code on a
 * padded copy of the rows' tail blocks (cpu_tile_tail_copy). A group
 * function takes the group's weight base wg (row r at wg + r * ws) and
 * the group index g into the activation columns. */

INLINE void q4_group(__m512 acc[4][4], const uint8_t *wg, size_t ws, const cpu_mm_tile *t,
                     int64_t g, const int MR, const int NR)
{
    const size_t bs = sizeof(ehal_block_q4_0);
    const __m512i m4 = _mm512_set1_epi8(15);
    const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        const uint8_t *wb = wg + r * ws;
        __m512i w = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(wb + 2)));
        w = _mm512_inserti32x4(w, _mm_loadu_si128((const __m128i *)(wb + bs + 2)), 1);
        w = _mm512_inserti32x4(w, _mm_loadu_si128((const __m128i *)(wb + 2 * bs + 2)), 2);
        w = _mm512_inserti32x4(w, _mm_loadu_si128((const __m128i *)(wb + 3 * bs + 2)), 3);
        const __m512i lo = _mm512_and_si512(w, m4);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
        const __m128 dw = scales4(wb, bs);
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) {
            const cpu_qgroup *x = (const cpu_qgroup *)(t->x + c * t->x_stride) + g;
            __m512i s = _mm512_loadu_si512(x->corr);
            s = _mm512_dpbusd_epi32(s, lo, _mm512_loadu_si512(x->qs));
            s = _mm512_dpbusd_epi32(s, hi, _mm512_loadu_si512(x->qs + 64));
            const __m512 s4 = _mm512_castps128_ps512(_mm_mul_ps(dw, _mm_loadu_ps(x->d)));
            acc[r][c] =
                _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(idx, s4), acc[r][c]);
        }
    }
}

INLINE void q8_group(__m512 acc[4][4], const uint8_t *wg, size_t ws, const cpu_mm_tile *t,
                     int64_t g, const int MR, const int NR)
{
    const size_t bs = sizeof(ehal_block_q8_0);
    const __m512i idx0 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i idx1 = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m512i zero = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        const uint8_t *wb = wg + r * ws;
        __m512i w[2], aw[2];
        __mmask64 neg[2];
        for (int h = 0; h < 2; h++) {
            const uint8_t *p = wb + (size_t)(2 * h) * bs + 2;
            const __m256i b0 = _mm256_loadu_si256((const __m256i *)p);
            const __m256i b1 = _mm256_loadu_si256((const __m256i *)(p + bs));
            w[h] = _mm512_inserti64x4(_mm512_castsi256_si512(b0), b1, 1);
            aw[h] = _mm512_abs_epi8(w[h]);
            neg[h] = _mm512_movepi8_mask(w[h]);
        }
        const __m128 dw = scales4(wb, bs);
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) {
            const cpu_qgroup *x = (const cpu_qgroup *)(t->x + c * t->x_stride) + g;
            const __m512 s4 = _mm512_castps128_ps512(_mm_mul_ps(dw, _mm_loadu_ps(x->d)));
            for (int h = 0; h < 2; h++) {
                __m512i a = _mm512_loadu_si512(x->qs + 64 * h);
                a = _mm512_mask_sub_epi8(a, neg[h], zero, a);
                const __m512i s = _mm512_dpbusd_epi32(zero, aw[h], a);
                acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s),
                                            _mm512_permutexvar_ps(h ? idx1 : idx0, s4), acc[r][c]);
            }
        }
    }
}

/* The tile over full groups and the padded tail, Q8 selecting the kind. */
INLINE void mm_tile(const cpu_mm_tile *t, const int MR, const int NR, const int Q8)
{
    const size_t bs = Q8 ? sizeof(ehal_block_q8_0) : sizeof(ehal_block_q4_0);
    const int64_t nb = t->K / EHAL_QK, ng = nb / 4;
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++)
            acc[r][c] = _mm512_setzero_ps();
    const uint8_t *pf = NULL;
    for (int64_t g = 0; g < ng; g++) {
        if (t->pf != CPU_MM_PF_NONE)
            cpu_tile_prefetch(t, &pf, g + 1, 4 * bs, MR);
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
            t->y[c * t->ldy + r] = _mm512_reduce_add_ps(acc[r][c]);
}

INLINE void q4_tile(const cpu_mm_tile *t, const int MR, const int NR)
{
    mm_tile(t, MR, NR, 0);
}

INLINE void q8_tile(const cpu_mm_tile *t, const int MR, const int NR)
{
    mm_tile(t, MR, NR, 1);
}

void cpu_mm_q4_0_avx512vnni(const cpu_mm_tile *t)
{
    CPU_TILE_DISPATCH(q4_tile, t);
}

void cpu_mm_q8_0_avx512vnni(const cpu_mm_tile *t)
{
    CPU_TILE_DISPATCH(q8_tile, t);
}

/* ---- GEMM tiles ------------------------------------------------------ */

/* One Q4_0 row's group (4 blocks of 18 bytes at wb) unpacked: lo / hi
 * nibbles of the 4 blocks' 64 bytes, and the 4 scales each spread over
 * their block's 4 lanes. Two overlapping loads inside the 72 bytes, and
 * word permutes (the blocks' bytes start at even offsets). */
INLINE void q4_row(const uint8_t *wb, __m512i *lo, __m512i *hi, __m512 *dw)
{
    const __m512i a = _mm512_loadu_si512(wb);     /* bytes 0..63 */
    const __m512i b = _mm512_loadu_si512(wb + 8); /* bytes 8..71 */
    /* block k's 8 code words start at word 1 + 9k of a (block 3: 24 of b) */
    const __m512i qidx = _mm512_set_epi16(63, 62, 61, 60, 59, 58, 57, 56, 26, 25, 24, 23, 22, 21,
                                          20, 19, 17, 16, 15, 14, 13, 12, 11, 10, 8, 7, 6, 5, 4,
                                          3, 2, 1);
    const __m512i didx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 27, 27,
                                          27, 27, 18, 18, 18, 18, 9, 9, 9, 9, 0, 0, 0, 0);
    const __m512i m4 = _mm512_set1_epi8(15);
    const __m512i w = _mm512_permutex2var_epi16(a, qidx, b);
    *lo = _mm512_and_si512(w, m4);
    *hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
    *dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(didx, a)));
}

/* One Q8_0 row's group (4 blocks of 34 bytes at wb) as unsigned bytes
 * w + 128 (the activations' Q8S corr takes the 128 back out) in the Q4
 * order: lo = the 4 blocks' first 16 values, hi = their last 16. Four
 * loads inside the 136 bytes, word permutes over two of them each. */
INLINE void q8_row(const uint8_t *wb, __m512i *lo, __m512i *hi, __m512 *dw)
{
    const __m512i a = _mm512_loadu_si512(wb);      /* words 0..31 */
    const __m512i b = _mm512_loadu_si512(wb + 64); /* words 32..63 */
    const __m512i p = _mm512_loadu_si512(wb + 8);  /* words 4..35 */
    const __m512i c = _mm512_loadu_si512(wb + 72); /* words 36..67 */
    /* block k's first 8 code words start at word 1 + 17k, its last 8 at
     * 9 + 17k; from (a, b) a word's index is itself, from (p, c) minus 4 */
    const __m512i lidx = _mm512_set_epi16(59, 58, 57, 56, 55, 54, 53, 52, 42, 41, 40, 39, 38, 37,
                                          36, 35, 25, 24, 23, 22, 21, 20, 19, 18, 8, 7, 6, 5, 4,
                                          3, 2, 1);
    const __m512i hidx = _mm512_set_epi16(63, 62, 61, 60, 59, 58, 57, 56, 46, 45, 44, 43, 42, 41,
                                          40, 39, 29, 28, 27, 26, 25, 24, 23, 22, 12, 11, 10, 9, 8,
                                          7, 6, 5);
    const __m512i didx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 51, 51,
                                          51, 51, 34, 34, 34, 34, 17, 17, 17, 17, 0, 0, 0, 0);
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    *lo = _mm512_xor_si512(_mm512_permutex2var_epi16(a, lidx, b), bias);
    *hi = _mm512_xor_si512(_mm512_permutex2var_epi16(p, hidx, c), bias);
    *dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(a, didx, b)));
}

/* The unpacked row tile (cpu_mm_variant.unpack): per group (the partial
 * last one included) 4 row slots of UNPACKED_ROW bytes, lo / hi / dw of
 * q4_row, slot r for row r < mr. */
#define UNPACKED_ROW 192
#define UNPACKED_GROUP (4 * UNPACKED_ROW)

INLINE void unpack_group(uint8_t *out, const uint8_t *wg, size_t ws, int mr, const int Q8)
{
    for (int r = 0; r < mr; r++) {
        __m512i lo, hi;
        __m512 dw;
        if (Q8)
            q8_row(wg + r * ws, &lo, &hi, &dw);
        else
            q4_row(wg + r * ws, &lo, &hi, &dw);
        uint8_t *o = out + r * UNPACKED_ROW;
        _mm512_storeu_si512(o, lo);
        _mm512_storeu_si512(o + 64, hi);
        _mm512_storeu_ps(o + 128, dw);
    }
}

/* Q8 selects the weight kind; both meet activations in the Q4 order (the
 * Q4 or Q8S layout, whose corr undoes the Q8_0 weights' offset). */
INLINE void unpack(const cpu_mm_tile *t, uint8_t *out, const int Q8)
{
    const size_t bs = Q8 ? sizeof(ehal_block_q8_0) : sizeof(ehal_block_q4_0);
    const int64_t nb = t->K / EHAL_QK, ng = nb / 4;
    const uint8_t *pf = NULL;
    for (int64_t g = 0; g < ng; g++) {
        if (t->pf != CPU_MM_PF_NONE)
            cpu_tile_prefetch(t, &pf, g + 1, 4 * bs, t->mr);
        unpack_group(out + g * UNPACKED_GROUP, t->w + (size_t)g * 4 * bs, t->w_stride, t->mr, Q8);
    }
    if (ng * 4 < nb) {
        uint8_t tail[4 * 4 * sizeof(ehal_block_q8_0)];
        cpu_tile_tail_copy(tail, t, ng * 4, nb, bs, t->mr);
        unpack_group(out + ng * UNPACKED_GROUP, tail, 4 * bs, t->mr, Q8);
    }
}

void cpu_mm_q4_0_unpack_avx512vnni(const cpu_mm_tile *t, uint8_t *out)
{
    unpack(t, out, 0);
}

void cpu_mm_q8_0_unpack_avx512vnni(const cpu_mm_tile *t, uint8_t *out)
{
    unpack(t, out, 1);
}

/* The GEMM tile over an unpacked row tile (t->w). */
INLINE void gemm_tile(const cpu_mm_tile *t, const int MR, const int NR)
{
    const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const int64_t ng = cpu_act_groups(t->K);
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++)
            acc[r][c] = _mm512_setzero_ps();
    for (int64_t g = 0; g < ng; g++) {
        const uint8_t *u = t->w + g * UNPACKED_GROUP;
        __m512i lo[4], hi[4];
        __m512 dw[4];
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++) {
            lo[r] = _mm512_loadu_si512(u + r * UNPACKED_ROW);
            hi[r] = _mm512_loadu_si512(u + r * UNPACKED_ROW + 64);
            dw[r] = _mm512_loadu_ps(u + r * UNPACKED_ROW + 128);
        }
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) {
            const cpu_qgroup *x = (const cpu_qgroup *)(t->x + c * t->x_stride) + g;
            const __m512i xl = _mm512_loadu_si512(x->qs), xh = _mm512_loadu_si512(x->qs + 64);
            const __m512i corr = _mm512_loadu_si512(x->corr);
            const __m512 dx =
                _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(_mm_loadu_ps(x->d)));
#pragma GCC unroll 4
            for (int r = 0; r < MR; r++) {
                __m512i s = _mm512_dpbusd_epi32(corr, lo[r], xl);
                s = _mm512_dpbusd_epi32(s, hi[r], xh);
                acc[r][c] =
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw[r], dx), acc[r][c]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++)
            t->y[c * t->ldy + r] = _mm512_reduce_add_ps(acc[r][c]);
}

/* Every (mr, nc) in [1,4]^2 specialised. */
#define GEMM_DISPATCH(tmpl, t)                                                                 \
    do {                                                                                       \
        switch (((t)->mr - 1) * 4 + ((t)->nc - 1)) {                                           \
        case 0: tmpl(t, 1, 1); break;                                                          \
        case 1: tmpl(t, 1, 2); break;                                                          \
        case 2: tmpl(t, 1, 3); break;                                                          \
        case 3: tmpl(t, 1, 4); break;                                                          \
        case 4: tmpl(t, 2, 1); break;                                                          \
        case 5: tmpl(t, 2, 2); break;                                                          \
        case 6: tmpl(t, 2, 3); break;                                                          \
        case 7: tmpl(t, 2, 4); break;                                                          \
        case 8: tmpl(t, 3, 1); break;                                                          \
        case 9: tmpl(t, 3, 2); break;                                                          \
        case 10: tmpl(t, 3, 3); break;                                                         \
        case 11: tmpl(t, 3, 4); break;                                                         \
        case 12: tmpl(t, 4, 1); break;                                                         \
        case 13: tmpl(t, 4, 2); break;                                                         \
        case 14: tmpl(t, 4, 3); break;                                                         \
        default: tmpl(t, 4, 4); break;                                                         \
        }                                                                                      \
    } while (0)

/* Both weight kinds: the unpacked tile is the same. */
void cpu_mm_gemm_unpacked_avx512vnni(const cpu_mm_tile *t)
{
    GEMM_DISPATCH(gemm_tile, t);
}
