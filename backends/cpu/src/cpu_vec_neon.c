/*
 * Advanced SIMD row primitives (every AArch64 CPU; see cpu_vec.h). A row's
 * last n % 4 values go through the same vector code on a padded copy, so
 * every element gets the same arithmetic wherever it sits in the row.
 */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "cpu_vec.h"

#define INLINE static inline __attribute__((always_inline))

/* e^x as the AVX2 version: Cody-Waite reduction, Cephes' degree-6
 * polynomial, 2^n in two halves (subnormals and +Inf right). vminq/vmaxq
 * propagate NaN. */
INLINE float32x4_t exp4(float32x4_t x)
{
    x = vminq_f32(x, vdupq_n_f32(89.0f));
    x = vmaxq_f32(x, vdupq_n_f32(-104.0f));
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(r, p, vmulq_f32(r, r));
    p = vaddq_f32(p, vdupq_n_f32(1.0f));
    const int32x4_t ni = vcvtq_s32_f32(n);
    const int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    const int32x4_t bias = vdupq_n_s32(127);
    const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
    const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
}

INLINE float32x4_t load_tail(const float *x, int64_t n)
{
    float t[4] = {0};
    memcpy(t, x, sizeof(float) * (size_t)n);
    return vld1q_f32(t);
}

INLINE void store_tail(float *y, float32x4_t v, int64_t n)
{
    float t[4];
    vst1q_f32(t, v);
    memcpy(y, t, sizeof(float) * (size_t)n);
}

static void add_neon(const float *a, const float *b, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vaddq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
    for (; i < n; i++)
        y[i] = a[i] + b[i];
}

static void mul_neon(const float *a, const float *b, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vmulq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
    for (; i < n; i++)
        y[i] = a[i] * b[i];
}

INLINE float32x4_t swiglu4(float32x4_t g, float32x4_t u)
{
    const float32x4_t e = exp4(vnegq_f32(g));
    return vmulq_f32(vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), e)), u);
}

static void swiglu_neon(const float *g, const float *u, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, swiglu4(vld1q_f32(g + i), vld1q_f32(u + i)));
    if (i < n)
        store_tail(y + i, swiglu4(load_tail(g + i, n - i), load_tail(u + i, n - i)), n - i);
}

static float sumsq_neon(const float *x, int64_t n)
{
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4);
        s0 = vfmaq_f32(s0, a, a);
        s1 = vfmaq_f32(s1, b, b);
    }
    for (; i + 4 <= n; i += 4) {
        const float32x4_t a = vld1q_f32(x + i);
        s0 = vfmaq_f32(s0, a, a);
    }
    if (i < n) {
        const float32x4_t a = load_tail(x + i, n - i);
        s1 = vfmaq_f32(s1, a, a);
    }
    return vaddvq_f32(vaddq_f32(s0, s1));
}

static void scale_mul_neon(const float *x, float s, const float *w, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vmulq_f32(vmulq_n_f32(vld1q_f32(x + i), s), vld1q_f32(w + i)));
    for (; i < n; i++)
        y[i] = x[i] * s * w[i];
}

static float max_neon(const float *x, int64_t n)
{
    float32x4_t m = vdupq_n_f32(-INFINITY);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        m = vbslq_f32(vcgtq_f32(v, m), v, m); /* a NaN v keeps m */
    }
    float r = vmaxvq_f32(m);
    for (; i < n; i++)
        r = x[i] > r ? x[i] : r;
    return r;
}

static float exp_sum_neon(const float *x, float scale, float m, float *y, int64_t n)
{
    const float32x4_t vm = vdupq_n_f32(m), vs = vdupq_n_f32(scale);
    float32x4_t sum = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        /* x * scale - m with one rounding, as the AVX2 fmsub */
        const float32x4_t e = exp4(vnegq_f32(vfmsq_f32(vm, vld1q_f32(x + i), vs)));
        vst1q_f32(y + i, e);
        sum = vaddq_f32(sum, e);
    }
    float s = vaddvq_f32(sum);
    if (i < n) {
        float t[4];
        vst1q_f32(t, exp4(vnegq_f32(vfmsq_f32(vm, load_tail(x + i, n - i), vs))));
        for (int64_t k = 0; k < n - i; k++) {
            y[i + k] = t[k];
            s += t[k];
        }
    }
    return s;
}

static void scale_neon(const float *x, float s, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vmulq_n_f32(vld1q_f32(x + i), s));
    for (; i < n; i++)
        y[i] = x[i] * s;
}

static void exp_neon(const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, exp4(vld1q_f32(x + i)));
    if (i < n)
        store_tail(y + i, exp4(load_tail(x + i, n - i)), n - i);
}

static void rope_pairs_neon(const float *x, float *y, const float *cc, const float *ss,
                            int64_t n_rot)
{
    int64_t i = 0;
    for (; i + 4 <= n_rot; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        const float32x4_t sw = vrev64q_f32(v); /* (x1, x0) per pair */
        vst1q_f32(y + i, vfmaq_f32(vmulq_f32(sw, vld1q_f32(ss + i)), v, vld1q_f32(cc + i)));
    }
    for (; i < n_rot; i += 2) {
        const float x0 = x[i], x1 = x[i + 1];
        y[i] = x0 * cc[i] + x1 * ss[i];
        y[i + 1] = x1 * cc[i + 1] + x0 * ss[i + 1];
    }
}

static void rope_halves_neon(const float *x, float *y, const float *c, const float *s,
                             int64_t n_rot)
{
    const int64_t h = n_rot / 2;
    int64_t i = 0;
    for (; i + 4 <= h; i += 4) {
        const float32x4_t x0 = vld1q_f32(x + i), x1 = vld1q_f32(x + i + h);
        const float32x4_t vc = vld1q_f32(c + i), vs = vld1q_f32(s + i);
        vst1q_f32(y + i, vfmsq_f32(vmulq_f32(x0, vc), x1, vs));
        vst1q_f32(y + i + h, vfmaq_f32(vmulq_f32(x1, vc), x0, vs));
    }
    for (; i < h; i++) {
        const float x0 = x[i], x1 = x[i + h];
        y[i] = x0 * c[i] - x1 * s[i];
        y[i + h] = x1 * c[i] + x0 * s[i];
    }
}

static void f16_to_f32_neon(const uint16_t *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x + i))));
    for (; i < n; i++)
        y[i] = ehal_fp16_to_fp32(x[i]);
}

/* FCVTN rounds by FPCR (nearest-even unless a caller changed it); NaNs are
 * quieted keeping the top payload bits, as ehal_fp32_to_fp16. */
static void f32_to_f16_neon(const float *x, uint16_t *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    for (; i < n; i++)
        y[i] = ehal_fp32_to_fp16(x[i]);
}

static void dequantize_q8_0_neon(const ehal_block_q8_0 *x, float *y, int64_t n)
{
    for (int64_t b = 0; b < n / EHAL_QK; b++) {
        const float d = ehal_fp16_to_fp32(x[b].d);
        float *yb = y + b * EHAL_QK;
        for (int h = 0; h < 2; h++) {
            const int8x16_t v = vld1q_s8(x[b].qs + 16 * h);
            const int16x8_t lo = vmovl_s8(vget_low_s8(v)), hi = vmovl_high_s8(v);
            vst1q_f32(yb + 16 * h + 0, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), d));
            vst1q_f32(yb + 16 * h + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), d));
            vst1q_f32(yb + 16 * h + 8, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), d));
            vst1q_f32(yb + 16 * h + 12, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), d));
        }
    }
}

static void dequantize_q4_0_neon(const ehal_block_q4_0 *x, float *y, int64_t n)
{
    for (int64_t b = 0; b < n / EHAL_QK; b++) {
        const float d = ehal_fp16_to_fp32(x[b].d);
        float *yb = y + b * EHAL_QK;
        const uint8x16_t q = vld1q_u8(x[b].qs);
        const int8x16_t h[2] = {
            vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(15))), vdupq_n_s8(8)),
            vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), vdupq_n_s8(8))};
        for (int k = 0; k < 2; k++) {
            const int16x8_t lo = vmovl_s8(vget_low_s8(h[k])), hi = vmovl_high_s8(h[k]);
            vst1q_f32(yb + 16 * k + 0, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), d));
            vst1q_f32(yb + 16 * k + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), d));
            vst1q_f32(yb + 16 * k + 8, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), d));
            vst1q_f32(yb + 16 * k + 12, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), d));
        }
    }
}

/* Largest |x| of a block, NaN ignored ("a > amax" as the reference). */
INLINE float block_amax(const float *x)
{
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int k = 0; k < 8; k++) {
        const float32x4_t a = vabsq_f32(vld1q_f32(x + 4 * k));
        m = vbslq_f32(vcgtq_f32(a, m), a, m);
    }
    return vmaxvq_f32(m);
}

/* Four int32 vectors -> 16 int8 (values already within +-127). */
INLINE int8x16_t narrow16(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d)
{
    const int16x8_t ab = vcombine_s16(vmovn_s32(a), vmovn_s32(b));
    const int16x8_t cd = vcombine_s16(vmovn_s32(c), vmovn_s32(d));
    return vcombine_s8(vmovn_s16(ab), vmovn_s16(cd));
}

static void quantize_q8_0_neon(const float *x, ehal_block_q8_0 *y, int64_t n)
{
    for (int64_t b = 0; b < n / EHAL_QK; b++) {
        const float *xb = x + b * EHAL_QK;
        const float d = block_amax(xb) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = ehal_fp32_to_fp16(d);
        int32x4_t q[8];
        for (int k = 0; k < 8; k++) {
            /* FRINTA: round half away from zero, as roundf */
            float32x4_t r = vrndaq_f32(vmulq_n_f32(vld1q_f32(xb + 4 * k), id));
            const uint32x4_t ord = vceqq_f32(r, r);
            r = vminq_f32(vmaxq_f32(r, vdupq_n_f32(-127.0f)), vdupq_n_f32(127.0f));
            r = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(r), ord)); /* NaN -> 0 */
            q[k] = vcvtq_s32_f32(r);
        }
        vst1q_s8(y[b].qs, narrow16(q[0], q[1], q[2], q[3]));
        vst1q_s8(y[b].qs + 16, narrow16(q[4], q[5], q[6], q[7]));
    }
}

static void quantize_q4_0_neon(const float *x, ehal_block_q4_0 *y, int64_t n)
{
    for (int64_t b = 0; b < n / EHAL_QK; b++) {
        const float *xb = x + b * EHAL_QK;
        const float amax = block_amax(xb);
        float max = 0.0f; /* the first value of largest magnitude, sign kept */
        if (amax > 0.0f)
            for (int j = 0; j < EHAL_QK; j++)
                if (fabsf(xb[j]) == amax) {
                    max = xb[j];
                    break;
                }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = ehal_fp32_to_fp16(d);
        int32x4_t q[8];
        for (int k = 0; k < 8; k++) {
            float32x4_t v = vaddq_f32(vmulq_n_f32(vld1q_f32(xb + 4 * k), id), vdupq_n_f32(8.5f));
            const uint32x4_t ord = vceqq_f32(v, v);
            v = vminq_f32(vmaxq_f32(v, vdupq_n_f32(0.0f)), vdupq_n_f32(15.0f));
            v = vbslq_f32(ord, v, vdupq_n_f32(8.0f));
            q[k] = vcvtq_s32_f32(v);
        }
        const int8x16_t lo = narrow16(q[0], q[1], q[2], q[3]);
        const int8x16_t hi = narrow16(q[4], q[5], q[6], q[7]);
        vst1q_u8(y[b].qs, vorrq_u8(vreinterpretq_u8_s8(lo),
                                   vshlq_n_u8(vreinterpretq_u8_s8(hi), 4)));
    }
}

const cpu_vec_ops cpu_vec_neon = {
    .name = "vec__neon",
    .isa = CPU_ISA_NEON,
    .add = add_neon,
    .mul = mul_neon,
    .swiglu = swiglu_neon,
    .sumsq = sumsq_neon,
    .scale_mul = scale_mul_neon,
    .max = max_neon,
    .exp_sum = exp_sum_neon,
    .scale = scale_neon,
    .exp = exp_neon,
    .rope_pairs = rope_pairs_neon,
    .rope_halves = rope_halves_neon,
    .f16_to_f32 = f16_to_f32_neon,
    .f32_to_f16 = f32_to_f16_neon,
    .dequantize_q8_0 = dequantize_q8_0_neon,
    .dequantize_q4_0 = dequantize_q4_0_neon,
    .quantize_q8_0 = quantize_q8_0_neon,
    .quantize_q4_0 = quantize_q4_0_neon,
};
