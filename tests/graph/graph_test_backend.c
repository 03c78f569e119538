/*
 * A test-only backend plugin: host-memory buffers, the catalog's reference
 * kernels run op by op through the SDK. Built twice under two names
 * (GT_NAME) so the executor's multi-backend paths are tested without any
 * real device. Options: "<name>.cost" (percent multiplier on the estimate),
 * "<name>.reject" (an op name it answers UNSUPPORTED), "<name>.memory"
 * (device memory it declares, bytes), "<name>.import" (0: refuse to import
 * host memory, so the executor must copy boundary tensors), "<name>.fail_after"
 * (N > 0: every execute after the N-th fails), "<name>.fail_status" (how
 * it fails: "lost" (default) DEVICE_LOST, "internal" INTERNAL, "oom"
 * OUT_OF_MEMORY) and "<name>.fail_times" (N > 0: only N executes fail,
 * then it works again: a transient error).
 */
#include <stdlib.h>
#include <string.h>

#include "edgehal/backend_sdk.h"

#ifndef GT_NAME
#define GT_NAME "gt_a"
#endif

struct ehal_backend_impl {
    const ehal_host_services *host;
    uint64_t cost_pct, memory, import, fail_after, n_exec, fail_times, n_failed;
    ehal_status_t fail_status;
    uint32_t reject;
    ehal_kernel_fn table[EHAL_OP_ID_LIMIT_];
};
struct ehal_buffer_impl {
    void *data;
    uint64_t size;
    int owned;
};
struct ehal_executable_impl {
    ehal_sdk_graph *g;
    ehal_status_t last;
};

static ehal_status_t gt_init(const ehal_host_services *host, const ehal_option *opts,
                             uint32_t n_opts, ehal_backend_impl **out) {
    ehal_backend_impl *be = ehal_sdk_calloc(host, 1, sizeof *be);
    if (!be)
        return EHAL_STATUS_OUT_OF_MEMORY;
    be->host = host;
    be->cost_pct = 100;
    be->import = 1;
    ehal_status_t st = ehal_sdk_option_u64(host, opts, n_opts, "cost", &be->cost_pct);
    if (st == EHAL_STATUS_OK)
        st = ehal_sdk_option_u64(host, opts, n_opts, "memory", &be->memory);
    if (st == EHAL_STATUS_OK)
        st = ehal_sdk_option_u64(host, opts, n_opts, "import", &be->import);
    if (st == EHAL_STATUS_OK)
        st = ehal_sdk_option_u64(host, opts, n_opts, "fail_after", &be->fail_after);
    if (st == EHAL_STATUS_OK)
        st = ehal_sdk_option_u64(host, opts, n_opts, "fail_times", &be->fail_times);
    const char *fs = ehal_sdk_option(opts, n_opts, "fail_status");
    be->fail_status = EHAL_STATUS_DEVICE_LOST;
    if (fs && strcmp(fs, "internal") == 0)
        be->fail_status = EHAL_STATUS_INTERNAL;
    else if (fs && strcmp(fs, "oom") == 0)
        be->fail_status = EHAL_STATUS_OUT_OF_MEMORY;
    else if (fs && strcmp(fs, "lost") != 0) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, GT_NAME ": fail_status must be lost, internal or oom");
        st = EHAL_STATUS_INVALID_ARGUMENT;
    }
    const char *rej = ehal_sdk_option(opts, n_opts, "reject");
    be->reject = rej ? ehal_op_from_name(rej) : 0;
    for (uint32_t op = 0; op < EHAL_OP_ID_LIMIT_; op++)
        be->table[op] = ehal_ref_kernel(op);
    if (st != EHAL_STATUS_OK) {
        ehal_sdk_free(host, be);
        return st;
    }
    *out = be;
    return EHAL_STATUS_OK;
}

static void gt_destroy(ehal_backend_impl *be) {
    ehal_sdk_free(be->host, be);
}

static ehal_status_t gt_device_info(ehal_backend_impl *be, ehal_device_info *info) {
    ehal_device_info d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.kind = EHAL_DEVICE_OTHER;
    d.flags = EHAL_DEVICE_HOST_SHARED;
    strcpy(d.name, GT_NAME " reference test device");
    strcpy(d.driver, "test");
    d.memory_bytes = be->memory;
    d.link_bytes_per_s = 10000000000ull;
    d.dispatch_overhead_ns = 2000;
    size_t n = info->struct_size < sizeof d ? info->struct_size : sizeof d;
    memcpy(info, &d, n);
    info->struct_size = (uint32_t)n;
    return EHAL_STATUS_OK;
}

static ehal_status_t gt_query(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                              ehal_op_support *out) {
    const ehal_node_desc *n = sg->nodes[node];
    out->level = EHAL_SUPPORT_UNSUPPORTED;
    out->cost_ns = 0;
    out->prepare_ns = 0;
    if (n->op == be->reject || ehal_op_validate(sg, node, NULL, 0) != EHAL_STATUS_OK)
        return EHAL_STATUS_OK;
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < n->n_inputs; i++)
        bytes += ehal_tensor_nbytes(sg->tensors[n->inputs[i]]);
    out->level = EHAL_SUPPORT_SUPPORTED;
    out->cost_ns = (bytes / 4 + 100) * be->cost_pct / 100;
    return EHAL_STATUS_OK;
}

static ehal_status_t gt_alloc(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                              ehal_buffer_impl **out) {
    (void)flags;
    ehal_buffer_impl *b = ehal_sdk_calloc(be->host, 1, sizeof *b);
    if (!b)
        return EHAL_STATUS_OUT_OF_MEMORY;
    b->data = ehal_sdk_calloc(be->host, 1, size ? size : 1);
    if (!b->data) {
        ehal_sdk_free(be->host, b);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    b->size = size;
    b->owned = 1;
    *out = b;
    return EHAL_STATUS_OK;
}

static void gt_free(ehal_backend_impl *be, ehal_buffer_impl *b) {
    if (!b)
        return;
    if (b->owned)
        ehal_sdk_free(be->host, b->data);
    ehal_sdk_free(be->host, b);
}

static ehal_status_t gt_write(ehal_backend_impl *be, ehal_buffer_impl *b, uint64_t off,
                              const void *src, uint64_t size) {
    (void)be;
    memcpy((char *)b->data + off, src, size);
    return EHAL_STATUS_OK;
}

static ehal_status_t gt_read(ehal_backend_impl *be, ehal_buffer_impl *b, uint64_t off, void *dst,
                             uint64_t size) {
    (void)be;
    memcpy(dst, (const char *)b->data + off, size);
    return EHAL_STATUS_OK;
}

static ehal_status_t gt_map(ehal_backend_impl *be, ehal_buffer_impl *b, void **ptr) {
    (void)be;
    *ptr = b->data;
    return EHAL_STATUS_OK;
}

static void gt_unmap(ehal_backend_impl *be, ehal_buffer_impl *b) {
    (void)be, (void)b;
}

static ehal_status_t gt_import(ehal_backend_impl *be, void *ptr, uint64_t size, uint32_t flags,
                               ehal_buffer_impl **out) {
    (void)flags;
    if (!be->import)
        return EHAL_STATUS_UNSUPPORTED;
    ehal_buffer_impl *b = ehal_sdk_calloc(be->host, 1, sizeof *b);
    if (!b)
        return EHAL_STATUS_OUT_OF_MEMORY;
    b->data = ptr;
    b->size = size;
    *out = b;
    return EHAL_STATUS_OK;
}

static ehal_status_t gt_prepare(ehal_backend_impl *be, const ehal_subgraph *sg,
                                ehal_executable_impl **out) {
    ehal_status_t st = ehal_sdk_check_subgraph(be->host, sg, be->table, EHAL_OP_ID_LIMIT_);
    if (st != EHAL_STATUS_OK)
        return st;
    ehal_executable_impl *e = ehal_sdk_calloc(be->host, 1, sizeof *e);
    if (!e)
        return EHAL_STATUS_OUT_OF_MEMORY;
    st = ehal_sdk_graph_copy(be->host, sg, &e->g);
    if (st != EHAL_STATUS_OK) {
        ehal_sdk_free(be->host, e);
        return st;
    }
    *out = e;
    return EHAL_STATUS_OK;
}

static void *gt_resolve(void *user, const ehal_tensor_desc *t) {
    (void)user;
    return (char *)t->buffer->data + t->offset;
}

static ehal_status_t gt_execute(ehal_backend_impl *be, ehal_executable_impl *e,
                                const ehal_execute_args *args) {
    (void)args;
    if (be->fail_after && ++be->n_exec > be->fail_after &&
        (!be->fail_times || be->n_failed < be->fail_times)) {
        be->n_failed++;
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, GT_NAME ": execute fails (test fail_after)");
        return e->last = be->fail_status;
    }
    e->last = ehal_sdk_run_nodes(be->host, ehal_sdk_graph_view(e->g), be->table, EHAL_OP_ID_LIMIT_,
                                 gt_resolve, NULL);
    return e->last;
}

static ehal_status_t gt_wait(ehal_backend_impl *be, ehal_executable_impl *e, uint64_t t) {
    (void)be, (void)t;
    return e->last;
}

static void gt_release(ehal_backend_impl *be, ehal_executable_impl *e) {
    if (!e)
        return;
    ehal_sdk_graph_free(be->host, e->g);
    ehal_sdk_free(be->host, e);
}

static const ehal_backend_iface gt_iface = {
    .struct_size = sizeof(ehal_backend_iface),
    .name = GT_NAME,
    .init = gt_init,
    .destroy = gt_destroy,
    .device_info = gt_device_info,
    .query_op = gt_query,
    .buffer_alloc = gt_alloc,
    .buffer_free = gt_free,
    .buffer_write = gt_write,
    .buffer_read = gt_read,
    .buffer_map = gt_map,
    .buffer_unmap = gt_unmap,
    .buffer_import_host = gt_import,
    .prepack = NULL,
    .prepare = gt_prepare,
    .execute = gt_execute,
    .wait = gt_wait,
    .release = gt_release,
};

EHAL_PLUGIN_EXPORT ehal_status_t ehal_backend_entry(ehal_entry_args *args) {
    return ehal_sdk_negotiate(args, &gt_iface);
}
