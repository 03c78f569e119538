/*
 * A deep copy of a subgraph that a backend keeps after prepare returns (the
 * caller's pointers are valid only during the call, R11).
 *
 * Struct sizes (R1): each caller struct is read up to min(its struct_size,
 * our sizeof); fields beyond the caller's size are zero in the copy, and the
 * copy carries our own struct_size, so readers of the copy never need to
 * check sizes again. A struct too short to hold the fields revision 1 needs
 * (shape, op, arity, tensor indices) is refused as INCOMPATIBLE.
 */
#include <string.h>

#include "edgehal/backend_sdk.h"

struct ehal_sdk_graph {
    ehal_subgraph view;              /* points into the arrays below */
    ehal_tensor_desc *tensors;       /* n_tensors copies */
    const ehal_tensor_desc **tensor_ptrs;
    ehal_node_desc *nodes;           /* n_nodes copies; params point into params */
    const ehal_node_desc **node_ptrs;
    unsigned char *params;           /* every node's params bytes, back to back */
};

/* The smallest struct_size we accept for each struct. */
#define SG_MIN_SIZE (offsetof(ehal_subgraph, nodes) + sizeof(((ehal_subgraph *)0)->nodes))
#define TENSOR_MIN_SIZE (offsetof(ehal_tensor_desc, ne) + sizeof(((ehal_tensor_desc *)0)->ne))
#define NODE_MIN_SIZE                                                                       \
    (offsetof(ehal_node_desc, outputs) + sizeof(((ehal_node_desc *)0)->outputs))

/* Param structs are a few words; anything larger is a corrupt node. */
#define PARAMS_MAX_BYTES 4096u

/* Copies min(src_size, dst_size) bytes and zero-fills the rest. */
static void copy_sized(void *dst, size_t dst_size, const void *src, uint32_t src_size)
{
    size_t n = src_size < dst_size ? src_size : dst_size;
    memcpy(dst, src, n);
    if (n < dst_size)
        memset((unsigned char *)dst + n, 0, dst_size - n);
}

/* Node params fields are present only if the caller's node struct has them. */
static int node_has_params(const ehal_node_desc *n)
{
    return n->struct_size >= offsetof(ehal_node_desc, params) + sizeof(n->params);
}

static ehal_status_t check_shapes(const ehal_host_services *host, const ehal_subgraph *sg,
                                  uint64_t *params_total)
{
    if (sg->struct_size < SG_MIN_SIZE) {
        ehal_sdk_log(host, EHAL_LOG_ERROR,
                     "subgraph: struct_size %u is smaller than the %u bytes of revision 1",
                     sg->struct_size, (unsigned)SG_MIN_SIZE);
        return EHAL_STATUS_INCOMPATIBLE;
    }
    if ((sg->n_tensors != 0 && sg->tensors == NULL) || (sg->n_nodes != 0 && sg->nodes == NULL)) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "subgraph: %s array is NULL with %u entries",
                     sg->tensors == NULL ? "tensors" : "nodes",
                     sg->tensors == NULL ? sg->n_tensors : sg->n_nodes);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    for (uint32_t i = 0; i < sg->n_tensors; i++) {
        const ehal_tensor_desc *t = sg->tensors[i];
        if (t == NULL) {
            ehal_sdk_log(host, EHAL_LOG_ERROR, "subgraph: tensor %u is NULL", i);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
        if (t->struct_size < TENSOR_MIN_SIZE) {
            ehal_sdk_log(host, EHAL_LOG_ERROR,
                         "subgraph: tensor %u struct_size %u is smaller than the %u bytes "
                         "holding its shape",
                         i, t->struct_size, (unsigned)TENSOR_MIN_SIZE);
            return EHAL_STATUS_INCOMPATIBLE;
        }
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < sg->n_nodes; i++) {
        const ehal_node_desc *n = sg->nodes[i];
        if (n == NULL) {
            ehal_sdk_log(host, EHAL_LOG_ERROR, "subgraph: node %u is NULL", i);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
        if (n->struct_size < NODE_MIN_SIZE) {
            ehal_sdk_log(host, EHAL_LOG_ERROR,
                         "subgraph: node %u struct_size %u is smaller than the %u bytes "
                         "holding its op and tensors",
                         i, n->struct_size, (unsigned)NODE_MIN_SIZE);
            return EHAL_STATUS_INCOMPATIBLE;
        }
        if (!node_has_params(n) || n->params_size == 0)
            continue;
        if (n->params_size > PARAMS_MAX_BYTES) {
            ehal_sdk_log(host, EHAL_LOG_ERROR,
                         "subgraph: node %u params_size %u exceeds %u bytes", i,
                         n->params_size, PARAMS_MAX_BYTES);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
        if (n->params == NULL) {
            ehal_sdk_log(host, EHAL_LOG_ERROR,
                         "subgraph: node %u has params_size %u but params is NULL", i,
                         n->params_size);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
        total += n->params_size;
    }
    *params_total = total;
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_sdk_graph_copy(const ehal_host_services *host, const ehal_subgraph *sg,
                                  ehal_sdk_graph **out)
{
    if (out == NULL || sg == NULL) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "subgraph copy: %s is NULL",
                     out == NULL ? "out" : "subgraph");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    uint64_t params_total = 0;
    ehal_status_t st = check_shapes(host, sg, &params_total);
    if (st != EHAL_STATUS_OK)
        return st;

    ehal_sdk_graph *g = NULL;
    if (params_total > SIZE_MAX)
        goto oom; /* only on 32-bit hosts */
    g = ehal_sdk_calloc(host, 1, sizeof *g);
    if (g == NULL)
        goto oom;
    g->tensors = ehal_sdk_calloc(host, sg->n_tensors, sizeof *g->tensors);
    g->tensor_ptrs = ehal_sdk_calloc(host, sg->n_tensors, sizeof *g->tensor_ptrs);
    g->nodes = ehal_sdk_calloc(host, sg->n_nodes, sizeof *g->nodes);
    g->node_ptrs = ehal_sdk_calloc(host, sg->n_nodes, sizeof *g->node_ptrs);
    g->params = ehal_sdk_alloc(host, (size_t)params_total);
    if (g->tensors == NULL || g->tensor_ptrs == NULL || g->nodes == NULL ||
        g->node_ptrs == NULL || g->params == NULL)
        goto oom;

    for (uint32_t i = 0; i < sg->n_tensors; i++) {
        copy_sized(&g->tensors[i], sizeof g->tensors[i], sg->tensors[i],
                   sg->tensors[i]->struct_size);
        g->tensors[i].struct_size = (uint32_t)sizeof g->tensors[i];
        g->tensor_ptrs[i] = &g->tensors[i];
    }
    size_t poff = 0;
    for (uint32_t i = 0; i < sg->n_nodes; i++) {
        const ehal_node_desc *src = sg->nodes[i];
        ehal_node_desc *dst = &g->nodes[i];
        copy_sized(dst, sizeof *dst, src, src->struct_size);
        dst->struct_size = (uint32_t)sizeof *dst;
        if (!node_has_params(src))
            dst->params_size = 0; /* a size without its pointer is absent too */
        if (dst->params_size != 0) {
            memcpy(g->params + poff, src->params, dst->params_size);
            dst->params = g->params + poff;
            poff += dst->params_size;
        } else {
            dst->params = NULL;
        }
        g->node_ptrs[i] = dst;
    }

    g->view.struct_size = (uint32_t)sizeof g->view;
    g->view.n_tensors = sg->n_tensors;
    g->view.n_nodes = sg->n_nodes;
    g->view.tensors = g->tensor_ptrs;
    g->view.nodes = g->node_ptrs;
    *out = g;
    return EHAL_STATUS_OK;

oom:
    ehal_sdk_log(host, EHAL_LOG_ERROR,
                 "subgraph copy: out of memory for %u tensors, %u nodes, %llu params bytes",
                 sg->n_tensors, sg->n_nodes, (unsigned long long)params_total);
    ehal_sdk_graph_free(host, g);
    return EHAL_STATUS_OUT_OF_MEMORY;
}

void ehal_sdk_graph_free(const ehal_host_services *host, ehal_sdk_graph *g)
{
    if (g == NULL)
        return;
    ehal_sdk_free(host, g->params);
    ehal_sdk_free(host, g->node_ptrs);
    ehal_sdk_free(host, g->nodes);
    ehal_sdk_free(host, g->tensor_ptrs);
    ehal_sdk_free(host, g->tensors);
    ehal_sdk_free(host, g);
}

const ehal_subgraph *ehal_sdk_graph_view(const ehal_sdk_graph *g)
{
    return g == NULL ? NULL : &g->view;
}
