/*
 * Buffers (R14-R18): argument and range checks at the public edge, then
 * the plugin's entry; optional entries get the documented defaults. Each
 * backend keeps its live buffers so that prepare can map a tensor's
 * plugin handle back to the buffer and check ranges.
 */
#include <string.h>

#include "edgehal/ops.h"
#include "internal.h"

static void link_buffer(ehal_backend *be, ehal_buffer *b) {
    b->prev = NULL;
    b->next = be->buffers;
    if (be->buffers)
        be->buffers->prev = b;
    be->buffers = b;
}

static void unlink_buffer(ehal_buffer *b) {
    if (b->prev)
        b->prev->next = b->next;
    else
        b->backend->buffers = b->next;
    if (b->next)
        b->next->prev = b->prev;
    b->prev = b->next = NULL;
}

ehal_buffer *ehal_i_buffer_lookup(ehal_backend *be, const ehal_buffer_impl *impl) {
    for (ehal_buffer *b = be->buffers; b; b = b->next)
        if (b->impl == impl)
            return b;
    return NULL;
}

/* Wraps a plugin buffer; on failure frees it through the plugin. */
static ehal_status_t wrap(ehal_backend *be, ehal_buffer_impl *impl, uint64_t size, uint32_t flags,
                          int prepacked, ehal_buffer **out) {
    ehal_buffer *b = ehal_i_calloc(be->ctx, 1, sizeof *b);
    if (!b) {
        be->iface.buffer_free(be->impl, impl);
        return ehal_i_fail(be->ctx, EHAL_STATUS_OUT_OF_MEMORY,
                           "%s: out of memory for a buffer object", be->name);
    }
    b->backend = be;
    b->impl = impl;
    b->size = size;
    b->flags = flags;
    b->prepacked = prepacked;
    link_buffer(be, b);
    *out = b;
    return EHAL_STATUS_OK;
}

EHAL_API ehal_status_t ehal_buffer_alloc(ehal_backend *be, uint64_t size, uint32_t flags,
                                         ehal_buffer **out) {
    if (!be)
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (!out)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT, "buffer_alloc: out is NULL");
    *out = NULL;
    if (size == 0)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "%s: buffer_alloc: size 0 is not allowed", be->name);
    ehal_i_plugin_error_clear(be);
    ehal_buffer_impl *impl = NULL;
    ehal_status_t s = be->iface.buffer_alloc(be->impl, size, flags, &impl);
    if (s != EHAL_STATUS_OK || !impl)
        return ehal_i_plugin_fail(be, s != EHAL_STATUS_OK ? s : EHAL_STATUS_INTERNAL,
                                  "buffer_alloc");
    return wrap(be, impl, size, flags, 0, out);
}

EHAL_API ehal_status_t ehal_buffer_import_host(ehal_backend *be, void *ptr, uint64_t size,
                                               uint32_t flags, ehal_buffer **out) {
    if (!be)
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (!out)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "buffer_import_host: out is NULL");
    *out = NULL;
    if (!ptr || size == 0)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT, "%s: buffer_import_host: %s",
                           be->name, !ptr ? "host pointer is NULL" : "size 0 is not allowed");
    if (!be->iface.buffer_import_host)
        return ehal_i_fail(be->ctx, EHAL_STATUS_UNSUPPORTED,
                           "%s: backend cannot import host memory", be->name);
    ehal_i_plugin_error_clear(be);
    ehal_buffer_impl *impl = NULL;
    ehal_status_t s = be->iface.buffer_import_host(be->impl, ptr, size, flags, &impl);
    if (s != EHAL_STATUS_OK || !impl)
        return ehal_i_plugin_fail(be, s != EHAL_STATUS_OK ? s : EHAL_STATUS_INTERNAL,
                                  "buffer_import_host");
    return wrap(be, impl, size, flags, 0, out);
}

/* Prepack through the plugin; with allow_copy 0, a tensor the plugin has no
 * private layout for is answered UNSUPPORTED instead of a plain upload. */
static ehal_status_t prepack(ehal_backend *be, const ehal_tensor_desc *weight,
                             const void *host_data, int allow_copy, ehal_buffer **out) {
    if (!be)
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (!out || !host_data)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT, "buffer_prepack: %s is NULL",
                           !out ? "out" : "host_data");
    *out = NULL;
    ehal_tensor_desc w;
    ehal_status_t s = ehal_i_tensor_normalize(be->ctx, weight, 0, &w);
    if (s != EHAL_STATUS_OK)
        return s;
    w.buffer = NULL;
    w.offset = 0;
    uint64_t nbytes = ehal_tensor_nbytes(&w);
    if (nbytes == 0)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "%s: buffer_prepack: weight of dtype %u and shape [%lld,%lld,%lld,%lld] "
                           "is not a valid dense tensor",
                           be->name, (unsigned)w.dtype, (long long)w.ne[0], (long long)w.ne[1],
                           (long long)w.ne[2], (long long)w.ne[3]);
    if (be->iface.prepack) {
        ehal_i_plugin_error_clear(be);
        ehal_buffer_impl *impl = NULL;
        s = be->iface.prepack(be->impl, &w, host_data, &impl);
        if (s == EHAL_STATUS_OK && impl)
            return wrap(be, impl, nbytes, EHAL_BUFFER_WEIGHTS, 1, out);
        if (s != EHAL_STATUS_UNSUPPORTED)
            return ehal_i_plugin_fail(be, s != EHAL_STATUS_OK ? s : EHAL_STATUS_INTERNAL,
                                      "prepack");
        /* No private layout for this tensor: a plain upload. */
    }
    if (!allow_copy)
        return EHAL_STATUS_UNSUPPORTED;
    ehal_buffer *b;
    s = ehal_buffer_alloc(be, nbytes, EHAL_BUFFER_WEIGHTS, &b);
    if (s != EHAL_STATUS_OK)
        return s;
    s = ehal_buffer_write(b, 0, host_data, nbytes);
    if (s != EHAL_STATUS_OK) {
        ehal_buffer_free(b);
        return s;
    }
    *out = b;
    return EHAL_STATUS_OK;
}

EHAL_API ehal_status_t ehal_buffer_prepack(ehal_backend *be, const ehal_tensor_desc *weight,
                                           const void *host_data, ehal_buffer **out) {
    return prepack(be, weight, host_data, 1, out);
}

EHAL_API ehal_status_t ehal_buffer_prepack_private(ehal_backend *be,
                                                   const ehal_tensor_desc *weight,
                                                   const void *host_data, ehal_buffer **out) {
    return prepack(be, weight, host_data, 0, out);
}

EHAL_API void ehal_buffer_free(ehal_buffer *buf) {
    if (!buf)
        return;
    ehal_backend *be = buf->backend;
    if (buf->mapped && be->iface.buffer_unmap)
        be->iface.buffer_unmap(be->impl, buf->impl);
    unlink_buffer(buf);
    be->iface.buffer_free(be->impl, buf->impl);
    ehal_i_free(be->ctx, buf);
}

void ehal_i_buffer_free_all(ehal_backend *be) {
    uint32_t n = 0;
    while (be->buffers) {
        ehal_buffer_free(be->buffers);
        n++;
    }
    if (n)
        ehal_i_log(be->ctx, EHAL_LOG_WARN, "%s: freed %u buffer(s) the caller did not free",
                   be->name, (unsigned)n);
}

EHAL_API uint64_t ehal_buffer_size(const ehal_buffer *buf) {
    return buf ? buf->size : 0;
}

EHAL_API ehal_backend *ehal_buffer_backend(const ehal_buffer *buf) {
    return buf ? buf->backend : NULL;
}

EHAL_API ehal_buffer_impl *ehal_buffer_handle(const ehal_buffer *buf) {
    return buf ? buf->impl : NULL;
}

static ehal_status_t check_range(ehal_buffer *buf, const char *what, uint64_t offset,
                                 const void *ptr, uint64_t size) {
    ehal_backend *be = buf->backend;
    if (buf->prepacked)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "%s: %s: the buffer is prepacked (backend-private layout)", be->name,
                           what);
    if (!ptr && size)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT, "%s: %s: host pointer is NULL",
                           be->name, what);
    if (offset > buf->size || size > buf->size - offset)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "%s: %s of %llu bytes at offset %llu exceeds the %llu-byte buffer",
                           be->name, what, (unsigned long long)size, (unsigned long long)offset,
                           (unsigned long long)buf->size);
    return EHAL_STATUS_OK;
}

EHAL_API ehal_status_t ehal_buffer_write(ehal_buffer *buf, uint64_t offset, const void *src,
                                         uint64_t size) {
    if (!buf)
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_status_t s = check_range(buf, "buffer_write", offset, src, size);
    if (s != EHAL_STATUS_OK || size == 0)
        return s;
    ehal_backend *be = buf->backend;
    ehal_i_plugin_error_clear(be);
    s = be->iface.buffer_write(be->impl, buf->impl, offset, src, size);
    return s == EHAL_STATUS_OK ? s : ehal_i_plugin_fail(be, s, "buffer_write");
}

EHAL_API ehal_status_t ehal_buffer_read(ehal_buffer *buf, uint64_t offset, void *dst,
                                        uint64_t size) {
    if (!buf)
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_status_t s = check_range(buf, "buffer_read", offset, dst, size);
    if (s != EHAL_STATUS_OK || size == 0)
        return s;
    ehal_backend *be = buf->backend;
    ehal_i_plugin_error_clear(be);
    s = be->iface.buffer_read(be->impl, buf->impl, offset, dst, size);
    return s == EHAL_STATUS_OK ? s : ehal_i_plugin_fail(be, s, "buffer_read");
}

EHAL_API ehal_status_t ehal_buffer_map(ehal_buffer *buf, void **ptr) {
    if (!buf)
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_backend *be = buf->backend;
    if (!ptr)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT, "buffer_map: ptr is NULL");
    *ptr = NULL;
    if (buf->prepacked)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "%s: buffer_map: the buffer is prepacked (backend-private layout)",
                           be->name);
    if (!be->iface.buffer_map)
        return ehal_i_fail(be->ctx, EHAL_STATUS_UNSUPPORTED, "%s: backend cannot map buffers",
                           be->name);
    ehal_i_plugin_error_clear(be);
    void *p = NULL;
    ehal_status_t s = be->iface.buffer_map(be->impl, buf->impl, &p);
    if (s != EHAL_STATUS_OK || !p)
        return ehal_i_plugin_fail(be, s != EHAL_STATUS_OK ? s : EHAL_STATUS_INTERNAL, "buffer_map");
    buf->mapped = 1;
    *ptr = p;
    return EHAL_STATUS_OK;
}

EHAL_API void ehal_buffer_unmap(ehal_buffer *buf) {
    if (!buf || !buf->mapped)
        return;
    ehal_backend *be = buf->backend;
    if (be->iface.buffer_unmap)
        be->iface.buffer_unmap(be->impl, buf->impl);
    buf->mapped = 0;
}
