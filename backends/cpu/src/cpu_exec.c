/*
 * Prepare and run subgraphs. prepare keeps a deep copy of the subgraph
 * (the caller's pointers die with the call, R11), checked against the
 * catalog, the kernel table and the bound buffers; execute runs it op by op,
 * synchronously (each op may fan out over the backend's thread pool and
 * returns when all its workers are done), so wait only reports the stored
 * status.
 *
 * Buffers bound in a prepared subgraph must stay alive until release; the
 * core guarantees that, a direct caller must.
 */
#include "cpu_internal.h"

/* Alignment the kernels' element access needs at a tensor's address. */
static uint64_t dtype_align(uint32_t dtype)
{
    switch (dtype) {
    case EHAL_DTYPE_F32:
    case EHAL_DTYPE_I32:
        return 4;
    default:
        return 2; /* F16, and the quant blocks' fp16 scale */
    }
}

static ehal_status_t check_tensor(const ehal_backend_impl *be, const ehal_subgraph *sg,
                                  uint32_t node, uint32_t index)
{
    const ehal_tensor_desc *t = sg->tensors[index];
    const ehal_buffer_impl *buf = t->buffer;
    if (buf == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "prepare: node %u (%s): tensor %u has no buffer",
                     node, ehal_op_name(sg->nodes[node]->op), index);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_status_t st = cpu_check_buffer(be, buf, "prepare");
    if (st != EHAL_STATUS_OK)
        return st;
    uint64_t nbytes = ehal_tensor_nbytes(t);
    if (nbytes == 0 || t->offset > buf->size || nbytes > buf->size - t->offset) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "prepare: tensor %u: bytes [%llu, +%llu) do not fit its buffer of %llu "
                     "bytes",
                     index, (unsigned long long)t->offset, (unsigned long long)nbytes,
                     (unsigned long long)buf->size);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    uint64_t align = dtype_align(t->dtype);
    if ((uintptr_t)(buf->data + t->offset) % align != 0) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "prepare: tensor %u (%s) at offset %llu is not %llu-byte aligned", index,
                     ehal_dtype_name(t->dtype), (unsigned long long)t->offset,
                     (unsigned long long)align);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

/* Every tensor a node reads or writes is bound to a buffer of this backend
 * and fits in it. Indices were validated by ehal_sdk_check_subgraph. */
static ehal_status_t check_bindings(const ehal_backend_impl *be, const ehal_subgraph *sg)
{
    for (uint32_t i = 0; i < sg->n_nodes; i++) {
        const ehal_node_desc *n = sg->nodes[i];
        for (uint32_t j = 0; j < n->n_inputs; j++) {
            ehal_status_t st = check_tensor(be, sg, i, n->inputs[j]);
            if (st != EHAL_STATUS_OK)
                return st;
        }
        for (uint32_t j = 0; j < n->n_outputs; j++) {
            ehal_status_t st = check_tensor(be, sg, i, n->outputs[j]);
            if (st != EHAL_STATUS_OK)
                return st;
        }
    }
    return EHAL_STATUS_OK;
}

ehal_status_t cpu_prepare(ehal_backend_impl *be, const ehal_subgraph *sg,
                          ehal_executable_impl **out)
{
    if (!cpu_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (sg == NULL || out == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "prepare: %s is NULL",
                     sg == NULL ? "subgraph" : "out");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    /* Copy first: the copy has our struct sizes, so the checks below never
     * read past a shorter caller struct. */
    ehal_sdk_graph *g = NULL;
    ehal_status_t st = ehal_sdk_graph_copy(be->host, sg, &g);
    if (st != EHAL_STATUS_OK)
        return st;
    const ehal_subgraph *view = ehal_sdk_graph_view(g);
    st = ehal_sdk_check_subgraph(be->host, view, be->kernels, EHAL_OP_ID_LIMIT_);
    if (st == EHAL_STATUS_OK)
        st = check_bindings(be, view);
    if (st != EHAL_STATUS_OK) {
        ehal_sdk_graph_free(be->host, g);
        return st;
    }
    ehal_executable_impl *exe = ehal_sdk_calloc(be->host, 1, sizeof *exe);
    if (exe == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "prepare: out of memory for the executable");
        ehal_sdk_graph_free(be->host, g);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    exe->magic = CPU_EXE_MAGIC;
    exe->owner = be;
    exe->status = EHAL_STATUS_OK;
    exe->graph = g;
    *out = exe;
    return EHAL_STATUS_OK;
}

static ehal_status_t check_exe(const ehal_backend_impl *be, const ehal_executable_impl *exe,
                               const char *what)
{
    if (exe == NULL || exe->magic != CPU_EXE_MAGIC || exe->owner != be) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "%s: executable %p is %s", what,
                     (const void *)exe,
                     exe == NULL                 ? "NULL"
                     : exe->magic != CPU_EXE_MAGIC ? "not a live cpu executable"
                                                   : "from another cpu backend instance");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

/* Host address of a tensor; bindings were checked at prepare. */
static void *resolve(void *user, const ehal_tensor_desc *t)
{
    (void)user;
    ehal_buffer_impl *buf = t->buffer;
    return buf != NULL ? buf->data + t->offset : NULL;
}

/* Each node runs its pool-aware kernel if it has one, else (or where that
 * declines the instance) the plain kernel. Bindings were checked at prepare,
 * so every tensor resolves to host data. */
static ehal_status_t run_nodes(ehal_backend_impl *be, const ehal_subgraph *sg)
{
    for (uint32_t i = 0; i < sg->n_nodes; i++) {
        const uint32_t op = sg->nodes[i]->op;
        ehal_kernel_args a;
        ehal_kernel_args_fill(&a, sg, i, resolve, NULL);
        ehal_status_t st = EHAL_STATUS_UNSUPPORTED;
        if (op < EHAL_OP_ID_LIMIT_ && be->fast[op] != NULL)
            st = be->fast[op](be, &a);
        if (st == EHAL_STATUS_UNSUPPORTED) {
            ehal_kernel_fn fn = op < EHAL_OP_ID_LIMIT_ ? be->kernels[op] : NULL;
            if (fn == NULL) {
                ehal_sdk_log(be->host, EHAL_LOG_ERROR, "node %u: op %s (id %u) has no kernel", i,
                             ehal_op_name(op), op);
                return EHAL_STATUS_UNSUPPORTED;
            }
            st = fn(&a);
        }
        if (st != EHAL_STATUS_OK) {
            ehal_sdk_log(be->host, EHAL_LOG_ERROR, "node %u (%s) failed: status %d", i,
                         ehal_op_name(op), (int)st);
            return st;
        }
    }
    return EHAL_STATUS_OK;
}

ehal_status_t cpu_execute(ehal_backend_impl *be, ehal_executable_impl *exe,
                          const ehal_execute_args *args)
{
    if (!cpu_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_status_t st = check_exe(be, exe, "execute");
    if (st != EHAL_STATUS_OK)
        return st;
    /* args may be NULL or shorter than ours: absent flags are 0. No flags
     * are defined in revision 1; unknown ones are ignored. */
    if (args != NULL && args->struct_size >= offsetof(ehal_execute_args, flags) + sizeof args->flags &&
        args->flags != 0)
        ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "execute: ignoring unknown flags 0x%x",
                     args->flags);
    exe->status = run_nodes(be, ehal_sdk_graph_view(exe->graph));
    return exe->status;
}

ehal_status_t cpu_wait(ehal_backend_impl *be, ehal_executable_impl *exe, uint64_t timeout_ns)
{
    (void)timeout_ns; /* execute is synchronous: nothing is ever pending */
    if (!cpu_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_status_t st = check_exe(be, exe, "wait");
    return st != EHAL_STATUS_OK ? st : exe->status;
}

void cpu_release(ehal_backend_impl *be, ehal_executable_impl *exe)
{
    if (!cpu_backend_ok(be) || exe == NULL)
        return;
    if (check_exe(be, exe, "release") != EHAL_STATUS_OK)
        return;
    ehal_sdk_graph_free(be->host, exe->graph);
    exe->magic = 0;
    ehal_sdk_free(be->host, exe);
}
