/*
 * CPU buffers are host memory (EHAL_DEVICE_HOST_SHARED): 64-byte aligned
 * (a cache line, and the widest SIMD load issue #4 will use), allocated
 * through host services so the core can account for it and inject failures.
 * Map returns the memory itself; import_host wraps the caller's memory
 * without copying, and free leaves that memory to the caller.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

#define CPU_BUFFER_ALIGN 64u
#define CPU_BUFFER_KNOWN_FLAGS (EHAL_BUFFER_WEIGHTS | EHAL_BUFFER_HOST_READ)

#define HOST_HAS(h, field)                                                                  \
    ((h) != NULL &&                                                                        \
     (h)->struct_size >= offsetof(ehal_host_services, field) + sizeof((h)->field) &&       \
     (h)->field != NULL)

/* Host allocator when it offers both alloc and free, else C11 aligned_alloc;
 * data_free must take the same branch. */
static void *data_alloc(const ehal_host_services *host, uint64_t size)
{
    if (size > SIZE_MAX - CPU_BUFFER_ALIGN)
        return NULL;
    if (HOST_HAS(host, alloc) && HOST_HAS(host, free))
        return host->alloc(host->user, (size_t)size, CPU_BUFFER_ALIGN);
    size_t rounded = ((size_t)size + CPU_BUFFER_ALIGN - 1) & ~(size_t)(CPU_BUFFER_ALIGN - 1);
    return aligned_alloc(CPU_BUFFER_ALIGN, rounded);
}

static void data_free(const ehal_host_services *host, void *p)
{
    if (p == NULL)
        return;
    if (HOST_HAS(host, alloc) && HOST_HAS(host, free))
        host->free(host->user, p);
    else
        free(p);
}

ehal_status_t cpu_check_buffer(const ehal_backend_impl *be, const ehal_buffer_impl *buf,
                               const char *what)
{
    if (buf == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "%s: buffer is NULL", what);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    if (buf->magic != CPU_BUFFER_MAGIC) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "%s: buffer %p is not a live cpu buffer (tag 0x%08x)", what,
                     (const void *)buf, buf->magic);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    if (buf->owner != be) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "%s: buffer %p belongs to another cpu backend instance", what,
                     (const void *)buf);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

static ehal_status_t check_flags(const ehal_backend_impl *be, const char *what, uint32_t flags)
{
    if ((flags & ~CPU_BUFFER_KNOWN_FLAGS) != 0) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "%s: unknown buffer flags 0x%x", what,
                     flags & ~CPU_BUFFER_KNOWN_FLAGS);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

static ehal_buffer_impl *new_wrapper(const ehal_backend_impl *be, uint32_t flags)
{
    ehal_buffer_impl *buf = ehal_sdk_calloc(be->host, 1, sizeof *buf);
    if (buf != NULL) {
        buf->magic = CPU_BUFFER_MAGIC;
        buf->owner = be;
        buf->flags = flags;
    }
    return buf;
}

ehal_status_t cpu_buffer_alloc(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                               ehal_buffer_impl **out)
{
    if (!cpu_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (out == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "buffer_alloc: out is NULL");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    if (size == 0) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "buffer_alloc: size is 0");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_status_t st = check_flags(be, "buffer_alloc", flags);
    if (st != EHAL_STATUS_OK)
        return st;
    ehal_buffer_impl *buf = new_wrapper(be, flags);
    void *data = buf != NULL ? data_alloc(be->host, size) : NULL;
    if (data == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "buffer_alloc: out of memory for %llu bytes",
                     (unsigned long long)size);
        ehal_sdk_free(be->host, buf);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    if ((uintptr_t)data % CPU_BUFFER_ALIGN != 0) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "buffer_alloc: host allocator returned %p for %llu bytes, not %u-byte "
                     "aligned as asked",
                     data, (unsigned long long)size, CPU_BUFFER_ALIGN);
        data_free(be->host, data);
        ehal_sdk_free(be->host, buf);
        return EHAL_STATUS_INTERNAL;
    }
    /* Zeroed, so a read before any write is deterministic and no stale host
     * data leaks into results. */
    memset(data, 0, (size_t)size);
    buf->data = data;
    buf->size = size;
    *out = buf;
    return EHAL_STATUS_OK;
}

ehal_status_t cpu_buffer_import_host(ehal_backend_impl *be, void *ptr, uint64_t size,
                                     uint32_t flags, ehal_buffer_impl **out)
{
    if (!cpu_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (out == NULL || ptr == NULL || size == 0) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "buffer_import_host: %s",
                     out == NULL ? "out is NULL" : ptr == NULL ? "ptr is NULL" : "size is 0");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    if ((uintptr_t)ptr > UINTPTR_MAX - size) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "buffer_import_host: %p + %llu bytes wraps the address space", ptr,
                     (unsigned long long)size);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_status_t st = check_flags(be, "buffer_import_host", flags);
    if (st != EHAL_STATUS_OK)
        return st;
    ehal_buffer_impl *buf = new_wrapper(be, flags);
    if (buf == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "buffer_import_host: out of memory");
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    buf->data = ptr;
    buf->size = size;
    buf->imported = 1;
    *out = buf;
    return EHAL_STATUS_OK;
}

void cpu_buffer_free(ehal_backend_impl *be, ehal_buffer_impl *buf)
{
    if (!cpu_backend_ok(be) || buf == NULL)
        return;
    if (cpu_check_buffer(be, buf, "buffer_free") != EHAL_STATUS_OK)
        return;
    if (!buf->imported)
        data_free(be->host, buf->data);
    buf->magic = 0;
    ehal_sdk_free(be->host, buf);
}

/* offset + size must lie within the buffer, without overflow. */
static ehal_status_t check_range(const ehal_backend_impl *be, const ehal_buffer_impl *buf,
                                 const char *what, uint64_t offset, const void *ptr,
                                 uint64_t size)
{
    ehal_status_t st = cpu_check_buffer(be, buf, what);
    if (st != EHAL_STATUS_OK)
        return st;
    if (offset > buf->size || size > buf->size - offset) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "%s: range [%llu, +%llu) is outside the buffer of %llu bytes", what,
                     (unsigned long long)offset, (unsigned long long)size,
                     (unsigned long long)buf->size);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    if (ptr == NULL && size != 0) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "%s: host pointer is NULL for %llu bytes",
                     what, (unsigned long long)size);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

/* Execution is synchronous, so every earlier execute has finished and the
 * ordering rule (R18) holds without waiting. */
ehal_status_t cpu_buffer_write(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                               const void *src, uint64_t size)
{
    if (!cpu_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_status_t st = check_range(be, buf, "buffer_write", offset, src, size);
    if (st == EHAL_STATUS_OK && size != 0)
        memmove(buf->data + offset, src, (size_t)size);
    return st;
}

ehal_status_t cpu_buffer_read(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                              void *dst, uint64_t size)
{
    if (!cpu_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_status_t st = check_range(be, buf, "buffer_read", offset, dst, size);
    if (st == EHAL_STATUS_OK && size != 0)
        memmove(dst, buf->data + offset, (size_t)size);
    return st;
}

/* The pointer stays valid until the buffer is freed; unmap is a no-op. */
ehal_status_t cpu_buffer_map(ehal_backend_impl *be, ehal_buffer_impl *buf, void **ptr)
{
    if (!cpu_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (ptr == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "buffer_map: ptr is NULL");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *ptr = NULL;
    ehal_status_t st = cpu_check_buffer(be, buf, "buffer_map");
    if (st == EHAL_STATUS_OK)
        *ptr = buf->data;
    return st;
}

void cpu_buffer_unmap(ehal_backend_impl *be, ehal_buffer_impl *buf)
{
    if (cpu_backend_ok(be))
        (void)cpu_check_buffer(be, buf, "buffer_unmap");
}
