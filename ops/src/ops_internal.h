/*
 * Private helpers shared by the ehal_ops sources. Not installed; the
 * symbols are prefixed ehal_ops_ and are not part of any API.
 */
#ifndef EHAL_OPS_INTERNAL_H
#define EHAL_OPS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "edgehal/ops.h"

/* The node at sg->nodes[node], or NULL if sg, the index or the pointer is
 * unusable. Checks only what is needed to dereference safely. */
const ehal_node_desc *ehal_ops_node(const ehal_subgraph *sg, uint32_t node);

/* The smallest node a revision-1 reader accepts: one that carries its
 * tensor lists. A node shorter than the params fields has no params (R1). */
#define EHAL_OPS_NODE_MIN_SIZE                                                             \
    (offsetof(ehal_node_desc, outputs) + sizeof(((ehal_node_desc *)0)->outputs))
#define EHAL_OPS_NODE_PARAMS_SIZE                                                          \
    (offsetof(ehal_node_desc, params) + sizeof(((ehal_node_desc *)0)->params))

/* The node's params pointer and size as the ABI lets a reader see them:
 * NULL/0 when the node's struct_size does not cover those fields. */
static inline const void *ehal_ops_node_params(const ehal_node_desc *n, uint32_t *size) {
    if (n->struct_size < EHAL_OPS_NODE_PARAMS_SIZE) {
        *size = 0;
        return NULL;
    }
    *size = n->params_size;
    return n->params;
}

/* Input i of the node, or NULL if the node, index or pointer is unusable. */
const ehal_tensor_desc *ehal_ops_input(const ehal_subgraph *sg, uint32_t node, uint32_t i);

/* Start of row r (counting rows of ne[0] values across all outer dims). */
static inline const uint8_t *ehal_ops_row(const ehal_tensor_desc *t, const void *data,
                                          int64_t r) {
    return (const uint8_t *)data + (uint64_t)r * ehal_row_bytes(t->dtype, t->ne[0]);
}

/* Common entry checks of a reference kernel: args, subgraph, descs and data
 * pointers present for n_in inputs and the output. */
ehal_status_t ehal_ops_kernel_check(const ehal_kernel_args *a, uint32_t n_in);

#endif
