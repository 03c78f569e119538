/*
 * One check per op, for the dtypes, shapes and params backend_abi.h
 * defines (docs/ops.md lists them). Each runs after the generic checks in
 * validate.c; adding an op adds one function here.
 */
#include <inttypes.h>
#include <math.h>

#include "validate_internal.h"

#define TRY(expr)                                                                          \
    do {                                                                                   \
        ehal_status_t st_ = (expr);                                                        \
        if (st_ != EHAL_STATUS_OK) {                                                       \
            return st_;                                                                    \
        }                                                                                  \
    } while (0)

#define OUT EHAL_VOUT
#define INVALID EHAL_STATUS_INVALID_ARGUMENT

/* The node's params with defaults applied. */
static void params(const ehal_vctx *c, void *p, size_t size) {
    ehal_op_get_params(c->sg, c->node_index, p, size);
}

static ehal_status_t finite_param(const ehal_vctx *c, const char *name, float v) {
    if (!isfinite(v)) {
        return ehal_vfail(c, INVALID, "param %s=%g is not finite", name, (double)v);
    }
    return EHAL_STATUS_OK;
}

/* Element-wise ops: every tensor F32 with the shape of input 0. */
static ehal_status_t same_shape_f32(const ehal_vctx *c, uint32_t n_in) {
    for (uint32_t i = 0; i < n_in; i++) {
        TRY(ehal_vdtype(c, i, EHAL_DT_F32));
    }
    TRY(ehal_vdtype(c, OUT, EHAL_DT_F32));
    for (uint32_t i = 1; i < n_in; i++) {
        TRY(ehal_vsame_shape(c, i, 0));
    }
    return ehal_vsame_shape(c, OUT, 0);
}

ehal_status_t ehal_vcheck_GET_ROWS(const ehal_vctx *c) {
    TRY(ehal_vdtype(c, 0, EHAL_DT_FLOATS));
    TRY(ehal_vrank(c, 0, 2));
    TRY(ehal_vdtype(c, 1, EHAL_DT_I32));
    TRY(ehal_vrank(c, 1, 1));
    TRY(ehal_vdtype(c, OUT, EHAL_DT_F32));
    TRY(ehal_vrank(c, OUT, 2));
    TRY(ehal_vsame_dim(c, OUT, 0, 0, 0));
    return ehal_vsame_dim(c, OUT, 1, 1, 0);
}

ehal_status_t ehal_vcheck_MATMUL(const ehal_vctx *c) {
    TRY(ehal_vdtype(c, 0, EHAL_DT_FLOATS));
    TRY(ehal_vrank(c, 0, 2));
    TRY(ehal_vdtype(c, 1, EHAL_DT_F32));
    TRY(ehal_vdtype(c, OUT, EHAL_DT_F32));
    TRY(ehal_vsame_dim(c, 1, 0, 0, 0));
    TRY(ehal_vsame_dim(c, OUT, 0, 0, 1));
    for (uint32_t d = 1; d < EHAL_MAX_DIMS; d++) {
        TRY(ehal_vsame_dim(c, OUT, d, 1, d));
    }
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_vcheck_RMS_NORM(const ehal_vctx *c) {
    TRY(ehal_vdtype(c, 0, EHAL_DT_F32));
    TRY(ehal_vdtype(c, 1, EHAL_DT_F32));
    TRY(ehal_vrank(c, 1, 1));
    TRY(ehal_vsame_dim(c, 1, 0, 0, 0));
    TRY(ehal_vdtype(c, OUT, EHAL_DT_F32));
    TRY(ehal_vsame_shape(c, OUT, 0));
    ehal_params_rms_norm p;
    params(c, &p, sizeof p);
    if (!(p.eps >= 0.0f) || !isfinite(p.eps)) {
        return ehal_vfail(c, INVALID, "param eps=%g is not a finite value >= 0", (double)p.eps);
    }
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_vcheck_ROPE(const ehal_vctx *c) {
    TRY(ehal_vdtype(c, 0, EHAL_DT_F32));
    TRY(ehal_vrank(c, 0, 3));
    TRY(ehal_vdtype(c, 1, EHAL_DT_I32));
    TRY(ehal_vrank(c, 1, 1));
    TRY(ehal_vsame_dim(c, 1, 0, 0, 2));
    TRY(ehal_vdtype(c, OUT, EHAL_DT_F32));
    TRY(ehal_vsame_shape(c, OUT, 0));
    ehal_params_rope p;
    params(c, &p, sizeof p);
    int64_t D = c->in[0]->ne[0];
    if (p.mode != EHAL_ROPE_NORMAL && p.mode != EHAL_ROPE_NEOX) {
        return ehal_vfail(c, INVALID, "param mode=%" PRIu32 " is not 0 (normal) or 1 (neox)",
                          p.mode);
    }
    if (p.n_rot % 2 != 0 || p.n_rot == 0 || (int64_t)p.n_rot > D) {
        return ehal_vfail(c, INVALID,
                          "param n_rot=%" PRIu32 " must be even and <= input 0 ne[0]=%" PRId64,
                          p.n_rot, D);
    }
    if (!(p.freq_base > 0.0f) || !isfinite(p.freq_base)) {
        return ehal_vfail(c, INVALID, "param freq_base=%g is not a finite value > 0",
                          (double)p.freq_base);
    }
    return finite_param(c, "freq_scale", p.freq_scale);
}

ehal_status_t ehal_vcheck_ADD(const ehal_vctx *c) { return same_shape_f32(c, 2); }

ehal_status_t ehal_vcheck_MUL(const ehal_vctx *c) { return same_shape_f32(c, 2); }

ehal_status_t ehal_vcheck_SWIGLU(const ehal_vctx *c) { return same_shape_f32(c, 2); }

ehal_status_t ehal_vcheck_SOFTMAX(const ehal_vctx *c) {
    TRY(same_shape_f32(c, 1));
    ehal_params_softmax p;
    params(c, &p, sizeof p);
    return finite_param(c, "scale", p.scale);
}

ehal_status_t ehal_vcheck_KV_WRITE(const ehal_vctx *c) {
    TRY(ehal_vdtype(c, 0, EHAL_DT_F32));
    TRY(ehal_vrank(c, 0, 3));
    TRY(ehal_vdtype(c, 1, EHAL_DT_I32));
    TRY(ehal_vrank(c, 1, 1));
    TRY(ehal_vsame_dim(c, 1, 0, 0, 2));
    TRY(ehal_vdtype(c, 2, EHAL_DT_FLOATS));
    TRY(ehal_vrank(c, 2, 3));
    TRY(ehal_vsame_dim(c, 0, 0, 2, 0));
    TRY(ehal_vsame_dim(c, 0, 1, 2, 2));
    if (c->node->outputs[0] != c->node->inputs[2]) {
        return ehal_vfail(c, INVALID,
                          "output 0 is tensor %" PRIu32 ", must be input 2 (the cache, tensor %" PRIu32
                          "): the cache is written in place",
                          c->node->outputs[0], c->node->inputs[2]);
    }
    ehal_params_kv p;
    params(c, &p, sizeof p);
    return ehal_vwindow(c, p.window, p.n_sink, c->in[2]->ne[1], c->in[0]->ne[2]);
}

ehal_status_t ehal_vcheck_ATTENTION(const ehal_vctx *c) {
    TRY(ehal_vdtype(c, 0, EHAL_DT_F32));
    TRY(ehal_vrank(c, 0, 3));
    TRY(ehal_vdtype(c, 1, EHAL_DT_FLOATS));
    TRY(ehal_vrank(c, 1, 3));
    if (c->in[2]->dtype != c->in[1]->dtype) {
        return ehal_vfail(c, EHAL_STATUS_UNSUPPORTED,
                          "input 2 dtype %s does not match input 1 dtype %s (K and V caches "
                          "share a dtype)",
                          ehal_dtype_name(c->in[2]->dtype), ehal_dtype_name(c->in[1]->dtype));
    }
    TRY(ehal_vsame_shape(c, 2, 1));
    TRY(ehal_vdtype(c, 3, EHAL_DT_I32));
    TRY(ehal_vrank(c, 3, 1));
    TRY(ehal_vsame_dim(c, 3, 0, 0, 2));
    TRY(ehal_vsame_dim(c, 1, 0, 0, 0));
    if (c->in[0]->ne[1] % c->in[1]->ne[2] != 0) {
        return ehal_vfail(c, INVALID,
                          "input 0 ne[1]=%" PRId64 " (query heads) is not a multiple of input 1 "
                          "ne[2]=%" PRId64 " (kv heads)",
                          c->in[0]->ne[1], c->in[1]->ne[2]);
    }
    TRY(ehal_vdtype(c, OUT, EHAL_DT_F32));
    TRY(ehal_vsame_shape(c, OUT, 0));
    ehal_params_attention p;
    params(c, &p, sizeof p);
    if (p.flags & ~EHAL_ATTN_NONCAUSAL) {
        return ehal_vfail(c, INVALID, "param flags=0x%" PRIx32 " has unknown bits", p.flags);
    }
    TRY(finite_param(c, "scale", p.scale));
    return ehal_vwindow(c, p.window, p.n_sink, c->in[1]->ne[1], c->in[0]->ne[2]);
}

ehal_status_t ehal_vcheck_COPY(const ehal_vctx *c) {
    TRY(ehal_vdtype(c, 0, EHAL_DT_FLOATS | EHAL_DT_I32));
    TRY(ehal_vdtype(c, OUT, EHAL_DT_FLOATS | EHAL_DT_I32));
    uint32_t s = c->in[0]->dtype, d = c->out->dtype;
    if ((s == EHAL_DTYPE_I32) != (d == EHAL_DTYPE_I32)) {
        return ehal_vfail(c, EHAL_STATUS_UNSUPPORTED,
                          "input 0 dtype %s cannot be converted to output 0 dtype %s",
                          ehal_dtype_name(s), ehal_dtype_name(d));
    }
    int64_t ns = ehal_tensor_nelements(c->in[0]), nd = ehal_tensor_nelements(c->out);
    if (ns != nd) {
        return ehal_vfail(c, INVALID,
                          "output 0 has %" PRId64 " elements, input 0 has %" PRId64, nd, ns);
    }
    return EHAL_STATUS_OK;
}
