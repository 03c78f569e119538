/*
 * Row primitives behind the element-wise CPU ops (RMS_NORM, ROPE, SWIGLU,
 * ADD, MUL, SOFTMAX, GET_ROWS, KV_WRITE), the attention's exp and the
 * activation quantizer: one table of function pointers per ISA, named
 * vec__isa, chosen at run time like the other families (cpu_isa.h).
 *
 * Every primitive takes any n >= 0 (no multiple-of-vector-width rule, no
 * alignment rule) and is pure: it writes only its output, and is safe from
 * any thread. Outputs may alias inputs exactly (y == x), never partially.
 *
 * Accuracy contract (tests/cpu/test_cpu_vec.c checks it for every table):
 *  - add, mul, f16/f32 conversion, dequantization: exact (as IEEE single
 *    precision / ehal_fp16_to_fp32 / quant.h).
 *  - quantize_q8_0, quantize_q4_0: bit-identical to ehal_quantize_row_q8_0
 *    and ehal_quantize_row_q4_0 for every input, NaN and Inf included.
 *  - exp: within 2 ulp of expf for |x| <= 87; 0 below -104, +Inf above 89;
 *    NaN stays NaN.
 *  - sumsq, exp_sum: float accumulation in vector lanes (relative error
 *    ~ n * 2^-24 / lanes).
 */
#ifndef EHAL_CPU_VEC_H
#define EHAL_CPU_VEC_H

#include <stdint.h>

#include "cpu_isa.h"
#include "edgehal/quant.h"

/* A Q8_0 row quantizer: n % 32 == 0; the signature of
 * ehal_quantize_row_q8_0, whose bytes it reproduces exactly. */
typedef void (*cpu_quantize_q8_0_fn)(const float *x, ehal_block_q8_0 *y, int64_t n);

typedef struct cpu_vec_ops {
    const char *name; /* vec__isa */
    cpu_isa isa;
    /* y = a + b, y = a * b */
    void (*add)(const float *a, const float *b, float *y, int64_t n);
    void (*mul)(const float *a, const float *b, float *y, int64_t n);
    /* y = g / (1 + exp(-g)) * u */
    void (*swiglu)(const float *g, const float *u, float *y, int64_t n);
    /* sum of x[i]^2 */
    float (*sumsq)(const float *x, int64_t n);
    /* y = x * s * w */
    void (*scale_mul)(const float *x, float s, const float *w, float *y, int64_t n);
    /* max of x[i] (NaN ignored; -Inf for n == 0) */
    float (*max)(const float *x, int64_t n);
    /* y = exp(x * scale - m); returns the sum of y */
    float (*exp_sum)(const float *x, float scale, float m, float *y, int64_t n);
    /* y = x * s */
    void (*scale)(const float *x, float s, float *y, int64_t n);
    /* y = exp(x) */
    void (*exp)(const float *x, float *y, int64_t n);
    /* ROPE on one row, n_rot rotated dims (even), the tables from
     * cpu_rope_tables: pairs (x[2i], x[2i+1]) ... */
    void (*rope_pairs)(const float *x, float *y, const float *cc, const float *ss,
                       int64_t n_rot);
    /* ... or pairs (x[i], x[i + n_rot/2]). */
    void (*rope_halves)(const float *x, float *y, const float *c, const float *s,
                        int64_t n_rot);
    void (*f16_to_f32)(const uint16_t *x, float *y, int64_t n);
    void (*f32_to_f16)(const float *x, uint16_t *y, int64_t n);
    /* n % 32 == 0 for these four */
    void (*dequantize_q8_0)(const ehal_block_q8_0 *x, float *y, int64_t n);
    void (*dequantize_q4_0)(const ehal_block_q4_0 *x, float *y, int64_t n);
    cpu_quantize_q8_0_fn quantize_q8_0;
    void (*quantize_q4_0)(const float *x, ehal_block_q4_0 *y, int64_t n);
} cpu_vec_ops;

extern const cpu_vec_ops cpu_vec_scalar;
#if defined(__x86_64__) || defined(__i386__)
extern const cpu_vec_ops cpu_vec_avx2; /* AVX2 + FMA + F16C */
#endif
#if defined(__aarch64__)
extern const cpu_vec_ops cpu_vec_neon;
#endif

/* Best first; ends with NULL. */
extern const cpu_vec_ops *const cpu_vec_tables[];

/* The best table this machine runs under the EHAL_CPU_ISA cap (never
 * NULL: the scalar table is always there). Reads cpuid and the environment:
 * pick once, keep the pointer. */
const cpu_vec_ops *cpu_vec_pick(void);
/* The best table at or below isa, for a family that already chose isa as
 * one this machine runs: no detection here, cheap enough per op call. */
const cpu_vec_ops *cpu_vec_for_isa(cpu_isa isa);

/* The vectorized Q8_0 row quantizer for activations: bit-identical to
 * ehal_quantize_row_q8_0 (same fp16 scale, same round-half-away-from-zero,
 * NaN -> 0). Equal to cpu_vec_pick()->quantize_q8_0; callers pick once and
 * keep the pointer. */
cpu_quantize_q8_0_fn cpu_vec_quantizer_q8_0(void);

/* ROPE: inv_freq[i] = freq_base^(-2i/n_rot) for i < n_rot/2 (once per
 * call), then per position theta_i = pos_scaled * inv_freq[i] in double, as
 * the reference; n_rot <= CPU_ROPE_MAX_ROT. pairs != 0: a and b get n_rot
 * floats in the interleaved
 * form rope_pairs takes (a[2i] = a[2i+1] = cos, b[2i] = -sin, b[2i+1] = sin);
 * pairs == 0: n_rot/2 floats each, cos and sin, for rope_halves. */
#define CPU_ROPE_MAX_ROT 1024 /* n_rot the tables are sized for */
void cpu_rope_inv_freq(double *inv_freq, int64_t n_rot, float freq_base);
void cpu_rope_tables(const double *inv_freq, int64_t n_rot, double pos_scaled, int pairs,
                     float *a, float *b);
/* The same tables from cos and sin of each pair's angle (n_rot/2 each). */
void cpu_rope_fill(const double *c, const double *s, int64_t n_rot, int pairs, float *a,
                   float *b);

#endif
