/*
 * Prepare, execute, wait, release (R19, R20). The stub implements no op:
 * prepare refuses every subgraph with UNSUPPORTED naming the first node,
 * so no executable is ever made; execute and wait answer UNIMPLEMENTED.
 *
 * VENDOR: README.md, step 3 replaces this file: prepare copies (or
 * compiles) the subgraph into an executable, execute runs it, wait reports
 * its status, release frees it.
 */
#include "npu_stub_internal.h"

/* VENDOR: your compiled program / command list goes here. */
struct ehal_executable_impl {
    uint32_t magic; /* NPU_STUB_EXE_MAGIC while live */
};

ehal_status_t npu_stub_prepare(ehal_backend_impl *be, const ehal_subgraph *sg,
                               ehal_executable_impl **out) {
    if (!npu_stub_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (sg == NULL || out == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "prepare: %s is NULL",
                     sg == NULL ? "subgraph" : "out");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    uint32_t op = (sg->n_nodes > 0 && sg->nodes != NULL && sg->nodes[0] != NULL) ? sg->nodes[0]->op
                                                                                 : EHAL_OP_NONE;
    ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                 "prepare: node 0: op %s is not supported by " NPU_STUB_NAME
                 " (no op implemented yet)",
                 sg->n_nodes > 0 ? ehal_op_name(op) : "(empty subgraph)");
    return EHAL_STATUS_UNSUPPORTED;
}

ehal_status_t npu_stub_execute(ehal_backend_impl *be, ehal_executable_impl *exe,
                               const ehal_execute_args *args) {
    (void)args;
    if (!npu_stub_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_sdk_log(be->host, EHAL_LOG_ERROR, "execute: executable %p: not implemented", (void *)exe);
    return EHAL_STATUS_UNIMPLEMENTED;
}

ehal_status_t npu_stub_wait(ehal_backend_impl *be, ehal_executable_impl *exe, uint64_t timeout_ns) {
    (void)timeout_ns;
    if (!npu_stub_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_sdk_log(be->host, EHAL_LOG_ERROR, "wait: executable %p: not implemented", (void *)exe);
    return EHAL_STATUS_UNIMPLEMENTED;
}

/* prepare never succeeds, so there is never an executable to free. */
void npu_stub_release(ehal_backend_impl *be, ehal_executable_impl *exe) {
    if (!npu_stub_backend_ok(be) || exe == NULL)
        return;
    ehal_sdk_log(be->host, EHAL_LOG_WARN, "release: executable %p was not made by this backend",
                 (void *)exe);
}
