/*
 * Prepare ("compile"), execute, wait, release (R19, R20).
 *
 * prepare is the NPU's compile step: it copies the subgraph, refuses any
 * node the device does not run (UNSUPPORTED, naming the node), checks the
 * bindings, reserves the activation scratch for the exact shapes from the
 * device budget, and spends compile_ms of wall time. The executable is only
 * valid for those shapes (STATIC_SHAPES): another T needs another prepare.
 * execute runs the nodes in order, synchronously; wait reports the status.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <errno.h>
#include <time.h>

#include "npu_sim_internal.h"

struct ehal_executable_impl {
    uint32_t magic;
    const ehal_backend_impl *owner;
    ehal_status_t status;   /* of the last execute; OK before the first */
    ehal_sdk_graph *graph;  /* owned deep copy of the compiled subgraph */
    ehal_block_q8_0 *xq;    /* quantized activations (largest matmul) */
    uint64_t scratch_bytes; /* reserved from the device budget */
};

static void sleep_ms(uint64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t dtype_align(uint32_t dtype) {
    return dtype == EHAL_DTYPE_F32 || dtype == EHAL_DTYPE_I32 ? 4u : 2u;
}

static ehal_status_t check_tensor(const ehal_backend_impl *be, const ehal_subgraph *sg,
                                  uint32_t node, uint32_t index) {
    const ehal_tensor_desc *t = sg->tensors[index];
    const ehal_buffer_impl *buf = t->buffer;
    ehal_status_t st = npu_sim_check_buffer(be, buf, "prepare");
    if (st != EHAL_STATUS_OK)
        return st;
    uint64_t nbytes = ehal_tensor_nbytes(t);
    if (nbytes == 0 || t->offset > buf->size || nbytes > buf->size - t->offset ||
        (uintptr_t)(buf->data + t->offset) % dtype_align(t->dtype) != 0) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "prepare: node %u: tensor %u (%llu bytes at offset %llu) "
                     "does not fit its %llu-byte buffer or is misaligned",
                     node, index, (unsigned long long)nbytes, (unsigned long long)t->offset,
                     (unsigned long long)buf->size);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

/* Support and bindings of every node; the scratch blocks the largest
 * matmul needs go to *blocks. */
static ehal_status_t compile_check(const ehal_backend_impl *be, const ehal_subgraph *sg,
                                   uint64_t *blocks) {
    *blocks = 0;
    for (uint32_t i = 0; i < sg->n_nodes; i++) {
        const ehal_node_desc *n = sg->nodes[i];
        char why[256] = "";
        if (!npu_sim_node_supported(sg, i, why, sizeof why)) {
            ehal_sdk_log(be->host, EHAL_LOG_ERROR, "prepare: node %u (%s): unsupported: %s", i,
                         ehal_op_name(n->op), why);
            return EHAL_STATUS_UNSUPPORTED;
        }
        for (uint32_t j = 0; j < n->n_inputs + n->n_outputs; j++) {
            uint32_t idx = j < n->n_inputs ? n->inputs[j] : n->outputs[j - n->n_inputs];
            ehal_status_t st = check_tensor(be, sg, i, idx);
            if (st != EHAL_STATUS_OK)
                return st;
        }
        if (n->op == EHAL_OP_MATMUL) {
            uint64_t b = npu_sim_matmul_scratch_blocks(sg, i);
            *blocks = b > *blocks ? b : *blocks;
        }
    }
    return EHAL_STATUS_OK;
}

static void exe_free(ehal_backend_impl *be, ehal_executable_impl *exe) {
    ehal_sdk_graph_free(be->host, exe->graph);
    ehal_sdk_free(be->host, exe->xq);
    npu_sim_unreserve(be, exe->scratch_bytes);
    exe->magic = 0;
    ehal_sdk_free(be->host, exe);
}

ehal_status_t npu_sim_prepare(ehal_backend_impl *be, const ehal_subgraph *sg,
                              ehal_executable_impl **out) {
    if (!npu_sim_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (sg == NULL || out == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "prepare: %s is NULL",
                     sg == NULL ? "subgraph" : "out");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    ehal_executable_impl *exe = ehal_sdk_calloc(be->host, 1, sizeof *exe);
    if (exe == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "prepare: out of memory");
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    exe->magic = NPU_SIM_EXE_MAGIC;
    exe->owner = be;
    ehal_status_t st = ehal_sdk_graph_copy(be->host, sg, &exe->graph);
    uint64_t blocks = 0;
    if (st == EHAL_STATUS_OK)
        st = compile_check(be, ehal_sdk_graph_view(exe->graph), &blocks);
    if (st == EHAL_STATUS_OK && blocks > 0) {
        uint64_t bytes = blocks * sizeof(ehal_block_q8_0);
        st = npu_sim_reserve(be, "prepare (activation scratch)", bytes);
        if (st == EHAL_STATUS_OK) {
            exe->scratch_bytes = bytes;
            exe->xq = bytes <= SIZE_MAX ? ehal_sdk_alloc(be->host, (size_t)bytes) : NULL;
            if (exe->xq == NULL) {
                ehal_sdk_log(be->host, EHAL_LOG_ERROR, "prepare: host out of memory for %llu bytes",
                             (unsigned long long)bytes);
                st = EHAL_STATUS_OUT_OF_MEMORY;
            }
        }
    }
    if (st != EHAL_STATUS_OK) {
        exe_free(be, exe);
        return st;
    }
    sleep_ms(be->cfg.compile_ms); /* the compile a real NPU toolchain does */
    ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "prepare: compiled %u nodes for exact shapes in %llu ms",
                 sg->n_nodes, (unsigned long long)be->cfg.compile_ms);
    exe->status = EHAL_STATUS_OK;
    *out = exe;
    return EHAL_STATUS_OK;
}

static ehal_status_t check_exe(const ehal_backend_impl *be, const ehal_executable_impl *exe,
                               const char *what) {
    if (exe == NULL || exe->magic != NPU_SIM_EXE_MAGIC || exe->owner != be) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "%s: executable %p is not a live one of this backend", what,
                     (const void *)exe);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

static void *resolve(void *user, const ehal_tensor_desc *t) {
    (void)user;
    return t->buffer->data + t->offset;
}

ehal_status_t npu_sim_execute(ehal_backend_impl *be, ehal_executable_impl *exe,
                              const ehal_execute_args *args) {
    (void)args; /* no execute flags are defined in revision 1 */
    if (!npu_sim_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_status_t st = check_exe(be, exe, "execute");
    if (st != EHAL_STATUS_OK)
        return st;
    const ehal_subgraph *sg = ehal_sdk_graph_view(exe->graph);
    for (uint32_t i = 0; i < sg->n_nodes && st == EHAL_STATUS_OK; i++) {
        ehal_kernel_args a;
        ehal_kernel_args_fill(&a, sg, i, resolve, NULL);
        uint32_t op = sg->nodes[i]->op;
        if (op == EHAL_OP_MATMUL)
            st = npu_sim_matmul_w8a8(&a, exe->xq);
        else
            st = npu_sim_kernel(op)(&a);
        if (st != EHAL_STATUS_OK)
            ehal_sdk_log(be->host, EHAL_LOG_ERROR, "execute: node %u (%s) failed", i,
                         ehal_op_name(op));
    }
    exe->status = st;
    return st;
}

ehal_status_t npu_sim_wait(ehal_backend_impl *be, ehal_executable_impl *exe, uint64_t timeout_ns) {
    (void)timeout_ns; /* execute is synchronous: nothing is ever pending */
    if (!npu_sim_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_status_t st = check_exe(be, exe, "wait");
    return st != EHAL_STATUS_OK ? st : exe->status;
}

void npu_sim_release(ehal_backend_impl *be, ehal_executable_impl *exe) {
    if (!npu_sim_backend_ok(be) || exe == NULL)
        return;
    if (check_exe(be, exe, "release") != EHAL_STATUS_OK)
        return;
    exe_free(be, exe);
}
