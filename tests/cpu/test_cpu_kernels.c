/*
 * Every variant of every CPU kernel family table, run directly (not through
 * the plugin's dispatch) against the ops/ reference kernels, across shapes:
 * GEMV n = 1..8, GEMM n >= 32, K with odd block counts, N not a multiple of
 * the tile, attention with GQA groups above and below the kernel's chunk,
 * windows and sinks. The tests are generated from the tables, so a new
 * variant is tested without an edit here. A variant this CPU cannot run is
 * skipped with the reason printed.
 *
 * Tolerances (derived, not tuned):
 *  - Q4_0/Q8_0 matmul quantizes each activation block to int8 with scale
 *    d = max|x|/127, so each activation is off by at most d/2; integer dot
 *    products are exact. Hence |y - y_ref| <= sum_k |w_k| * d_blk(k) / 2
 *    (computed per output below from the dequantized weights) plus float
 *    accumulation error, bounded by 1e-5 * sum_k |w_k x_k| (K <= 1024 terms
 *    summed in blocks, relative float eps 6e-8 times the tree depth, with
 *    margin). The expected NMSE: the rounding error is ~uniform with
 *    variance d^2/12; with x uniform in [-1,1] and every 7th value x3 (most
 *    blocks then have max|x| ~ 3, E[x^2] = 0.71) that is
 *    (3/127)^2/12 / 0.71 = 6.5e-5, so with >= 64 outputs (sampling noise)
 *    the NMSE is checked against 3e-4.
 *  - F16 weights use exact fp16->fp32 conversion: only the accumulation
 *    error bound applies.
 *  - Attention reads the same dequantized K/V values as the reference and
 *    differs by float vs double accumulation and expf vs exp: outputs are
 *    convex combinations of V values in [-1, 1], checked to 1e-4 absolute.
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
#include "cpu_isa.h"
#include "cpu_matmul.h"
#include "cpu_pool.h"
#include "cpu_vec.h"
#include "edgehal/ops.h"
#include "one_node.h"

static uint32_t rng_state = 12345u;
static float frand(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffffff) / (float)0x800000 - 1.0f;
}


/* Under qemu-user (the aarch64 test stage sets QEMU_CPU, which the
 * emulated process inherits) every case is ~100x slower, so one shape per
 * kind is run there; natively, the full set. */
static int emulated(void)
{
    const char *q = getenv("QEMU_CPU");
    return q != NULL && q[0] != '\0';
}

static int skip_unless_runnable(cpu_isa isa, const char *name)
{
    if (cpu_isa_supported(isa))
        return 0;
    print_message("SKIP %s: this CPU lacks %s\n", name, cpu_isa_name(isa));
    return 1;
}

/* ---- matmul -------------------------------------------------------------- */

static void check_matmul(const cpu_mm_variant *v, cpu_pool *pool, int64_t K, int64_t N, int64_t T)
{
    const size_t rb = (size_t)ehal_row_bytes(v->wtype, K);
    float *wf = malloc(sizeof(float) * (size_t)(K * N));
    float *wd = malloc(sizeof(float) * (size_t)(K * N)); /* dequantized */
    uint8_t *w = malloc(rb * (size_t)N);
    float *x = malloc(sizeof(float) * (size_t)(K * T));
    float *y = malloc(sizeof(float) * (size_t)(N * T));
    float *yr = malloc(sizeof(float) * (size_t)(N * T));
    assert_non_null(wf && wd && w && x && y && yr);
    for (int64_t i = 0; i < K * N; i++)
        wf[i] = frand();
    for (int64_t i = 0; i < K * T; i++)
        x[i] = frand() * (i % 7 == 0 ? 3.0f : 1.0f);
    for (int64_t n = 0; n < N; n++) {
        assert_int_equal(ehal_convert_row(EHAL_DTYPE_F32, wf + n * K, v->wtype, w + n * rb, K), 0);
        assert_int_equal(ehal_convert_row(v->wtype, w + n * rb, EHAL_DTYPE_F32, wd + n * K, K), 0);
    }
    memset(y, 0xff, sizeof(float) * (size_t)(N * T)); /* NaN: catches unwritten outputs */

    ehal_tensor_desc dw;
    ehal_tensor_desc_init(&dw, v->wtype, 2, (int64_t[]){K, N});
    one_node o;
    void *data[3] = {w, x, yr};
    o.t[0] = dw;
    ehal_tensor_desc_init(&o.t[1], EHAL_DTYPE_F32, 2, (int64_t[]){K, T});
    ehal_tensor_desc_init(&o.t[2], EHAL_DTYPE_F32, 2, (int64_t[]){N, T});
    one_node_init(&o, EHAL_OP_MATMUL, 2, 2, NULL, 0, data, data[2]);
    assert_int_equal(ehal_ref_MATMUL(&o.a), EHAL_STATUS_OK);

    const cpu_mm_variant *gemv = v->kind == CPU_MM_GEMV ? v : NULL;
    const cpu_mm_variant *gemm = v->kind == CPU_MM_GEMM ? v : NULL;
    assert_int_equal(cpu_matmul_run(pool, gemv, gemm, w, v->wtype, K, N, x, T, y, NULL),
                     EHAL_STATUS_OK);

    double err2 = 0, ref2 = 0;
    for (int64_t t = 0; t < T; t++) {
        for (int64_t n = 0; n < N; n++) {
            double qbound = 0, mag = 0;
            for (int64_t b = 0; b < K / 32; b++) {
                double amax = 0, wsum = 0;
                for (int i = 0; i < 32; i++) {
                    const int64_t k = b * 32 + i;
                    amax = fmax(amax, fabs(x[t * K + k]));
                    wsum += fabs(wd[n * K + k]);
                    mag += fabs(wd[n * K + k] * x[t * K + k]);
                }
                qbound += wsum * amax / 127.0 / 2.0 * 1.0001;
            }
            if (v->act == CPU_ACT_F32) {
                qbound = 0;
                for (int64_t k = 0; k < K; k++)
                    mag += fabs(wd[n * K + k] * x[t * K + k]);
            }
            const double got = y[t * N + n], want = yr[t * N + n];
            const double tol = qbound + 1e-5 * mag + 1e-6;
            if (!(fabs(got - want) <= tol))
                fail_msg("%s K=%lld N=%lld T=%lld: y[%lld][%lld] = %.7g, reference %.7g, "
                         "|diff| %.3g > bound %.3g",
                         v->name, (long long)K, (long long)N, (long long)T, (long long)t,
                         (long long)n, got, want, fabs(got - want), tol);
            err2 += (got - want) * (got - want);
            ref2 += want * want;
        }
    }
    if (v->act != CPU_ACT_F32 && N * T >= 64 && !(err2 / ref2 <= 3e-4))
        fail_msg("%s K=%lld N=%lld T=%lld: NMSE %.3g > 3e-4", v->name, (long long)K,
                 (long long)N, (long long)T, err2 / ref2);
    free(wf);
    free(wd);
    free(w);
    free(x);
    free(y);
    free(yr);
}

static void test_matmul_variant_matches_reference(void **state)
{
    const cpu_mm_variant *v = *state;
    if (skip_unless_runnable(v->isa, v->name))
        skip();
    /* Kept small: these run under qemu-aarch64 too. K/32 blocks = 1, 2, 3,
     * 4 and 9: partial last groups of 1, 2 and 3 blocks (every tile pads
     * them, see cpu_tile_tail_copy), a row of one full group, and full
     * groups followed by a partial one (K = 288, the tiny model's width). */
    static const int64_t Ks[] = {32, 64, 96, 128, 288};
    /* edges of tiles up to 16x16: N % 4 and T % 16 take each value, N % 16
     * several */
    static const int64_t Ns[] = {5, 6, 67};
    static const int64_t gemv_T[] = {1, 3, 8};
    static const int64_t gemm_T[] = {33, 34, 35, 36, 37, 38, 39, 40,
                                     41, 42, 43, 44, 45, 46, 47, 48};
    const int64_t *Ts = v->kind == CPU_MM_GEMV ? gemv_T : gemm_T;
    const size_t nT = emulated() ? 1 : v->kind == CPU_MM_GEMV ? 3 : 16;
    for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++)
        for (size_t ni = emulated() ? 2 : 0; ni < sizeof Ns / sizeof Ns[0]; ni++)
            for (size_t ti = 0; ti < nT; ti++)
                check_matmul(v, NULL, Ks[ki] + (v->wtype == EHAL_DTYPE_F16 && ki == 2 ? 3 : 0),
                             Ns[ni], Ts[ti]);
    /* Under emulation too, every edge tile shape of a 4x4 tile once: K = 288
     * (full groups and a partial one), each N with the first four T (every
     * N % 4 with every T % 4). */
    if (emulated())
        for (size_t ni = 0; ni < 3; ni++)
            for (size_t ti = 0; ti < (v->kind == CPU_MM_GEMV ? 3u : 4u); ti++)
                check_matmul(v, NULL, 288, Ns[ni], Ts[ti]);
    /* A GEMM K long enough that the driver splits it (2048-value blocks),
     * with a partial last group, and more columns than a column chunk. */
    if (v->kind == CPU_MM_GEMM && !emulated())
        check_matmul(v, NULL, 2208, 21, 133);
    /* Row splits over a pool, including more workers than row tiles. */
    for (int threads = 2; threads <= (emulated() ? 2 : 3); threads++) {
        cpu_pool *pool = cpu_pool_create(NULL, threads);
        assert_non_null(pool);
        check_matmul(v, pool, 128, emulated() ? 11 : 131, v->kind == CPU_MM_GEMV ? 3 : 36);
        check_matmul(v, pool, 64, 3, 1);
        cpu_pool_destroy(pool);
    }
}

/* ---- activation quantizer ----------------------------------------------- */

/* The matmul driver quantizes activations with the vector Q8_0 quantizer
 * of its variant's ISA (cpu_vec.h): the groups must hold the scalar
 * quantizer's bytes exactly (same scales, roundf's half-away-from-zero
 * ties, NaN -> 0, correction lanes), for every layout and partial groups. */
static void test_quantize_act_vector_matches_scalar(void **state)
{
    (void)state;
    const cpu_vec_ops *vec = cpu_vec_pick();
    print_message("vector quantizer: the %s table\n", cpu_isa_name(vec->isa));
    enum { K = 32 * 11 }; /* 3 groups, the last partial (3 blocks) */
    static float x[K];
    for (int i = 0; i < K; i++)
        x[i] = frand() * (i % 5 == 0 ? 40.0f : 1.0f);
    /* block 1: amax 127 -> d = 1, id = 1: exact ties k + 0.5 */
    for (int j = 0; j < 32; j++)
        x[32 + j] = (float)(j % 9) - 4.0f + ((j & 1) ? 0.5f : 0.0f);
    x[32] = 127.0f;
    x[33] = -2.5f; /* roundf -> -3, round-to-even would give -2 */
    x[34] = 0.5f;
    for (int j = 0; j < 32; j++) /* block 2: all zero (d = 0) */
        x[64 + j] = 0.0f;
    x[100] = NAN;        /* block 3: a NaN is ignored by amax and becomes 0 */
    x[130] = 1e-30f;     /* block 4: tiny values, subnormal fp16 scale */
    x[131] = -3e-31f;
    for (int j = 2; j < 32; j++)
        x[128 + j] = 1e-31f * (float)(j - 16);
    x[200] = INFINITY; /* block 6: an infinite value: d = inf, codes 0 */
    static const int layouts[] = {CPU_ACT_Q4, CPU_ACT_Q8, CPU_ACT_Q8S};
    for (int li = 0; li < 3; li++) {
        const int layout = layouts[li];
        cpu_qgroup a[3], b[3];
        memset(a, 0x5a, sizeof a);
        memset(b, 0xa5, sizeof b);
        cpu_quantize_act(x, K, layout, a);
        cpu_quantize_act_with(vec->quantize_q8_0, x, K, layout, b);
        for (int g = 0; g < 3; g++) {
            for (int i = 0; i < 128; i++)
                if (a[g].qs[i] != b[g].qs[i])
                    fail_msg("layout %d group %d qs[%d]: vector %d, scalar %d", layout, g, i,
                             b[g].qs[i], a[g].qs[i]);
            for (int i = 0; i < 16; i++)
                assert_int_equal(a[g].corr[i], b[g].corr[i]);
            assert_memory_equal(a[g].d, b[g].d, sizeof a[g].d);
        }
    }
    /* the tie block by hand: 127, roundf(-2.5) = -3, roundf(0.5) = 1 */
    cpu_qgroup q[3];
    cpu_quantize_act_with(vec->quantize_q8_0, x, K, CPU_ACT_Q8, q);
    assert_int_equal(q[0].qs[32], 127);
    assert_int_equal(q[0].qs[33], -3);
    assert_int_equal(q[0].qs[34], 1);
    assert_true(q[0].d[1] == 1.0f);
}

/* ---- attention ------------------------------------------------------------ */

static void check_attention(const cpu_attn_variant *v, cpu_pool *pool, int64_t D, int64_t Hq,
                            int64_t Hkv, int64_t C, int64_t T, const int32_t *pos,
                            const ehal_params_attention *p)
{
    const size_t rb = (size_t)ehal_row_bytes(v->kvtype, D);
    float *q = malloc(sizeof(float) * (size_t)(D * Hq * T));
    uint8_t *k = malloc(rb * (size_t)(C * Hkv)), *vv = malloc(rb * (size_t)(C * Hkv));
    float *row = malloc(sizeof(float) * (size_t)D);
    float *o = malloc(sizeof(float) * (size_t)(D * Hq * T));
    float *orf = malloc(sizeof(float) * (size_t)(D * Hq * T));
    int32_t *ps = malloc(sizeof(int32_t) * (size_t)T);
    assert_non_null(q && k && vv && row && o && orf && ps);
    memcpy(ps, pos, sizeof(int32_t) * (size_t)T);
    for (int64_t i = 0; i < D * Hq * T; i++)
        q[i] = frand() * 2.0f;
    for (int64_t r = 0; r < C * Hkv; r++) {
        for (int64_t d = 0; d < D; d++)
            row[d] = frand();
        assert_int_equal(ehal_convert_row(EHAL_DTYPE_F32, row, v->kvtype, k + r * rb, D), 0);
        for (int64_t d = 0; d < D; d++)
            row[d] = frand();
        assert_int_equal(ehal_convert_row(EHAL_DTYPE_F32, row, v->kvtype, vv + r * rb, D), 0);
    }
    memset(o, 0xff, sizeof(float) * (size_t)(D * Hq * T));
    one_node on;
    void *data[5] = {q, k, vv, ps, orf};
    ehal_tensor_desc_init(&on.t[0], EHAL_DTYPE_F32, 3, (int64_t[]){D, Hq, T});
    ehal_tensor_desc_init(&on.t[1], v->kvtype, 3, (int64_t[]){D, C, Hkv});
    ehal_tensor_desc_init(&on.t[2], v->kvtype, 3, (int64_t[]){D, C, Hkv});
    ehal_tensor_desc_init(&on.t[3], EHAL_DTYPE_I32, 1, (int64_t[]){T});
    ehal_tensor_desc_init(&on.t[4], EHAL_DTYPE_F32, 3, (int64_t[]){D, Hq, T});
    one_node_init(&on, EHAL_OP_ATTENTION, 4, 4, p, sizeof *p, data, data[4]);
    assert_int_equal(ehal_ref_ATTENTION(&on.a), EHAL_STATUS_OK);
    on.a.out_data = o;
    assert_int_equal(cpu_attention_run(pool, v, &on.a, NULL), EHAL_STATUS_OK);
    for (int64_t i = 0; i < D * Hq * T; i++)
        if (!(fabs(o[i] - orf[i]) <= 1e-4))
            fail_msg("%s D=%lld Hq=%lld Hkv=%lld C=%lld T=%lld window=%u: out[%lld] = %.7g, "
                     "reference %.7g",
                     v->name, (long long)D, (long long)Hq, (long long)Hkv, (long long)C,
                     (long long)T, p->window, (long long)i, o[i], orf[i]);
    free(q);
    free(k);
    free(vv);
    free(row);
    free(o);
    free(orf);
    free(ps);
}

static void test_attention_variant_matches_reference(void **state)
{
    const cpu_attn_variant *v = *state;
    if (skip_unless_runnable(v->isa, v->name))
        skip();
    ehal_params_attention full = {0, 0, 0, 0};
    ehal_params_attention win = {0.3f, 24, 4, 0};
    ehal_params_attention nonc = {0, 0, 0, EHAL_ATTN_NONCAUSAL};
    const int64_t Ds[] = {32, 128, v->kvtype == EHAL_DTYPE_F16 ? 40 : 96};
    for (size_t di = 0; di < (emulated() ? 1u : 3u); di++) {
        check_attention(v, NULL, Ds[di], 4, 4, 100, 1, (int32_t[]){99}, &full);
        check_attention(v, NULL, Ds[di], 8, 2, 100, 3, (int32_t[]){0, 70, 99}, &full);
    }
    check_attention(v, NULL, 64, 16, 1, emulated() ? 40 : 200, 2, (int32_t[]){39, 23},
                    &full); /* group 16 > 8 */
    check_attention(v, NULL, 64, 6, 2, 40, 2, (int32_t[]){100, 57}, &win);    /* ring cache */
    check_attention(v, NULL, 64, 4, 2, 50, 2, (int32_t[]){10, 20}, &nonc);
    cpu_pool *pool = cpu_pool_create(NULL, 3);
    assert_non_null(pool);
    if (!emulated())
        check_attention(v, pool, 128, 32, 8, 100, 1, (int32_t[]){99}, &full);
    check_attention(v, pool, 64, 4, 4, 130, 2, (int32_t[]){129, 5}, &full);
    cpu_pool_destroy(pool);
}

/* ---- dispatch and pool ----------------------------------------------------- */

static void test_isa_cap_scalar_picks_scalar_variants(void **state)
{
    (void)state;
    setenv(CPU_ISA_ENV, "scalar", 1);
    const uint32_t types[] = {EHAL_DTYPE_Q4_0, EHAL_DTYPE_Q8_0, EHAL_DTYPE_F16};
    for (int i = 0; i < 3; i++)
        for (int kind = 0; kind < 2; kind++) {
            const cpu_mm_variant *v = cpu_mm_pick(types[i], kind);
            assert_non_null(v);
            assert_int_equal(v->isa, CPU_ISA_SCALAR);
        }
    assert_int_equal(cpu_attn_pick(EHAL_DTYPE_F16)->isa, CPU_ISA_SCALAR);
    unsetenv(CPU_ISA_ENV);
    /* Uncapped, the pick is the first variant this machine supports. */
    for (int i = 0; i < 3; i++)
        for (int kind = 0; kind < 2; kind++) {
            const cpu_mm_variant *best = cpu_mm_pick(types[i], kind);
            assert_non_null(best);
            for (const cpu_mm_variant *v = cpu_mm_variants; v != best; v++)
                if (v->wtype == types[i] && v->kind == kind)
                    assert_false(cpu_isa_supported(v->isa));
            if (types[i] != EHAL_DTYPE_F16)
                print_message("%s %s dispatch on this CPU: %s\n",
                              types[i] == EHAL_DTYPE_Q4_0 ? "q4_0" : "q8_0",
                              kind == CPU_MM_GEMV ? "gemv" : "gemm", best->name);
        }
}

/* A cap below the machine's level falls back to the best variant at or
 * under the cap: EHAL_CPU_ISA=dotprod never picks i8mm, and on a CPU with
 * dotprod gets the dotprod GEMM; =neon gets neither. */
static void test_isa_cap_below_machine_falls_back(void **state)
{
    (void)state;
    static const char *const caps[] = {"neon", "dotprod"};
    const uint32_t types[] = {EHAL_DTYPE_Q4_0, EHAL_DTYPE_Q8_0};
    for (int ci = 0; ci < 2; ci++) {
        const cpu_isa cap = ci == 0 ? CPU_ISA_NEON : CPU_ISA_DOTPROD;
        setenv(CPU_ISA_ENV, caps[ci], 1);
        for (int i = 0; i < 2; i++)
            for (int kind = 0; kind < 2; kind++) {
                const cpu_mm_variant *v = cpu_mm_pick(types[i], kind);
                assert_non_null(v);
                if (v->isa >= CPU_ISA_NEON)
                    assert_true(v->isa <= cap);
                if (cpu_isa_supported(cap))
                    assert_int_equal(v->isa, cap);
            }
    }
    unsetenv(CPU_ISA_ENV);
}

static void test_isa_cap_above_machine_changes_nothing(void **state)
{
    (void)state;
    const cpu_mm_variant *uncapped = cpu_mm_pick(EHAL_DTYPE_Q8_0, CPU_MM_GEMM);
    setenv(CPU_ISA_ENV, "i8mm", 1); /* another architecture's top level */
    assert_ptr_equal(cpu_mm_pick(EHAL_DTYPE_Q8_0, CPU_MM_GEMM), uncapped);
    setenv(CPU_ISA_ENV, "avx2", 1);
    const cpu_mm_variant *v = cpu_mm_pick(EHAL_DTYPE_Q8_0, CPU_MM_GEMM);
    assert_true(v->isa <= CPU_ISA_AVX2 || v->isa >= CPU_ISA_NEON);
    unsetenv(CPU_ISA_ENV);
}

typedef struct pool_probe {
    int hits[8];
    int nth_seen[8];
} pool_probe;

static void probe_task(void *ctx, int ith, int nth)
{
    pool_probe *p = ctx;
    p->hits[ith]++;
    p->nth_seen[ith] = nth;
}

static void test_pool_runs_each_worker_once_per_run(void **state)
{
    (void)state;
    cpu_pool *pool = cpu_pool_create(NULL, 4);
    assert_non_null(pool);
    assert_int_equal(cpu_pool_threads(pool), 4);
    pool_probe p;
    memset(&p, 0, sizeof p);
    for (int run = 0; run < 300; run++)
        cpu_pool_run(pool, 8, probe_task, &p);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(p.hits[i], 300);
        assert_int_equal(p.nth_seen[i], 4);
    }
    memset(&p, 0, sizeof p);
    cpu_pool_run(pool, 2, probe_task, &p); /* fewer tasks than workers */
    assert_int_equal(p.hits[0], 1);
    assert_int_equal(p.hits[1], 1);
    assert_int_equal(p.hits[2], 0);
    assert_int_equal(p.nth_seen[0], 2);
    cpu_pool_destroy(pool);
    memset(&p, 0, sizeof p);
    cpu_pool_run(NULL, 8, probe_task, &p); /* no pool: the caller alone */
    assert_int_equal(p.hits[0], 1);
    assert_int_equal(p.nth_seen[0], 1);
}

static void test_split_covers_range_in_aligned_parts(void **state)
{
    (void)state;
    int64_t prev = 0;
    for (int i = 0; i < 3; i++) {
        int64_t b, e;
        cpu_split(131, 4, i, 3, &b, &e);
        assert_int_equal(b, prev);
        assert_true(b % 4 == 0);
        prev = e;
    }
    assert_int_equal(prev, 131);
}

int main(void)
{
    enum { MAX_TESTS = 128 };
    struct CMUnitTest tests[MAX_TESTS];
    size_t n = 0;
    static char names[MAX_TESTS][96];
    for (const cpu_mm_variant *v = cpu_mm_variants; v->name != NULL && n < MAX_TESTS - 8; v++) {
        snprintf(names[n], sizeof names[n], "matmul %s", v->name);
        tests[n] = (struct CMUnitTest){names[n], test_matmul_variant_matches_reference, NULL, NULL,
                                       (void *)v};
        n++;
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_quantize_act_vector_matches_scalar);
    for (const cpu_attn_variant *v = cpu_attn_variants; v->name != NULL && n < MAX_TESTS - 8;
         v++) {
        snprintf(names[n], sizeof names[n], "attention %s", v->name);
        tests[n] = (struct CMUnitTest){names[n], test_attention_variant_matches_reference, NULL,
                                       NULL, (void *)v};
        n++;
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_isa_cap_scalar_picks_scalar_variants);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_isa_cap_above_machine_changes_nothing);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_isa_cap_below_machine_falls_back);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_pool_runs_each_worker_once_per_run);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_split_covers_range_in_aligned_parts);
    return _cmocka_run_group_tests("cpu_kernels", tests, n, NULL, NULL);
}
