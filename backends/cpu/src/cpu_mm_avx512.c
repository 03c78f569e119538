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
 * has each 16-row tile unpacked once per (column chunk, K block) into a
 * layout whose lanes are rows (see XU_BLOCK), and one tile (16x16) serves
 * both weight kinds: per block and column, 8 vpdpbusd against broadcast
 * activation dwords, then one convert, multiply and FMA for all 16 rows
 * (the GEMV layout, 4 partial sums of a block per lane, needs them once
 * per row). Q8_0 weights unpack as unsigned w + 128, against the Q8S
 * activation layout.
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

/* The fp16 scales of blocks 0..nt-1 (nt <= 4; the others 0) as floats. */
INLINE __m128 scales4(const uint8_t *p, size_t stride, const int nt)
{
    __m128i h = _mm_set_epi16(0, 0, 0, 0, nt > 3 ? (short)ld16(p + 3 * stride) : 0,
                              nt > 2 ? (short)ld16(p + 2 * stride) : 0,
                              nt > 1 ? (short)ld16(p + stride) : 0, (short)ld16(p));
    return _mm_cvtph_ps(h);
}

/* 16 bytes at p, or zeros when the block is past the row's end. */
INLINE __m128i ld128_if(const uint8_t *p, int valid)
{
    return valid ? _mm_loadu_si128((const __m128i *)p) : _mm_setzero_si128();
}

INLINE __m256i ld256_if(const uint8_t *p, int valid)
{
    return valid ? _mm256_loadu_si256((const __m256i *)p) : _mm256_setzero_si256();
}

/* Each tile runs its full groups of 4 blocks (nt = 4) and the partial last
 * group (K not a multiple of 128: nt = 1..3 blocks) in place, through the
 * same group code: the blocks past the row's end are never read and count
 * as zero weights with zero scale, meeting the activation group's zero
 * blocks. (A padded copy of the tail, as the other tiles use, costs more
 * than a whole group here: its 18-byte stores stall the 16-byte loads that
 * follow; K = 288 took 394 us against 341 for K = 384 at 288x32000.) A
 * group function takes the group's weight base wg (row r at wg + r * ws)
 * and the group index g into the activation columns. */

INLINE void q4_group(__m512 acc[4][4], const uint8_t *wg, size_t ws, const cpu_mm_tile *t,
                     int64_t g, const int MR, const int NR, const int nt)
{
    const size_t bs = sizeof(ehal_block_q4_0);
    const __m512i m4 = _mm512_set1_epi8(15);
    const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        const uint8_t *wb = wg + r * ws;
        __m512i w = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(wb + 2)));
        w = _mm512_inserti32x4(w, ld128_if(wb + bs + 2, nt > 1), 1);
        w = _mm512_inserti32x4(w, ld128_if(wb + 2 * bs + 2, nt > 2), 2);
        w = _mm512_inserti32x4(w, ld128_if(wb + 3 * bs + 2, nt > 3), 3);
        const __m512i lo = _mm512_and_si512(w, m4);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
        const __m128 dw = scales4(wb, bs, nt);
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
                     int64_t g, const int MR, const int NR, const int nt)
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
            const __m256i b0 = ld256_if(p, nt > 2 * h);
            const __m256i b1 = ld256_if(p + bs, nt > 2 * h + 1);
            w[h] = _mm512_inserti64x4(_mm512_castsi256_si512(b0), b1, 1);
            aw[h] = _mm512_abs_epi8(w[h]);
            neg[h] = _mm512_movepi8_mask(w[h]);
        }
        const __m128 dw = scales4(wb, bs, nt);
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
            q8_group(acc, t->w + (size_t)g * 4 * bs, t->w_stride, t, g, MR, NR, 4);
        else
            q4_group(acc, t->w + (size_t)g * 4 * bs, t->w_stride, t, g, MR, NR, 4);
    }
    const int nt = (int)(nb - ng * 4);
    if (nt > 0) {
        if (Q8)
            q8_group(acc, t->w + (size_t)ng * 4 * bs, t->w_stride, t, ng, MR, NR, nt);
        else
            q4_group(acc, t->w + (size_t)ng * 4 * bs, t->w_stride, t, ng, MR, NR, nt);
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

/* One Q4_0 row's group (4 blocks of 18 bytes at wb): the 4 blocks' 16
 * code bytes in order, by two overlapping loads inside the 72 bytes and a
 * word permute (the blocks' bytes start at even offsets). */
INLINE __m512i q4_codes(const uint8_t *wb)
{
    const __m512i a = _mm512_loadu_si512(wb);     /* bytes 0..63 */
    const __m512i b = _mm512_loadu_si512(wb + 8); /* bytes 8..71 */
    /* block k's 8 code words start at word 1 + 9k of a (block 3: 24 of b) */
    const __m512i qidx = _mm512_set_epi16(63, 62, 61, 60, 59, 58, 57, 56, 26, 25, 24, 23, 22, 21,
                                          20, 19, 17, 16, 15, 14, 13, 12, 11, 10, 8, 7, 6, 5, 4,
                                          3, 2, 1);
    return _mm512_permutex2var_epi16(a, qidx, b);
}

/* One Q8_0 row's group (4 blocks of 34 bytes at wb) as unsigned bytes
 * w + 128 (the activations' Q8S corr takes the 128 back out) in the Q4
 * order: lo = the 4 blocks' first 16 values, hi = their last 16. Four
 * loads inside the 136 bytes, word permutes over two of them each. */
INLINE void q8_codes(const uint8_t *wb, __m512i *lo, __m512i *hi)
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
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    *lo = _mm512_xor_si512(_mm512_permutex2var_epi16(a, lidx, b), bias);
    *hi = _mm512_xor_si512(_mm512_permutex2var_epi16(p, hidx, c), bias);
}

/* The unpacked row tile (cpu_mm_variant.unpack), up to 16 rows whose
 * lanes are rows (lane r = row r): per block of K (the partial last group
 * padded to 4 blocks), 8 code slices and the scales, 64 bytes each. Slice
 * p holds in lane r the 4 unsigned codes of row r's values 4p..4p+3
 * (p < 4) or 16 + 4(p-4).. (p >= 4): those the activation dwords
 * qs[16b + 4p] / qs[64 + 16b + 4(p-4)] of the Q4 / Q8S layout meet, so a
 * tile broadcasts each activation dword to all 16 rows. Rows >= mr are
 * zero. */
#define XU_BLOCK (9 * 64)

/* An activation dword read in place. */
typedef int32_t i32u __attribute__((may_alias, aligned(4)));

/* out[j] lane i = v[i] lane j (dwords). */
INLINE void transpose16(__m512i v[16])
{
    __m512i a[16], b[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        a[2 * i] = _mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
        a[2 * i + 1] = _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
    }
    /* b[4i + j], chunk q: lane j of chunk q of rows 4i..4i+3 */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        b[4 * i] = _mm512_unpacklo_epi64(a[4 * i], a[4 * i + 2]);
        b[4 * i + 1] = _mm512_unpackhi_epi64(a[4 * i], a[4 * i + 2]);
        b[4 * i + 2] = _mm512_unpacklo_epi64(a[4 * i + 1], a[4 * i + 3]);
        b[4 * i + 3] = _mm512_unpackhi_epi64(a[4 * i + 1], a[4 * i + 3]);
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const __m512i p0 = _mm512_shuffle_i32x4(b[j], b[4 + j], _MM_SHUFFLE(2, 0, 2, 0));
        const __m512i p1 = _mm512_shuffle_i32x4(b[j], b[4 + j], _MM_SHUFFLE(3, 1, 3, 1));
        const __m512i r0 = _mm512_shuffle_i32x4(b[8 + j], b[12 + j], _MM_SHUFFLE(2, 0, 2, 0));
        const __m512i r1 = _mm512_shuffle_i32x4(b[8 + j], b[12 + j], _MM_SHUFFLE(3, 1, 3, 1));
        v[j] = _mm512_shuffle_i32x4(p0, r0, _MM_SHUFFLE(2, 0, 2, 0));
        v[8 + j] = _mm512_shuffle_i32x4(p0, r0, _MM_SHUFFLE(3, 1, 3, 1));
        v[4 + j] = _mm512_shuffle_i32x4(p1, r1, _MM_SHUFFLE(2, 0, 2, 0));
        v[12 + j] = _mm512_shuffle_i32x4(p1, r1, _MM_SHUFFLE(3, 1, 3, 1));
    }
}

/* One group (4 blocks at wg, rows ws apart) of rows [0, mr). */
INLINE void xunpack_group(uint8_t *out, const uint8_t *wg, size_t ws, int mr, const int Q8)
{
    const size_t bs = Q8 ? sizeof(ehal_block_q8_0) : sizeof(ehal_block_q4_0);
    __m512i lo[16], hi[16];
    uint16_t sc[4][16];
    for (int r = 0; r < 16; r++) {
        if (r >= mr) {
            lo[r] = hi[r] = _mm512_setzero_si512();
            for (int b = 0; b < 4; b++)
                sc[b][r] = 0;
            continue;
        }
        const uint8_t *wb = wg + r * ws;
        if (Q8)
            q8_codes(wb, &lo[r], &hi[r]);
        else /* the nibbles are split after the transpose */
            lo[r] = q4_codes(wb);
        for (int b = 0; b < 4; b++)
            sc[b][r] = ld16(wb + b * bs);
    }
    transpose16(lo);
    if (Q8)
        transpose16(hi);
    const __m512i m4 = _mm512_set1_epi8(15);
    for (int b = 0; b < 4; b++) {
        uint8_t *o = out + b * XU_BLOCK;
        for (int k = 0; k < 4; k++) {
            const __m512i v = lo[4 * b + k];
            if (Q8) {
                _mm512_storeu_si512(o + 64 * k, v);
                _mm512_storeu_si512(o + 64 * (4 + k), hi[4 * b + k]);
            } else {
                _mm512_storeu_si512(o + 64 * k, _mm512_and_si512(v, m4));
                _mm512_storeu_si512(o + 64 * (4 + k),
                                    _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
            }
        }
        _mm512_storeu_ps(o + 512, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)sc[b])));
    }
}

/* Q8 selects the weight kind; both meet activations in the Q4 order (the
 * Q4 or Q8S layout, whose corr undoes the Q8_0 weights' offset). */
INLINE void xunpack(const cpu_mm_tile *t, uint8_t *out, const int Q8)
{
    const size_t bs = Q8 ? sizeof(ehal_block_q8_0) : sizeof(ehal_block_q4_0);
    const int64_t nb = t->K / EHAL_QK, ng = nb / 4;
    for (int64_t g = 0; g < ng; g++) {
        /* the next row tile's same groups (its rows are not contiguous
         * when the driver splits K), into L2 */
        if (t->pf != CPU_MM_PF_NONE)
            for (int r = 0; r < 16; r++) {
                const uint8_t *p = t->w + (size_t)(t->mr + r) * t->w_stride + (size_t)g * 4 * bs;
                for (size_t o = 0; o < 4 * bs; o += 64)
                    __builtin_prefetch(p + o, 0, 2);
            }
        xunpack_group(out + g * 4 * XU_BLOCK, t->w + (size_t)g * 4 * bs, t->w_stride, t->mr, Q8);
    }
    if (ng * 4 < nb) {
        /* the partial group through a padded copy, 4 rows at a time */
        uint8_t tail[16 * 4 * sizeof(ehal_block_q8_0)];
        for (int r0 = 0; r0 < t->mr; r0 += 4) {
            cpu_mm_tile q = *t;
            q.w = t->w + (size_t)r0 * t->w_stride;
            q.mr = t->mr - r0 < 4 ? t->mr - r0 : 4;
            cpu_tile_tail_copy(tail + (size_t)r0 * 4 * bs, &q, ng * 4, nb, bs, q.mr);
        }
        xunpack_group(out + ng * 4 * XU_BLOCK, tail, 4 * bs, t->mr, Q8);
    }
}

void cpu_mm_q4_0_unpack_avx512vnni(const cpu_mm_tile *t, uint8_t *out)
{
    xunpack(t, out, 0);
}

void cpu_mm_q8_0_unpack_avx512vnni(const cpu_mm_tile *t, uint8_t *out)
{
    xunpack(t, out, 1);
}

/* The GEMM tile: an unpacked row tile (t->w, up to 16 rows) times NR <= 16
 * activation columns. Per block, the 8 row slices stay in registers and
 * each column's 8 activation dwords are broadcast to them: 8 vpdpbusd
 * give the 16 rows' block dot products, one convert, multiply and FMA
 * scale them, and a column's 16 results store as one vector. */
INLINE void xgemm_tile(const cpu_mm_tile *t, const int NR)
{
    const int64_t nb = cpu_act_groups(t->K) * 4;
    __m512 acc[16];
#pragma GCC unroll 16
    for (int c = 0; c < NR; c++)
        acc[c] = _mm512_setzero_ps();
    for (int64_t bi = 0; bi < nb; bi++) {
        const uint8_t *u = t->w + bi * XU_BLOCK;
        const int64_t g = bi / 4;
        const int b = (int)(bi % 4);
        __m512i w[8];
#pragma GCC unroll 8
        for (int p = 0; p < 8; p++)
            w[p] = _mm512_loadu_si512(u + 64 * p);
        const __m512 dw = _mm512_loadu_ps(u + 512);
#pragma GCC unroll 16
        for (int c = 0; c < NR; c++) {
            const cpu_qgroup *x = (const cpu_qgroup *)(t->x + c * t->x_stride) + g;
            const i32u *xl = (const i32u *)(x->qs + 16 * b), *xh = (const i32u *)(x->qs + 64 + 16 * b);
            __m512i s = _mm512_set1_epi32(x->corr[4 * b]);
            /* broadcast from memory ({1to16} operands) */
#pragma GCC unroll 4
            for (int p = 0; p < 4; p++)
                s = _mm512_dpbusd_epi32(s, w[p], _mm512_set1_epi32(xl[p]));
#pragma GCC unroll 4
            for (int p = 0; p < 4; p++)
                s = _mm512_dpbusd_epi32(s, w[4 + p], _mm512_set1_epi32(xh[p]));
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s),
                                     _mm512_mul_ps(dw, _mm512_set1_ps(x->d[b])), acc[c]);
        }
    }
    const __mmask16 m = (__mmask16)((1u << t->mr) - 1);
#pragma GCC unroll 16
    for (int c = 0; c < NR; c++) {
        float *y = t->y + c * t->ldy;
        __m512 v = acc[c];
        if (t->acc_y)
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, y));
        _mm512_mask_storeu_ps(y, m, v);
    }
}

void cpu_mm_gemm_unpacked_avx512vnni(const cpu_mm_tile *t)
{
    switch (t->nc) {
    case 1: xgemm_tile(t, 1); break;
    case 2: xgemm_tile(t, 2); break;
    case 3: xgemm_tile(t, 3); break;
    case 4: xgemm_tile(t, 4); break;
    case 5: xgemm_tile(t, 5); break;
    case 6: xgemm_tile(t, 6); break;
    case 7: xgemm_tile(t, 7); break;
    case 8: xgemm_tile(t, 8); break;
    case 9: xgemm_tile(t, 9); break;
    case 10: xgemm_tile(t, 10); break;
    case 11: xgemm_tile(t, 11); break;
    case 12: xgemm_tile(t, 12); break;
    case 13: xgemm_tile(t, 13); break;
    case 14: xgemm_tile(t, 14); break;
    case 15: xgemm_tile(t, 15); break;
    default: xgemm_tile(t, 16); break;
    }
}
