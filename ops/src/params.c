/*
 * Reading a node's params tolerantly (ABI R1: fields beyond the smaller of
 * the writer's and the reader's size are absent, i.e. zero) and applying
 * the documented defaults.
 */
#include <math.h>
#include <string.h>

#include "ops_internal.h"

const ehal_node_desc *ehal_ops_node(const ehal_subgraph *sg, uint32_t node) {
    if (!sg || !sg->nodes || node >= sg->n_nodes) {
        return NULL;
    }
    return sg->nodes[node];
}

const ehal_tensor_desc *ehal_ops_input(const ehal_subgraph *sg, uint32_t node, uint32_t i) {
    const ehal_node_desc *n = ehal_ops_node(sg, node);
    if (!n || i >= n->n_inputs || i >= EHAL_MAX_INPUTS || !sg->tensors ||
        n->inputs[i] >= sg->n_tensors) {
        return NULL;
    }
    return sg->tensors[n->inputs[i]];
}

/* ne[0] of input 0 (the D the shape-dependent defaults use), or 0. */
static int64_t input0_ne0(const ehal_subgraph *sg, uint32_t node) {
    const ehal_tensor_desc *t = ehal_ops_input(sg, node, 0);
    return (t && t->ne[0] > 0) ? t->ne[0] : 0;
}

typedef union params_any {
    ehal_params_rope rope;
    ehal_params_softmax softmax;
    ehal_params_attention attention;
    ehal_params_kv kv;
    ehal_params_rms_norm rms_norm;
    unsigned char bytes[16];
} params_any;

void ehal_op_get_params(const ehal_subgraph *sg, uint32_t node, void *out, size_t out_size) {
    if (!out || out_size == 0) {
        return;
    }
    memset(out, 0, out_size);
    const ehal_node_desc *n = ehal_ops_node(sg, node);
    if (!n) {
        return;
    }
    uint32_t psize;
    const void *params = ehal_ops_node_params(n, &psize);
    if (params && psize > 0) {
        memcpy(out, params, psize < out_size ? psize : out_size);
    }

    /* Defaults are applied on a full-size copy and written back only as far
     * as out reaches, so a short out never gets a partial field. */
    params_any p;
    memset(&p, 0, sizeof p);
    size_t k = out_size < sizeof p ? out_size : sizeof p;
    memcpy(&p, out, k);
    int64_t d = input0_ne0(sg, node);
    switch (n->op) {
    case EHAL_OP_ROPE:
        if (p.rope.n_rot == 0 && d > 0 && d <= UINT32_MAX) {
            p.rope.n_rot = (uint32_t)d;
        }
        if (p.rope.freq_base == 0.0f) {
            p.rope.freq_base = 10000.0f;
        }
        if (p.rope.freq_scale == 0.0f) {
            p.rope.freq_scale = 1.0f;
        }
        break;
    case EHAL_OP_SOFTMAX:
        if (p.softmax.scale == 0.0f) {
            p.softmax.scale = 1.0f;
        }
        break;
    case EHAL_OP_ATTENTION:
        if (p.attention.scale == 0.0f && d > 0) {
            p.attention.scale = (float)(1.0 / sqrt((double)d));
        }
        break;
    default:
        break;
    }
    memcpy(out, &p, k);
}
