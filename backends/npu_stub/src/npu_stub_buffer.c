/*
 * Buffers (R14, R15). The stub keeps them in host memory so that buffer
 * traffic works from day one: `edgehal conformance` can exercise buffers and
 * the first op a vendor implements (README.md, step 3) runs on these
 * buffers without touching this file. Memory comes from host services
 * (16-byte aligned, enough for every dtype), zeroed.
 *
 * VENDOR: replace data_alloc/data_free and the two memmoves with your
 * driver's allocation and DMA copies; keep the checks and the messages.
 */
#include <string.h>

#include "npu_stub_internal.h"

#define NPU_STUB_BUFFER_KNOWN_FLAGS (EHAL_BUFFER_WEIGHTS | EHAL_BUFFER_HOST_READ)

ehal_status_t npu_stub_check_buffer(const ehal_backend_impl *be, const ehal_buffer_impl *buf,
                                    const char *what) {
    if (buf == NULL || buf->magic != NPU_STUB_BUFFER_MAGIC || buf->owner != be) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "%s: buffer %p is %s", what, (const void *)buf,
                     buf == NULL                           ? "NULL"
                     : buf->magic != NPU_STUB_BUFFER_MAGIC ? "not a live " NPU_STUB_NAME " buffer"
                                                           : "from another backend instance");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

ehal_status_t npu_stub_buffer_alloc(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                                    ehal_buffer_impl **out) {
    if (!npu_stub_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (out == NULL || size == 0) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "buffer_alloc: %s",
                     out == NULL ? "out is NULL" : "size is 0");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    if ((flags & ~NPU_STUB_BUFFER_KNOWN_FLAGS) != 0) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "buffer_alloc: unknown flags 0x%x",
                     flags & ~NPU_STUB_BUFFER_KNOWN_FLAGS);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_buffer_impl *buf = ehal_sdk_calloc(be->host, 1, sizeof *buf);
    void *data = NULL;
    if (buf != NULL && size <= SIZE_MAX)
        data = ehal_sdk_alloc(be->host, (size_t)size);
    if (data == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "buffer_alloc: out of memory for %llu bytes",
                     (unsigned long long)size);
        ehal_sdk_free(be->host, buf);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    memset(data, 0, (size_t)size);
    buf->magic = NPU_STUB_BUFFER_MAGIC;
    buf->owner = be;
    buf->data = data;
    buf->size = size;
    *out = buf;
    return EHAL_STATUS_OK;
}

void npu_stub_buffer_free(ehal_backend_impl *be, ehal_buffer_impl *buf) {
    if (!npu_stub_backend_ok(be) || buf == NULL)
        return;
    if (npu_stub_check_buffer(be, buf, "buffer_free") != EHAL_STATUS_OK)
        return;
    ehal_sdk_free(be->host, buf->data);
    buf->magic = 0;
    ehal_sdk_free(be->host, buf);
}

/* The core checked the range and the host pointer (R15); this re-check
 * keeps a direct caller of the table from corrupting memory. */
static ehal_status_t check_range(const ehal_backend_impl *be, const ehal_buffer_impl *buf,
                                 const char *what, uint64_t offset, const void *ptr,
                                 uint64_t size) {
    ehal_status_t st = npu_stub_check_buffer(be, buf, what);
    if (st != EHAL_STATUS_OK)
        return st;
    if (offset > buf->size || size > buf->size - offset || (ptr == NULL && size != 0)) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "%s: %llu bytes at offset %llu (host pointer %p) do not "
                     "fit the %llu-byte buffer",
                     what, (unsigned long long)size, (unsigned long long)offset, ptr,
                     (unsigned long long)buf->size);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

/* Synchronous; nothing ever runs on the device, so R18 holds trivially.
 * VENDOR: with an asynchronous queue, drain it before copying (R18). */
ehal_status_t npu_stub_buffer_write(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                                    const void *src, uint64_t size) {
    if (!npu_stub_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_status_t st = check_range(be, buf, "buffer_write", offset, src, size);
    if (st == EHAL_STATUS_OK && size != 0)
        memmove(buf->data + offset, src, (size_t)size);
    return st;
}

ehal_status_t npu_stub_buffer_read(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                                   void *dst, uint64_t size) {
    if (!npu_stub_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_status_t st = check_range(be, buf, "buffer_read", offset, dst, size);
    if (st == EHAL_STATUS_OK && size != 0)
        memmove(dst, buf->data + offset, (size_t)size);
    return st;
}
