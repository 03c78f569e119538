/*
 * Buffers are cl_mem (CL_MEM_ALLOC_HOST_PTR on host-unified devices).
 * Reads and writes are blocking on the in-order queue, so they are ordered
 * after every execute submitted before them (R18).
 */
#include <inttypes.h>
#include <string.h>

#include "cl_internal.h"

static ehal_status_t check_buf(const ehal_backend_impl *be, const ehal_buffer_impl *buf,
                               const char *what) {
    if (!buf || buf->magic != CL_BUFFER_MAGIC || buf->owner != be) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "opencl: %s: not a live buffer of this backend",
                     what);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

static ehal_status_t check_range(const ehal_backend_impl *be, const ehal_buffer_impl *buf,
                                 uint64_t off, uint64_t size, const char *what) {
    ehal_status_t st = check_buf(be, buf, what);
    if (st == EHAL_STATUS_OK && (off > buf->size || size > buf->size - off)) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "opencl: %s: range [%" PRIu64 ", +%" PRIu64 ") outside buffer of %" PRIu64
                     " bytes",
                     what, off, size, buf->size);
        st = EHAL_STATUS_INVALID_ARGUMENT;
    }
    return st;
}

ehal_status_t ocl_buffer_alloc(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                               ehal_buffer_impl **out) {
    (void)flags;
    if (!ocl_backend_ok(be) || !out) {
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    if (size > be->max_alloc) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "opencl: buffer of %" PRIu64 " bytes exceeds %s's largest allocation "
                     "(CL_DEVICE_MAX_MEM_ALLOC_SIZE %" PRIu64 ")",
                     size, be->name, be->max_alloc);
        return EHAL_STATUS_UNSUPPORTED;
    }
    ehal_buffer_impl *b = ehal_sdk_calloc(be->host, 1, sizeof *b);
    if (!b) {
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    cl_int err = CL_SUCCESS;
    cl_mem_flags mf = CL_MEM_READ_WRITE | (be->host_unified ? CL_MEM_ALLOC_HOST_PTR : 0);
    b->mem = be->cl.clCreateBuffer(be->ctx, mf, size ? (size_t)size : 4u, NULL, &err);
    if (!b->mem) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "opencl: clCreateBuffer(%" PRIu64 "): %s", size,
                     ehal_cl_err(err));
        ehal_sdk_free(be->host, b);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    b->magic = CL_BUFFER_MAGIC;
    b->owner = be;
    b->size = size;
    *out = b;
    return EHAL_STATUS_OK;
}

void ocl_buffer_free(ehal_backend_impl *be, ehal_buffer_impl *buf) {
    if (!ocl_backend_ok(be) || !buf || check_buf(be, buf, "buffer_free") != EHAL_STATUS_OK) {
        return;
    }
    if (buf->mapped) {
        ocl_buffer_unmap(be, buf);
    }
    be->cl.clFinish(be->queue); /* no queued kernel may still use it */
    be->cl.clReleaseMemObject(buf->mem);
    buf->magic = 0;
    ehal_sdk_free(be->host, buf);
}

ehal_status_t ocl_buffer_write(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                               const void *src, uint64_t size) {
    if (!ocl_backend_ok(be) || (!src && size)) {
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_status_t st = check_range(be, buf, offset, size, "buffer_write");
    if (st != EHAL_STATUS_OK || size == 0) {
        return st;
    }
    cl_int err = be->cl.clEnqueueWriteBuffer(be->queue, buf->mem, CL_TRUE, (size_t)offset,
                                             (size_t)size, src, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "opencl: clEnqueueWriteBuffer: %s",
                     ehal_cl_err(err));
        return EHAL_STATUS_INTERNAL;
    }
    return EHAL_STATUS_OK;
}

ehal_status_t ocl_buffer_read(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                              void *dst, uint64_t size) {
    if (!ocl_backend_ok(be) || (!dst && size)) {
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_status_t st = check_range(be, buf, offset, size, "buffer_read");
    if (st != EHAL_STATUS_OK || size == 0) {
        return st;
    }
    cl_int err = be->cl.clEnqueueReadBuffer(be->queue, buf->mem, CL_TRUE, (size_t)offset,
                                            (size_t)size, dst, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "opencl: clEnqueueReadBuffer: %s", ehal_cl_err(err));
        return EHAL_STATUS_INTERNAL;
    }
    return EHAL_STATUS_OK;
}

ehal_status_t ocl_buffer_map(ehal_backend_impl *be, ehal_buffer_impl *buf, void **ptr) {
    if (!ocl_backend_ok(be) || !ptr) {
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_status_t st = check_buf(be, buf, "buffer_map");
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    if (!buf->mapped) {
        cl_int err = CL_SUCCESS;
        buf->mapped =
            be->cl.clEnqueueMapBuffer(be->queue, buf->mem, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0,
                                      buf->size ? (size_t)buf->size : 4u, 0, NULL, NULL, &err);
        if (!buf->mapped) {
            ehal_sdk_log(be->host, EHAL_LOG_ERROR, "opencl: clEnqueueMapBuffer: %s",
                         ehal_cl_err(err));
            return EHAL_STATUS_INTERNAL;
        }
    }
    *ptr = buf->mapped;
    return EHAL_STATUS_OK;
}

void ocl_buffer_unmap(ehal_backend_impl *be, ehal_buffer_impl *buf) {
    if (!ocl_backend_ok(be) || check_buf(be, buf, "buffer_unmap") != EHAL_STATUS_OK ||
        !buf->mapped) {
        return;
    }
    be->cl.clEnqueueUnmapMemObject(be->queue, buf->mem, buf->mapped, 0, NULL, NULL);
    be->cl.clFinish(be->queue);
    buf->mapped = NULL;
}
