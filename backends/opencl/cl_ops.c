/*
 * Per-op kernel setup: one function per op id (the table at the bottom)
 * that creates the node's kernel, sets every argument once and fills the
 * launch geometry. Tensors are passed as (cl_mem, byte offset) pairs.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cl_internal.h"

typedef struct argset {
    const ehal_backend_impl *be;
    cl_kernel k;
    cl_uint i;
    cl_int err;
} argset;

static void arg(argset *a, size_t size, const void *v) {
    if (a->err == CL_SUCCESS) {
        a->err = a->be->cl.clSetKernelArg(a->k, a->i, size, v);
    }
    a->i++;
}
static void arg_i(argset *a, int64_t v) {
    cl_int x = (cl_int)v;
    arg(a, sizeof x, &x);
}
static void arg_u(argset *a, uint32_t v) {
    cl_uint x = v;
    arg(a, sizeof x, &x);
}
static void arg_l(argset *a, int64_t v) {
    cl_long x = v;
    arg(a, sizeof x, &x);
}
static void arg_f(argset *a, float v) {
    cl_float x = v;
    arg(a, sizeof x, &x);
}
static void arg_t(argset *a, const ehal_tensor_desc *t) {
    arg(a, sizeof(cl_mem), &t->buffer->mem);
    cl_ulong off = t->offset;
    arg(a, sizeof off, &off);
}

static const ehal_tensor_desc *in_t(const ehal_subgraph *sg, uint32_t node, uint32_t i) {
    return sg->tensors[sg->nodes[node]->inputs[i]];
}
static const ehal_tensor_desc *out_t(const ehal_subgraph *sg, uint32_t node) {
    return sg->tensors[sg->nodes[node]->outputs[0]];
}

static size_t round_up(int64_t n, size_t m) {
    return (size_t)((n + (int64_t)m - 1) / (int64_t)m) * m;
}

static void geom(ocl_launch *l, uint32_t dims, size_t g0, size_t g1, size_t g2, size_t l0,
                 size_t l1) {
    l->dims = dims;
    l->global[0] = g0;
    l->global[1] = g1;
    l->global[2] = g2;
    l->local[0] = l0;
    l->local[1] = l1;
    l->local[2] = 1;
}

typedef void (*setup_fn)(argset *a, const ehal_backend_impl *be, const ehal_subgraph *sg,
                         uint32_t node, ocl_launch *l);

static void elt(argset *a, const ehal_subgraph *sg, uint32_t node, ocl_launch *l, int op) {
    int64_t n = ehal_tensor_nelements(in_t(sg, node, 0));
    arg_t(a, in_t(sg, node, 0));
    arg_t(a, in_t(sg, node, 1));
    arg_t(a, out_t(sg, node));
    arg_l(a, n);
    arg_i(a, op);
    geom(l, 1, round_up(n, 64), 1, 1, 64, 1);
}
static void setup_ADD(argset *a, const ehal_backend_impl *be, const ehal_subgraph *sg,
                      uint32_t node, ocl_launch *l) {
    (void)be;
    elt(a, sg, node, l, 0);
}
static void setup_MUL(argset *a, const ehal_backend_impl *be, const ehal_subgraph *sg,
                      uint32_t node, ocl_launch *l) {
    (void)be;
    elt(a, sg, node, l, 1);
}
static void setup_SWIGLU(argset *a, const ehal_backend_impl *be, const ehal_subgraph *sg,
                         uint32_t node, ocl_launch *l) {
    (void)be;
    elt(a, sg, node, l, 2);
}

static void setup_COPY(argset *a, const ehal_backend_impl *be, const ehal_subgraph *sg,
                       uint32_t node, ocl_launch *l) {
    (void)be;
    const ehal_tensor_desc *s = in_t(sg, node, 0), *d = out_t(sg, node);
    int64_t n = ehal_tensor_nelements(s);
    arg_t(a, s);
    arg_i(a, s->dtype);
    arg_t(a, d);
    arg_i(a, d->dtype);
    arg_l(a, n);
    geom(l, 1, round_up((n + 31) / 32, 64), 1, 1, 64, 1);
}

static void setup_GET_ROWS(argset *a, const ehal_backend_impl *be, const ehal_subgraph *sg,
                           uint32_t node, ocl_launch *l) {
    (void)be;
    const ehal_tensor_desc *tab = in_t(sg, node, 0);
    int64_t D = tab->ne[0], T = in_t(sg, node, 1)->ne[0];
    arg_t(a, tab);
    arg_i(a, tab->dtype);
    arg_l(a, (int64_t)ehal_row_bytes(tab->dtype, D));
    arg_i(a, tab->ne[1]);
    arg_t(a, in_t(sg, node, 1));
    arg_t(a, out_t(sg, node));
    arg_i(a, D);
    geom(l, 2, round_up(D, 32), (size_t)T, 1, 32, 1);
}

static void setup_RMS_NORM(argset *a, const ehal_backend_impl *be, const ehal_subgraph *sg,
                           uint32_t node, ocl_launch *l) {
    (void)be;
    ehal_params_rms_norm p;
    ehal_op_get_params(sg, node, &p, sizeof p);
    const ehal_tensor_desc *x = in_t(sg, node, 0);
    int64_t D = x->ne[0], rows = ehal_tensor_nelements(x) / D;
    arg_t(a, x);
    arg_t(a, in_t(sg, node, 1));
    arg_t(a, out_t(sg, node));
    arg_i(a, D);
    arg_f(a, p.eps);
    geom(l, 1, (size_t)rows * CL_RED_WG, 1, 1, CL_RED_WG, 1);
}

static void setup_SOFTMAX(argset *a, const ehal_backend_impl *be, const ehal_subgraph *sg,
                          uint32_t node, ocl_launch *l) {
    (void)be;
    ehal_params_softmax p;
    ehal_op_get_params(sg, node, &p, sizeof p);
    const ehal_tensor_desc *x = in_t(sg, node, 0);
    int64_t D = x->ne[0], rows = ehal_tensor_nelements(x) / D;
    arg_t(a, x);
    arg_t(a, out_t(sg, node));
    arg_i(a, D);
    arg_f(a, p.scale);
    geom(l, 1, (size_t)rows * CL_RED_WG, 1, 1, CL_RED_WG, 1);
}

static void setup_ROPE(argset *a, const ehal_backend_impl *be, const ehal_subgraph *sg,
                       uint32_t node, ocl_launch *l) {
    ehal_params_rope p;
    ehal_op_get_params(sg, node, &p, sizeof p);
    const ehal_tensor_desc *x = in_t(sg, node, 0);
    arg_t(a, x);
    arg_t(a, in_t(sg, node, 1));
    arg_t(a, out_t(sg, node));
    arg_i(a, x->ne[0]);
    arg_i(a, x->ne[1]);
    arg_i(a, p.n_rot);
    arg_i(a, p.mode);
    /* freq_scale * freq_base^(-2i/n_rot) in double, as (hi, lo) floats */
    uint32_t half = p.n_rot / 2;
    cl_float *tab = ehal_sdk_calloc(be->host, half ? half : 1, 2 * sizeof(cl_float));
    if (!tab) {
        a->err = CL_OUT_OF_HOST_MEMORY;
        return;
    }
    for (uint32_t i = 0; i < half; i++) {
        double f = (double)p.freq_scale * pow((double)p.freq_base, -2.0 * i / (double)p.n_rot);
        tab[2 * i] = (cl_float)f;
        tab[2 * i + 1] = (cl_float)(f - (double)tab[2 * i]);
    }
    cl_int err = CL_SUCCESS;
    l->owned = be->cl.clCreateBuffer(be->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                     (half ? half : 1) * 2 * sizeof(cl_float), tab, &err);
    ehal_sdk_free(be->host, tab);
    if (!l->owned) {
        a->err = err;
        return;
    }
    arg(a, sizeof(cl_mem), &l->owned);
    geom(l, 3, round_up(x->ne[0], 32), (size_t)x->ne[1], (size_t)x->ne[2], 32, 1);
}

/* Q8_0/Q4_0 weights: X is first quantized to Q8_0 into a scratch buffer
 * the launch owns (32 int8 + one f32 scale per block) by a pre kernel,
 * then ehal_matmul_gemv_q or ehal_matmul_gemm_q reads it. */
static void setup_matmul_q(argset *a, const ehal_backend_impl *be, const ehal_subgraph *sg,
                         uint32_t node, ocl_launch *l) {
    const ehal_tensor_desc *w = in_t(sg, node, 0);
    int64_t K = w->ne[0], N = w->ne[1];
    int64_t T = ehal_tensor_nelements(in_t(sg, node, 1)) / K;
    int64_t blocks = K / 32 * T;
    cl_int err = CL_SUCCESS;
    l->owned = be->cl.clCreateBuffer(be->ctx, CL_MEM_READ_WRITE, (size_t)blocks * (32 + 4), NULL,
                                     &err);
    if (!l->owned) {
        a->err = err;
        return;
    }
    l->pre = be->cl.clCreateKernel(be->program, ehal_cl_kernel_names[CLK_QUANT_ACT], &err);
    if (!l->pre) {
        a->err = err;
        return;
    }
    l->pre_global = round_up(blocks, 64);
    argset p = {be, l->pre, 0, CL_SUCCESS};
    arg_t(&p, in_t(sg, node, 1));
    arg(&p, sizeof(cl_mem), &l->owned);
    arg_i(&p, K);
    arg_i(&p, T);
    if (p.err != CL_SUCCESS) {
        a->err = p.err;
        return;
    }
    arg_t(a, w);
    arg_i(a, w->dtype);
    arg_l(a, (int64_t)ehal_row_bytes(w->dtype, K));
    arg(a, sizeof(cl_mem), &l->owned);
    arg_t(a, out_t(sg, node));
    arg_i(a, K);
    arg_i(a, N);
    arg_i(a, T);
    if (T <= CL_GEMV_MAX_T) {
        geom(l, 1, (size_t)N * CL_RED_WG, 1, 1, CL_RED_WG, 1);
    } else {
        geom(l, 2, round_up(N, 4u * be->tile) / 4u, round_up(T, 4u * be->tile) / 4u, 1, be->tile,
             be->tile);
    }
}

static void setup_MATMUL(argset *a, const ehal_backend_impl *be, const ehal_subgraph *sg,
                         uint32_t node, ocl_launch *l) {
    if (ehal_dtype_is_quantized(in_t(sg, node, 0)->dtype)) {
        setup_matmul_q(a, be, sg, node, l);
        return;
    }
    const ehal_tensor_desc *w = in_t(sg, node, 0);
    int64_t K = w->ne[0], N = w->ne[1];
    int64_t T = ehal_tensor_nelements(in_t(sg, node, 1)) / K;
    arg_t(a, w);
    arg_i(a, w->dtype);
    arg_l(a, (int64_t)ehal_row_bytes(w->dtype, K));
    arg_t(a, in_t(sg, node, 1));
    arg_t(a, out_t(sg, node));
    arg_i(a, K);
    arg_i(a, N);
    arg_i(a, T);
    if (T <= CL_GEMV_MAX_T) {
        geom(l, 1, (size_t)N * CL_RED_WG, 1, 1, CL_RED_WG, 1);
    } else {
        /* 4 x 4 outputs per item: blocks of 4*tile in N and T */
        geom(l, 2, round_up(N, 4u * be->tile) / 4u, round_up(T, 4u * be->tile) / 4u, 1, be->tile,
             be->tile);
    }
}

static void setup_KV_WRITE(argset *a, const ehal_backend_impl *be, const ehal_subgraph *sg,
                           uint32_t node, ocl_launch *l) {
    (void)be;
    ehal_params_kv p;
    ehal_op_get_params(sg, node, &p, sizeof p);
    const ehal_tensor_desc *s = in_t(sg, node, 0), *c = in_t(sg, node, 2);
    int64_t D = s->ne[0], Hkv = s->ne[1], T = s->ne[2];
    arg_t(a, s);
    arg_t(a, in_t(sg, node, 1));
    arg_t(a, c);
    arg_i(a, c->dtype);
    arg_l(a, (int64_t)ehal_row_bytes(c->dtype, D));
    arg_i(a, D);
    arg_i(a, Hkv);
    arg_i(a, c->ne[1]);
    arg_i(a, T);
    arg_u(a, p.window);
    arg_u(a, p.n_sink);
    geom(l, 3, (size_t)(D + 31) / 32, (size_t)Hkv, (size_t)T, 0, 0);
}

static void setup_ATTENTION(argset *a, const ehal_backend_impl *be, const ehal_subgraph *sg,
                            uint32_t node, ocl_launch *l) {
    (void)be;
    ehal_params_attention p;
    ehal_op_get_params(sg, node, &p, sizeof p);
    const ehal_tensor_desc *q = in_t(sg, node, 0), *k = in_t(sg, node, 1);
    int64_t D = q->ne[0], Hq = q->ne[1], T = q->ne[2];
    arg_t(a, q);
    arg_t(a, k);
    arg_t(a, in_t(sg, node, 2));
    arg_i(a, k->dtype);
    arg_l(a, (int64_t)ehal_row_bytes(k->dtype, D));
    arg_t(a, in_t(sg, node, 3));
    arg_t(a, out_t(sg, node));
    arg_i(a, D);
    arg_i(a, Hq);
    arg_i(a, k->ne[2]);
    arg_i(a, k->ne[1]);
    arg_i(a, T);
    arg_f(a, p.scale);
    arg_u(a, p.window);
    arg_u(a, p.n_sink);
    arg_i(a, (p.flags & EHAL_ATTN_NONCAUSAL) ? 1 : 0);
    geom(l, 2, (size_t)Hq * CL_RED_WG, (size_t)T, 1, CL_RED_WG, 1);
}

typedef struct op_entry {
    setup_fn setup;
    int kernel; /* CLK_*; MATMUL picks GEMV or GEMM itself */
} op_entry;

static const op_entry k_ops[EHAL_OP_ID_LIMIT_] = {
    [EHAL_OP_GET_ROWS] = {setup_GET_ROWS, CLK_GET_ROWS},
    [EHAL_OP_MATMUL] = {setup_MATMUL, CLK_GEMV},
    [EHAL_OP_RMS_NORM] = {setup_RMS_NORM, CLK_RMS_NORM},
    [EHAL_OP_ROPE] = {setup_ROPE, CLK_ROPE},
    [EHAL_OP_ADD] = {setup_ADD, CLK_ELTWISE},
    [EHAL_OP_MUL] = {setup_MUL, CLK_ELTWISE},
    [EHAL_OP_SWIGLU] = {setup_SWIGLU, CLK_ELTWISE},
    [EHAL_OP_SOFTMAX] = {setup_SOFTMAX, CLK_SOFTMAX},
    [EHAL_OP_KV_WRITE] = {setup_KV_WRITE, CLK_KV_WRITE},
    [EHAL_OP_ATTENTION] = {setup_ATTENTION, CLK_ATTENTION},
    [EHAL_OP_COPY] = {setup_COPY, CLK_COPY},
};

/* Element alignment a tensor's offset needs (kernels index it as that type). */
static uint64_t needed_align(uint32_t dtype) {
    return dtype == EHAL_DTYPE_F32 || dtype == EHAL_DTYPE_I32 ? 4u
           : dtype == EHAL_DTYPE_F16                          ? 2u
                                                              : 1u;
}

int ocl_op_supported(const ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node, char *why,
                     size_t why_size) {
    const ehal_node_desc *n = sg->nodes[node];
    if (n->op >= EHAL_OP_ID_LIMIT_ || !k_ops[n->op].setup) {
        snprintf(why, why_size, "op %s has no OpenCL kernel", ehal_op_name(n->op));
        return 0;
    }
    if (be->max_wg < CL_RED_WG) {
        snprintf(why, why_size, "device max work-group size %zu < %u", be->max_wg, CL_RED_WG);
        return 0;
    }
    for (uint32_t i = 0; i < n->n_inputs + n->n_outputs; i++) {
        uint32_t ti = i < n->n_inputs ? n->inputs[i] : n->outputs[i - n->n_inputs];
        const ehal_tensor_desc *t = sg->tensors[ti];
        for (int d = 0; d < EHAL_MAX_DIMS; d++) {
            if (t->ne[d] >= INT32_MAX) {
                snprintf(why, why_size, "tensor %" PRIu32 " ne[%d]=%" PRId64 " exceeds 2^31-1", ti,
                         d, t->ne[d]);
                return 0;
            }
        }
        if (t->buffer && t->offset % needed_align(t->dtype) != 0) {
            snprintf(why, why_size,
                     "tensor %" PRIu32 " offset %" PRIu64 " is not %" PRIu64 "-byte aligned for %s",
                     ti, t->offset, needed_align(t->dtype), ehal_dtype_name(t->dtype));
            return 0;
        }
    }
    if (n->op == EHAL_OP_MATMUL && be->local_mem < CL_GEMM_LOCAL_BYTES(be->tile)) {
        const ehal_tensor_desc *w = sg->tensors[n->inputs[0]];
        int64_t T = w->ne[0] > 0 ? ehal_tensor_nelements(sg->tensors[n->inputs[1]]) / w->ne[0] : 0;
        if (T > CL_GEMV_MAX_T) {
            snprintf(why, why_size, "GEMM needs %u bytes of local memory, device has %" PRIu64,
                     CL_GEMM_LOCAL_BYTES(be->tile), be->local_mem);
            return 0;
        }
    }
    if (n->op == EHAL_OP_ATTENTION && sg->tensors[n->inputs[0]]->ne[0] > CL_ATT_MAX_D) {
        snprintf(why, why_size, "attention head size %" PRId64 " > %d",
                 sg->tensors[n->inputs[0]]->ne[0], CL_ATT_MAX_D);
        return 0;
    }
    return 1;
}

ehal_status_t ocl_op_setup(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                           ocl_launch *l) {
    const ehal_node_desc *n = sg->nodes[node];
    const op_entry *e = &k_ops[n->op];
    int kid = e->kernel;
    if (n->op == EHAL_OP_MATMUL) {
        int64_t K = in_t(sg, node, 0)->ne[0];
        int64_t T = ehal_tensor_nelements(in_t(sg, node, 1)) / K;
        int q = ehal_dtype_is_quantized(in_t(sg, node, 0)->dtype);
        kid = T <= CL_GEMV_MAX_T ? (q ? CLK_GEMV_Q : CLK_GEMV) : (q ? CLK_GEMM_Q : CLK_GEMM);
    }
    cl_int err = CL_SUCCESS;
    memset(l, 0, sizeof *l);
    l->kernel = be->cl.clCreateKernel(be->program, ehal_cl_kernel_names[kid], &err);
    if (!l->kernel) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "opencl: node %" PRIu32 ": clCreateKernel(%s): %s",
                     node, ehal_cl_kernel_names[kid], ehal_cl_err(err));
        return EHAL_STATUS_INTERNAL;
    }
    argset a = {be, l->kernel, 0, CL_SUCCESS};
    e->setup(&a, be, sg, node, l);
    if (a.err != CL_SUCCESS) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "opencl: node %" PRIu32 " (%s): clSetKernelArg %u: %s", node,
                     ehal_op_name(n->op), a.i, ehal_cl_err(a.err));
        return EHAL_STATUS_INTERNAL;
    }
    return EHAL_STATUS_OK;
}
