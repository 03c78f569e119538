/*
 * Capability answers: SUPPORTED exactly for the validated nodes that
 * ocl_op_supported accepts, with a rough cost from bytes moved and flops.
 */
#include <string.h>

#include "cl_internal.h"

ehal_status_t ocl_query_op(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                           ehal_op_support *out) {
    if (!ocl_backend_ok(be) || !out || out->struct_size < sizeof(uint32_t) * 2) {
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_op_support r = {out->struct_size, EHAL_SUPPORT_UNSUPPORTED, 0, 0};
    char why[256];
    if (ehal_op_validate(sg, node, why, sizeof why) == EHAL_STATUS_OK &&
        ocl_op_supported(be, sg, node, why, sizeof why)) {
        const ehal_node_desc *n = sg->nodes[node];
        double bytes = 0.0, flops = 0.0;
        for (uint32_t i = 0; i < n->n_inputs; i++) {
            bytes += (double)ehal_tensor_nbytes(sg->tensors[n->inputs[i]]);
        }
        const ehal_tensor_desc *o = sg->tensors[n->outputs[0]];
        bytes += (double)ehal_tensor_nbytes(o);
        flops = (double)ehal_tensor_nelements(o) * 4.0;
        if (n->op == EHAL_OP_MATMUL) {
            flops =
                2.0 * (double)ehal_tensor_nelements(o) * (double)sg->tensors[n->inputs[0]]->ne[0];
        } else if (n->op == EHAL_OP_ATTENTION) {
            const ehal_tensor_desc *k = sg->tensors[n->inputs[1]];
            flops = 4.0 * (double)ehal_tensor_nelements(o) * (double)k->ne[1];
        }
        /* GPU: ~100 GB/s, ~1 TFLOP/s. CPU-type devices (PoCL) run these
         * kernels on the host cores the cpu backend also uses, with less
         * tuned code and a runtime in between: priced below the cpu
         * plugin's own estimate (2 GFLOP/s, 10 GB/s), at 0.5 GFLOP/s and
         * 2.5 GB/s, so the partitioner uses them only when pinned or
         * calibrated. Coarse on purpose: the partitioner compares orders. */
        int gpu = be->kind == EHAL_DEVICE_GPU;
        double ns = bytes / (gpu ? 100.0 : 2.5) + flops / (gpu ? 1000.0 : 0.5);
        r.level = EHAL_SUPPORT_SUPPORTED;
        r.cost_ns = (uint64_t)ns + (gpu ? 10000u : 20000u);
        r.prepare_ns = 50000u; /* clCreateKernel + args; the program is built at init */
    } else {
        ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "opencl: node %u unsupported: %s", node, why);
    }
    size_t n = out->struct_size < sizeof r ? out->struct_size : sizeof r;
    memcpy(out, &r, n);
    return EHAL_STATUS_OK;
}
