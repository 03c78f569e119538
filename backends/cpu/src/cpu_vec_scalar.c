/*
 * Portable row primitives (see cpu_vec.h): the fallback on every machine,
 * written so the compiler can vectorize the simple loops. The quantizers
 * and conversions are the ops/ reference functions themselves.
 */
#include <math.h>
#include <string.h>

#include "cpu_vec.h"

static void add_s(const float *a, const float *b, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

static void mul_s(const float *a, const float *b, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] * b[i];
}

static void swiglu_s(const float *g, const float *u, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static float sumsq_s(const float *x, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)x[i] * (double)x[i];
    return (float)s;
}

static void scale_mul_s(const float *x, float s, const float *w, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * s * w[i];
}

static float max_s(const float *x, int64_t n)
{
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

static float exp_sum_s(const float *x, float scale, float m, float *y, int64_t n)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        y[i] = expf(x[i] * scale - m);
        sum += y[i];
    }
    return (float)sum;
}

static void scale_s(const float *x, float s, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * s;
}

static void exp_s(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = expf(x[i]);
}

static void rope_pairs_s(const float *x, float *y, const float *cc, const float *ss,
                         int64_t n_rot)
{
    for (int64_t i = 0; i < n_rot; i += 2) {
        const float x0 = x[i], x1 = x[i + 1];
        y[i] = x0 * cc[i] + x1 * ss[i];
        y[i + 1] = x1 * cc[i + 1] + x0 * ss[i + 1];
    }
}

static void rope_halves_s(const float *x, float *y, const float *c, const float *s,
                          int64_t n_rot)
{
    const int64_t h = n_rot / 2;
    for (int64_t i = 0; i < h; i++) {
        const float x0 = x[i], x1 = x[i + h];
        y[i] = x0 * c[i] - x1 * s[i];
        y[i + h] = x1 * c[i] + x0 * s[i];
    }
}

static void f16_to_f32_s(const uint16_t *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = ehal_fp16_to_fp32(x[i]);
}

static void f32_to_f16_s(const float *x, uint16_t *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = ehal_fp32_to_fp16(x[i]);
}

const cpu_vec_ops cpu_vec_scalar = {
    .name = "vec__scalar",
    .isa = CPU_ISA_SCALAR,
    .add = add_s,
    .mul = mul_s,
    .swiglu = swiglu_s,
    .sumsq = sumsq_s,
    .scale_mul = scale_mul_s,
    .max = max_s,
    .exp_sum = exp_sum_s,
    .scale = scale_s,
    .exp = exp_s,
    .rope_pairs = rope_pairs_s,
    .rope_halves = rope_halves_s,
    .f16_to_f32 = f16_to_f32_s,
    .f32_to_f16 = f32_to_f16_s,
    .dequantize_q8_0 = ehal_dequantize_row_q8_0,
    .dequantize_q4_0 = ehal_dequantize_row_q4_0,
    .quantize_q8_0 = ehal_quantize_row_q8_0,
    .quantize_q4_0 = ehal_quantize_row_q4_0,
};
