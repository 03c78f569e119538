/*
 * A plugin as a vendor would have written it against ABI revision 1: built
 * with only tests/hal/abi_frozen/v1 on the include path. Implements MUL on
 * F32 host-memory buffers and leaves every optional entry NULL (no map, no
 * host import, no prepack), so the core's defaults are exercised too.
 * Like the header beside it, this file is frozen: do not update it for
 * newer revisions; add a new directory instead.
 */
#include <stddef.h>
#include <string.h>

#include "edgehal/backend_abi.h"

struct ehal_backend_impl {
    const ehal_host_services *host;
};
struct ehal_buffer_impl {
    uint64_t size;
    unsigned char *data;
};
struct ehal_executable_impl {
    const float *a, *b;
    float *out;
    uint64_t n;
};

static void *v1_alloc(const ehal_host_services *h, size_t n) {
    return h->alloc(h->user, n, 0);
}

static ehal_status_t v1_init(const ehal_host_services *host, const ehal_option *opts,
                             uint32_t n_opts, ehal_backend_impl **out) {
    (void)opts, (void)n_opts;
    ehal_backend_impl *be = v1_alloc(host, sizeof *be);
    if (!be)
        return EHAL_STATUS_OUT_OF_MEMORY;
    be->host = host;
    *out = be;
    return EHAL_STATUS_OK;
}

static void v1_destroy(ehal_backend_impl *be) {
    be->host->free(be->host->user, be);
}

static ehal_status_t v1_device_info(ehal_backend_impl *be, ehal_device_info *info) {
    (void)be;
    ehal_device_info d;
    memset(&d, 0, sizeof d);
    d.kind = EHAL_DEVICE_OTHER;
    strcpy(d.name, "frozen revision-1 device");
    strcpy(d.driver, "v1");
    d.memory_bytes = 4096;
    uint32_t n = info->struct_size < sizeof d ? info->struct_size : (uint32_t)sizeof d;
    d.struct_size = n;
    memcpy(info, &d, n);
    return EHAL_STATUS_OK;
}

static int supported(const ehal_subgraph *sg, const ehal_node_desc *n) {
    if (n->op != EHAL_OP_MUL || n->n_inputs != 2)
        return 0;
    return sg->tensors[n->inputs[0]]->dtype == EHAL_DTYPE_F32 &&
           sg->tensors[n->inputs[1]]->dtype == EHAL_DTYPE_F32 &&
           sg->tensors[n->outputs[0]]->dtype == EHAL_DTYPE_F32;
}

static ehal_status_t v1_query_op(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                                 ehal_op_support *out) {
    (void)be;
    out->level = supported(sg, sg->nodes[node]) ? EHAL_SUPPORT_SUPPORTED : EHAL_SUPPORT_UNSUPPORTED;
    return EHAL_STATUS_OK;
}

static ehal_status_t v1_buffer_alloc(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                                     ehal_buffer_impl **out) {
    (void)flags;
    const ehal_host_services *h = be->host;
    ehal_buffer_impl *b = v1_alloc(h, sizeof *b);
    unsigned char *data = b ? v1_alloc(h, (size_t)size) : NULL;
    if (!data) {
        h->free(h->user, b);
        h->log(h->user, EHAL_LOG_ERROR, "out of host memory for a buffer");
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    memset(data, 0, (size_t)size);
    b->size = size;
    b->data = data;
    *out = b;
    return EHAL_STATUS_OK;
}

static void v1_buffer_free(ehal_backend_impl *be, ehal_buffer_impl *b) {
    be->host->free(be->host->user, b->data);
    be->host->free(be->host->user, b);
}

static ehal_status_t v1_write(ehal_backend_impl *be, ehal_buffer_impl *b, uint64_t off,
                              const void *src, uint64_t size) {
    (void)be;
    memcpy(b->data + off, src, (size_t)size);
    return EHAL_STATUS_OK;
}

static ehal_status_t v1_read(ehal_backend_impl *be, ehal_buffer_impl *b, uint64_t off, void *dst,
                             uint64_t size) {
    (void)be;
    memcpy(dst, b->data + off, (size_t)size);
    return EHAL_STATUS_OK;
}

static ehal_status_t v1_prepare(ehal_backend_impl *be, const ehal_subgraph *sg,
                                ehal_executable_impl **out) {
    const ehal_host_services *h = be->host;
    if (sg->n_nodes != 1 || !supported(sg, sg->nodes[0])) {
        h->log(h->user, EHAL_LOG_ERROR, "only a single F32 MUL node is supported");
        return EHAL_STATUS_UNSUPPORTED;
    }
    const ehal_node_desc *n = sg->nodes[0];
    const ehal_tensor_desc *a = sg->tensors[n->inputs[0]], *b = sg->tensors[n->inputs[1]],
                           *o = sg->tensors[n->outputs[0]];
    ehal_executable_impl *e = v1_alloc(h, sizeof *e);
    if (!e)
        return EHAL_STATUS_OUT_OF_MEMORY;
    e->a = (const float *)(a->buffer->data + a->offset);
    e->b = (const float *)(b->buffer->data + b->offset);
    e->out = (float *)(o->buffer->data + o->offset);
    e->n = (uint64_t)(o->ne[0] * o->ne[1] * o->ne[2] * o->ne[3]);
    *out = e;
    return EHAL_STATUS_OK;
}

static ehal_status_t v1_execute(ehal_backend_impl *be, ehal_executable_impl *e,
                                const ehal_execute_args *args) {
    (void)be, (void)args;
    for (uint64_t i = 0; i < e->n; i++)
        e->out[i] = e->a[i] * e->b[i];
    return EHAL_STATUS_OK;
}

static ehal_status_t v1_wait(ehal_backend_impl *be, ehal_executable_impl *e, uint64_t t) {
    (void)be, (void)e, (void)t;
    return EHAL_STATUS_OK;
}

static void v1_release(ehal_backend_impl *be, ehal_executable_impl *e) {
    be->host->free(be->host->user, e);
}

static const ehal_backend_iface v1_table = {sizeof(ehal_backend_iface),
                                            0,
                                            "frozen1",
                                            v1_init,
                                            v1_destroy,
                                            v1_device_info,
                                            v1_query_op,
                                            v1_buffer_alloc,
                                            v1_buffer_free,
                                            v1_write,
                                            v1_read,
                                            NULL, /* buffer_map */
                                            NULL, /* buffer_unmap */
                                            NULL, /* buffer_import_host */
                                            NULL, /* prepack */
                                            v1_prepare,
                                            v1_execute,
                                            v1_wait,
                                            v1_release};

EHAL_PLUGIN_EXPORT ehal_status_t ehal_backend_entry(ehal_entry_args *args) {
    args->plugin_version = 1;
    if (args->loader_min_version > 1 || args->loader_max_version < 1)
        return EHAL_STATUS_INCOMPATIBLE;
    args->iface = &v1_table;
    return EHAL_STATUS_OK;
}
