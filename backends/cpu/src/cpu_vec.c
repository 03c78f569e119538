/*
 * The row-primitive family table, its run-time choice, and the ROPE angle
 * tables (see cpu_vec.h).
 */
#include <math.h>

#include "cpu_vec.h"

const cpu_vec_ops *const cpu_vec_tables[] = {
#if defined(__x86_64__) || defined(__i386__)
    &cpu_vec_avx2,
#endif
#if defined(__aarch64__)
    &cpu_vec_neon,
#endif
    &cpu_vec_scalar,
    NULL,
};

const cpu_vec_ops *cpu_vec_pick(void)
{
    for (const cpu_vec_ops *const *t = cpu_vec_tables; *t != NULL; t++)
        if (cpu_isa_enabled((*t)->isa))
            return *t;
    return &cpu_vec_scalar;
}

const cpu_vec_ops *cpu_vec_for_isa(cpu_isa isa)
{
    for (const cpu_vec_ops *const *t = cpu_vec_tables; *t != NULL; t++) {
        const cpu_isa i = (*t)->isa;
        const int same_arch = (i >= CPU_ISA_NEON) == (isa >= CPU_ISA_NEON);
        if (i == CPU_ISA_SCALAR || (same_arch && i <= isa))
            return *t;
    }
    return &cpu_vec_scalar;
}

cpu_quantize_q8_0_fn cpu_vec_quantizer_q8_0(void)
{
    return cpu_vec_pick()->quantize_q8_0;
}

void cpu_rope_inv_freq(double *inv_freq, int64_t n_rot, float freq_base)
{
    for (int64_t i = 0; i < n_rot / 2; i++)
        inv_freq[i] = pow((double)freq_base, -2.0 * (double)i / (double)n_rot);
}

void cpu_rope_fill(const double *c, const double *s, int64_t n_rot, int pairs, float *a,
                   float *b)
{
    for (int64_t i = 0; i < n_rot / 2; i++) {
        const float cf = (float)c[i], sf = (float)s[i];
        if (pairs) {
            a[2 * i] = a[2 * i + 1] = cf;
            b[2 * i] = -sf;
            b[2 * i + 1] = sf;
        } else {
            a[i] = cf;
            b[i] = sf;
        }
    }
}

void cpu_rope_tables(const double *inv_freq, int64_t n_rot, double pos_scaled, int pairs,
                     float *a, float *b)
{
    double c[CPU_ROPE_MAX_ROT / 2], s[CPU_ROPE_MAX_ROT / 2];
    for (int64_t i = 0; i < n_rot / 2; i++) {
        const double theta = pos_scaled * inv_freq[i];
        c[i] = cos(theta);
        s[i] = sin(theta);
    }
    cpu_rope_fill(c, s, n_rot, pairs, a, b);
}
