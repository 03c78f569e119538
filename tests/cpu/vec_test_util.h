/*
 * Helpers shared by the cpu_vec tests (test_cpu_vec.c: the row primitives;
 * test_cpu_vec_ops.c: the op kernels built on them): a deterministic
 * generator, the qemu check, the skip of a table this CPU cannot run, and
 * the tolerance check both files use (see test_cpu_vec.c for how the
 * tolerances are derived). Include after <cmocka.h>.
 */
#ifndef EHAL_VEC_TEST_UTIL_H
#define EHAL_VEC_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_isa.h"
#include "cpu_vec.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull; /* per test program */
static inline uint32_t rand32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static inline float frand(float lo, float hi) /* uniform in [lo, hi) */
{
    return lo + (hi - lo) * (float)(rand32() >> 8) / (float)(1u << 24);
}
/* Under qemu-user (QEMU_CPU set by the aarch64 stage) everything is ~100x
 * slower: fewer random samples there, the same special values. */
static inline int emulated(void)
{
    const char *q = getenv("QEMU_CPU");
    return q != NULL && q[0] != '\0';
}

static inline int skip_unless_runnable(const cpu_vec_ops *V)
{
    if (cpu_isa_supported(V->isa))
        return 0;
    print_message("SKIP %s: this CPU lacks %s\n", V->name, cpu_isa_name(V->isa));
    return 1;
}

/* |got - want| <= tol * max(|want|, 1e-3 * rms(want)); non-finite values
 * must match in class (NaN where NaN, the same infinity). */
static inline void check_close(const char *what, const float *got, const float *want, int64_t n,
                        double tol)
{
    double ss = 0.0;
    int64_t fin = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(want[i])) {
            ss += (double)want[i] * want[i];
            fin++;
        }
    const double floor_abs = fmax(1e-3 * sqrt(fin ? ss / (double)fin : 0.0), 1e-30);
    for (int64_t i = 0; i < n; i++) {
        const float g = got[i], w = want[i];
        if (isnan(w) || isinf(w)) {
            if (!(isnan(w) ? isnan(g) : g == w))
                fail_msg("%s[%lld]: got %g, want %g", what, (long long)i, (double)g, (double)w);
            continue;
        }
        const double den = fmax(fabs((double)w), floor_abs);
        if (!isfinite(g) || fabs((double)g - (double)w) / den > tol)
            fail_msg("%s[%lld] (n %lld): got %.9g, want %.9g (tol %g)", what, (long long)i,
                     (long long)n, (double)g, (double)w, tol);
    }
}


/* A check run once per table of row primitives, with the table as state. */
typedef struct vec_check {
    const char *name;
    void (*fn)(void **state);
} vec_check;

#define VEC_MAX_TESTS 64
#define VEC_NAME_SIZE 96

/* Appends to tests[n..] one test per (table of this build, check), named
 * "<table> <check>" in names[]; returns the new count (at most
 * VEC_MAX_TESTS - 1, leaving room for one more). */
static inline size_t vec_add_per_table(struct CMUnitTest *tests, char (*names)[VEC_NAME_SIZE],
                                       size_t n, const vec_check *checks, size_t n_checks)
{
    for (const cpu_vec_ops *const *t = cpu_vec_tables; *t != NULL; t++)
        for (size_t k = 0; k < n_checks && n < VEC_MAX_TESTS - 1; k++) {
            snprintf(names[n], VEC_NAME_SIZE, "%s %s", (*t)->name, checks[k].name);
            tests[n] = (struct CMUnitTest){names[n], checks[k].fn, NULL, NULL, (void *)*t};
            n++;
        }
    return n;
}

#endif
