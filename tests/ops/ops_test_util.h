/*
 * Test helpers: a one-node subgraph with host data for each tensor.
 * Include after <setjmp.h>/<cmocka.h>. Tensor index i < n_in is input i;
 * index n_in is the output (KV_WRITE tests point the output at input 2).
 */
#ifndef EHAL_OPS_TEST_UTIL_H
#define EHAL_OPS_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "edgehal/ops.h"

#define TN_MAX (EHAL_MAX_INPUTS + 1)

typedef struct tnode {
    ehal_tensor_desc t[TN_MAX];
    const ehal_tensor_desc *tp[TN_MAX];
    void *data[TN_MAX];
    ehal_node_desc node;
    const ehal_node_desc *np[1];
    ehal_subgraph sg;
    char msg[256];
} tnode;

/* A node of op with n_in inputs; params may be NULL (params_size 0). */
static inline void tn_init(tnode *g, uint32_t op, const void *params, uint32_t params_size) {
    memset(g, 0, sizeof *g);
    const ehal_op_info *info = ehal_op_info_get(op);
    uint32_t n_in = info ? info->n_inputs : 0;
    for (uint32_t i = 0; i < TN_MAX; i++) {
        ehal_tensor_desc_init(&g->t[i], EHAL_DTYPE_F32, 0, NULL);
        g->tp[i] = &g->t[i];
    }
    g->node.struct_size = sizeof g->node;
    g->node.op = op;
    g->node.n_inputs = n_in;
    g->node.n_outputs = 1;
    for (uint32_t i = 0; i < n_in; i++) {
        g->node.inputs[i] = i;
    }
    g->node.outputs[0] = n_in;
    g->node.params = params;
    g->node.params_size = params ? params_size : 0;
    g->np[0] = &g->node;
    g->sg.struct_size = sizeof g->sg;
    g->sg.n_tensors = n_in + 1;
    g->sg.n_nodes = 1;
    g->sg.tensors = g->tp;
    g->sg.nodes = g->np;
}

/* Sets tensor index i (an input slot, or n_in for the output). */
static inline void tn_tensor(tnode *g, uint32_t i, uint32_t dtype, int64_t ne0, int64_t ne1,
                             int64_t ne2, int64_t ne3, void *data) {
    int64_t ne[4] = {ne0, ne1, ne2, ne3};
    ehal_tensor_desc_init(&g->t[i], dtype, 4, ne);
    g->data[i] = data;
}

static inline void *tn_resolve(void *user, const ehal_tensor_desc *t) {
    tnode *g = user;
    for (uint32_t i = 0; i < TN_MAX; i++) {
        if (t == &g->t[i]) {
            return g->data[i];
        }
    }
    return NULL;
}

static inline ehal_status_t tn_validate(tnode *g) {
    return ehal_op_validate(&g->sg, 0, g->msg, sizeof g->msg);
}

/* Validates (must pass) and runs the reference kernel. */
static inline ehal_status_t tn_run(tnode *g) {
    ehal_status_t st = tn_validate(g);
    if (st != EHAL_STATUS_OK) {
        print_error("validation failed: %s\n", g->msg);
        return st;
    }
    ehal_kernel_args a;
    ehal_kernel_args_fill(&a, &g->sg, 0, tn_resolve, g);
    ehal_kernel_fn fn = ehal_ref_kernel(g->node.op);
    assert_non_null(fn);
    return fn(&a);
}

/* |a - b| <= tol, reporting the index on failure. */
#define assert_close(a, b, tol)                                                            \
    do {                                                                                   \
        double a_ = (double)(a), b_ = (double)(b);                                         \
        if (!(fabs(a_ - b_) <= (double)(tol))) {                                           \
            print_error("%s = %.9g, want %s = %.9g (tol %g)\n", #a, a_, #b, b_,             \
                        (double)(tol));                                                    \
            fail();                                                                        \
        }                                                                                  \
    } while (0)

static inline void assert_floats_close(const float *got, const double *want, int64_t n,
                                       double tol) {
    for (int64_t i = 0; i < n; i++) {
        if (!(fabs((double)got[i] - want[i]) <= tol)) {
            print_error("element %lld: got %.9g, want %.9g (tol %g)\n", (long long)i,
                        (double)got[i], want[i], tol);
            fail();
        }
    }
}

#endif
