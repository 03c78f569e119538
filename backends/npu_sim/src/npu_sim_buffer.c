/*
 * Simulated device memory (R14, R15). Buffers are host memory, but every
 * byte is counted against the configured budget (npu_sim.memory): an
 * allocation past it fails with OUT_OF_MEMORY naming the requested and
 * available bytes, and the backend stays usable. There is no map and no
 * import: like a discrete NPU, data moves only by buffer_write/buffer_read.
 */
#include <string.h>

#include "npu_sim_internal.h"

#define NPU_SIM_KNOWN_FLAGS (EHAL_BUFFER_WEIGHTS | EHAL_BUFFER_HOST_READ)

ehal_status_t npu_sim_reserve(ehal_backend_impl *be, const char *what, uint64_t bytes) {
    uint64_t avail = be->cfg.memory_bytes - be->used_bytes;
    if (bytes > avail) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     NPU_SIM_NAME
                     ": %s: out of device memory: %llu bytes requested, %llu of "
                     "%llu bytes available (set npu_sim.memory or EHAL_NPU_SIM_MEMORY)",
                     what, (unsigned long long)bytes, (unsigned long long)avail,
                     (unsigned long long)be->cfg.memory_bytes);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    be->used_bytes += bytes;
    return EHAL_STATUS_OK;
}

void npu_sim_unreserve(ehal_backend_impl *be, uint64_t bytes) {
    be->used_bytes = bytes > be->used_bytes ? 0 : be->used_bytes - bytes;
}

ehal_status_t npu_sim_check_buffer(const ehal_backend_impl *be, const ehal_buffer_impl *buf,
                                   const char *what) {
    if (buf == NULL || buf->magic != NPU_SIM_BUFFER_MAGIC || buf->owner != be) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "%s: buffer %p is %s", what, (const void *)buf,
                     buf == NULL                          ? "NULL"
                     : buf->magic != NPU_SIM_BUFFER_MAGIC ? "not a live " NPU_SIM_NAME " buffer"
                                                          : "from another backend instance");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

ehal_status_t npu_sim_buffer_alloc(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                                   ehal_buffer_impl **out) {
    if (!npu_sim_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (out == NULL || size == 0) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "buffer_alloc: %s",
                     out == NULL ? "out is NULL" : "size is 0");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    if ((flags & ~NPU_SIM_KNOWN_FLAGS) != 0) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "buffer_alloc: unknown flags 0x%x",
                     flags & ~NPU_SIM_KNOWN_FLAGS);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_status_t st = npu_sim_reserve(be, "buffer_alloc", size);
    if (st != EHAL_STATUS_OK)
        return st;
    ehal_buffer_impl *buf = ehal_sdk_calloc(be->host, 1, sizeof *buf);
    void *data = (buf != NULL && size <= SIZE_MAX) ? ehal_sdk_alloc(be->host, (size_t)size) : NULL;
    if (data == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "buffer_alloc: host out of memory for %llu bytes",
                     (unsigned long long)size);
        ehal_sdk_free(be->host, buf);
        npu_sim_unreserve(be, size);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    memset(data, 0, (size_t)size);
    buf->magic = NPU_SIM_BUFFER_MAGIC;
    buf->owner = be;
    buf->data = data;
    buf->size = size;
    *out = buf;
    return EHAL_STATUS_OK;
}

void npu_sim_buffer_free(ehal_backend_impl *be, ehal_buffer_impl *buf) {
    if (!npu_sim_backend_ok(be) || buf == NULL)
        return;
    if (npu_sim_check_buffer(be, buf, "buffer_free") != EHAL_STATUS_OK)
        return;
    npu_sim_unreserve(be, buf->size);
    ehal_sdk_free(be->host, buf->data);
    buf->magic = 0;
    ehal_sdk_free(be->host, buf);
}

static ehal_status_t check_range(const ehal_backend_impl *be, const ehal_buffer_impl *buf,
                                 const char *what, uint64_t offset, const void *ptr,
                                 uint64_t size) {
    ehal_status_t st = npu_sim_check_buffer(be, buf, what);
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

/* Execution is synchronous, so R18 holds without waiting. */
ehal_status_t npu_sim_buffer_write(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                                   const void *src, uint64_t size) {
    if (!npu_sim_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_status_t st = check_range(be, buf, "buffer_write", offset, src, size);
    if (st == EHAL_STATUS_OK && size != 0)
        memmove(buf->data + offset, src, (size_t)size);
    return st;
}

ehal_status_t npu_sim_buffer_read(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                                  void *dst, uint64_t size) {
    if (!npu_sim_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_status_t st = check_range(be, buf, "buffer_read", offset, dst, size);
    if (st == EHAL_STATUS_OK && size != 0)
        memmove(dst, buf->data + offset, (size_t)size);
    return st;
}
