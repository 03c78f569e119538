/*
 * Reads fuzz bytes as a stream of small integers; past the end it yields
 * zeros, so every input decodes to something. Header-only, for the fuzz
 * targets of this directory.
 */
#ifndef EDGEHAL_FUZZ_INPUT_H
#define EDGEHAL_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edgehal/backend_abi.h"

typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in;

static inline uint8_t fz_u8(fuzz_in *f) {
    if (!f->n)
        return 0;
    f->n--;
    return *f->p++;
}

static inline uint32_t fz_u32(fuzz_in *f) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)fz_u8(f) << (8 * i);
    return v;
}

/* A dimension: mostly small, sometimes zero, negative or huge. */
static inline int64_t fz_dim(fuzz_in *f) {
    uint8_t k = fz_u8(f);
    switch (k >> 6) {
    case 0:
        return (int64_t)(k & 63) + 1;
    case 1:
        return (int64_t)(k & 7) * 32;
    case 2:
        return -(int64_t)(k & 63);
    default:
        return (int64_t)fz_u32(f) << (k & 31);
    }
}

#define FZ_MAX_TENSORS 6
#define FZ_MAX_NODES 3
#define FZ_PARAMS_MAX 96

/* A subgraph decoded from the bytes: fields are chosen to reach both valid
 * and invalid values (unknown ops and dtypes, indices out of range, short
 * struct sizes, params of any size). `buffers` (may be NULL) are the
 * handles a tensor may point at; offsets are multiples of 16. */
typedef struct fz_graph {
    ehal_tensor_desc t[FZ_MAX_TENSORS];
    const ehal_tensor_desc *tp[FZ_MAX_TENSORS];
    ehal_node_desc nd[FZ_MAX_NODES];
    const ehal_node_desc *np[FZ_MAX_NODES];
    uint8_t params[FZ_MAX_NODES][FZ_PARAMS_MAX];
    ehal_subgraph sg;
} fz_graph;

static inline void fz_graph_decode(fuzz_in *f, fz_graph *g, ehal_buffer_impl *const *buffers,
                                   uint32_t n_buffers) {
    memset(g, 0, sizeof *g);
    uint32_t nt = 1 + fz_u8(f) % FZ_MAX_TENSORS, nn = 1 + fz_u8(f) % FZ_MAX_NODES;
    for (uint32_t i = 0; i < nt; i++) {
        ehal_tensor_desc *t = &g->t[i];
        uint8_t k = fz_u8(f);
        t->struct_size = (k & 0x80) ? (uint32_t)(k & 0x7f) : (uint32_t)sizeof *t;
        t->dtype = fz_u8(f) % 40;
        t->role = fz_u8(f) % 8;
        for (int d = 0; d < EHAL_MAX_DIMS; d++)
            t->ne[d] = d < 2 || (k & 1) ? fz_dim(f) : 1;
        uint8_t b = fz_u8(f);
        if (buffers && n_buffers && (b & 1))
            t->buffer = buffers[(b >> 1) % n_buffers];
        t->offset = (uint64_t)fz_u8(f) * 16u;
        g->tp[i] = t;
    }
    for (uint32_t i = 0; i < nn; i++) {
        ehal_node_desc *n = &g->nd[i];
        uint8_t k = fz_u8(f);
        n->struct_size = (k & 0x80) ? (uint32_t)(k & 0x7f) : (uint32_t)sizeof *n;
        n->op = fz_u8(f) % 72;
        n->n_inputs = fz_u8(f) % (EHAL_MAX_INPUTS + 2);
        n->n_outputs = fz_u8(f) % (EHAL_MAX_OUTPUTS + 2);
        for (int j = 0; j < EHAL_MAX_INPUTS; j++)
            n->inputs[j] = fz_u8(f) % (FZ_MAX_TENSORS + 2);
        for (int j = 0; j < EHAL_MAX_OUTPUTS; j++)
            n->outputs[j] = fz_u8(f) % (FZ_MAX_TENSORS + 2);
        n->params_size = fz_u8(f) % (FZ_PARAMS_MAX + 1);
        for (uint32_t j = 0; j < n->params_size; j++)
            g->params[i][j] = fz_u8(f);
        n->params = n->params_size || (k & 2) ? g->params[i] : NULL;
        g->np[i] = n;
    }
    g->sg.struct_size = sizeof g->sg;
    g->sg.n_tensors = nt;
    g->sg.n_nodes = nn;
    g->sg.tensors = g->tp;
    g->sg.nodes = g->np;
}

#endif
