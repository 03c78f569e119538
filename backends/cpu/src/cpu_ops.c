/*
 * The pool-aware op kernels behind the kernel table: they pick the family
 * micro-kernels chosen at init and decline (UNSUPPORTED, nothing written)
 * what the families do not cover, so the reference kernel runs instead.
 */
#include <pthread.h>

#include "cpu_attn.h"
#include "cpu_internal.h"

/* MATMUL by columns: a prefill (many tokens) over a small weight matrix
 * gives each worker a range of whole token columns, which it quantizes and
 * multiplies by every weight row on its own (cpu_matmul_run without a
 * pool). cpu_matmul_run's own split is by output rows: every worker then
 * reads every token's quantized activations and writes a slice of every
 * token's outputs, so a whole layer's activations cross between cores at
 * each matmul, and the next element-wise op reads half its input from the
 * other core. With columns, a token's activations stay on one core from
 * one matmul to the next; each worker reads the whole weight matrix, which
 * is cheap while it fits in L2 several times over. One pool run per matmul
 * instead of two (quantize, multiply). Tiny model pp128 at 2 threads:
 * +7% (Q4_0) and +12% (Q8_0); decode (one column) and 1B-sized weights keep
 * the row split. */
#define MM_COLS_MAX_WEIGHT_BYTES (512u * 1024u)
/* Column ranges are whole multiples of this (a multiple of every GEMM
 * tile's width), so every tile covers the same columns as in a one-thread
 * run and each output is computed as at any thread count (the logits of
 * the tiny model's 128- and 200-token prefills are bit-identical at 1, 2
 * and 3 threads). */
#define MM_COLS_ALIGN 64
#define MM_COLS_MAX_WORKERS 64

typedef struct mm_cols_job {
    ehal_backend_impl *be;
    const ehal_kernel_args *a;
    int64_t K, N, T;
    /* Host services for the workers: be->host's, called under mu (the host
     * expects one caller at a time; the owning thread is blocked here). */
    ehal_host_services host;
    pthread_mutex_t mu;
    ehal_status_t status[MM_COLS_MAX_WORKERS];
} mm_cols_job;

/* What ehal_sdk_alloc asks for (align 0: 16 bytes); larger alignments fail. */
static void *cols_alloc(void *user, size_t size, size_t align)
{
    mm_cols_job *j = user;
    if (align > 16)
        return NULL;
    pthread_mutex_lock(&j->mu);
    void *p = ehal_sdk_alloc(j->be->host, size);
    pthread_mutex_unlock(&j->mu);
    return p;
}

static void cols_free(void *user, void *ptr)
{
    mm_cols_job *j = user;
    pthread_mutex_lock(&j->mu);
    ehal_sdk_free(j->be->host, ptr);
    pthread_mutex_unlock(&j->mu);
}

static void cols_log(void *user, int32_t level, const char *msg)
{
    mm_cols_job *j = user;
    pthread_mutex_lock(&j->mu);
    ehal_sdk_log(j->be->host, level, "%s", msg);
    pthread_mutex_unlock(&j->mu);
}

static void cols_task(void *ctx, int ith, int nth)
{
    mm_cols_job *j = ctx;
    int64_t c0, c1;
    cpu_split(j->T, MM_COLS_ALIGN, ith, nth, &c0, &c1);
    const ehal_kernel_args *a = j->a;
    const uint32_t wt = a->in[0]->dtype;
    j->status[ith] = c0 >= c1 ? EHAL_STATUS_OK
                              : cpu_matmul_run(NULL, NULL, j->be->mm[wt][CPU_MM_GEMM],
                                               a->in_data[0], wt, j->K, j->N,
                                               (const float *)a->in_data[1] + c0 * j->K, c1 - c0,
                                               (float *)a->out_data + c0 * j->N, &j->host);
}

/* The column split where it applies (else UNSUPPORTED, nothing done). */
static ehal_status_t matmul_by_columns(ehal_backend_impl *be, const ehal_kernel_args *a,
                                       int64_t K, int64_t N, int64_t T)
{
    const uint32_t wt = a->in[0]->dtype;
    const cpu_mm_variant *gemm = be->mm[wt][CPU_MM_GEMM];
    const int64_t units = T / MM_COLS_ALIGN;
    int64_t nth = cpu_pool_threads(be->pool);
    nth = nth < units ? nth : units;
    nth = nth < MM_COLS_MAX_WORKERS ? nth : MM_COLS_MAX_WORKERS;
    if (nth < 2 || gemm == NULL || gemm->wtype != wt ||
        (uint64_t)N * ehal_row_bytes(wt, K) > MM_COLS_MAX_WEIGHT_BYTES)
        return EHAL_STATUS_UNSUPPORTED;
    mm_cols_job j = {.be = be, .a = a, .K = K, .N = N, .T = T};
    j.host.struct_size = sizeof j.host;
    j.host.host_abi_version = be->host != NULL ? be->host->host_abi_version : 0;
    j.host.user = &j;
    j.host.alloc = cols_alloc;
    j.host.free = cols_free;
    j.host.log = cols_log;
    pthread_mutex_init(&j.mu, NULL);
    cpu_pool_run(be->pool, (int)nth, cols_task, &j);
    pthread_mutex_destroy(&j.mu);
    for (int64_t i = 0; i < nth; i++)
        if (j.status[i] != EHAL_STATUS_OK)
            return j.status[i] == EHAL_STATUS_UNSUPPORTED ? EHAL_STATUS_INTERNAL : j.status[i];
    return EHAL_STATUS_OK;
}

ehal_status_t cpu_op_matmul(ehal_backend_impl *be, const ehal_kernel_args *a)
{
    const ehal_tensor_desc *w = a->in[0];
    if (w->dtype >= EHAL_DTYPE_ID_LIMIT_ || w->ne[2] != 1 || w->ne[3] != 1)
        return EHAL_STATUS_UNSUPPORTED;
    const int64_t K = w->ne[0], N = w->ne[1];
    if (K <= 0 || N <= 0)
        return EHAL_STATUS_UNSUPPORTED;
    const int64_t T = ehal_tensor_nelements(a->in[1]) / K;
    const ehal_status_t st = matmul_by_columns(be, a, K, N, T);
    if (st != EHAL_STATUS_UNSUPPORTED)
        return st;
    return cpu_matmul_run(be->pool, be->mm[w->dtype][CPU_MM_GEMV], be->mm[w->dtype][CPU_MM_GEMM],
                          a->in_data[0], w->dtype, K, N, a->in_data[1], T, a->out_data,
                          be->host);
}

ehal_status_t cpu_op_attention(ehal_backend_impl *be, const ehal_kernel_args *a)
{
    const uint32_t kv = a->in[1]->dtype;
    if (kv >= EHAL_DTYPE_ID_LIMIT_)
        return EHAL_STATUS_UNSUPPORTED;
    return cpu_attention_run(be->pool, be->attn[kv], a, be->host);
}
