/*
 * Caller-supplied subgraphs, checked for structure and copied to the
 * core's struct sizes before anything reads them (R1): a caller built
 * against an older header passes shorter structs, whose absent fields are
 * zero here, and a plugin always sees the core's sizes.
 */
#include <string.h>

#include "internal.h"

/* Revision-1 minimums: a tensor needs its shape, a node its tensor lists. */
#define TENSOR_MIN_SIZE (offsetof(ehal_tensor_desc, ne) + sizeof(int64_t) * EHAL_MAX_DIMS)
#define NODE_MIN_SIZE (offsetof(ehal_node_desc, outputs) + sizeof(uint32_t) * EHAL_MAX_OUTPUTS)

#define FIELD_END(type, f) (offsetof(type, f) + sizeof(((type *)0)->f))

/* The bytes of a caller struct to copy: its struct_size rounded down to the
 * end of the last field it holds whole. A size ending inside a field (a
 * pointer, say) must not leave half of that field in the copy. */
static size_t whole_fields(uint32_t struct_size, const size_t *ends, size_t n_ends) {
    size_t keep = 0;
    for (size_t i = 0; i < n_ends; i++)
        if (ends[i] <= struct_size && ends[i] > keep)
            keep = ends[i];
    return keep;
}

static const size_t tensor_field_ends[] = {
    FIELD_END(ehal_tensor_desc, struct_size), FIELD_END(ehal_tensor_desc, dtype),
    FIELD_END(ehal_tensor_desc, role),        FIELD_END(ehal_tensor_desc, reserved0),
    FIELD_END(ehal_tensor_desc, ne),          FIELD_END(ehal_tensor_desc, buffer),
    FIELD_END(ehal_tensor_desc, offset)};

static const size_t node_field_ends[] = {
    FIELD_END(ehal_node_desc, struct_size), FIELD_END(ehal_node_desc, op),
    FIELD_END(ehal_node_desc, n_inputs),    FIELD_END(ehal_node_desc, n_outputs),
    FIELD_END(ehal_node_desc, inputs),      FIELD_END(ehal_node_desc, outputs),
    FIELD_END(ehal_node_desc, params_size), FIELD_END(ehal_node_desc, params)};

ehal_status_t ehal_i_tensor_normalize(ehal_context *ctx, const ehal_tensor_desc *t, uint32_t index,
                                      ehal_tensor_desc *out) {
    if (!t)
        return ehal_i_fail(ctx, EHAL_STATUS_INVALID_ARGUMENT, "tensor %u is NULL", (unsigned)index);
    if (t->struct_size < TENSOR_MIN_SIZE)
        return ehal_i_fail(ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "tensor %u: struct_size %u is smaller than the %zu-byte minimum",
                           (unsigned)index, (unsigned)t->struct_size, (size_t)TENSOR_MIN_SIZE);
    memset(out, 0, sizeof *out);
    memcpy(out, t, whole_fields(t->struct_size, tensor_field_ends,
                                sizeof tensor_field_ends / sizeof tensor_field_ends[0]));
    out->struct_size = sizeof *out;
    return EHAL_STATUS_OK;
}

static ehal_status_t node_normalize(ehal_context *ctx, const ehal_node_desc *n, uint32_t index,
                                    ehal_node_desc *out) {
    if (!n)
        return ehal_i_fail(ctx, EHAL_STATUS_INVALID_ARGUMENT, "node %u is NULL", (unsigned)index);
    if (n->struct_size < NODE_MIN_SIZE)
        return ehal_i_fail(ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "node %u: struct_size %u is smaller than the %zu-byte minimum",
                           (unsigned)index, (unsigned)n->struct_size, (size_t)NODE_MIN_SIZE);
    memset(out, 0, sizeof *out);
    memcpy(out, n, whole_fields(n->struct_size, node_field_ends,
                                sizeof node_field_ends / sizeof node_field_ends[0]));
    out->struct_size = sizeof *out;
    return EHAL_STATUS_OK;
}

void ehal_i_graph_free(ehal_context *ctx, ehal_i_graph *g) {
    ehal_i_free(ctx, g->tensors);
    ehal_i_free(ctx, g->nodes);
    ehal_i_free(ctx, g->tensor_ptrs);
    ehal_i_free(ctx, g->node_ptrs);
    memset(g, 0, sizeof *g);
}

ehal_status_t ehal_i_graph_normalize(ehal_context *ctx, const ehal_subgraph *sg, ehal_i_graph *g) {
    memset(g, 0, sizeof *g);
    if (!sg)
        return ehal_i_fail(ctx, EHAL_STATUS_INVALID_ARGUMENT, "subgraph is NULL");
    if (sg->struct_size < sizeof *sg)
        return ehal_i_fail(ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "subgraph struct_size %u is smaller than the %zu-byte minimum",
                           (unsigned)sg->struct_size, sizeof *sg);
    if ((sg->n_tensors && !sg->tensors) || (sg->n_nodes && !sg->nodes))
        return ehal_i_fail(ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "subgraph has %u tensors and %u nodes but a NULL %s array",
                           (unsigned)sg->n_tensors, (unsigned)sg->n_nodes,
                           sg->n_tensors && !sg->tensors ? "tensor" : "node");
    g->tensors = ehal_i_calloc(ctx, sg->n_tensors, sizeof *g->tensors);
    g->tensor_ptrs = ehal_i_calloc(ctx, sg->n_tensors, sizeof *g->tensor_ptrs);
    g->nodes = ehal_i_calloc(ctx, sg->n_nodes, sizeof *g->nodes);
    g->node_ptrs = ehal_i_calloc(ctx, sg->n_nodes, sizeof *g->node_ptrs);
    if (!g->tensors || !g->tensor_ptrs || !g->nodes || !g->node_ptrs) {
        ehal_i_graph_free(ctx, g);
        return ehal_i_fail(ctx, EHAL_STATUS_OUT_OF_MEMORY,
                           "out of memory copying a subgraph of %u tensors and %u nodes",
                           (unsigned)sg->n_tensors, (unsigned)sg->n_nodes);
    }
    ehal_status_t s = EHAL_STATUS_OK;
    for (uint32_t i = 0; s == EHAL_STATUS_OK && i < sg->n_tensors; i++) {
        s = ehal_i_tensor_normalize(ctx, sg->tensors[i], i, &g->tensors[i]);
        g->tensor_ptrs[i] = &g->tensors[i];
    }
    for (uint32_t i = 0; s == EHAL_STATUS_OK && i < sg->n_nodes; i++) {
        s = node_normalize(ctx, sg->nodes[i], i, &g->nodes[i]);
        g->node_ptrs[i] = &g->nodes[i];
    }
    if (s != EHAL_STATUS_OK) {
        ehal_i_graph_free(ctx, g);
        return s;
    }
    g->sg.struct_size = sizeof g->sg;
    g->sg.n_tensors = sg->n_tensors;
    g->sg.n_nodes = sg->n_nodes;
    g->sg.tensors = g->tensor_ptrs;
    g->sg.nodes = g->node_ptrs;
    return EHAL_STATUS_OK;
}
