/*
 * Private to the CPU plugin: the objects behind the ABI's opaque handles and
 * the functions the iface table in cpu_plugin.c points at. Everything here
 * has hidden visibility (the plugin exports only ehal_backend_entry).
 *
 * Thread-safety: as the ABI says, one backend and everything made from it is
 * used by one thread at a time; nothing here locks.
 */
#ifndef EHAL_CPU_INTERNAL_H
#define EHAL_CPU_INTERNAL_H

#include <stdint.h>

#include "edgehal/backend_abi.h"
#include "edgehal/backend_sdk.h"
#include "edgehal/ops.h"

#include "cpu_matmul.h"
#include "cpu_pool.h"

#define CPU_NAME "cpu"

/* Most worker threads the "threads" option accepts; 0 means one per online
 * CPU. */
#define CPU_MAX_THREADS 1024u

/* Tags to catch a handle of the wrong kind or one already released. */
#define CPU_BACKEND_MAGIC 0x45435042u /* "ECPB" */
#define CPU_BUFFER_MAGIC 0x45435055u  /* "ECPU" */
#define CPU_EXE_MAGIC 0x45435058u     /* "ECPX" */

/* A pool-aware kernel. Returns EHAL_STATUS_UNSUPPORTED, having written
 * nothing, for an instance it does not cover: the caller then runs the
 * reference kernel. */
typedef ehal_status_t (*cpu_op_fn)(ehal_backend_impl *be, const ehal_kernel_args *a);

struct ehal_backend_impl {
    uint32_t magic;
    /* Borrowed from the core; valid until cpu_destroy returns (R9). */
    const ehal_host_services *host;
    /* Requested worker threads (0 = one per online CPU). */
    uint64_t threads;
    /* Persistent workers (threads resolved to >= 1); NULL: single-threaded. */
    cpu_pool *pool;
    /* Kernel per op id, chosen at init from the variants in cpu_kernels.c;
     * NULL where the backend has no kernel. For an op with a pool-aware
     * kernel in `fast`, this is its reference kernel (used by the checks
     * and as the fallback for instances the fast kernel declines). */
    ehal_kernel_fn kernels[EHAL_OP_ID_LIMIT_];
    cpu_op_fn fast[EHAL_OP_ID_LIMIT_];
    /* MATMUL micro-kernels per weight dtype id and kind (GEMV, GEMM). */
    const cpu_mm_variant *mm[EHAL_DTYPE_ID_LIMIT_][2];
    /* ATTENTION row kernels per KV dtype id. */
    const struct cpu_attn_variant *attn[EHAL_DTYPE_ID_LIMIT_];
};

struct ehal_buffer_impl {
    uint32_t magic;
    const ehal_backend_impl *owner; /* the backend that made it */
    uint32_t flags;   /* EHAL_BUFFER_* given at creation */
    int imported;     /* 1: data is the caller's memory and is not freed */
    unsigned char *data;
    uint64_t size;    /* bytes */
};

struct ehal_executable_impl {
    uint32_t magic;
    const ehal_backend_impl *owner; /* the backend that prepared it */
    ehal_status_t status; /* of the last execute; OK before the first */
    ehal_sdk_graph *graph; /* owned deep copy of the prepared subgraph */
};

/* cpu_backend.c */
ehal_status_t cpu_init(const ehal_host_services *host, const ehal_option *opts, uint32_t n_opts,
                       ehal_backend_impl **out);
void cpu_destroy(ehal_backend_impl *be);
/* 1 if be is a live backend of this plugin. A NULL or foreign handle has no
 * host services to log through, so callers return INVALID_ARGUMENT silently. */
int cpu_backend_ok(const ehal_backend_impl *be);

/* cpu_device.c */
ehal_status_t cpu_device_info(ehal_backend_impl *be, ehal_device_info *info);

/* cpu_buffer.c */
ehal_status_t cpu_buffer_alloc(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                               ehal_buffer_impl **out);
void cpu_buffer_free(ehal_backend_impl *be, ehal_buffer_impl *buf);
ehal_status_t cpu_buffer_write(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                               const void *src, uint64_t size);
ehal_status_t cpu_buffer_read(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                              void *dst, uint64_t size);
ehal_status_t cpu_buffer_map(ehal_backend_impl *be, ehal_buffer_impl *buf, void **ptr);
void cpu_buffer_unmap(ehal_backend_impl *be, ehal_buffer_impl *buf);
ehal_status_t cpu_buffer_import_host(ehal_backend_impl *be, void *ptr, uint64_t size,
                                     uint32_t flags, ehal_buffer_impl **out);
/* OK if buf is a live buffer of this plugin; else logs and INVALID_ARGUMENT. */
ehal_status_t cpu_check_buffer(const ehal_backend_impl *be, const ehal_buffer_impl *buf,
                               const char *what);

/* cpu_exec.c */
ehal_status_t cpu_prepare(ehal_backend_impl *be, const ehal_subgraph *sg,
                          ehal_executable_impl **out);
ehal_status_t cpu_execute(ehal_backend_impl *be, ehal_executable_impl *exe,
                          const ehal_execute_args *args);
ehal_status_t cpu_wait(ehal_backend_impl *be, ehal_executable_impl *exe, uint64_t timeout_ns);
void cpu_release(ehal_backend_impl *be, ehal_executable_impl *exe);

/* cpu_kernels.c: fills be->kernels/fast/mm/attn and logs the choice. */
void cpu_kernels_select(ehal_backend_impl *be);

/* cpu_ops.c: the pool-aware op kernels. */
ehal_status_t cpu_op_matmul(ehal_backend_impl *be, const ehal_kernel_args *a);
ehal_status_t cpu_op_attention(ehal_backend_impl *be, const ehal_kernel_args *a);

/* cpu_query.c */
ehal_status_t cpu_query_op(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                           ehal_op_support *out);

#endif
