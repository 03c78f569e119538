/*
 * AVX2 + FMA + F16C row primitives (see cpu_vec.h; built with -mavx2 -mfma
 * -mf16c, used only when cpu_isa_enabled(CPU_ISA_AVX2)). A row's last
 * n % 8 values go through the same vector code on a padded copy, so every
 * element gets the same arithmetic wherever it sits in the row.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "cpu_vec.h"

#define INLINE static inline __attribute__((always_inline))

INLINE float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE float hmax(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* e^x: Cody-Waite reduction x = n ln2 + r, a degree-6 polynomial on r
 * (Cephes' expf coefficients), 2^n applied in two halves so results down
 * to the subnormals and up to +Inf come out right. NaN propagates (the
 * clamps keep x as their second operand). */
INLINE __m256 exp8(__m256 x)
{
    x = _mm256_min_ps(_mm256_set1_ps(89.0f), x);
    x = _mm256_max_ps(_mm256_set1_ps(-104.0f), x);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* The last n < 8 values of a row, through an 8-wide padded copy. */
INLINE __m256 load_tail(const float *x, int64_t n)
{
    float t[8] = {0};
    memcpy(t, x, sizeof(float) * (size_t)n);
    return _mm256_loadu_ps(t);
}

INLINE void store_tail(float *y, __m256 v, int64_t n)
{
    float t[8];
    _mm256_storeu_ps(t, v);
    memcpy(y, t, sizeof(float) * (size_t)n);
}

static void add_avx2(const float *a, const float *b, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++)
        y[i] = a[i] + b[i];
}

static void mul_avx2(const float *a, const float *b, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++)
        y[i] = a[i] * b[i];
}

INLINE __m256 swiglu8(__m256 g, __m256 u)
{
    const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

static void swiglu_avx2(const float *g, const float *u, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, swiglu8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
    if (i < n)
        store_tail(y + i, swiglu8(load_tail(g + i, n - i), load_tail(u + i, n - i)), n - i);
}

static float sumsq_avx2(const float *x, int64_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        s0 = _mm256_fmadd_ps(a, a, s0);
        s1 = _mm256_fmadd_ps(b, b, s1);
    }
    for (; i + 8 <= n; i += 8) {
        const __m256 a = _mm256_loadu_ps(x + i);
        s0 = _mm256_fmadd_ps(a, a, s0);
    }
    if (i < n) {
        const __m256 a = load_tail(x + i, n - i);
        s1 = _mm256_fmadd_ps(a, a, s1);
    }
    return hsum(_mm256_add_ps(s0, s1));
}

static void scale_mul_avx2(const float *x, float s, const float *w, float *y, int64_t n)
{
    const __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs),
                                              _mm256_loadu_ps(w + i)));
    for (; i < n; i++)
        y[i] = x[i] * s * w[i];
}

static float max_avx2(const float *x, int64_t n)
{
    __m256 m = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        m = _mm256_max_ps(_mm256_loadu_ps(x + i), m); /* a NaN x keeps m */
    float r = hmax(m);
    for (; i < n; i++)
        r = x[i] > r ? x[i] : r;
    return r;
}

static float exp_sum_avx2(const float *x, float scale, float m, float *y, int64_t n)
{
    const __m256 vs = _mm256_set1_ps(scale), vm = _mm256_set1_ps(m);
    __m256 sum = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), vs, vm));
        _mm256_storeu_ps(y + i, e);
        sum = _mm256_add_ps(sum, e);
    }
    float s = hsum(sum);
    if (i < n) {
        float t[8];
        _mm256_storeu_ps(t, exp8(_mm256_fmsub_ps(load_tail(x + i, n - i), vs, vm)));
        for (int64_t k = 0; k < n - i; k++) {
            y[i + k] = t[k];
            s += t[k];
        }
    }
    return s;
}

static void scale_avx2(const float *x, float s, float *y, int64_t n)
{
    const __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    for (; i < n; i++)
        y[i] = x[i] * s;
}

static void exp_avx2(const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
    if (i < n)
        store_tail(y + i, exp8(load_tail(x + i, n - i)), n - i);
}

static void rope_pairs_avx2(const float *x, float *y, const float *cc, const float *ss,
                            int64_t n_rot)
{
    int64_t i = 0;
    for (; i + 8 <= n_rot; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 sw = _mm256_permute_ps(v, 0xB1); /* (x1, x0) per pair */
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(v, _mm256_loadu_ps(cc + i),
                                                _mm256_mul_ps(sw, _mm256_loadu_ps(ss + i))));
    }
    for (; i < n_rot; i += 2) {
        const float x0 = x[i], x1 = x[i + 1];
        y[i] = x0 * cc[i] + x1 * ss[i];
        y[i + 1] = x1 * cc[i + 1] + x0 * ss[i + 1];
    }
}

static void rope_halves_avx2(const float *x, float *y, const float *c, const float *s,
                             int64_t n_rot)
{
    const int64_t h = n_rot / 2;
    int64_t i = 0;
    for (; i + 8 <= h; i += 8) {
        const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + h);
        const __m256 vc = _mm256_loadu_ps(c + i), vs = _mm256_loadu_ps(s + i);
        _mm256_storeu_ps(y + i, _mm256_fmsub_ps(x0, vc, _mm256_mul_ps(x1, vs)));
        _mm256_storeu_ps(y + i + h, _mm256_fmadd_ps(x1, vc, _mm256_mul_ps(x0, vs)));
    }
    for (; i < h; i++) {
        const float x0 = x[i], x1 = x[i + h];
        y[i] = x0 * c[i] - x1 * s[i];
        y[i + h] = x1 * c[i] + x0 * s[i];
    }
}

static void f16_to_f32_avx2(const uint16_t *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++)
        y[i] = _cvtsh_ss(x[i]);
}

static void f32_to_f16_avx2(const float *x, uint16_t *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

static void dequantize_q8_0_avx2(const ehal_block_q8_0 *x, float *y, int64_t n)
{
    for (int64_t b = 0; b < n / EHAL_QK; b++) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(x[b].d));
        for (int k = 0; k < 4; k++) {
            const __m128i q = _mm_loadl_epi64((const __m128i *)(x[b].qs + 8 * k));
            const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
            _mm256_storeu_ps(y + b * EHAL_QK + 8 * k, _mm256_mul_ps(v, d));
        }
    }
}

static void dequantize_q4_0_avx2(const ehal_block_q4_0 *x, float *y, int64_t n)
{
    const __m128i lo4 = _mm_set1_epi8(15), eight = _mm_set1_epi8(8);
    for (int64_t b = 0; b < n / EHAL_QK; b++) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(x[b].d));
        const __m128i q = _mm_loadu_si128((const __m128i *)x[b].qs);
        const __m128i h[2] = {_mm_sub_epi8(_mm_and_si128(q, lo4), eight),
                              _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), lo4), eight)};
        for (int k = 0; k < 4; k++) {
            const __m128i part = k & 1 ? _mm_srli_si128(h[k >> 1], 8) : h[k >> 1];
            const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part));
            _mm256_storeu_ps(y + b * EHAL_QK + 8 * k, _mm256_mul_ps(v, d));
        }
    }
}

/* Largest |x| of a block, NaN ignored (a NaN lane keeps the running max). */
INLINE float block_amax(const float *x)
{
    const __m256 abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++)
        m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + 8 * k), abs), m);
    return hmax(m);
}

/* 32 int32 in block order -> 32 bytes in block order (saturating). */
INLINE __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d)
{
    const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    return _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd),
                                       _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* roundf (half away from zero) of v, then clamped to +-127; NaN -> 0.
 * trunc(v + copysign(0.49999997f, v)) is roundf(v) for every float (the
 * sum rounds up to the next integer exactly when v's fraction is >= 0.5;
 * checked over all 2^32 inputs when this was written). */
INLINE __m256i round_q8(__m256 v)
{
    const __m256 half = _mm256_or_ps(_mm256_and_ps(v, _mm256_set1_ps(-0.0f)),
                                     _mm256_set1_ps(0.49999997f));
    __m256 r = _mm256_round_ps(_mm256_add_ps(v, half), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 ord = _mm256_cmp_ps(r, r, _CMP_ORD_Q);
    r = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
    return _mm256_cvttps_epi32(_mm256_and_ps(r, ord));
}

/* Per 128-bit half, lane b: the largest of that half's lanes of m[b]
 * (m[] holds no NaN). */
INLINE __m256 hmax4_halves(const __m256 m[4])
{
    const __m256 a = _mm256_max_ps(_mm256_unpacklo_ps(m[0], m[1]), _mm256_unpackhi_ps(m[0], m[1]));
    const __m256 b = _mm256_max_ps(_mm256_unpacklo_ps(m[2], m[3]), _mm256_unpackhi_ps(m[2], m[3]));
    return _mm256_max_ps(_mm256_shuffle_ps(a, b, 0x44), _mm256_shuffle_ps(a, b, 0xee));
}

/* Lane b: the largest lane of m[b] (m[] holds no NaN). */
INLINE __m256 hmax8(const __m256 m[8])
{
    const __m256 lo = hmax4_halves(m), hi = hmax4_halves(m + 4);
    return _mm256_max_ps(_mm256_permute2f128_ps(lo, hi, 0x20), _mm256_permute2f128_ps(lo, hi, 0x31));
}

/* Lane b: the largest lane of m[b], b < 4. */
INLINE __m128 hmax4(const __m256 m[4])
{
    const __m256 h = hmax4_halves(m);
    return _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* The |x| maxima of n blocks from xb (a NaN lane keeps the running max). */
INLINE void block_maxima(const float *xb, int n, __m256 *m)
{
    const __m256 abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int i = 0; i < n; i++) {
        m[i] = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++)
            m[i] = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(xb + 32 * i + 8 * k), abs), m[i]);
    }
}

/* One block with its inverse scale id. */
INLINE void quantize_block_q8(const float *xb, __m256 vid, int8_t *qs)
{
    __m256i q[4];
    for (int k = 0; k < 4; k++)
        q[k] = round_q8(_mm256_mul_ps(_mm256_loadu_ps(xb + 8 * k), vid));
    _mm256_storeu_si256((__m256i *)qs, pack32(q[0], q[1], q[2], q[3]));
}

/* Eight (then four) blocks at a time: their scales d = amax / 127 and 1 / d
 * in one vector division each (IEEE division, so the same floats as the
 * scalar per-block code, which handles the last n / 32 % 4 blocks). The
 * matmul quantizes its activations 128 values at a time. */
static void quantize_q8_0_avx2(const float *x, ehal_block_q8_0 *y, int64_t n)
{
    const int64_t nb = n / EHAL_QK;
    int64_t b = 0;
    float id[8];
    uint16_t dh[8];
    for (; b + 8 <= nb; b += 8) {
        const float *xb = x + b * EHAL_QK;
        __m256 m[8];
        block_maxima(xb, 8, m);
        const __m256 d = _mm256_div_ps(hmax8(m), _mm256_set1_ps(127.0f));
        const __m256 nz = _mm256_cmp_ps(d, _mm256_setzero_ps(), _CMP_NEQ_UQ);
        _mm256_storeu_ps(id, _mm256_and_ps(_mm256_div_ps(_mm256_set1_ps(1.0f), d), nz));
        _mm_storeu_si128((__m128i *)dh, _mm256_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT));
        for (int i = 0; i < 8; i++) {
            y[b + i].d = dh[i];
            quantize_block_q8(xb + 32 * i, _mm256_set1_ps(id[i]), y[b + i].qs);
        }
    }
    if (b + 4 <= nb) {
        const float *xb = x + b * EHAL_QK;
        __m256 m[4];
        block_maxima(xb, 4, m);
        const __m128 d = _mm_div_ps(hmax4(m), _mm_set1_ps(127.0f));
        const __m128 nz = _mm_cmp_ps(d, _mm_setzero_ps(), _CMP_NEQ_UQ);
        _mm_storeu_ps(id, _mm_and_ps(_mm_div_ps(_mm_set1_ps(1.0f), d), nz));
        _mm_storel_epi64((__m128i *)dh, _mm_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT));
        for (int i = 0; i < 4; i++) {
            y[b + i].d = dh[i];
            quantize_block_q8(xb + 32 * i, _mm256_set1_ps(id[i]), y[b + i].qs);
        }
        b += 4;
    }
    for (; b < nb; b++) {
        const float *xb = x + b * EHAL_QK;
        const float d = block_amax(xb) / 127.0f;
        const float idb = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        quantize_block_q8(xb, _mm256_set1_ps(idb), y[b].qs);
    }
}

static void quantize_q4_0_avx2(const float *x, ehal_block_q4_0 *y, int64_t n)
{
    const __m256 abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t b = 0; b < n / EHAL_QK; b++) {
        const float *xb = x + b * EHAL_QK;
        const float amax = block_amax(xb);
        /* The first value of largest magnitude, sign kept, as the reference. */
        float max = 0.0f;
        if (amax > 0.0f) {
            const __m256 va = _mm256_set1_ps(amax);
            uint32_t hit = 0;
            for (int k = 0; k < 4; k++) {
                const __m256 a = _mm256_and_ps(_mm256_loadu_ps(xb + 8 * k), abs);
                hit |= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(a, va, _CMP_EQ_OQ)) << (8 * k);
            }
            max = xb[__builtin_ctz(hit)];
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++) {
            __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(xb + 8 * k), vid),
                                     _mm256_set1_ps(8.5f));
            const __m256 ord = _mm256_cmp_ps(v, v, _CMP_ORD_Q);
            v = _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(15.0f));
            v = _mm256_blendv_ps(_mm256_set1_ps(8.0f), v, ord);
            q[k] = _mm256_cvttps_epi32(v);
        }
        const __m256i bytes = pack32(q[0], q[1], q[2], q[3]);
        const __m128i lo = _mm256_castsi256_si128(bytes), hi = _mm256_extracti128_si256(bytes, 1);
        _mm_storeu_si128((__m128i *)y[b].qs, _mm_or_si128(lo, _mm_slli_epi16(hi, 4)));
    }
}

const cpu_vec_ops cpu_vec_avx2 = {
    .name = "vec__avx2",
    .isa = CPU_ISA_AVX2,
    .add = add_avx2,
    .mul = mul_avx2,
    .swiglu = swiglu_avx2,
    .sumsq = sumsq_avx2,
    .scale_mul = scale_mul_avx2,
    .max = max_avx2,
    .exp_sum = exp_sum_avx2,
    .scale = scale_avx2,
    .exp = exp_avx2,
    .rope_pairs = rope_pairs_avx2,
    .rope_halves = rope_halves_avx2,
    .f16_to_f32 = f16_to_f32_avx2,
    .f32_to_f16 = f32_to_f16_avx2,
    .dequantize_q8_0 = dequantize_q8_0_avx2,
    .dequantize_q4_0 = dequantize_q4_0_avx2,
    .quantize_q8_0 = quantize_q8_0_avx2,
    .quantize_q4_0 = quantize_q4_0_avx2,
};
