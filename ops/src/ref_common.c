/*
 * The reference kernel table (from EHAL_OP_LIST) and argument plumbing.
 */
#include <string.h>

#include "ops_internal.h"

#define X_REF_ENTRY(N, id, s, ni, no, P) [id] = ehal_ref_##N,
static const ehal_kernel_fn ref_kernels[EHAL_OP_ID_LIMIT_] = {EHAL_OP_LIST(X_REF_ENTRY)};
#undef X_REF_ENTRY

ehal_kernel_fn ehal_ref_kernel(uint32_t op) {
    return op < EHAL_OP_ID_LIMIT_ ? ref_kernels[op] : NULL;
}

void ehal_kernel_args_fill(ehal_kernel_args *a, const ehal_subgraph *sg, uint32_t node,
                           ehal_resolve_fn resolve, void *user) {
    if (!a) {
        return;
    }
    memset(a, 0, sizeof *a);
    a->sg = sg;
    a->node = node;
    const ehal_node_desc *n = ehal_ops_node(sg, node);
    if (!n || !sg->tensors) {
        return;
    }
    for (uint32_t i = 0; i < n->n_inputs && i < EHAL_MAX_INPUTS; i++) {
        if (n->inputs[i] < sg->n_tensors) {
            a->in[i] = sg->tensors[n->inputs[i]];
            a->in_data[i] = (a->in[i] && resolve) ? resolve(user, a->in[i]) : NULL;
        }
    }
    if (n->n_outputs >= 1 && n->outputs[0] < sg->n_tensors) {
        a->out = sg->tensors[n->outputs[0]];
        a->out_data = (a->out && resolve) ? resolve(user, a->out) : NULL;
    }
}

ehal_status_t ehal_ops_kernel_check(const ehal_kernel_args *a, uint32_t n_in) {
    if (!a || !a->sg || !a->out || !a->out_data) {
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    for (uint32_t i = 0; i < n_in; i++) {
        if (!a->in[i] || !a->in_data[i]) {
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
    }
    return EHAL_STATUS_OK;
}
