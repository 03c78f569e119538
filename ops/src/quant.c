/*
 * fp16 conversion and the Q8_0 / Q4_0 row quantizers. The quantizers follow
 * GGUF's reference (scalar) quantizers so the bytes match other GGUF tools;
 * quant.h states the formulas. Pure functions, thread-safe.
 */
#include <math.h>
#include <string.h>

#include "edgehal/quant.h"

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float ehal_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in binary32 */
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    if (exp == 31) {
        return bits_f32(sign | 0x7f800000u | (mant << 13)); /* Inf or NaN (payload kept) */
    }
    return bits_f32(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

/* Rounds m >> shift to nearest, ties to even. shift in [1, 31]. */
static uint32_t shift_rne(uint32_t m, uint32_t shift) {
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) {
        q++;
    }
    return q;
}

uint16_t ehal_fp32_to_fp16(float f) {
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t mant = x & 0x7fffffu;
    if (exp == 0xff) {
        if (mant == 0) {
            return (uint16_t)(sign | 0x7c00u);
        }
        /* NaN: keep the top payload bits, force quiet so it stays a NaN */
        return (uint16_t)(sign | 0x7c00u | 0x200u | (mant >> 13));
    }
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31) {
        return (uint16_t)(sign | 0x7c00u);
    }
    if (e <= 0) {
        /* half subnormal: value = M * 2^(exp-150) = m * 2^-24 */
        uint32_t shift = 126u - exp; /* >= 14 */
        if (exp == 0 || shift > 24u) {
            return (uint16_t)sign; /* below half the smallest subnormal */
        }
        uint32_t m = shift_rne(mant | 0x800000u, shift);
        return (uint16_t)(sign | m); /* m may carry into the smallest normal */
    }
    /* normal; a carry out of the mantissa correctly bumps the exponent,
     * up to Inf */
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) {
        h++;
    }
    return (uint16_t)(sign | h);
}

/* Clamps a float to [lo, hi] before an integer conversion; NaN -> nan_to.
 * Keeps the conversion defined for any input without changing in-range
 * results. */
static float clampf_nan(float v, float lo, float hi, float nan_to) {
    if (v != v) {
        return nan_to;
    }
    return v < lo ? lo : (v > hi ? hi : v);
}

void ehal_quantize_row_q8_0(const float *x, ehal_block_q8_0 *y, int64_t n) {
    int64_t nb = n / EHAL_QK;
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * EHAL_QK;
        float amax = 0.0f;
        for (int j = 0; j < EHAL_QK; j++) {
            float a = fabsf(xb[j]);
            if (a > amax) {
                amax = a;
            }
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = ehal_fp32_to_fp16(d);
        for (int j = 0; j < EHAL_QK; j++) {
            float q = clampf_nan(roundf(xb[j] * id), -127.0f, 127.0f, 0.0f);
            y[b].qs[j] = (int8_t)q;
        }
    }
}

void ehal_quantize_row_q4_0(const float *x, ehal_block_q4_0 *y, int64_t n) {
    int64_t nb = n / EHAL_QK;
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * EHAL_QK;
        float amax = 0.0f;
        float max = 0.0f; /* the value of largest magnitude, sign kept */
        for (int j = 0; j < EHAL_QK; j++) {
            float a = fabsf(xb[j]);
            if (amax < a) {
                amax = a;
                max = xb[j];
            }
        }
        float d = max / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = ehal_fp32_to_fp16(d);
        for (int j = 0; j < EHAL_QK / 2; j++) {
            /* min(15, trunc(x*id + 8.5)); values are >= 0.5 for finite input */
            /* separate statements: no fused multiply-add, as in the reference */
            float x0 = xb[j] * id;
            float x1 = xb[j + EHAL_QK / 2] * id;
            float v0 = clampf_nan(x0 + 8.5f, 0.0f, 15.0f, 8.0f); /* NaN -> code 8 (0) */
            float v1 = clampf_nan(x1 + 8.5f, 0.0f, 15.0f, 8.0f);
            uint8_t q0 = (uint8_t)v0;
            uint8_t q1 = (uint8_t)v1;
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void ehal_dequantize_row_q8_0(const ehal_block_q8_0 *x, float *y, int64_t n) {
    int64_t nb = n / EHAL_QK;
    for (int64_t b = 0; b < nb; b++) {
        float d = ehal_fp16_to_fp32(x[b].d);
        for (int j = 0; j < EHAL_QK; j++) {
            y[b * EHAL_QK + j] = (float)x[b].qs[j] * d;
        }
    }
}

void ehal_dequantize_row_q4_0(const ehal_block_q4_0 *x, float *y, int64_t n) {
    int64_t nb = n / EHAL_QK;
    for (int64_t b = 0; b < nb; b++) {
        float d = ehal_fp16_to_fp32(x[b].d);
        for (int j = 0; j < EHAL_QK / 2; j++) {
            y[b * EHAL_QK + j] = (float)((int)(x[b].qs[j] & 15u) - 8) * d;
            y[b * EHAL_QK + j + EHAL_QK / 2] = (float)((int)(x[b].qs[j] >> 4) - 8) * d;
        }
    }
}
