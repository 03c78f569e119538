/*
 * The op catalog: names, arity, params and validation derived from
 * EHAL_OP_LIST in backend_abi.h, plus the reference kernels that are the
 * ground truth for every backend. A plugin may link this library (ehal_ops);
 * it does not depend on the core.
 */
#ifndef EDGEHAL_OPS_H
#define EDGEHAL_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "edgehal/backend_abi.h"
#include "edgehal/quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- catalog ----------------------------------------------------------- */

typedef struct ehal_op_info {
    uint32_t id;
    const char *name;     /* "matmul" */
    uint32_t n_inputs;
    uint32_t n_outputs;
    uint32_t params_size; /* sizeof the op's ehal_params_* struct */
} ehal_op_info;

/* NULL for an id not in the catalog. */
const ehal_op_info *ehal_op_info_get(uint32_t op);
/* "matmul", or "op#<id>"-style "unknown" for ids not in the catalog. */
const char *ehal_op_name(uint32_t op);
/* EHAL_OP_NONE if no op has that name. */
uint32_t ehal_op_from_name(const char *name);
/* All catalog op ids in catalog order; returns the count. */
uint32_t ehal_op_list(const uint32_t **ids);

int ehal_dtype_valid(uint32_t dtype);
const char *ehal_dtype_name(uint32_t dtype); /* "q4_0"; "unknown" if invalid */
uint32_t ehal_dtype_from_name(const char *name); /* UINT32_MAX if none */
uint32_t ehal_dtype_block_values(uint32_t dtype);  /* 0 if invalid */
uint32_t ehal_dtype_block_bytes(uint32_t dtype);   /* 0 if invalid */
int ehal_dtype_is_quantized(uint32_t dtype);
/* All dtype ids; returns the count. */
uint32_t ehal_dtype_list(const uint32_t **ids);

/* Bytes of one row of ne0 values; 0 if ne0 is not a whole number of blocks. */
uint64_t ehal_row_bytes(uint32_t dtype, int64_t ne0);
int64_t ehal_tensor_nelements(const ehal_tensor_desc *t);
/* Bytes of the dense tensor; 0 if the dtype or shape is invalid. */
uint64_t ehal_tensor_nbytes(const ehal_tensor_desc *t);

/* Fills t as a dense tensor of the given shape (unused dims 1). */
void ehal_tensor_desc_init(ehal_tensor_desc *t, uint32_t dtype, uint32_t n_dims,
                           const int64_t *ne);

/* Copies the node's params into out (out_size bytes), zero-filling what the
 * node does not carry, then applies the documented defaults (rope n_rot 0 -> D,
 * freq_scale 0 -> 1, softmax scale 0 -> 1, attention scale 0 -> 1/sqrt(D)).
 * Needs the subgraph for the shape-dependent defaults. */
void ehal_op_get_params(const ehal_subgraph *sg, uint32_t node, void *out, size_t out_size);

/* Checks node sg->nodes[node] against the catalog: known op, arity, tensor
 * indices, dtypes, shapes and params. On failure returns
 * EHAL_STATUS_INVALID_ARGUMENT (or UNSUPPORTED for a dtype combination the
 * catalog does not define) and writes a one-line message naming the node,
 * the tensor and the offending value into msg (may be NULL). */
ehal_status_t ehal_op_validate(const ehal_subgraph *sg, uint32_t node, char *msg,
                               size_t msg_size);

/* ---- reference kernels ------------------------------------------------------
 * Plain scalar C, written to be obviously correct, never fast. Each takes
 * the node and host pointers for its tensors, laid out as the descs say.
 * For KV_WRITE, out/out_data are the cache (the same as in[2]/in_data[2]).
 * The node must have passed ehal_op_validate. */
typedef struct ehal_kernel_args {
    const ehal_subgraph *sg;
    uint32_t node;
    const ehal_tensor_desc *in[EHAL_MAX_INPUTS];
    const void *in_data[EHAL_MAX_INPUTS];
    const ehal_tensor_desc *out;
    void *out_data;
} ehal_kernel_args;

typedef ehal_status_t (*ehal_kernel_fn)(const ehal_kernel_args *a);

#define EHAL_X_REF_DECL(N, id, s, ni, no, P) ehal_status_t ehal_ref_##N(const ehal_kernel_args *a);
EHAL_OP_LIST(EHAL_X_REF_DECL)
#undef EHAL_X_REF_DECL

/* The reference kernel for an op id; NULL if none. */
ehal_kernel_fn ehal_ref_kernel(uint32_t op);

/* Fills a->in/in_data/out/out_data for sg->nodes[node], resolving each
 * tensor's host pointer via resolve(user, tensor). */
typedef void *(*ehal_resolve_fn)(void *user, const ehal_tensor_desc *t);
void ehal_kernel_args_fill(ehal_kernel_args *a, const ehal_subgraph *sg, uint32_t node,
                           ehal_resolve_fn resolve, void *user);

/* KV cache slot of position p (the slot rule in backend_abi.h). */
int64_t ehal_kv_slot(int64_t p, int64_t capacity, uint32_t window, uint32_t n_sink);

#ifdef __cplusplus
}
#endif
#endif
