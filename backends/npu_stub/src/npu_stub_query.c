/*
 * Capability query (R13): what this backend can run, per op instance.
 * The stub supports nothing, so every well-formed node is answered
 * UNSUPPORTED and the partitioner never places work here.
 *
 * VENDOR: this is the first file to change (README.md, step 3): answer
 * SUPPORTED for the exact instances (op, dtypes, shapes, params) your
 * prepare and execute handle, with a cost estimate. "Supported" is a
 * promise the conformance suite checks.
 */
#include <string.h>

#include "npu_stub_internal.h"

ehal_status_t npu_stub_query_op(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                                ehal_op_support *out) {
    if (!npu_stub_backend_ok(be))
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
    s.level = EHAL_SUPPORT_UNSUPPORTED;
    ehal_sdk_log(be->host, EHAL_LOG_DEBUG,
                 "query_op: node %u (%s): unsupported (no op implemented yet)", node,
                 ehal_op_name(sg->nodes[node]->op));
    /* Fill at most what the caller's struct holds (R1). */
    size_t fill = out->struct_size < sizeof s ? out->struct_size : sizeof s;
    s.struct_size = (uint32_t)fill;
    memcpy(out, &s, fill);
    return EHAL_STATUS_OK;
}
