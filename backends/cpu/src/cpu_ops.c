/*
 * The pool-aware op kernels behind the kernel table: they pick the family
 * micro-kernels chosen at init and decline (UNSUPPORTED, nothing written)
 * what the families do not cover, so the reference kernel runs instead.
 */
#include "cpu_attn.h"
#include "cpu_internal.h"

ehal_status_t cpu_op_matmul(ehal_backend_impl *be, const ehal_kernel_args *a)
{
    const ehal_tensor_desc *w = a->in[0];
    if (w->dtype >= EHAL_DTYPE_ID_LIMIT_ || w->ne[2] != 1 || w->ne[3] != 1)
        return EHAL_STATUS_UNSUPPORTED;
    const int64_t K = w->ne[0], N = w->ne[1];
    if (K <= 0 || N <= 0)
        return EHAL_STATUS_UNSUPPORTED;
    const int64_t T = ehal_tensor_nelements(a->in[1]) / K;
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
