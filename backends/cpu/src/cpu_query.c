/*
 * Capability query (R13). The answer is exact: a node the catalog accepts
 * and the kernel table covers is SUPPORTED (the reference kernels run every
 * valid instance); anything else is UNSUPPORTED, never an error.
 *
 * Cost model, in ns: a roofline per node, the larger of flops / compute
 * rate and bytes / memory rate, plus a dispatch cost. The compute
 * rate is per kernel family for the ISA level of the kernel the dispatch
 * picked (cpu_isa.h), times the worker threads; memory is 20 GB/s a thread
 * up to 4 threads. The rates are rounded-down medians of `edgehal bench`
 * on the machines in docs/cpu-backend.md; they only have to rank the CPU
 * against other backends (`run --calibrate` measures the whole step and
 * prints the factor; near 1 means the model holds).
 */
#include <string.h>

#include "cpu_internal.h"
#include "cpu_attn.h"
#include "cpu_pool.h"

/* Per node: argument set-up and the pool's hand-out, which grows with the
 * threads that take part (measured on the tiny model's decode: ~1.5 us a
 * node on one thread, ~2.5 us on two). */
#define CPU_DISPATCH_NS 1500.0
#define CPU_DISPATCH_NS_PER_EXTRA_THREAD 1000.0
#define CPU_BYTES_PER_NS_THREAD 20.0 /* 20 GB/s */
#define CPU_MEMORY_THREADS_MAX 4

typedef struct cpu_cost {
    double flops;
    double bytes;
} cpu_cost;

/* Per-op work estimate. `in` holds n_inputs descs, `out` the output; every
 * function may assume the node passed ehal_op_validate. bytes starts as
 * the sum of all inputs and the output; an op that touches less resets it. */
typedef void (*cpu_cost_fn)(const ehal_tensor_desc *const *in, const ehal_tensor_desc *out,
                            cpu_cost *c);

static double n_of(const ehal_tensor_desc *t)
{
    return (double)ehal_tensor_nelements(t);
}

static double rows_bytes(const ehal_tensor_desc *t, double rows)
{
    return (double)ehal_row_bytes(t->dtype, t->ne[0]) * rows;
}

static void cost_GET_ROWS(const ehal_tensor_desc *const *in, const ehal_tensor_desc *out,
                          cpu_cost *c)
{
    double t = n_of(in[1]); /* rows fetched */
    c->flops = 2.0 * n_of(out);
    c->bytes = rows_bytes(in[0], t) + 4.0 * t + 4.0 * n_of(out);
}

static void cost_MATMUL(const ehal_tensor_desc *const *in, const ehal_tensor_desc *out,
                        cpu_cost *c)
{
    (void)out;
    double k = (double)in[0]->ne[0], n = (double)in[0]->ne[1];
    double t = n_of(in[1]) / k;
    c->flops = 2.0 * k * n * t;
}

static void cost_RMS_NORM(const ehal_tensor_desc *const *in, const ehal_tensor_desc *out,
                          cpu_cost *c)
{
    (void)out;
    c->flops = 4.0 * n_of(in[0]);
}

static void cost_ROPE(const ehal_tensor_desc *const *in, const ehal_tensor_desc *out,
                      cpu_cost *c)
{
    (void)out;
    c->flops = 16.0 * n_of(in[0]); /* a sin/cos per pair dominates */
}

static void cost_ADD(const ehal_tensor_desc *const *in, const ehal_tensor_desc *out, cpu_cost *c)
{
    (void)out;
    c->flops = n_of(in[0]);
}

static void cost_MUL(const ehal_tensor_desc *const *in, const ehal_tensor_desc *out, cpu_cost *c)
{
    (void)out;
    c->flops = n_of(in[0]);
}

static void cost_SWIGLU(const ehal_tensor_desc *const *in, const ehal_tensor_desc *out,
                        cpu_cost *c)
{
    (void)out;
    c->flops = 10.0 * n_of(in[0]); /* an exp per value */
}

static void cost_SOFTMAX(const ehal_tensor_desc *const *in, const ehal_tensor_desc *out,
                         cpu_cost *c)
{
    (void)out;
    c->flops = 10.0 * n_of(in[0]);
}

/* Only the written rows of the cache move, not the whole cache. */
static void cost_KV_WRITE(const ehal_tensor_desc *const *in, const ehal_tensor_desc *out,
                          cpu_cost *c)
{
    (void)out;
    double rows = n_of(in[0]) / (double)in[0]->ne[0];
    c->flops = 4.0 * n_of(in[0]);
    c->bytes = 4.0 * n_of(in[0]) + 4.0 * n_of(in[1]) + rows_bytes(in[2], rows);
}

/* Upper bound: every cache slot is attended (positions are unknown at query
 * time). QK^T and PV are 2*D flops each per (query head, token, key). */
static void cost_ATTENTION(const ehal_tensor_desc *const *in, const ehal_tensor_desc *out,
                           cpu_cost *c)
{
    (void)out;
    double d = (double)in[0]->ne[0], hq = (double)in[0]->ne[1], t = (double)in[0]->ne[2];
    double keys = (double)in[1]->ne[1];
    c->flops = hq * t * keys * (4.0 * d + 10.0);
}

static void cost_COPY(const ehal_tensor_desc *const *in, const ehal_tensor_desc *out,
                      cpu_cost *c)
{
    (void)out;
    c->flops = 2.0 * n_of(in[0]);
}

/* Indexed by op id; a catalog op without a cost function fails to compile. */
static const cpu_cost_fn cost_table[EHAL_OP_ID_LIMIT_] = {
#define CPU_COST_ENTRY(N, id, s, ni, no, P) [id] = cost_##N,
    EHAL_OP_LIST(CPU_COST_ENTRY)
#undef CPU_COST_ENTRY
};

static int isa_is_arm(cpu_isa isa)
{
    return isa == CPU_ISA_NEON || isa == CPU_ISA_DOTPROD || isa == CPU_ISA_I8MM;
}

/* Flops per ns on one thread for a MATMUL run by variant v (NULL: the
 * reference kernel): int8 dot products for Q8_0/Q4_0 weights, FMA for
 * F32/F16. An unpacking GEMM (AVX-512 VNNI) reaches ~280 GFLOP/s, a GEMV
 * is bound by the weight stream long before its compute rate matters. */
static double matmul_rate(const cpu_mm_variant *v, int quantized)
{
    cpu_isa isa = v ? v->isa : CPU_ISA_SCALAR;
    if (v && v->kind == CPU_MM_GEMM && v->unpack != NULL)
        return 250.0;
    switch (isa) {
    case CPU_ISA_AVX512VNNI:
        return quantized ? 90.0 : 50.0;
    case CPU_ISA_AVX2:
        return quantized ? 60.0 : 40.0;
    case CPU_ISA_I8MM:
        return quantized ? 40.0 : 12.0;
    case CPU_ISA_DOTPROD:
        return quantized ? 25.0 : 12.0;
    case CPU_ISA_NEON:
        return quantized ? 10.0 : 12.0;
    default:
        return 2.0;
    }
}

/* Flops per ns on one thread of the kernel that runs node n. */
static double compute_rate(const ehal_backend_impl *be, const ehal_subgraph *sg,
                           const ehal_node_desc *n)
{
    const ehal_tensor_desc *in0 = sg->tensors[n->inputs[0]];
    if (n->op == EHAL_OP_MATMUL) {
        double k = (double)in0->ne[0];
        double t = (double)ehal_tensor_nelements(sg->tensors[n->inputs[1]]) / k;
        const cpu_mm_variant *gemv = NULL, *gemm = NULL;
        if (in0->dtype < EHAL_DTYPE_ID_LIMIT_) {
            gemv = be->mm[in0->dtype][CPU_MM_GEMV];
            gemm = be->mm[in0->dtype][CPU_MM_GEMM];
        }
        /* the same choice as cpu_matmul_run */
        double gemv_max_n =
            gemm != NULL && gemm->unpack != NULL ? CPU_MM_UNPACKED_MIN_N - 1 : CPU_MM_GEMV_MAX_N;
        const cpu_mm_variant *v = (t <= gemv_max_n && gemv != NULL) || gemm == NULL ? gemv : gemm;
        int quantized = in0->dtype == EHAL_DTYPE_Q8_0 || in0->dtype == EHAL_DTYPE_Q4_0;
        return matmul_rate(v, quantized);
    }
    if (n->op == EHAL_OP_ATTENTION) {
        uint32_t kv = sg->tensors[n->inputs[1]]->dtype;
        const cpu_attn_variant *v = kv < EHAL_DTYPE_ID_LIMIT_ ? be->attn[kv] : NULL;
        cpu_isa isa = v ? v->isa : CPU_ISA_SCALAR;
        return isa == CPU_ISA_SCALAR ? 1.0 : isa_is_arm(isa) ? 10.0 : 40.0;
    }
    if (n->op < EHAL_OP_ID_LIMIT_ && be->fast[n->op] != NULL)
        return cpu_isa_enabled(CPU_ISA_AVX2) ? 8.0 : cpu_isa_enabled(CPU_ISA_NEON) ? 4.0 : 2.0;
    return 2.0;
}

static uint64_t estimate_ns(const ehal_backend_impl *be, const ehal_subgraph *sg,
                            const ehal_node_desc *n)
{
    const ehal_tensor_desc *in[EHAL_MAX_INPUTS] = {NULL};
    cpu_cost c = {0.0, 0.0};
    for (uint32_t j = 0; j < n->n_inputs; j++) {
        in[j] = sg->tensors[n->inputs[j]];
        c.bytes += (double)ehal_tensor_nbytes(in[j]);
    }
    const ehal_tensor_desc *out = n->n_outputs > 0 ? sg->tensors[n->outputs[0]] : NULL;
    if (out != NULL)
        c.bytes += (double)ehal_tensor_nbytes(out);
    if (n->op < EHAL_OP_ID_LIMIT_ && cost_table[n->op] != NULL)
        cost_table[n->op](in, out, &c);
    double threads = (double)cpu_pool_threads(be->pool);
    double mem_threads = threads < CPU_MEMORY_THREADS_MAX ? threads : CPU_MEMORY_THREADS_MAX;
    double compute_ns = c.flops / (compute_rate(be, sg, n) * threads);
    double memory_ns = c.bytes / (CPU_BYTES_PER_NS_THREAD * mem_threads);
    double dispatch_ns = CPU_DISPATCH_NS + CPU_DISPATCH_NS_PER_EXTRA_THREAD * (mem_threads - 1.0);
    double ns = dispatch_ns + (compute_ns > memory_ns ? compute_ns : memory_ns);
    if (ns >= 1.8e19)
        return UINT64_MAX / 2;
    return (uint64_t)(ns + 0.5);
}

ehal_status_t cpu_query_op(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                           ehal_op_support *out)
{
    if (!cpu_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (sg == NULL || out == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "query_op: %s is NULL",
                     sg == NULL ? "subgraph" : "out");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    size_t need = offsetof(ehal_op_support, level) + sizeof out->level;
    if (out->struct_size < need) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "query_op: op_support struct_size %u is smaller than %zu bytes",
                     out->struct_size, need);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    if (sg->struct_size < offsetof(ehal_subgraph, nodes) + sizeof sg->nodes ||
        node >= sg->n_nodes || sg->nodes == NULL || sg->nodes[node] == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "query_op: node %u is not in the subgraph (%u nodes, struct_size %u)",
                     node, sg->n_nodes, sg->struct_size);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }

    ehal_op_support s;
    memset(&s, 0, sizeof s);
    s.level = EHAL_SUPPORT_UNSUPPORTED;
    char msg[256] = "";
    const ehal_node_desc *n = sg->nodes[node];
    if (ehal_op_validate(sg, node, msg, sizeof msg) != EHAL_STATUS_OK) {
        ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "query_op: unsupported: %s", msg);
    } else if (n->op >= EHAL_OP_ID_LIMIT_ || be->kernels[n->op] == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "query_op: no kernel for op %s",
                     ehal_op_name(n->op));
    } else {
        s.level = EHAL_SUPPORT_SUPPORTED;
        s.cost_ns = estimate_ns(be, sg, n);
        s.prepare_ns = 0; /* prepare only copies the subgraph */
    }
    size_t fill = out->struct_size < sizeof s ? out->struct_size : sizeof s;
    s.struct_size = (uint32_t)fill;
    memcpy(out, &s, fill);
    return EHAL_STATUS_OK;
}
