/*
 * Every table of CPU row primitives (cpu_vec.h), run directly against the
 * ops/ reference: quantizers and conversions byte for byte, the rest
 * against formulas evaluated here in double, on lengths that are not
 * multiples of any vector width (the op kernels built on them:
 * test_cpu_vec_ops.c). Tests are generated per table; a table this CPU cannot run is
 * skipped with the reason printed.
 *
 * Tolerances (derived): single-precision formulas differ from double ones
 * by a few roundings, each <= 2^-24 relative; the vector exp is within
 * 2 ulp; sums of n terms in float lanes add n * 2^-24 / lanes. Hence
 * 2e-6 relative for per-element results, 1e-5 for row sums and normalized
 * rows (n <= 4097), measured against max(|ref|, 1e-3 * rms(ref)) as the
 * conformance table does. ROPE rounds cos and sin to float (2^-24 absolute
 * each) before x0 c - x1 s, which may cancel: the absolute error is up to
 * ~4 * 2^-24 * max|x|, i.e. 5e-4 of the 1e-3 * rms floor for |x| <= 3.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu_isa.h"
#include "cpu_vec.h"
#include "edgehal/ops.h"
#include "vec_test_util.h"

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static const int64_t lengths[] = {0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 100, 1027};
#define N_LENGTHS (sizeof lengths / sizeof lengths[0])

/* ---- quantizers: byte for byte ------------------------------------------------ */

/* Blocks that exercise every branch of the reference quantizers: random
 * magnitudes over 12 decades, exact .5 ties at power-of-two scales, ties
 * for the largest magnitude with both signs, zeros, subnormals, +-Inf,
 * NaN, values near FLT_MAX. Returns the value count (a multiple of 32). */
static int64_t quant_inputs(float *x, int64_t cap_blocks)
{
    int64_t b = 0;
    for (; b < 8 && b < cap_blocks; b++) { /* ties: (k + .5) * 2^e with max 127 * 2^e */
        const float s = ldexpf(1.0f, (int)b * 5 - 20);
        x[b * 32] = 127.0f * s;
        for (int j = 1; j < 32; j++)
            x[b * 32 + j] = ((float)((int)(rand32() % 253) - 126) + (j & 1 ? 0.5f : -0.5f)) * s;
    }
    static const float special[][4] = {
        {NAN, 1.0f, -2.0f, 0.5f},       {INFINITY, 1.0f, 0.0f, -1.0f},
        {-INFINITY, NAN, 3.0f, 0.0f},   {0.0f, -0.0f, 0.0f, 0.0f},
        {1e-40f, -3e-41f, 1e-45f, 0.0f}, {3.4e38f, -3.4e38f, 1.0f, 2.0f},
        {-5.0f, 5.0f, 1.0f, -1.0f},     {5.0f, -5.0f, 4.0f, NAN},
        {NAN, NAN, NAN, NAN},           {1e-30f, -1e-30f, 7e-31f, 0.0f},
    };
    for (size_t k = 0; k < sizeof special / sizeof special[0] && b < cap_blocks; k++, b++)
        for (int j = 0; j < 32; j++) /* specials spread over the block, mild fill */
            x[b * 32 + j] = j % 8 == 0 ? special[k][j / 8] : special[k][1] * 0.25f * (j % 3);
    for (; b < cap_blocks; b++) {
        const float s = powf(10.0f, frand(-6.0f, 6.0f));
        for (int j = 0; j < 32; j++)
            x[b * 32 + j] = frand(-1.0f, 1.0f) * s;
    }
    return b * 32;
}

static void test_q8_0_quantizer_is_bit_identical_to_ops(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    const int64_t nb = emulated() ? 64 : 4096;
    float *x = malloc(sizeof(float) * (size_t)nb * 32);
    ehal_block_q8_0 *got = malloc(sizeof *got * (size_t)nb), *want = malloc(sizeof *want * (size_t)nb);
    assert_non_null(x && got && want);
    const int64_t n = quant_inputs(x, nb);
    ehal_quantize_row_q8_0(x, want, n);
    /* Whole rows, and rows starting at every block offset below 8 with
     * every block count mod 8 (a table may quantize 8 or 4 blocks at once
     * and the rest one by one). */
    for (int64_t skip = 0; skip < 9; skip++) {
        const int64_t b0 = skip, b1 = nb - (skip * 6) % 8; /* b1 - b0 = skip mod 8 */
        memset(got, 0xA5, sizeof *got * (size_t)nb);
        V->quantize_q8_0(x + b0 * 32, got + b0, (b1 - b0) * 32);
        for (int64_t b = b0; b < b1; b++)
            if (memcmp(&got[b], &want[b], sizeof got[b]) != 0)
                fail_msg("%s: Q8_0 block %lld of [%lld, %lld) differs (d %04x vs %04x, x[0] %g)",
                         V->name, (long long)b, (long long)b0, (long long)b1, got[b].d,
                         want[b].d, (double)x[b * 32]);
        if (b1 < nb && got[b1].d != 0xA5A5)
            fail_msg("%s: Q8_0 wrote past block %lld", V->name, (long long)b1);
    }
    free(x);
    free(got);
    free(want);
}

static void test_q4_0_quantizer_is_bit_identical_to_ops(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    const int64_t nb = emulated() ? 64 : 4096;
    float *x = malloc(sizeof(float) * (size_t)nb * 32);
    ehal_block_q4_0 *got = malloc(sizeof *got * (size_t)nb), *want = malloc(sizeof *want * (size_t)nb);
    assert_non_null(x && got && want);
    const int64_t n = quant_inputs(x, nb);
    ehal_quantize_row_q4_0(x, want, n);
    memset(got, 0xA5, sizeof *got * (size_t)nb);
    V->quantize_q4_0(x, got, n);
    for (int64_t b = 0; b < nb; b++)
        if (memcmp(&got[b], &want[b], sizeof got[b]) != 0)
            fail_msg("%s: Q4_0 block %lld differs (d %04x vs %04x)", V->name, (long long)b,
                     got[b].d, want[b].d);
    free(x);
    free(got);
    free(want);
}

/* The exported activation quantizer is the picked table's and matches ops/. */
static void test_activation_quantizer_is_the_picked_tables(void **state)
{
    (void)state;
    assert_ptr_equal(cpu_vec_quantizer_q8_0(), cpu_vec_pick()->quantize_q8_0);
    float x[64];
    for (int j = 0; j < 64; j++)
        x[j] = (float)j - 31.5f; /* d = 32/127: no ties, many roundings */
    ehal_block_q8_0 got[2], want[2];
    cpu_vec_quantizer_q8_0()(x, got, 64);
    ehal_quantize_row_q8_0(x, want, 64);
    assert_memory_equal(got, want, sizeof got);
    print_message("activation quantizer on this CPU: %s\n", cpu_vec_pick()->name);
}

/* EHAL_CPU_ISA=scalar makes the dispatch pick the portable table, whose
 * quantizer is the ops/ one; without a cap the best runnable table wins. */
static void test_isa_cap_scalar_picks_the_scalar_table(void **state)
{
    (void)state;
    const char *old = getenv(CPU_ISA_ENV);
    char saved[32] = "";
    if (old != NULL)
        snprintf(saved, sizeof saved, "%s", old);
    setenv(CPU_ISA_ENV, "scalar", 1);
    assert_ptr_equal(cpu_vec_pick(), &cpu_vec_scalar);
    assert_true(cpu_vec_quantizer_q8_0() == ehal_quantize_row_q8_0);
    unsetenv(CPU_ISA_ENV);
    const cpu_vec_ops *best = cpu_vec_tables[0];
    assert_ptr_equal(cpu_vec_pick(), cpu_isa_supported(best->isa) ? best : &cpu_vec_scalar);
    if (old != NULL)
        setenv(CPU_ISA_ENV, saved, 1);
}

/* ---- conversions: exact ----------------------------------------------------------- */

/* Every binary16 value; a NaN must stay a NaN with its sign and payload
 * (hardware may set the quiet bit of a signaling NaN). */
static void test_f16_to_f32_is_exact_for_every_value(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    uint16_t *h = malloc(sizeof *h * 65536);
    float *y = malloc(sizeof *y * 65537);
    assert_non_null(h && y);
    for (uint32_t i = 0; i < 65536; i++)
        h[i] = (uint16_t)(i * 40503u); /* a permutation: every value, mixed order */
    V->f16_to_f32(h, y, 65535);        /* odd length: the tail path too */
    V->f16_to_f32(h + 65535, y + 65535, 1);
    for (uint32_t i = 0; i < 65536; i++) {
        const uint32_t g = f32_bits(y[i]), w = f32_bits(ehal_fp16_to_fp32(h[i]));
        const int nan = (h[i] & 0x7c00u) == 0x7c00u && (h[i] & 0x3ffu) != 0;
        if (nan ? (g | 0x400000u) != (w | 0x400000u) : g != w)
            fail_msg("%s: f16 %04x -> %08x, want %08x", V->name, h[i], g, w);
    }
    free(h);
    free(y);
}

static void test_f32_to_f16_is_bit_identical_to_ops(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    const int64_t n = emulated() ? 20001 : 1000003;
    float *x = malloc(sizeof *x * (size_t)n);
    uint16_t *got = malloc(sizeof *got * (size_t)n);
    assert_non_null(x && got);
    int64_t i = 0;
    /* every exponent's round-to-even ties and their neighbours, then random bits */
    for (uint32_t e = 90; e < 150 && i + 6 < n; e++)
        for (uint32_t m = 0x1000u; m < 0x400000u && i + 6 < n; m += 0x7e000u) {
            const uint32_t u = (e << 23) | m;
            x[i++] = bits_f32(u);
            x[i++] = bits_f32(u | 0x80000000u);
            x[i++] = bits_f32(u + 1u);
            x[i++] = bits_f32((u & ~0x1fffu) | 0x1000u); /* exact tie */
            x[i++] = bits_f32((u & ~0x1fffu) | 0x3000u); /* tie, odd */
        }
    for (; i < n; i++)
        x[i] = bits_f32(rand32() ^ (rand32() << 16));
    V->f32_to_f16(x, got, n);
    for (i = 0; i < n; i++) {
        const uint16_t w = ehal_fp32_to_fp16(x[i]);
        if (got[i] != w)
            fail_msg("%s: f32 %08x -> f16 %04x, want %04x", V->name, f32_bits(x[i]), got[i], w);
    }
    free(x);
    free(got);
}

static void test_dequantizers_are_exact(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    enum { NB = 67 };
    ehal_block_q8_0 q8[NB];
    ehal_block_q4_0 q4[NB];
    for (int b = 0; b < NB; b++) {
        const uint16_t d = (uint16_t)(rand32() & 0x7bffu) | (uint16_t)(b & 1 ? 0x8000u : 0);
        q8[b].d = q4[b].d = d;
        for (int j = 0; j < 32; j++)
            q8[b].qs[j] = (int8_t)(rand32() & 0xff);
        for (int j = 0; j < 16; j++)
            q4[b].qs[j] = (uint8_t)(rand32() & 0xff);
    }
    float got[NB * 32], want[NB * 32];
    V->dequantize_q8_0(q8, got, NB * 32);
    ehal_dequantize_row_q8_0(q8, want, NB * 32);
    assert_memory_equal(got, want, sizeof got);
    V->dequantize_q4_0(q4, got, NB * 32);
    ehal_dequantize_row_q4_0(q4, want, NB * 32);
    assert_memory_equal(got, want, sizeof got);
}

/* ---- exp and the row formulas -------------------------------------------------------- */

static double ulp_of(float w)
{
    const float a = fabsf(w);
    return fmax((double)nextafterf(a, INFINITY) - (double)a, ldexp(1.0, -149));
}

static void test_exp_is_within_2_ulp_and_keeps_special_values(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    const int64_t n = emulated() ? 19301 : 193001;
    float *x = malloc(sizeof *x * (size_t)n), *y = malloc(sizeof *y * (size_t)n);
    assert_non_null(x && y);
    for (int64_t i = 0; i < n; i++) /* -104 .. 89 */
        x[i] = -104.0f + 193.0f * (float)i / (float)(n - 1) + frand(0.0f, 1e-3f);
    V->exp(x, y, n);
    for (int64_t i = 0; i < n; i++) {
        const float w = (float)exp((double)x[i]);
        if (isinf(w)) {
            if (!(y[i] == w || y[i] >= 3.4e38f))
                fail_msg("%s: exp(%g) = %g, want %g", V->name, (double)x[i], (double)y[i],
                         (double)w);
            continue;
        }
        if (fabs((double)y[i] - (double)w) > 2.0 * ulp_of(w))
            fail_msg("%s: exp(%.9g) = %.9g, want %.9g (> 2 ulp)", V->name, (double)x[i],
                     (double)y[i], (double)w);
    }
    const float sx[] = {NAN, -INFINITY, INFINITY, 0.0f, -0.0f, 200.0f, -200.0f, 1.0f, -1.0f};
    float sy[9];
    V->exp(sx, sy, 9);
    assert_true(isnan(sy[0]));
    assert_true(sy[1] == 0.0f);
    assert_true(isinf(sy[2]) && sy[2] > 0);
    assert_true(sy[3] == 1.0f && sy[4] == 1.0f);
    assert_true(isinf(sy[5]) && sy[6] == 0.0f);
    assert_true(fabs(sy[7] - 2.718281828) < 3e-7 && fabs(sy[8] - 0.3678794412) < 5e-8);
    free(x);
    free(y);
}

static void test_row_primitives_match_double_formulas(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    enum { NMAX = 1027 };
    static float a[NMAX], b[NMAX], y[NMAX], want[NMAX], a2[NMAX];
    for (size_t li = 0; li < N_LENGTHS; li++) {
        const int64_t n = lengths[li];
        for (int64_t i = 0; i < n; i++) {
            a[i] = frand(-8.0f, 8.0f);
            b[i] = frand(-2.0f, 2.0f);
        }
        V->add(a, b, y, n);
        for (int64_t i = 0; i < n; i++)
            want[i] = a[i] + b[i];
        assert_memory_equal(y, want, sizeof(float) * (size_t)n);
        V->mul(a, b, y, n);
        for (int64_t i = 0; i < n; i++)
            want[i] = a[i] * b[i];
        assert_memory_equal(y, want, sizeof(float) * (size_t)n);
        V->scale(a, 0.37f, y, n);
        for (int64_t i = 0; i < n; i++)
            want[i] = a[i] * 0.37f;
        assert_memory_equal(y, want, sizeof(float) * (size_t)n);
        V->swiglu(a, b, y, n);
        for (int64_t i = 0; i < n; i++)
            want[i] = (float)((double)a[i] / (1.0 + exp(-(double)a[i])) * (double)b[i]);
        check_close("swiglu", y, want, n, 2e-6);
        V->scale_mul(a, 0.61f, b, y, n);
        for (int64_t i = 0; i < n; i++)
            want[i] = (float)((double)a[i] * 0.61f * (double)b[i]);
        check_close("scale_mul", y, want, n, 2e-6);
        double ss = 0.0;
        float mx = -INFINITY;
        for (int64_t i = 0; i < n; i++) {
            ss += (double)a[i] * a[i];
            mx = a[i] > mx ? a[i] : mx;
        }
        const float got_ss = V->sumsq(a, n), want_ss = (float)ss;
        check_close("sumsq", &got_ss, &want_ss, 1, 1e-5);
        assert_true(V->max(a, n) == mx);
        /* exp_sum: y = exp(a * s - m), the sum of y */
        const float m = 0.5f * mx;
        const float got_sum = V->exp_sum(a, 0.5f, m, y, n);
        double sum = 0.0;
        for (int64_t i = 0; i < n; i++) {
            want[i] = (float)exp((double)a[i] * 0.5 - (double)m);
            sum += want[i];
        }
        check_close("exp_sum y", y, want, n, 2e-6);
        const float want_sum = (float)sum;
        check_close("exp_sum", &got_sum, &want_sum, n ? 1 : 0, 1e-5);
        /* in place, exactly aliased */
        memcpy(a2, a, sizeof(float) * (size_t)n);
        V->exp(a2, a2, n);
        for (int64_t i = 0; i < n; i++)
            want[i] = (float)exp((double)a[i]);
        check_close("exp in place", a2, want, n, 3e-7);
    }
    /* max ignores NaN, as the reference's `x > m` */
    float nanrow[19];
    for (int i = 0; i < 19; i++)
        nanrow[i] = (float)i;
    nanrow[18] = NAN;
    nanrow[3] = NAN;
    assert_true(V->max(nanrow, 19) == 17.0f);
}

static void test_rope_rows_match_double_rotation(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    static const int64_t rots[] = {2, 4, 6, 8, 10, 14, 16, 18, 34, 64, 128, 130};
    for (size_t k = 0; k < sizeof rots / sizeof rots[0]; k++) {
        const int64_t n_rot = rots[k], h = n_rot / 2;
        double inv[128];
        float ta[260], tb[260], x[260], y[260], want[260];
        cpu_rope_inv_freq(inv, n_rot, 10000.0f);
        for (int pairs = 0; pairs < 2; pairs++) {
            const double pos = 37.0 * 1.5;
            cpu_rope_tables(inv, n_rot, pos, pairs, ta, tb);
            for (int64_t i = 0; i < n_rot; i++)
                x[i] = frand(-3.0f, 3.0f);
            for (int64_t i = 0; i < h; i++) {
                const double th = pos * pow(10000.0, -2.0 * (double)i / (double)n_rot);
                const int64_t i0 = pairs ? 2 * i : i, i1 = pairs ? 2 * i + 1 : i + h;
                want[i0] = (float)(x[i0] * cos(th) - x[i1] * sin(th));
                want[i1] = (float)(x[i0] * sin(th) + x[i1] * cos(th));
            }
            if (pairs)
                V->rope_pairs(x, y, ta, tb, n_rot);
            else
                V->rope_halves(x, y, ta, tb, n_rot);
            check_close(pairs ? "rope_pairs" : "rope_halves", y, want, n_rot, 5e-4);
            if (pairs) /* in place */
                V->rope_pairs(x, x, ta, tb, n_rot);
            else
                V->rope_halves(x, x, ta, tb, n_rot);
            assert_memory_equal(x, y, sizeof(float) * (size_t)n_rot);
        }
    }
}

int main(void)
{
    static const vec_check per_table[] = {
        {"q8_0 quantizer bit-identical", test_q8_0_quantizer_is_bit_identical_to_ops},
        {"q4_0 quantizer bit-identical", test_q4_0_quantizer_is_bit_identical_to_ops},
        {"f16->f32 exact", test_f16_to_f32_is_exact_for_every_value},
        {"f32->f16 bit-identical", test_f32_to_f16_is_bit_identical_to_ops},
        {"dequantizers exact", test_dequantizers_are_exact},
        {"exp within 2 ulp", test_exp_is_within_2_ulp_and_keeps_special_values},
        {"row primitives", test_row_primitives_match_double_formulas},
        {"rope rows", test_rope_rows_match_double_rotation},
    };
    struct CMUnitTest tests[VEC_MAX_TESTS];
    static char names[VEC_MAX_TESTS][VEC_NAME_SIZE];
    size_t n = vec_add_per_table(tests, names, 0, per_table, sizeof per_table / sizeof per_table[0]);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_activation_quantizer_is_the_picked_tables);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_isa_cap_scalar_picks_the_scalar_table);
    return _cmocka_run_group_tests("cpu_vec", tests, n, NULL, NULL);
}
