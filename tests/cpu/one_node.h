/*
 * A one-node subgraph over caller-owned data and its kernel args, for the
 * CPU kernel tests that call kernels directly (test_cpu_kernels.c,
 * test_cpu_vec_ops.c). Tensor i is input i (descs filled by the caller
 * before one_node_init); the output is tensor out_index: n_in for a new
 * tensor, or an input for an in-place op such as KV_WRITE. Include after
 * <cmocka.h>.
 */
#ifndef EHAL_ONE_NODE_H
#define EHAL_ONE_NODE_H

#include <stdint.h>
#include <string.h>

#include "edgehal/backend_abi.h"
#include "edgehal/ops.h"

typedef struct one_node {
    ehal_tensor_desc t[5];
    const ehal_tensor_desc *tp[5];
    ehal_node_desc n;
    const ehal_node_desc *np;
    ehal_subgraph sg;
    ehal_kernel_args a;
} one_node;

/* Validates the node (a failure fails the test) and points the args at
 * data[i] for input i and out_data for the output. */
static inline void one_node_init(one_node *o, uint32_t op, uint32_t n_in,
                                 uint32_t out_index, const void *params,
                                 uint32_t params_size, void *const *data, void *out_data)
{
    memset(&o->n, 0, sizeof o->n);
    o->n.struct_size = sizeof o->n;
    o->n.op = op;
    o->n.n_inputs = n_in;
    o->n.n_outputs = 1;
    for (uint32_t i = 0; i < n_in; i++)
        o->n.inputs[i] = i;
    o->n.outputs[0] = out_index;
    o->n.params = params;
    o->n.params_size = params_size;
    const uint32_t nt = out_index == n_in ? n_in + 1 : n_in;
    for (uint32_t i = 0; i < nt; i++)
        o->tp[i] = &o->t[i];
    o->np = &o->n;
    memset(&o->sg, 0, sizeof o->sg);
    o->sg.struct_size = sizeof o->sg;
    o->sg.n_tensors = nt;
    o->sg.n_nodes = 1;
    o->sg.tensors = o->tp;
    o->sg.nodes = &o->np;
    char msg[256] = "";
    if (ehal_op_validate(&o->sg, 0, msg, sizeof msg) != EHAL_STATUS_OK)
        fail_msg("test node invalid: %s", msg);
    memset(&o->a, 0, sizeof o->a);
    o->a.sg = &o->sg;
    for (uint32_t i = 0; i < n_in; i++) {
        o->a.in[i] = &o->t[i];
        o->a.in_data[i] = data[i];
    }
    o->a.out = &o->t[out_index];
    o->a.out_data = out_data;
}

#endif
