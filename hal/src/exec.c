/*
 * prepare / execute / wait / release (R19, R20). ehal_prepare is the one
 * place a subgraph is checked in full before a plugin sees it: every node
 * against the catalog, every tensor's buffer against this backend's live
 * buffers and its byte range.
 */
#include <string.h>

#include "edgehal/ops.h"
#include "internal.h"

static ehal_status_t check_tensor(ehal_backend *be, const ehal_tensor_desc *t, uint32_t i) {
    if (!t->buffer)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "%s: prepare: tensor %u has no buffer", be->name, (unsigned)i);
    ehal_buffer *b = ehal_i_buffer_lookup(be, t->buffer);
    if (!b)
        return ehal_i_fail(
            be->ctx, EHAL_STATUS_INVALID_ARGUMENT,
            "%s: prepare: tensor %u: its buffer is not a live buffer of this backend", be->name,
            (unsigned)i);
    if (b->prepacked) {
        if (t->offset != 0)
            return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT,
                               "%s: prepare: tensor %u: a prepacked buffer is used at offset "
                               "%llu, not 0",
                               be->name, (unsigned)i, (unsigned long long)t->offset);
        return EHAL_STATUS_OK; /* backend-private layout: the plugin checks it */
    }
    uint64_t nbytes = ehal_tensor_nbytes(t);
    if (nbytes == 0)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "%s: prepare: tensor %u: dtype %u with shape [%lld,%lld,%lld,%lld] is "
                           "not a valid dense tensor",
                           be->name, (unsigned)i, (unsigned)t->dtype, (long long)t->ne[0],
                           (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3]);
    if (t->offset > b->size || nbytes > b->size - t->offset)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "%s: prepare: tensor %u: %llu bytes at offset %llu exceed its "
                           "%llu-byte buffer",
                           be->name, (unsigned)i, (unsigned long long)nbytes,
                           (unsigned long long)t->offset, (unsigned long long)b->size);
    return EHAL_STATUS_OK;
}

static ehal_status_t check_graph(ehal_backend *be, const ehal_subgraph *sg) {
    if (sg->n_nodes == 0)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "%s: prepare: the subgraph has no nodes", be->name);
    for (uint32_t i = 0; i < sg->n_nodes; i++) {
        char msg[EHAL_ERROR_MAX - 64];
        msg[0] = '\0';
        ehal_status_t s = ehal_op_validate(sg, i, msg, sizeof msg);
        if (s != EHAL_STATUS_OK)
            return ehal_i_fail(be->ctx, s, "%s: prepare: %s", be->name,
                               msg[0] ? msg : "a node failed validation");
    }
    for (uint32_t i = 0; i < sg->n_tensors; i++) {
        ehal_status_t s = check_tensor(be, sg->tensors[i], i);
        if (s != EHAL_STATUS_OK)
            return s;
    }
    return EHAL_STATUS_OK;
}

EHAL_API ehal_status_t ehal_prepare(ehal_backend *be, const ehal_subgraph *sg,
                                    ehal_executable **out) {
    if (!be)
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (!out)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT, "prepare: out is NULL");
    *out = NULL;
    ehal_i_graph g;
    ehal_status_t s = ehal_i_graph_normalize(be->ctx, sg, &g);
    if (s != EHAL_STATUS_OK)
        return s;
    s = check_graph(be, &g.sg);
    ehal_executable *exe = NULL;
    if (s == EHAL_STATUS_OK) {
        exe = ehal_i_calloc(be->ctx, 1, sizeof *exe);
        if (!exe)
            s = ehal_i_fail(be->ctx, EHAL_STATUS_OUT_OF_MEMORY,
                            "%s: out of memory for an executable object", be->name);
    }
    if (s == EHAL_STATUS_OK) {
        ehal_i_plugin_error_clear(be);
        s = be->iface.prepare(be->impl, &g.sg, &exe->impl);
        if (s != EHAL_STATUS_OK || !exe->impl) {
            s = ehal_i_plugin_fail(be, s != EHAL_STATUS_OK ? s : EHAL_STATUS_INTERNAL, "prepare");
            ehal_i_free(be->ctx, exe);
            exe = NULL;
        }
    }
    ehal_i_graph_free(be->ctx, &g);
    if (s != EHAL_STATUS_OK)
        return s;
    exe->backend = be;
    exe->next = be->executables;
    if (be->executables)
        be->executables->prev = exe;
    be->executables = exe;
    *out = exe;
    return EHAL_STATUS_OK;
}

EHAL_API ehal_status_t ehal_execute(ehal_executable *exe) {
    if (!exe)
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_backend *be = exe->backend;
    ehal_execute_args args;
    memset(&args, 0, sizeof args);
    args.struct_size = sizeof args;
    ehal_i_plugin_error_clear(be);
    ehal_status_t s = be->iface.execute(be->impl, exe->impl, &args);
    return s == EHAL_STATUS_OK ? s : ehal_i_plugin_fail(be, s, "execute");
}

EHAL_API ehal_status_t ehal_wait(ehal_executable *exe, uint64_t timeout_ns) {
    if (!exe)
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_backend *be = exe->backend;
    ehal_i_plugin_error_clear(be);
    ehal_status_t s = be->iface.wait(be->impl, exe->impl, timeout_ns);
    return s == EHAL_STATUS_OK ? s : ehal_i_plugin_fail(be, s, "wait");
}

EHAL_API void ehal_executable_release(ehal_executable *exe) {
    if (!exe)
        return;
    ehal_backend *be = exe->backend;
    if (exe->prev)
        exe->prev->next = exe->next;
    else
        be->executables = exe->next;
    if (exe->next)
        exe->next->prev = exe->prev;
    be->iface.release(be->impl, exe->impl);
    ehal_i_free(be->ctx, exe);
}

void ehal_i_executable_release_all(ehal_backend *be) {
    uint32_t n = 0;
    while (be->executables) {
        ehal_executable_release(be->executables);
        n++;
    }
    if (n)
        ehal_i_log(be->ctx, EHAL_LOG_WARN,
                   "%s: released %u executable(s) the caller did not release", be->name,
                   (unsigned)n);
}
