/*
 * What the simulated NPU runs: one row per op id, derived nowhere else.
 * An op without a row is UNSUPPORTED at query and refused at prepare.
 *
 *   MATMUL    W Q8_0 or Q4_0, X F32 -> F32; W8A8 integer kernel
 *   RMS_NORM, ADD, MUL, SWIGLU   F32 on the vector unit (the reference
 *             kernels: an f32 vector unit computes them the same way)
 *
 * Work counts (for the cost model): a matmul is 2*K*N*T MAC ops plus
 * 3*K*T vector ops to quantize the activations; elementwise ops count as
 * in the CPU backend (1 per value for add/mul, 4 for rms_norm, 10 for
 * swiglu's exp).
 */
#include <stdio.h>

#include "npu_sim_internal.h"

typedef struct npu_sim_op {
    int present;
    ehal_kernel_fn kernel; /* NULL for MATMUL (needs scratch) */
    double vec_per_value;  /* vector ops per input value (elementwise ops) */
} npu_sim_op;

static const npu_sim_op op_table[EHAL_OP_ID_LIMIT_] = {
    [EHAL_OP_MATMUL] = {1, NULL, 0.0},
    [EHAL_OP_RMS_NORM] = {1, ehal_ref_RMS_NORM, 4.0},
    [EHAL_OP_ADD] = {1, ehal_ref_ADD, 1.0},
    [EHAL_OP_MUL] = {1, ehal_ref_MUL, 1.0},
    [EHAL_OP_SWIGLU] = {1, ehal_ref_SWIGLU, 10.0},
};

static const ehal_tensor_desc *input(const ehal_subgraph *sg, const ehal_node_desc *n, uint32_t j) {
    return sg->tensors[n->inputs[j]];
}

int npu_sim_node_supported(const ehal_subgraph *sg, uint32_t node, char *why, size_t why_size) {
    const ehal_node_desc *n = sg->nodes[node];
    char msg[256] = "";
    if (ehal_op_validate(sg, node, msg, sizeof msg) != EHAL_STATUS_OK) {
        snprintf(why, why_size, "%s", msg);
        return 0;
    }
    if (n->op >= EHAL_OP_ID_LIMIT_ || !op_table[n->op].present) {
        snprintf(why, why_size, "op %s is not run by the NPU", ehal_op_name(n->op));
        return 0;
    }
    uint32_t first = 0;
    if (n->op == EHAL_OP_MATMUL) {
        uint32_t wd = input(sg, n, 0)->dtype;
        if (wd != EHAL_DTYPE_Q8_0 && wd != EHAL_DTYPE_Q4_0) {
            snprintf(why, why_size, "matmul weight dtype %s (the NPU runs q8_0 and q4_0 only)",
                     ehal_dtype_name(wd));
            return 0;
        }
        first = 1;
    }
    for (uint32_t j = first; j < n->n_inputs; j++) {
        if (input(sg, n, j)->dtype != EHAL_DTYPE_F32) {
            snprintf(why, why_size, "%s input %u is %s, not f32", ehal_op_name(n->op), j,
                     ehal_dtype_name(input(sg, n, j)->dtype));
            return 0;
        }
    }
    if (sg->tensors[n->outputs[0]]->dtype != EHAL_DTYPE_F32) {
        snprintf(why, why_size, "%s output is %s, not f32", ehal_op_name(n->op),
                 ehal_dtype_name(sg->tensors[n->outputs[0]]->dtype));
        return 0;
    }
    return 1;
}

npu_sim_work npu_sim_node_work(const ehal_subgraph *sg, uint32_t node) {
    const ehal_node_desc *n = sg->nodes[node];
    npu_sim_work w = {0.0, 0.0};
    if (n->op == EHAL_OP_MATMUL) {
        double k = (double)input(sg, n, 0)->ne[0], nn = (double)input(sg, n, 0)->ne[1];
        double t = (double)ehal_tensor_nelements(input(sg, n, 1)) / k;
        w.mac_ops = 2.0 * k * nn * t;
        w.vec_ops = 3.0 * k * t;
    } else if (n->op < EHAL_OP_ID_LIMIT_) {
        w.vec_ops = op_table[n->op].vec_per_value * (double)ehal_tensor_nelements(input(sg, n, 0));
    }
    return w;
}

ehal_kernel_fn npu_sim_kernel(uint32_t op) {
    return op < EHAL_OP_ID_LIMIT_ ? op_table[op].kernel : NULL;
}
