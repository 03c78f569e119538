/*
 * Shared by validate.c (the generic checks and the dispatch) and
 * validate_ops.c (one check function per op).
 */
#ifndef EHAL_VALIDATE_INTERNAL_H
#define EHAL_VALIDATE_INTERNAL_H

#include "ops_internal.h"

/* One node under validation. The generic checks have passed when an op
 * check runs: in[0..n_inputs) and out are non-NULL, carry valid dtypes and
 * ne[i] >= 1, and quantized ones have ne[0] % 32 == 0. */
typedef struct ehal_vctx {
    const ehal_subgraph *sg;
    uint32_t node_index;
    const ehal_node_desc *node;
    const char *op_name;
    const ehal_tensor_desc *in[EHAL_MAX_INPUTS];
    const ehal_tensor_desc *out;
    char *msg;
    size_t msg_size;
} ehal_vctx;

/* Writes "node <i> (<op>): <formatted>" into c->msg and returns st. */
ehal_status_t ehal_vfail(const ehal_vctx *c, ehal_status_t st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Dtype bit sets for the checks. */
#define EHAL_DT_BIT(dt) (1ull << (dt))
#define EHAL_DT_F32 EHAL_DT_BIT(EHAL_DTYPE_F32)
#define EHAL_DT_I32 EHAL_DT_BIT(EHAL_DTYPE_I32)
#define EHAL_DT_FLOATS                                                                     \
    (EHAL_DT_BIT(EHAL_DTYPE_F32) | EHAL_DT_BIT(EHAL_DTYPE_F16) |                           \
     EHAL_DT_BIT(EHAL_DTYPE_Q8_0) | EHAL_DT_BIT(EHAL_DTYPE_Q4_0))

/* Tensor labels: slot 0..3 are inputs, EHAL_VOUT is the output. */
#define EHAL_VOUT 4u
const char *ehal_vlabel(uint32_t slot);
const ehal_tensor_desc *ehal_vtensor(const ehal_vctx *c, uint32_t slot);

/* UNSUPPORTED unless the tensor's dtype is in the set. */
ehal_status_t ehal_vdtype(const ehal_vctx *c, uint32_t slot, uint64_t allowed);
/* INVALID unless ne[d] == 1 for every d >= n_dims. */
ehal_status_t ehal_vrank(const ehal_vctx *c, uint32_t slot, uint32_t n_dims);
/* INVALID unless a.ne[da] == b.ne[db]. */
ehal_status_t ehal_vsame_dim(const ehal_vctx *c, uint32_t a, uint32_t da, uint32_t b,
                             uint32_t db);
/* INVALID unless a and b have the same ne[0..3]. */
ehal_status_t ehal_vsame_shape(const ehal_vctx *c, uint32_t a, uint32_t b);
/* INVALID if window > 0 and the cache (capacity C) cannot hold the sinks
 * plus window + T - 1 ring slots. */
ehal_status_t ehal_vwindow(const ehal_vctx *c, uint32_t window, uint32_t n_sink, int64_t C,
                           int64_t T);

typedef ehal_status_t (*ehal_vcheck_fn)(const ehal_vctx *c);

#define EHAL_X_VCHECK_DECL(N, id, s, ni, no, P) ehal_status_t ehal_vcheck_##N(const ehal_vctx *c);
EHAL_OP_LIST(EHAL_X_VCHECK_DECL)
#undef EHAL_X_VCHECK_DECL

#endif
