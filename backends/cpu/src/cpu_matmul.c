/*
 * The MATMUL kernel families and their driver. Activations are quantized
 * once per op (in parallel over columns), then output rows are split over
 * the pool's workers; each worker walks its rows in tiles of the variant's
 * mr, and the columns in chunks small enough that a chunk's quantized
 * activations stay in L2 while every row tile of the worker passes over it.
 * A GEMM variant with an unpack step takes K in blocks and gets each row
 * tile unpacked once per (column chunk, K block) into a per-worker buffer,
 * that its tiles then read (matmul_rows_unpacked).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_matmul.h"
#include "cpu_pool.h"
#include "cpu_vec.h"
#include "edgehal/backend_sdk.h"

/* The tables. Within one (weight dtype, kind) the first enabled line wins,
 * so faster ISAs come first and the scalar line last. */
const cpu_mm_variant cpu_mm_variants[] = {
#if defined(__x86_64__) || defined(__i386__)
    {"q4_0_q8_0_gemv_4x1__avx512vnni", EHAL_DTYPE_Q4_0, CPU_MM_GEMV, CPU_ISA_AVX512VNNI,
     CPU_ACT_Q4, 4, 1, cpu_mm_q4_0_avx512vnni, NULL, 0},
    {"q4_0_q8_0_gemv_4x1__avx2", EHAL_DTYPE_Q4_0, CPU_MM_GEMV, CPU_ISA_AVX2, CPU_ACT_Q4, 4, 1,
     cpu_mm_q4_0_avx2, NULL, 0},
#endif
#if defined(__aarch64__)
    {"q4_0_q8_0_gemv_4x1__dotprod", EHAL_DTYPE_Q4_0, CPU_MM_GEMV, CPU_ISA_DOTPROD, CPU_ACT_Q4, 4, 1,
     cpu_mm_q4_0_dotprod, NULL, 0},
    {"q4_0_q8_0_gemv_4x1__neon", EHAL_DTYPE_Q4_0, CPU_MM_GEMV, CPU_ISA_NEON, CPU_ACT_Q4, 4, 1,
     cpu_mm_q4_0_neon, NULL, 0},
#endif
    {"q4_0_q8_0_gemv_1x1__scalar", EHAL_DTYPE_Q4_0, CPU_MM_GEMV, CPU_ISA_SCALAR, CPU_ACT_Q4, 1,
     1, cpu_mm_q4_0_scalar, NULL, 0},
#if defined(__x86_64__) || defined(__i386__)
    {"q4_0_q8_0_gemm_16x16__avx512vnni", EHAL_DTYPE_Q4_0, CPU_MM_GEMM, CPU_ISA_AVX512VNNI,
     CPU_ACT_Q4, 16, 16, cpu_mm_gemm_unpacked_avx512vnni, cpu_mm_q4_0_unpack_avx512vnni, 2304},
    {"q4_0_q8_0_gemm_2x4__avx2", EHAL_DTYPE_Q4_0, CPU_MM_GEMM, CPU_ISA_AVX2, CPU_ACT_Q4, 2, 4,
     cpu_mm_q4_0_avx2, NULL, 0},
#endif
#if defined(__aarch64__)
    {"q4_0_q8_0_gemm_4x4__i8mm", EHAL_DTYPE_Q4_0, CPU_MM_GEMM, CPU_ISA_I8MM, CPU_ACT_Q4, 4, 4,
     cpu_mm_q4_0_i8mm, NULL, 0},
    {"q4_0_q8_0_gemm_2x4__dotprod", EHAL_DTYPE_Q4_0, CPU_MM_GEMM, CPU_ISA_DOTPROD, CPU_ACT_Q4, 2, 4,
     cpu_mm_q4_0_dotprod, NULL, 0},
    {"q4_0_q8_0_gemm_2x4__neon", EHAL_DTYPE_Q4_0, CPU_MM_GEMM, CPU_ISA_NEON, CPU_ACT_Q4, 2, 4,
     cpu_mm_q4_0_neon, NULL, 0},
#endif
    {"q4_0_q8_0_gemm_1x1__scalar", EHAL_DTYPE_Q4_0, CPU_MM_GEMM, CPU_ISA_SCALAR, CPU_ACT_Q4, 1,
     1, cpu_mm_q4_0_scalar, NULL, 0},
#if defined(__x86_64__) || defined(__i386__)
    {"q8_0_q8_0_gemv_4x1__avx512vnni", EHAL_DTYPE_Q8_0, CPU_MM_GEMV, CPU_ISA_AVX512VNNI,
     CPU_ACT_Q8, 4, 1, cpu_mm_q8_0_avx512vnni, NULL, 0},
    {"q8_0_q8_0_gemv_4x1__avx2", EHAL_DTYPE_Q8_0, CPU_MM_GEMV, CPU_ISA_AVX2, CPU_ACT_Q8, 4, 1,
     cpu_mm_q8_0_avx2, NULL, 0},
#endif
#if defined(__aarch64__)
    {"q8_0_q8_0_gemv_4x1__dotprod", EHAL_DTYPE_Q8_0, CPU_MM_GEMV, CPU_ISA_DOTPROD, CPU_ACT_Q8, 4, 1,
     cpu_mm_q8_0_dotprod, NULL, 0},
    {"q8_0_q8_0_gemv_4x1__neon", EHAL_DTYPE_Q8_0, CPU_MM_GEMV, CPU_ISA_NEON, CPU_ACT_Q8, 4, 1,
     cpu_mm_q8_0_neon, NULL, 0},
#endif
    {"q8_0_q8_0_gemv_1x1__scalar", EHAL_DTYPE_Q8_0, CPU_MM_GEMV, CPU_ISA_SCALAR, CPU_ACT_Q8, 1,
     1, cpu_mm_q8_0_scalar, NULL, 0},
#if defined(__x86_64__) || defined(__i386__)
    {"q8_0_q8_0_gemm_16x16__avx512vnni", EHAL_DTYPE_Q8_0, CPU_MM_GEMM, CPU_ISA_AVX512VNNI,
     CPU_ACT_Q8S, 16, 16, cpu_mm_gemm_unpacked_avx512vnni, cpu_mm_q8_0_unpack_avx512vnni, 2304},
    {"q8_0_q8_0_gemm_2x4__avx2", EHAL_DTYPE_Q8_0, CPU_MM_GEMM, CPU_ISA_AVX2, CPU_ACT_Q8, 2, 4,
     cpu_mm_q8_0_avx2, NULL, 0},
#endif
#if defined(__aarch64__)
    {"q8_0_q8_0_gemm_4x4__i8mm", EHAL_DTYPE_Q8_0, CPU_MM_GEMM, CPU_ISA_I8MM, CPU_ACT_Q8, 4, 4,
     cpu_mm_q8_0_i8mm, NULL, 0},
    {"q8_0_q8_0_gemm_2x4__dotprod", EHAL_DTYPE_Q8_0, CPU_MM_GEMM, CPU_ISA_DOTPROD, CPU_ACT_Q8, 2, 4,
     cpu_mm_q8_0_dotprod, NULL, 0},
    {"q8_0_q8_0_gemm_2x4__neon", EHAL_DTYPE_Q8_0, CPU_MM_GEMM, CPU_ISA_NEON, CPU_ACT_Q8, 2, 4,
     cpu_mm_q8_0_neon, NULL, 0},
#endif
    {"q8_0_q8_0_gemm_1x1__scalar", EHAL_DTYPE_Q8_0, CPU_MM_GEMM, CPU_ISA_SCALAR, CPU_ACT_Q8, 1,
     1, cpu_mm_q8_0_scalar, NULL, 0},
#if defined(__x86_64__) || defined(__i386__)
    {"f16_f32_gemv_4x1__avx2", EHAL_DTYPE_F16, CPU_MM_GEMV, CPU_ISA_AVX2, CPU_ACT_F32, 4, 1,
     cpu_mm_f16_avx2, NULL, 0},
#endif
    {"f16_f32_gemv_1x1__scalar", EHAL_DTYPE_F16, CPU_MM_GEMV, CPU_ISA_SCALAR, CPU_ACT_F32, 1, 1,
     cpu_mm_f16_scalar, NULL, 0},
#if defined(__x86_64__) || defined(__i386__)
    {"f16_f32_gemm_2x4__avx2", EHAL_DTYPE_F16, CPU_MM_GEMM, CPU_ISA_AVX2, CPU_ACT_F32, 2, 4,
     cpu_mm_f16_avx2, NULL, 0},
#endif
    {"f16_f32_gemm_1x1__scalar", EHAL_DTYPE_F16, CPU_MM_GEMM, CPU_ISA_SCALAR, CPU_ACT_F32, 1, 1,
     cpu_mm_f16_scalar, NULL, 0},
    {NULL, 0, 0, CPU_ISA_SCALAR, 0, 0, 0, NULL, NULL, 0},
};

const cpu_mm_variant *cpu_mm_pick(uint32_t wtype, int kind)
{
    for (const cpu_mm_variant *v = cpu_mm_variants; v->name != NULL; v++)
        if (v->wtype == wtype && v->kind == kind && cpu_isa_enabled(v->isa))
            return v;
    return NULL;
}

/* Columns per chunk: a chunk's activations (K=4096: 6.5 KiB a column)
 * stay in L2 while the worker's row tiles pass over it. */
#define COL_CHUNK 64

typedef struct mm_job {
    const cpu_mm_variant *v;
    const uint8_t *w;
    size_t w_stride;
    int64_t K, N, T;
    const float *x;
    const uint8_t *xq; /* quantized columns, or x itself for F32 layouts */
    size_t x_stride;
    float *y;
    /* GEMV hands out rows in chunks of `chunk` (a multiple of mr) from
     * `next`; GEMM (chunk 0) splits them statically. */
    int64_t chunk;
    atomic_llong next;
    uint8_t *unpacked; /* v->unpack: unpacked_bytes a worker */
    size_t unpacked_bytes;
} mm_job;

static void quantize_task(void *ctx, int ith, int nth)
{
    mm_job *j = ctx;
    int64_t b, e;
    cpu_split(j->T, 1, ith, nth, &b, &e);
    /* the vector quantizer of the variant's ISA (same bytes as the scalar one) */
    const cpu_quantize_q8_0_fn q8 = cpu_vec_for_isa(j->v->isa)->quantize_q8_0;
    for (int64_t t = b; t < e; t++)
        cpu_quantize_act_with(q8, j->x + t * j->K, j->K, j->v->act,
                              (cpu_qgroup *)(j->xq + t * j->x_stride));
}

/* Tiles prefetch the next row tile (GEMV: every tile; GEMM: a row tile's
 * first column tile of each column chunk) into L1 while it fits there with
 * the current one (32 KiB L1D; measured on Zen 4: a 4-row GEMV tile of 4.6
 * or 9.2 KiB streams fastest into L1, one of 18 or 36 KiB into L2). */
#define PF_L1_MAX_BYTES (12 * 1024)

/* EHAL_CPU_MM_PREFETCH=0 turns the tiles' and unpack steps' software
 * prefetch off (for measuring it); read once. */
static int prefetch_enabled(void)
{
    static atomic_int state; /* 0 unread, 1 on, 2 off */
    int s = atomic_load_explicit(&state, memory_order_relaxed);
    if (s == 0) {
        const char *e = getenv("EHAL_CPU_MM_PREFETCH");
        s = e != NULL && strcmp(e, "0") == 0 ? 2 : 1;
        atomic_store_explicit(&state, s, memory_order_relaxed);
    }
    return s == 1;
}

/* Output rows [r0, r1) over every column, in tiles. */
static void matmul_rows(const mm_job *j, int64_t r0, int64_t r1)
{
    const cpu_mm_variant *v = j->v;
    cpu_mm_tile t;
    t.K = j->K;
    t.w_stride = j->w_stride;
    t.x_stride = j->x_stride;
    t.ldy = (size_t)j->N;
    t.acc_y = 0;
    int pf = CPU_MM_PF_NONE;
    if (v->act != CPU_ACT_F32 && prefetch_enabled())
        pf = (size_t)v->mr * j->w_stride <= PF_L1_MAX_BYTES ? CPU_MM_PF_L1 : CPU_MM_PF_L2;
    for (int64_t c0 = 0; c0 < j->T; c0 += COL_CHUNK) {
        int64_t c1 = c0 + COL_CHUNK < j->T ? c0 + COL_CHUNK : j->T;
        for (int64_t r = r0; r < r1; r += v->mr) {
            t.mr = (int)(r1 - r < v->mr ? r1 - r : v->mr);
            t.w = j->w + (size_t)r * j->w_stride;
            for (int64_t c = c0; c < c1; c += v->nr) {
                t.nc = (int)(c1 - c < v->nr ? c1 - c : v->nr);
                t.x = j->xq + (size_t)c * j->x_stride;
                t.y = j->y + c * j->N + r;
                /* GEMM: the first column tile of a row tile prefetches */
                t.pf = v->kind == CPU_MM_GEMV || c == c0 ? pf : CPU_MM_PF_NONE;
                v->fn(&t);
            }
        }
    }
}

/* Rows [r0, r1) with an unpacking variant: K in blocks of UNPACK_K_GROUPS
 * groups, so that a block's row tile (16 rows: 37 KiB unpacked) and the
 * column chunk's activations for it (UNPACK_COL_CHUNK columns: 426 KiB)
 * stay in L2; each row tile is unpacked once per (column chunk, K block),
 * and the K blocks after the first add to y. */
#define UNPACK_K_GROUPS 16
#define UNPACK_COL_CHUNK 128

static void matmul_rows_unpacked(const mm_job *j, int64_t r0, int64_t r1, uint8_t *unpacked)
{
    const cpu_mm_variant *v = j->v;
    const int64_t ng = cpu_act_groups(j->K);
    cpu_mm_tile t;
    t.w_stride = j->w_stride;
    t.x_stride = j->x_stride;
    t.ldy = (size_t)j->N;
    const int pf = prefetch_enabled() ? CPU_MM_PF_L2 : CPU_MM_PF_NONE;
    for (int64_t c0 = 0; c0 < j->T; c0 += UNPACK_COL_CHUNK) {
        const int64_t c1 = c0 + UNPACK_COL_CHUNK < j->T ? c0 + UNPACK_COL_CHUNK : j->T;
        for (int64_t g0 = 0; g0 < ng; g0 += UNPACK_K_GROUPS) {
            const int64_t k0 = g0 * 4 * EHAL_QK;
            t.K = j->K - k0 < UNPACK_K_GROUPS * 4 * EHAL_QK ? j->K - k0
                                                             : UNPACK_K_GROUPS * 4 * EHAL_QK;
            t.acc_y = g0 > 0;
            const size_t woff = (size_t)ehal_row_bytes(v->wtype, k0);
            for (int64_t r = r0; r < r1; r += v->mr) {
                t.mr = (int)(r1 - r < v->mr ? r1 - r : v->mr);
                t.w = j->w + (size_t)r * j->w_stride + woff;
                t.pf = pf;
                v->unpack(&t, unpacked);
                t.w = unpacked;
                for (int64_t c = c0; c < c1; c += v->nr) {
                    t.nc = (int)(c1 - c < v->nr ? c1 - c : v->nr);
                    t.x = j->xq + (size_t)c * j->x_stride + (size_t)g0 * sizeof(cpu_qgroup);
                    t.y = j->y + c * j->N + r;
                    v->fn(&t);
                }
            }
        }
    }
}

/* GEMV (decode) takes its rows in chunks from a shared counter: a worker
 * the OS deschedules mid-op (a shared or oversubscribed machine) then
 * delays the op by at most one chunk, where an even static split made the
 * whole op wait for its slowest worker. GEMM keeps the static split: each
 * worker's rows then pass over one L2-resident column chunk at a time. */
static void matmul_task(void *ctx, int ith, int nth)
{
    mm_job *j = ctx;
    if (j->chunk > 0) {
        for (;;) {
            const int64_t r0 = atomic_fetch_add_explicit(&j->next, j->chunk, memory_order_relaxed);
            if (r0 >= j->N)
                break;
            matmul_rows(j, r0, r0 + j->chunk < j->N ? r0 + j->chunk : j->N);
        }
        return;
    }
    int64_t r0, r1;
    cpu_split(j->N, j->v->mr, ith, nth, &r0, &r1);
    if (j->v->unpack != NULL)
        matmul_rows_unpacked(j, r0, r1, j->unpacked + (size_t)ith * j->unpacked_bytes);
    else
        matmul_rows(j, r0, r1);
}

ehal_status_t cpu_matmul_run(struct cpu_pool *pool, const cpu_mm_variant *gemv,
                             const cpu_mm_variant *gemm, const void *w, uint32_t wtype,
                             int64_t K, int64_t N, const float *x, int64_t T, float *y,
                             const ehal_host_services *host)
{
    const int64_t gemv_max_n =
        gemm != NULL && gemm->unpack != NULL ? CPU_MM_UNPACKED_MIN_N - 1 : CPU_MM_GEMV_MAX_N;
    const cpu_mm_variant *v = (T <= gemv_max_n && gemv != NULL) || gemm == NULL ? gemv : gemm;
    if (v == NULL || v->wtype != wtype)
        return EHAL_STATUS_UNSUPPORTED;
    mm_job j;
    j.v = v;
    j.w = w;
    j.w_stride = (size_t)ehal_row_bytes(wtype, K);
    j.K = K;
    j.N = N;
    j.T = T;
    j.x = x;
    j.y = y;
    void *scratch = NULL;
    if (v->act == CPU_ACT_F32) {
        j.xq = (const uint8_t *)x;
        j.x_stride = (size_t)K * sizeof(float);
    } else {
        j.x_stride = (size_t)cpu_act_groups(K) * sizeof(cpu_qgroup);
        scratch = ehal_sdk_alloc(host, j.x_stride * (size_t)T);
        if (scratch == NULL) {
            ehal_sdk_log(host, EHAL_LOG_ERROR, "matmul: out of memory for %lld quantized columns",
                         (long long)T);
            return EHAL_STATUS_OUT_OF_MEMORY;
        }
        j.xq = scratch;
        cpu_pool_run(pool, (int)(T < 1024 ? T : 1024), quantize_task, &j);
    }
    /* Enough rows per worker that a split is worth it. */
    int64_t max_workers = N / (v->mr * 4) > 0 ? N / (v->mr * 4) : 1;
    /* GEMV chunks: about 16 per worker (finer adds counter traffic, coarser
     * a longer wait for a descheduled worker), at least 4 row tiles. */
    j.chunk = 0;
    atomic_init(&j.next, 0);
    if (v->kind == CPU_MM_GEMV) {
        const int64_t nth = cpu_pool_threads(pool);
        const int64_t tiles = (N + v->mr - 1) / v->mr;
        const int64_t per = tiles / (nth * 16) > 4 ? tiles / (nth * 16) : 4;
        j.chunk = per * v->mr;
    }
    const int workers = (int)(max_workers < 1024 ? max_workers : 1024);
    void *unpacked = NULL;
    j.unpacked = NULL;
    j.unpacked_bytes = 0;
    if (v->unpack != NULL) {
        const int nw = workers < cpu_pool_threads(pool) ? workers : cpu_pool_threads(pool);
        const int64_t ng = cpu_act_groups(K) < UNPACK_K_GROUPS ? cpu_act_groups(K) : UNPACK_K_GROUPS;
        j.unpacked_bytes = ((size_t)ng * v->unpack_group_bytes + 63) & ~(size_t)63;
        unpacked = ehal_sdk_alloc(host, j.unpacked_bytes * (size_t)nw + 63);
        if (unpacked == NULL) {
            ehal_sdk_log(host, EHAL_LOG_ERROR, "matmul: out of memory for %d unpacked row tiles",
                         nw);
            ehal_sdk_free(host, scratch);
            return EHAL_STATUS_OUT_OF_MEMORY;
        }
        j.unpacked = (uint8_t *)(((uintptr_t)unpacked + 63) & ~(uintptr_t)63);
    }
    cpu_pool_run(pool, workers, matmul_task, &j);
    ehal_sdk_free(host, unpacked);
    ehal_sdk_free(host, scratch);
    return EHAL_STATUS_OK;
}
