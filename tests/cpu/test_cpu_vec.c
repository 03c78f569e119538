/*
 * Every table of CPU row primitives (cpu_vec.h) and the element-wise op
 * kernels built on them (cpu_ops_elem.c), run directly against the ops/
 * reference: quantizers and conversions byte for byte, the rest against
 * formulas evaluated here in double, and each op kernel against its
 * ehal_ref_* kernel on shapes whose lengths are not multiples of any vector
 * width. Tests are generated per table; a table this CPU cannot run is
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

#include "cpu_attn.h"
#include "cpu_internal.h"
#include "cpu_isa.h"
#include "cpu_pool.h"
#include "cpu_vec.h"
#include "cpu_vec_kernels.h"
#include "edgehal/ops.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rand32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static float frand(float lo, float hi) /* uniform in [lo, hi) */
{
    return lo + (hi - lo) * (float)(rand32() >> 8) / (float)(1u << 24);
}
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

/* Under qemu-user (QEMU_CPU set by the aarch64 stage) everything is ~100x
 * slower: fewer random samples there, the same special values. */
static int emulated(void)
{
    const char *q = getenv("QEMU_CPU");
    return q != NULL && q[0] != '\0';
}

static int skip_unless_runnable(const cpu_vec_ops *V)
{
    if (cpu_isa_supported(V->isa))
        return 0;
    print_message("SKIP %s: this CPU lacks %s\n", V->name, cpu_isa_name(V->isa));
    return 1;
}

/* |got - want| <= tol * max(|want|, 1e-3 * rms(want)); non-finite values
 * must match in class (NaN where NaN, the same infinity). */
static void check_close(const char *what, const float *got, const float *want, int64_t n,
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

/* ---- op kernels against the ehal_ref_* kernels ------------------------------------------ */

/* A one-node subgraph over caller-owned data (tensor i is input i; the
 * output is tensor out_index, a new one or an input for KV_WRITE). */
typedef struct one_node {
    ehal_tensor_desc t[4];
    const ehal_tensor_desc *tp[4];
    ehal_node_desc n;
    const ehal_node_desc *np;
    ehal_subgraph sg;
    ehal_kernel_args a;
} one_node;

static void set_desc(ehal_tensor_desc *t, uint32_t dtype, int64_t n0, int64_t n1, int64_t n2)
{
    memset(t, 0, sizeof *t);
    t->struct_size = sizeof *t;
    t->dtype = dtype;
    t->ne[0] = n0, t->ne[1] = n1, t->ne[2] = n2, t->ne[3] = 1;
}

static void one_node_init(one_node *o, uint32_t op, uint32_t n_in, uint32_t out_index,
                          const void *params, uint32_t params_size, void *const *data,
                          void *out_data)
{
    memset(&o->n, 0, sizeof o->n);
    o->n.struct_size = sizeof o->n;
    o->n.op = op;
    o->n.n_inputs = n_in;
    o->n.n_outputs = 1;
    for (uint32_t i = 0; i < n_in; i++)
        o->n.inputs[i] = i;
    o->n.outputs[0] = out_index;
    o->n.params = params;
    o->n.params_size = params_size;
    const uint32_t nt = out_index == n_in ? n_in + 1 : n_in;
    for (uint32_t i = 0; i < nt; i++)
        o->tp[i] = &o->t[i];
    o->np = &o->n;
    memset(&o->sg, 0, sizeof o->sg);
    o->sg.struct_size = sizeof o->sg;
    o->sg.n_tensors = nt;
    o->sg.n_nodes = 1;
    o->sg.tensors = o->tp;
    o->sg.nodes = &o->np;
    char msg[256] = "";
    if (ehal_op_validate(&o->sg, 0, msg, sizeof msg) != EHAL_STATUS_OK)
        fail_msg("test node invalid: %s", msg);
    memset(&o->a, 0, sizeof o->a);
    o->a.sg = &o->sg;
    for (uint32_t i = 0; i < n_in; i++) {
        o->a.in[i] = &o->t[i];
        o->a.in_data[i] = data[i];
    }
    o->a.out = &o->t[out_index];
    o->a.out_data = out_data;
}

typedef ehal_status_t (*vec_op_fn)(const cpu_vec_ops *V, ehal_backend_impl *be,
                                   const ehal_kernel_args *a);

/* Runs the kernel with no pool and with a 3-worker pool, and the reference
 * into its own output; out_bytes of output compared by the caller. */
static void run_both(const cpu_vec_ops *V, vec_op_fn fn, one_node *o, void *ref_out,
                     void *got_out, void *got_out_pool, size_t out_bytes)
{
    ehal_backend_impl be;
    memset(&be, 0, sizeof be);
    void *const saved = o->a.out_data;
    o->a.out_data = ref_out;
    assert_int_equal(ehal_ref_kernel(o->n.op)(&o->a), EHAL_STATUS_OK);
    o->a.out_data = got_out;
    assert_int_equal(fn(V, &be, &o->a), EHAL_STATUS_OK);
    be.pool = cpu_pool_create(NULL, 3);
    assert_non_null(be.pool);
    o->a.out_data = got_out_pool;
    assert_int_equal(fn(V, &be, &o->a), EHAL_STATUS_OK);
    cpu_pool_destroy(be.pool);
    o->a.out_data = saved;
    (void)out_bytes;
}

static float *frow(int64_t n, float lo, float hi)
{
    float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++)
        p[i] = frand(lo, hi);
    return p;
}

static void check_elementwise_op(const cpu_vec_ops *V, uint32_t op, vec_op_fn fn, int64_t D,
                                 int64_t R, const void *params, uint32_t psize, double tol)
{
    const int n_in = op == EHAL_OP_SOFTMAX ? 1 : 2;
    const int64_t n = D * R;
    float *x = frow(n, -6.0f, 6.0f);
    float *z = op == EHAL_OP_RMS_NORM ? frow(D, -2.0f, 2.0f) : frow(n, -2.0f, 2.0f);
    float *ref = frow(n, 0, 0), *got = frow(n, 0, 0), *gotp = frow(n, 0, 0);
    one_node o;
    set_desc(&o.t[0], EHAL_DTYPE_F32, D, R, 1);
    if (op == EHAL_OP_RMS_NORM)
        set_desc(&o.t[1], EHAL_DTYPE_F32, D, 1, 1);
    else
        set_desc(&o.t[1], EHAL_DTYPE_F32, D, R, 1);
    set_desc(&o.t[n_in], EHAL_DTYPE_F32, D, R, 1);
    void *data[2] = {x, z};
    one_node_init(&o, op, (uint32_t)n_in, (uint32_t)n_in, params, psize, data, got);
    run_both(V, fn, &o, ref, got, gotp, sizeof(float) * (size_t)n);
    char what[96];
    snprintf(what, sizeof what, "%s %s D%lld R%lld", V->name, ehal_op_name(op), (long long)D,
             (long long)R);
    check_close(what, got, ref, n, tol);
    assert_memory_equal(got, gotp, sizeof(float) * (size_t)n); /* threads change nothing */
    free(x);
    free(z);
    free(ref);
    free(got);
    free(gotp);
}

static void test_elementwise_ops_match_reference(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    static const int64_t shapes[][2] = {{1, 1}, {7, 3}, {17, 5}, {64, 2}, {100, 3}, {4097, 2},
                                        {33, 4096}};
    const size_t ns = emulated() ? 5 : sizeof shapes / sizeof shapes[0];
    const ehal_params_rms_norm rp = {1e-5f};
    const ehal_params_softmax sp1 = {1.0f}, sp2 = {0.125f};
    for (size_t s = 0; s < ns; s++) {
        const int64_t D = shapes[s][0], R = shapes[s][1];
        check_elementwise_op(V, EHAL_OP_ADD, cpu_vec_op_add, D, R, NULL, 0, 1e-7);
        check_elementwise_op(V, EHAL_OP_MUL, cpu_vec_op_mul, D, R, NULL, 0, 1e-7);
        check_elementwise_op(V, EHAL_OP_SWIGLU, cpu_vec_op_swiglu, D, R, NULL, 0, 2e-6);
        check_elementwise_op(V, EHAL_OP_RMS_NORM, cpu_vec_op_rms_norm, D, R, &rp, sizeof rp, 1e-5);
        check_elementwise_op(V, EHAL_OP_SOFTMAX, cpu_vec_op_softmax, D, R, &sp1, sizeof sp1, 1e-5);
        check_elementwise_op(V, EHAL_OP_SOFTMAX, cpu_vec_op_softmax, D, R, &sp2, sizeof sp2, 1e-5);
    }
}

static void test_rope_op_matches_reference(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    /* D, H, T, n_rot, mode, first position, freq_scale, a jump of 5
     * positions halfway (consecutive runs turn the angles step by step,
     * exactly recomputed after a jump and every 64 positions; the last
     * case is large enough to be split over the pool) */
    static const struct {
        int64_t D, H, T;
        uint32_t n_rot, mode;
        int32_t pos0;
        float fs;
        int jump;
    } cases[] = {{64, 4, 3, 64, EHAL_ROPE_NORMAL, 0, 1.0f, 0},
                 {64, 4, 3, 64, EHAL_ROPE_NEOX, 5, 1.0f, 0},
                 {18, 3, 2, 10, EHAL_ROPE_NORMAL, 7, 0.5f, 0},
                 {18, 3, 2, 10, EHAL_ROPE_NEOX, 7, 0.5f, 0},
                 {128, 2, 40, 96, EHAL_ROPE_NEOX, 4000, 1.0f, 1},
                 {6, 1, 1, 2, EHAL_ROPE_NORMAL, 3, 1.0f, 0},
                 {128, 4, 150, 128, EHAL_ROPE_NORMAL, 3900, 0.25f, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int64_t D = cases[c].D, H = cases[c].H, T = cases[c].T, n = D * H * T;
        float *x = frow(n, -2.0f, 2.0f), *ref = frow(n, 0, 0), *got = frow(n, 0, 0),
              *gotp = frow(n, 0, 0);
        int32_t pos[160];
        for (int64_t t = 0; t < T; t++)
            pos[t] = cases[c].pos0 + (int32_t)t + (cases[c].jump && t >= T / 2 ? 5 : 0);
        ehal_params_rope p = {cases[c].mode, cases[c].n_rot, 10000.0f, cases[c].fs};
        one_node o;
        set_desc(&o.t[0], EHAL_DTYPE_F32, D, H, T);
        set_desc(&o.t[1], EHAL_DTYPE_I32, T, 1, 1);
        set_desc(&o.t[2], EHAL_DTYPE_F32, D, H, T);
        void *data[2] = {x, pos};
        one_node_init(&o, EHAL_OP_ROPE, 2, 2, &p, sizeof p, data, got);
        run_both(V, cpu_vec_op_rope, &o, ref, got, gotp, sizeof(float) * (size_t)n);
        check_close("rope", got, ref, n, 5e-4);
        assert_memory_equal(got, gotp, sizeof(float) * (size_t)n);
        free(x);
        free(ref);
        free(got);
        free(gotp);
    }
}

static void test_get_rows_is_exact_for_every_dtype(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    static const uint32_t dts[] = {EHAL_DTYPE_F32, EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0,
                                   EHAL_DTYPE_Q4_0};
    for (size_t k = 0; k < 4; k++) {
        const uint32_t dt = dts[k];
        const int64_t D = dt == EHAL_DTYPE_Q8_0 || dt == EHAL_DTYPE_Q4_0 ? 96 : 37, Vn = 11, T = 7;
        float *src = frow(D * Vn, -3.0f, 3.0f);
        const uint64_t rb = ehal_row_bytes(dt, D);
        uint8_t *table = malloc(rb * (size_t)Vn);
        assert_non_null(table);
        for (int64_t r = 0; r < Vn; r++)
            assert_int_equal(ehal_convert_row(EHAL_DTYPE_F32, src + r * D, dt, table + r * rb, D),
                             EHAL_STATUS_OK);
        int32_t ids[7] = {3, 0, 10, 3, 7, 1, 9};
        float *ref = frow(D * T, 0, 0), *got = frow(D * T, 0, 0), *gotp = frow(D * T, 0, 0);
        one_node o;
        set_desc(&o.t[0], dt, D, Vn, 1);
        set_desc(&o.t[1], EHAL_DTYPE_I32, T, 1, 1);
        set_desc(&o.t[2], EHAL_DTYPE_F32, D, T, 1);
        void *data[2] = {table, ids};
        one_node_init(&o, EHAL_OP_GET_ROWS, 2, 2, NULL, 0, data, got);
        run_both(V, cpu_vec_op_get_rows, &o, ref, got, gotp, sizeof(float) * (size_t)(D * T));
        assert_memory_equal(got, ref, sizeof(float) * (size_t)(D * T));
        assert_memory_equal(gotp, ref, sizeof(float) * (size_t)(D * T));
        /* a row id outside the table: declined, nothing written */
        ids[4] = 11;
        memset(got, 0x5a, sizeof(float) * (size_t)(D * T));
        memcpy(gotp, got, sizeof(float) * (size_t)(D * T));
        ehal_backend_impl be;
        memset(&be, 0, sizeof be);
        o.a.out_data = got;
        assert_int_equal(cpu_vec_op_get_rows(V, &be, &o.a), EHAL_STATUS_UNSUPPORTED);
        assert_memory_equal(got, gotp, sizeof(float) * (size_t)(D * T));
        free(src);
        free(table);
        free(ref);
        free(got);
        free(gotp);
    }
}

static void test_kv_write_is_bit_identical_for_every_cache_dtype(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    static const uint32_t dts[] = {EHAL_DTYPE_F32, EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0,
                                   EHAL_DTYPE_Q4_0};
    /* full cache; a window with sinks, the batch wrapping around the ring */
    static const ehal_params_kv kvs[] = {{0, 0}, {4, 2}};
    for (size_t k = 0; k < 4; k++)
        for (size_t w = 0; w < 2; w++) {
            const uint32_t dt = dts[k];
            const int64_t D = dt == EHAL_DTYPE_Q8_0 || dt == EHAL_DTYPE_Q4_0 ? 64 : 19;
            const int64_t H = 3, T = 9, C = w ? 14 : 16;
            float *src = frow(D * H * T, -4.0f, 4.0f);
            src[5] = NAN;
            src[D + 1] = INFINITY;
            const size_t bytes = ehal_row_bytes(dt, D) * (size_t)(C * H);
            uint8_t *ref = malloc(bytes), *got = malloc(bytes), *gotp = malloc(bytes);
            assert_non_null(ref && got && gotp);
            memset(ref, 0x33, bytes);
            memcpy(got, ref, bytes);
            memcpy(gotp, ref, bytes);
            int32_t pos[9];
            for (int64_t t = 0; t < T; t++)
                pos[t] = (int32_t)(w ? 20 + t : 2 + t);
            one_node o;
            set_desc(&o.t[0], EHAL_DTYPE_F32, D, H, T);
            set_desc(&o.t[1], EHAL_DTYPE_I32, T, 1, 1);
            set_desc(&o.t[2], dt, D, C, H);
            void *data[3] = {src, pos, got};
            one_node_init(&o, EHAL_OP_KV_WRITE, 3, 2, &kvs[w], sizeof kvs[w], data, got);
            run_both(V, cpu_vec_op_kv_write, &o, ref, got, gotp, bytes);
            if (memcmp(got, ref, bytes) != 0 || memcmp(gotp, ref, bytes) != 0)
                fail_msg("%s: kv_write %s window %u differs from the reference", V->name,
                         ehal_dtype_name(dt), kvs[w].window);
            /* a position past a full cache: declined, nothing written */
            if (w == 0) {
                pos[8] = 16;
                memcpy(gotp, got, bytes);
                ehal_backend_impl be;
                memset(&be, 0, sizeof be);
                o.a.out_data = got;
                assert_int_equal(cpu_vec_op_kv_write(V, &be, &o.a), EHAL_STATUS_UNSUPPORTED);
                assert_memory_equal(got, gotp, bytes);
            }
            free(src);
            free(ref);
            free(got);
            free(gotp);
        }
}

/* Every attention variant's tile kernels (one query head per KV head: the
 * 8-key and register-held paths; groups: the row loops) on head dims that
 * are not multiples of any vector width, against ehal_ref_ATTENTION.
 * Outputs are convex combinations of V values in [-1, 1]: 1e-4 absolute
 * covers float vs double accumulation and the vector exp. */
static void check_attention(const cpu_attn_variant *v, int64_t D, int64_t Hq, int64_t Hkv,
                            int64_t T, int64_t C, int32_t pos0)
{
    const int64_t nq = D * Hq * T, nkv = D * C * Hkv;
    float *q = frow(nq, -1.0f, 1.0f), *kf = frow(nkv, -1.0f, 1.0f), *vf = frow(nkv, -1.0f, 1.0f);
    const uint64_t rb = ehal_row_bytes(v->kvtype, D);
    uint8_t *K = malloc(rb * (size_t)(C * Hkv)), *V = malloc(rb * (size_t)(C * Hkv));
    assert_non_null(K && V);
    for (int64_t r = 0; r < C * Hkv; r++) {
        ehal_convert_row(EHAL_DTYPE_F32, kf + r * D, v->kvtype, K + r * rb, D);
        ehal_convert_row(EHAL_DTYPE_F32, vf + r * D, v->kvtype, V + r * rb, D);
    }
    int32_t pos[16];
    for (int64_t t = 0; t < T; t++)
        pos[t] = pos0 + (int32_t)t;
    float *ref = frow(nq, 0, 0), *got = frow(nq, 0, 0);
    ehal_params_attention p = {0.0f, 0, 0, 0};
    ehal_tensor_desc t5[5]; /* Q, K, V, positions, output */
    set_desc(&t5[0], EHAL_DTYPE_F32, D, Hq, T);
    set_desc(&t5[1], v->kvtype, D, C, Hkv);
    set_desc(&t5[2], v->kvtype, D, C, Hkv);
    set_desc(&t5[3], EHAL_DTYPE_I32, T, 1, 1);
    set_desc(&t5[4], EHAL_DTYPE_F32, D, Hq, T);
    void *data[4] = {q, K, V, pos};
    const ehal_tensor_desc *tp[5] = {&t5[0], &t5[1], &t5[2], &t5[3], &t5[4]};
    ehal_node_desc nd;
    memset(&nd, 0, sizeof nd);
    nd.struct_size = sizeof nd;
    nd.op = EHAL_OP_ATTENTION;
    nd.n_inputs = 4;
    nd.n_outputs = 1;
    for (uint32_t i = 0; i < 4; i++)
        nd.inputs[i] = i;
    nd.outputs[0] = 4;
    nd.params = &p;
    nd.params_size = sizeof p;
    const ehal_node_desc *np = &nd;
    ehal_subgraph sg = {sizeof sg, 5, 1, 0, tp, &np};
    char msg[256] = "";
    if (ehal_op_validate(&sg, 0, msg, sizeof msg) != EHAL_STATUS_OK)
        fail_msg("attention node invalid: %s", msg);
    ehal_kernel_args a;
    memset(&a, 0, sizeof a);
    a.sg = &sg;
    for (int i = 0; i < 4; i++) {
        a.in[i] = &t5[i];
        a.in_data[i] = data[i];
    }
    a.out = &t5[4];
    a.out_data = ref;
    assert_int_equal(ehal_ref_ATTENTION(&a), EHAL_STATUS_OK);
    a.out_data = got;
    assert_int_equal(cpu_attention_run(NULL, v, &a, NULL), EHAL_STATUS_OK);
    for (int64_t i = 0; i < nq; i++)
        if (!(fabsf(got[i] - ref[i]) <= 1e-4f))
            fail_msg("%s D%lld Hq%lld Hkv%lld T%lld: out[%lld] = %g, want %g", v->name,
                     (long long)D, (long long)Hq, (long long)Hkv, (long long)T, (long long)i,
                     (double)got[i], (double)ref[i]);
    free(q);
    free(kf);
    free(vf);
    free(K);
    free(V);
    free(ref);
    free(got);
}

static void test_attention_tiles_match_reference(void **state)
{
    const cpu_attn_variant *v = *state;
    if (!cpu_isa_supported(v->isa)) {
        print_message("SKIP %s: this CPU lacks %s\n", v->name, cpu_isa_name(v->isa));
        skip();
    }
    const int q8 = v->kvtype == EHAL_DTYPE_Q8_0;
    static const int64_t dims[] = {19, 45, 72, 100, 200};
    static const int64_t q8dims[] = {32, 96, 160};
    const size_t nd = q8 ? 3 : 5;
    for (size_t k = 0; k < nd; k++) {
        const int64_t D = q8 ? q8dims[k] : dims[k];
        check_attention(v, D, 2, 2, 3, 150, 60);  /* one head per KV head, 2+ tiles */
        check_attention(v, D, 6, 2, 2, 80, 70);   /* groups of 3 */
        check_attention(v, D, 8, 2, 1, 70, 66);   /* groups of 4 */
        check_attention(v, D, 5, 1, 1, 40, 38);   /* a group of 5 */
        check_attention(v, D, 7, 1, 1, 40, 21);   /* a group of 7 */
        check_attention(v, D, 1, 1, 1, 12, 4);    /* 5 keys: below a key group */
    }
}

/* COPY between every pair of F32, F16, Q8_0 and Q4_0 (and I32 to I32),
 * byte for byte against ehal_ref_COPY, over 2 chunks and a partial one. */
static void test_copy_is_bit_identical_for_every_dtype_pair(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    static const uint32_t dts[] = {EHAL_DTYPE_F32, EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0,
                                   EHAL_DTYPE_Q4_0};
    enum { N = 2 * 1024 + 96 }; /* a multiple of 32, not of the 1024-value chunk */
    float *xf = frow(N, -5.0f, 5.0f);
    xf[7] = NAN;
    xf[40] = -INFINITY;
    for (size_t si = 0; si < 5; si++)
        for (size_t di = 0; di < 5; di++) {
            if ((si == 4) != (di == 4))
                continue; /* I32 only to I32 */
            const uint32_t sd = si == 4 ? EHAL_DTYPE_I32 : dts[si];
            const uint32_t dd = di == 4 ? EHAL_DTYPE_I32 : dts[di];
            const uint64_t sb = ehal_row_bytes(sd, N), db = ehal_row_bytes(dd, N);
            uint8_t *src = malloc(sb), *ref = malloc(db), *got = malloc(db), *gotp = malloc(db);
            assert_non_null(src && ref && got && gotp);
            if (sd == EHAL_DTYPE_I32)
                for (int i = 0; i < N; i++)
                    ((int32_t *)src)[i] = (int32_t)rand32();
            else
                assert_int_equal(ehal_convert_row(EHAL_DTYPE_F32, xf, sd, src, N), EHAL_STATUS_OK);
            one_node o;
            set_desc(&o.t[0], sd, N, 1, 1);
            set_desc(&o.t[1], dd, N, 1, 1);
            void *data[1] = {src};
            one_node_init(&o, EHAL_OP_COPY, 1, 1, NULL, 0, data, got);
            run_both(V, cpu_vec_op_copy, &o, ref, got, gotp, db);
            if (memcmp(got, ref, db) != 0 || memcmp(gotp, ref, db) != 0)
                fail_msg("%s: copy %s -> %s differs from the reference", V->name,
                         ehal_dtype_name(sd), ehal_dtype_name(dd));
            free(src);
            free(ref);
            free(got);
            free(gotp);
        }
    free(xf);
}

int main(void)
{
    typedef void (*test_fn)(void **);
    static const struct {
        const char *name;
        test_fn fn;
    } per_table[] = {
        {"q8_0 quantizer bit-identical", test_q8_0_quantizer_is_bit_identical_to_ops},
        {"q4_0 quantizer bit-identical", test_q4_0_quantizer_is_bit_identical_to_ops},
        {"f16->f32 exact", test_f16_to_f32_is_exact_for_every_value},
        {"f32->f16 bit-identical", test_f32_to_f16_is_bit_identical_to_ops},
        {"dequantizers exact", test_dequantizers_are_exact},
        {"exp within 2 ulp", test_exp_is_within_2_ulp_and_keeps_special_values},
        {"row primitives", test_row_primitives_match_double_formulas},
        {"rope rows", test_rope_rows_match_double_rotation},
        {"elementwise ops vs reference", test_elementwise_ops_match_reference},
        {"rope op vs reference", test_rope_op_matches_reference},
        {"get_rows exact", test_get_rows_is_exact_for_every_dtype},
        {"kv_write bit-identical", test_kv_write_is_bit_identical_for_every_cache_dtype},
        {"copy bit-identical", test_copy_is_bit_identical_for_every_dtype_pair},
    };
    enum { MAX_TESTS = 64 };
    struct CMUnitTest tests[MAX_TESTS];
    static char names[MAX_TESTS][96];
    size_t n = 0;
    for (const cpu_vec_ops *const *t = cpu_vec_tables; *t != NULL; t++)
        for (size_t k = 0; k < sizeof per_table / sizeof per_table[0] && n < MAX_TESTS - 1; k++) {
            snprintf(names[n], sizeof names[n], "%s %s", (*t)->name, per_table[k].name);
            tests[n] = (struct CMUnitTest){names[n], per_table[k].fn, NULL, NULL, (void *)*t};
            n++;
        }
    for (const cpu_attn_variant *v = cpu_attn_variants; v->name != NULL && n < MAX_TESTS - 1;
         v++) {
        snprintf(names[n], sizeof names[n], "%s tiles vs reference", v->name);
        tests[n] = (struct CMUnitTest){names[n], test_attention_tiles_match_reference, NULL, NULL,
                                       (void *)v};
        n++;
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_activation_quantizer_is_the_picked_tables);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_isa_cap_scalar_picks_the_scalar_table);
    return _cmocka_run_group_tests("cpu_vec", tests, n, NULL, NULL);
}
