/*
 * Capability and cost (R13). A node is SUPPORTED exactly when
 * npu_sim_node_supported says so (the same rule prepare applies).
 *
 * Cost model, in ns, per node (each node is one dispatch on the device):
 *   cost_ns    = latency_us*1000 + mac_ops / tops + vec_ops / (tops / 32)
 *   prepare_ns = compile_ms * 1e6 (prepare compiles for the exact shapes)
 * With the defaults (2 TOPS, 200 us) a 4096x4096 prefill matmul of 128
 * tokens (4.3e9 MACs x2) costs ~2.3 ms, far below a CPU's estimate, while a
 * decode matmul (T=1) is dominated by the 200 us latency; an elementwise op
 * of 4096 values costs ~200 us, far more than on a CPU. So a partitioner
 * sends large matmuls here and keeps small steps elsewhere.
 */
#include <string.h>

#include "npu_sim_internal.h"

ehal_status_t npu_sim_query_op(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                               ehal_op_support *out) {
    if (!npu_sim_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (sg == NULL || out == NULL ||
        out->struct_size < offsetof(ehal_op_support, level) + sizeof out->level ||
        node >= sg->n_nodes || sg->nodes == NULL || sg->nodes[node] == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "query_op: bad arguments (subgraph %p, node %u, out %p)", (const void *)sg,
                     node, (void *)out);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_op_support s;
    memset(&s, 0, sizeof s);
    char why[256] = "";
    if (!npu_sim_node_supported(sg, node, why, sizeof why)) {
        s.level = EHAL_SUPPORT_UNSUPPORTED;
        ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "query_op: node %u: %s", node, why);
    } else {
        npu_sim_work w = npu_sim_node_work(sg, node);
        double ops_per_ns = be->cfg.tops * 1e3; /* 1e12 ops/s = 1e3 ops/ns */
        double ns = (double)be->cfg.latency_us * 1e3 + w.mac_ops / ops_per_ns +
                    w.vec_ops * NPU_SIM_VECTOR_RATIO / ops_per_ns;
        s.level = EHAL_SUPPORT_SUPPORTED;
        s.cost_ns = ns < 1.0 ? 1 : ns > 1e18 ? (uint64_t)1e18 : (uint64_t)(ns + 0.5);
        s.prepare_ns = be->cfg.compile_ms * 1000000u;
    }
    size_t fill = out->struct_size < sizeof s ? out->struct_size : sizeof s;
    s.struct_size = (uint32_t)fill;
    memcpy(out, &s, fill);
    return EHAL_STATUS_OK;
}
