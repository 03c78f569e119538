/*
 * Per-op dispatch setup: which shader variant, push constants and grid.
 * One table indexed by op id (no switch repeated across files). Limits
 * that make an op instance unsupported are checked in ehal_vk_op_check.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vk_internal.h"

#define ATTN_MAX_D 512
#define GEMV_MAX_T 8

typedef struct op_ctx {
    const ehal_tensor_desc *in[EHAL_MAX_INPUTS];
    const ehal_tensor_desc *out;
    const ehal_subgraph *sg;
    uint32_t node;
} op_ctx;

typedef void (*setup_fn)(ehal_backend_impl *be, const op_ctx *c, ehal_vk_dispatch *d);

static void ctx_fill(op_ctx *c, const ehal_subgraph *sg, uint32_t node) {
    const ehal_node_desc *n = sg->nodes[node];
    memset(c, 0, sizeof *c);
    c->sg = sg;
    c->node = node;
    for (uint32_t i = 0; i < n->n_inputs && i < EHAL_MAX_INPUTS; i++) {
        c->in[i] = sg->tensors[n->inputs[i]];
    }
    c->out = sg->tensors[n->outputs[0]];
}

static const char *storage_suffix(const ehal_backend_impl *be) {
    return be->feat.storage8 && be->feat.storage16 ? "s8" : "u32";
}

static uint32_t u32n(int64_t v) { return (uint32_t)v; }
static uint32_t ceil_div(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }
static uint32_t rb(const ehal_tensor_desc *t) { return (uint32_t)ehal_row_bytes(t->dtype, t->ne[0]); }

static const char *wtype_name(uint32_t dt) {
    return dt == EHAL_DTYPE_F32 ? "f32" : dt == EHAL_DTYPE_F16 ? "f16" : dt == EHAL_DTYPE_Q8_0 ? "q8_0" : "q4_0";
}

static void setup_get_rows(ehal_backend_impl *be, const op_ctx *c, ehal_vk_dispatch *d) {
    snprintf(d->shader, sizeof d->shader, "get_rows_%s", storage_suffix(be));
    uint32_t D = u32n(c->in[0]->ne[0]), T = u32n(c->in[1]->ne[0]);
    d->pc_u[0] = D;
    d->pc_u[1] = T;
    d->pc_u[2] = c->in[0]->dtype;
    d->pc_u[3] = rb(c->in[0]);
    d->pc_u[4] = u32n(c->in[0]->ne[1]);
    d->groups = ceil_div((uint64_t)D * T, 256);
}

static void setup_matmul(ehal_backend_impl *be, const op_ctx *c, ehal_vk_dispatch *d) {
    const ehal_tensor_desc *w = c->in[0];
    uint32_t K = u32n(w->ne[0]), N = u32n(w->ne[1]);
    uint32_t T = u32n(ehal_tensor_nelements(c->in[1]) / w->ne[0]);
    int gemv = T <= GEMV_MAX_T;
    if (gemv) {
        /* Q8_0/Q4_0: integer dot products (OpSDot) where the device has them */
        int dp = be->feat.int_dot && ehal_dtype_is_quantized(w->dtype);
        snprintf(d->shader, sizeof d->shader, "matmul_gemv_%s_%s_%s%s", wtype_name(w->dtype),
                 storage_suffix(be), be->feat.subgroup ? "sg" : "sh", dp ? "_dp" : "");
    } else {
        snprintf(d->shader, sizeof d->shader, "matmul_gemm_%s_%s", wtype_name(w->dtype),
                 storage_suffix(be));
    }
    d->pc_u[0] = K;
    d->pc_u[1] = N;
    d->pc_u[2] = T;
    d->pc_u[3] = rb(w);
    if (ehal_dtype_is_quantized(w->dtype)) {
        /* X quantized to Q8_0 once per execute: 32 int8 + an f32 per block */
        uint32_t blocks = K / 32u * T;
        d->scratch_bytes = (uint64_t)blocks * 36u;
        snprintf(d->pre_shader, sizeof d->pre_shader, "quantize_act");
        d->pre_groups = ceil_div(blocks, 64);
        d->pre_u0 = blocks;
    }
    if (gemv && be->feat.subgroup) {
        /* one subgroup per row: gl_NumSubgroups rows per 64-wide group */
        uint32_t sg = be->avail.subgroup_size ? be->avail.subgroup_size : 64u;
        uint32_t rows = sg >= 64u ? 1u : 64u / sg;
        d->groups = ceil_div(N, rows);
    } else if (gemv) {
        d->groups = N;
    } else {
        d->groups = ceil_div(N, 32);
        d->groups_y = ceil_div(T, 32);
    }
}

static void setup_rms_norm(ehal_backend_impl *be, const op_ctx *c, ehal_vk_dispatch *d) {
    (void)be;
    ehal_params_rms_norm p;
    ehal_op_get_params(c->sg, c->node, &p, sizeof p);
    uint32_t D = u32n(c->in[0]->ne[0]);
    uint32_t rows = u32n(ehal_tensor_nelements(c->in[0]) / c->in[0]->ne[0]);
    snprintf(d->shader, sizeof d->shader, "rms_norm");
    d->pc_u[0] = D;
    d->pc_u[1] = rows;
    d->pc_f[0] = p.eps;
    d->groups = rows;
}

static void setup_rope(ehal_backend_impl *be, const op_ctx *c, ehal_vk_dispatch *d) {
    (void)be;
    ehal_params_rope p;
    ehal_op_get_params(c->sg, c->node, &p, sizeof p);
    const ehal_tensor_desc *x = c->in[0];
    snprintf(d->shader, sizeof d->shader, "rope");
    d->pc_u[0] = u32n(x->ne[0]);
    d->pc_u[1] = u32n(x->ne[1]);
    d->pc_u[2] = u32n(x->ne[2]);
    d->pc_u[3] = p.n_rot;
    d->pc_u[4] = p.mode;
    /* freq_scale * freq_base^(-2i/n_rot) in double, split into a float
     * pair (hi, lo): the shader forms pos * (hi + lo) and reduces it mod
     * 2*pi in two-float arithmetic, so large positions keep the accuracy
     * of the double-precision reference. */
    for (uint32_t i = 0; i < p.n_rot / 2u; i++) {
        double g = (double)p.freq_scale * pow((double)p.freq_base, -2.0 * (double)i / (double)p.n_rot);
        float hi = (float)g;
        d->aux[2 * i] = hi;
        d->aux[2 * i + 1] = (float)(g - (double)hi);
    }
    d->aux_count = p.n_rot;
    d->groups = ceil_div((uint64_t)ehal_tensor_nelements(x), 256);
}

static void setup_eltwise(const op_ctx *c, ehal_vk_dispatch *d, uint32_t kind) {
    uint64_t n = (uint64_t)ehal_tensor_nelements(c->in[0]);
    snprintf(d->shader, sizeof d->shader, "eltwise");
    d->pc_u[0] = (uint32_t)n;
    d->pc_u[1] = kind;
    d->groups = ceil_div(n, 256);
}
static void setup_add(ehal_backend_impl *be, const op_ctx *c, ehal_vk_dispatch *d) {
    (void)be;
    setup_eltwise(c, d, 0);
}
static void setup_mul(ehal_backend_impl *be, const op_ctx *c, ehal_vk_dispatch *d) {
    (void)be;
    setup_eltwise(c, d, 1);
}
static void setup_swiglu(ehal_backend_impl *be, const op_ctx *c, ehal_vk_dispatch *d) {
    (void)be;
    setup_eltwise(c, d, 2);
}

static void setup_softmax(ehal_backend_impl *be, const op_ctx *c, ehal_vk_dispatch *d) {
    (void)be;
    ehal_params_softmax p;
    ehal_op_get_params(c->sg, c->node, &p, sizeof p);
    uint32_t rows = u32n(ehal_tensor_nelements(c->in[0]) / c->in[0]->ne[0]);
    snprintf(d->shader, sizeof d->shader, "softmax");
    d->pc_u[0] = u32n(c->in[0]->ne[0]);
    d->pc_u[1] = rows;
    d->pc_f[0] = p.scale;
    d->groups = rows;
}

static void setup_kv_write(ehal_backend_impl *be, const op_ctx *c, ehal_vk_dispatch *d) {
    ehal_params_kv p;
    ehal_op_get_params(c->sg, c->node, &p, sizeof p);
    const ehal_tensor_desc *src = c->in[0], *cache = c->in[2];
    uint32_t D = u32n(src->ne[0]), H = u32n(src->ne[1]), T = u32n(src->ne[2]);
    uint32_t units = ehal_dtype_is_quantized(cache->dtype) ? D / 32u : D;
    snprintf(d->shader, sizeof d->shader, "kv_write_%s", storage_suffix(be));
    d->pc_u[0] = D;
    d->pc_u[1] = H;
    d->pc_u[2] = T;
    d->pc_u[3] = u32n(cache->ne[1]);
    d->pc_u[4] = cache->dtype;
    d->pc_u[5] = rb(cache);
    d->pc_u[6] = p.window;
    d->pc_u[7] = p.n_sink;
    d->groups = ceil_div((uint64_t)units * H * T, 64);
}

static void setup_attention(ehal_backend_impl *be, const op_ctx *c, ehal_vk_dispatch *d) {
    ehal_params_attention p;
    ehal_op_get_params(c->sg, c->node, &p, sizeof p);
    const ehal_tensor_desc *q = c->in[0], *k = c->in[1], *v = c->in[2];
    snprintf(d->shader, sizeof d->shader, "attention_%s_%s", wtype_name(k->dtype),
             storage_suffix(be));
    d->pc_u[0] = u32n(q->ne[0]);
    d->pc_u[1] = u32n(q->ne[1]);
    d->pc_u[2] = u32n(k->ne[2]);
    d->pc_u[3] = u32n(q->ne[2]);
    d->pc_u[4] = u32n(k->ne[1]);
    d->pc_u[5] = k->dtype;
    d->pc_u[6] = v->dtype;
    d->pc_u[7] = rb(k);
    d->pc_u[8] = rb(v);
    d->pc_u[9] = p.window;
    d->pc_u[10] = p.n_sink;
    d->pc_u[11] = p.flags;
    d->pc_f[0] = p.scale;
    d->groups = u32n(q->ne[1] * q->ne[2]);
}

static void setup_copy(ehal_backend_impl *be, const op_ctx *c, ehal_vk_dispatch *d) {
    uint64_t n = (uint64_t)ehal_tensor_nelements(c->in[0]);
    snprintf(d->shader, sizeof d->shader, "copy_%s", storage_suffix(be));
    /* Dense on both sides: one long row (block aligned, see ref COPY). */
    d->pc_u[0] = (uint32_t)n;
    d->pc_u[1] = 1;
    d->pc_u[2] = c->in[0]->dtype;
    d->pc_u[3] = c->out->dtype;
    d->pc_u[4] = 0;
    d->pc_u[5] = 0;
    d->groups = ceil_div(ehal_dtype_is_quantized(c->out->dtype) ? n / 32u : n, 64);
}

static const setup_fn setups[EHAL_OP_ID_LIMIT_] = {
    [EHAL_OP_GET_ROWS] = setup_get_rows, [EHAL_OP_MATMUL] = setup_matmul,
    [EHAL_OP_RMS_NORM] = setup_rms_norm, [EHAL_OP_ROPE] = setup_rope,
    [EHAL_OP_ADD] = setup_add,           [EHAL_OP_MUL] = setup_mul,
    [EHAL_OP_SWIGLU] = setup_swiglu,     [EHAL_OP_SOFTMAX] = setup_softmax,
    [EHAL_OP_KV_WRITE] = setup_kv_write, [EHAL_OP_ATTENTION] = setup_attention,
    [EHAL_OP_COPY] = setup_copy,
};

int ehal_vk_op_check(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node, char *why,
                     size_t why_size) {
    const ehal_node_desc *n = sg->nodes[node];
    if (n->op >= EHAL_OP_ID_LIMIT_ || !setups[n->op]) {
        snprintf(why, why_size, "op %s has no Vulkan shader", ehal_op_name(n->op));
        return -1;
    }
    op_ctx c;
    ctx_fill(&c, sg, node);
    uint64_t limit = be->props.limits.maxStorageBufferRange;
    uint64_t align = be->props.limits.minStorageBufferOffsetAlignment;
    for (uint32_t i = 0; i <= n->n_inputs; i++) {
        const ehal_tensor_desc *t = i < n->n_inputs ? c.in[i] : c.out;
        uint64_t bytes = ehal_tensor_nbytes(t);
        int64_t ne = ehal_tensor_nelements(t);
        if (bytes + align > limit || ne <= 0 || (uint64_t)ne > UINT32_MAX) {
            snprintf(why, why_size,
                     "tensor %u (%llu bytes) exceeds maxStorageBufferRange %llu or 2^32 elements",
                     i < n->n_inputs ? n->inputs[i] : n->outputs[0], (unsigned long long)bytes,
                     (unsigned long long)limit);
            return -1;
        }
    }
    if (n->op == EHAL_OP_ROPE && c.in[0]->ne[0] > EHAL_VK_AUX_MAX) {
        snprintf(why, why_size, "rope dim %lld exceeds the frequency table's %d",
                 (long long)c.in[0]->ne[0], EHAL_VK_AUX_MAX);
        return -1;
    }
    if (n->op == EHAL_OP_ATTENTION && c.in[0]->ne[0] > ATTN_MAX_D) {
        snprintf(why, why_size, "attention head dim %lld exceeds the shader's %d",
                 (long long)c.in[0]->ne[0], ATTN_MAX_D);
        return -1;
    }
    return 0;
}

ehal_status_t ehal_vk_op_setup(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                               ehal_vk_dispatch *d) {
    op_ctx c;
    ctx_fill(&c, sg, node);
    memset(d, 0, sizeof *d);
    setups[sg->nodes[node]->op](be, &c, d);
    return EHAL_STATUS_OK;
}

/* Rough roofline: max(flops / peak, bytes / bandwidth) + launch cost. */
uint64_t ehal_vk_op_cost_ns(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node) {
    op_ctx c;
    ctx_fill(&c, sg, node);
    const ehal_node_desc *n = sg->nodes[node];
    double bytes = (double)ehal_tensor_nbytes(c.out), flops;
    for (uint32_t i = 0; i < n->n_inputs; i++) {
        bytes += (double)ehal_tensor_nbytes(c.in[i]);
    }
    double out_n = (double)ehal_tensor_nelements(c.out);
    if (n->op == EHAL_OP_MATMUL) {
        flops = 2.0 * out_n * (double)c.in[0]->ne[0];
    } else if (n->op == EHAL_OP_ATTENTION) {
        flops = 4.0 * out_n * (double)c.in[1]->ne[1];
    } else {
        flops = 8.0 * out_n;
    }
    /* Rates by device type (GFLOP/s = flops per ns, GB/s = bytes per ns).
     * A CPU-type device (Mesa lavapipe, SwiftShader) runs these shaders on
     * the host through a software rasterizer's compute path: measured here
     * roughly 10-20x slower per step than the host cpu backend, so it is
     * priced below the cpu plugin's own estimate (2 GFLOP/s, 10 GB/s) and
     * the partitioner uses it only when pinned or calibrated. Virtual GPUs
     * and unknown types get integrated-GPU rates divided by 4. */
    double gflops, gbs;
    switch (be->props.deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
        gflops = 5000, gbs = 300;
        break;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
        gflops = 500, gbs = 30;
        break;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
        gflops = 0.2, gbs = 1;
        break;
    default:
        gflops = 125, gbs = 8;
        break;
    }
    double t_c = flops / gflops, t_b = bytes / gbs; /* ns */
    return (uint64_t)(t_c > t_b ? t_c : t_b) + 10000u;
}
