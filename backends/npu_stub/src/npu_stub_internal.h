/*
 * Private to the npu_stub plugin: the objects behind the ABI's opaque
 * handles and the functions the table in npu_stub_plugin.c points at.
 * Everything here has hidden visibility; the plugin exports only
 * ehal_backend_entry (R7).
 *
 * Thread-safety: one backend and everything made from it is used by one
 * thread at a time (docs/threading.md); nothing here locks.
 *
 * VENDOR: rename the prefix npu_stub_/NPU_STUB_ to your backend's name
 * (README.md, step 2), then grow these structs with your driver's handles.
 */
#ifndef EHAL_NPU_STUB_INTERNAL_H
#define EHAL_NPU_STUB_INTERNAL_H

#include <stdint.h>

#include "edgehal/backend_abi.h"
#include "edgehal/backend_sdk.h"
#include "edgehal/ops.h"

/* The backend's name: iface->name and the options prefix
 * ("npu_stub.<key>" in context options). Must match the file name
 * libedgehal-<name>.so. */
#define NPU_STUB_NAME "npu_stub"

/* Tags that catch a handle of the wrong kind or one already released. */
#define NPU_STUB_BACKEND_MAGIC 0x4e505342u /* "NPSB" */
#define NPU_STUB_BUFFER_MAGIC 0x4e505355u  /* "NPSU" */
#define NPU_STUB_EXE_MAGIC 0x4e505358u     /* "NPSX" */

struct ehal_backend_impl {
    uint32_t magic;
    /* Borrowed from the core; valid until npu_stub_destroy returns (R9). */
    const ehal_host_services *host;
    /* VENDOR: your driver's device / session handle goes here. */
};

/* A buffer is host memory standing in for device memory.
 * VENDOR: replace `data` with your device allocation handle. */
struct ehal_buffer_impl {
    uint32_t magic;
    const ehal_backend_impl *owner; /* the backend that made it */
    unsigned char *data;            /* host memory, owned */
    uint64_t size;                  /* bytes */
};

/* npu_stub_device.c */
ehal_status_t npu_stub_init(const ehal_host_services *host, const ehal_option *opts,
                            uint32_t n_opts, ehal_backend_impl **out);
void npu_stub_destroy(ehal_backend_impl *be);
ehal_status_t npu_stub_device_info(ehal_backend_impl *be, ehal_device_info *info);
/* 1 if be is a live backend of this plugin. A foreign handle has no host
 * services to log through, so callers return INVALID_ARGUMENT silently. */
int npu_stub_backend_ok(const ehal_backend_impl *be);

/* npu_stub_buffer.c */
ehal_status_t npu_stub_buffer_alloc(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                                    ehal_buffer_impl **out);
void npu_stub_buffer_free(ehal_backend_impl *be, ehal_buffer_impl *buf);
ehal_status_t npu_stub_buffer_write(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                                    const void *src, uint64_t size);
ehal_status_t npu_stub_buffer_read(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                                   void *dst, uint64_t size);
/* OK if buf is a live buffer of this backend; else logs and INVALID_ARGUMENT. */
ehal_status_t npu_stub_check_buffer(const ehal_backend_impl *be, const ehal_buffer_impl *buf,
                                    const char *what);

/* npu_stub_query.c */
ehal_status_t npu_stub_query_op(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                                ehal_op_support *out);

/* npu_stub_exec.c */
ehal_status_t npu_stub_prepare(ehal_backend_impl *be, const ehal_subgraph *sg,
                               ehal_executable_impl **out);
ehal_status_t npu_stub_execute(ehal_backend_impl *be, ehal_executable_impl *exe,
                               const ehal_execute_args *args);
ehal_status_t npu_stub_wait(ehal_backend_impl *be, ehal_executable_impl *exe, uint64_t timeout_ns);
void npu_stub_release(ehal_backend_impl *be, ehal_executable_impl *exe);

#endif
