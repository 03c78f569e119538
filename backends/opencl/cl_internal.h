/*
 * Private to the OpenCL plugin: the objects behind the ABI's opaque
 * handles and the functions the iface table in cl_plugin.c points at.
 *
 * Thread-safety: as the ABI says, one backend and everything made from it
 * is used by one thread at a time; nothing here locks. Init may setenv
 * POCL_CACHE_DIR (see cl_device.c), which is not thread-safe against other
 * threads reading the environment at that moment.
 */
#ifndef EHAL_CL_INTERNAL_H
#define EHAL_CL_INTERNAL_H

#include <stdint.h>

#include "cl_loader.h"
#include "edgehal/backend_abi.h"
#include "edgehal/backend_sdk.h"
#include "edgehal/ops.h"

#define CL_NAME "opencl"

#define CL_BACKEND_MAGIC 0x45434c42u /* "ECLB" */
#define CL_BUFFER_MAGIC 0x45434c55u  /* "ECLU" */
#define CL_EXE_MAGIC 0x45434c58u     /* "ECLX" */

/* Optional device features, used only where present and not disabled by
 * EHAL_OPENCL_DISABLE (comma list of these names, or "all"). */
#define CL_FEAT_FP16 1u      /* cl_khr_fp16 */
#define CL_FEAT_SUBGROUPS 2u /* cl_khr_subgroups / cl_intel_subgroups */
#define CL_FEAT_DOT8 4u      /* integer dot product extensions (MATMUL int8 dots) */

/* Kernels of the program, one per name in cl_program.c's table. */
enum {
    CLK_ELTWISE,
    CLK_COPY,
    CLK_GET_ROWS,
    CLK_RMS_NORM,
    CLK_SOFTMAX,
    CLK_ROPE,
    CLK_GEMV,
    CLK_GEMM,
    CLK_GEMV_Q,
    CLK_GEMM_Q,
    CLK_QUANT_ACT,
    CLK_KV_WRITE,
    CLK_ATTENTION,
    CLK_COUNT_
};
extern const char *const ehal_cl_kernel_names[CLK_COUNT_];

#define CL_RED_WG 64u    /* EHAL_RED_WG in the kernels */
#define CL_ATT_MAX_D 256 /* EHAL_RED_WG * EHAL_ATT_PER */
#define CL_GEMV_MAX_T 8  /* EHAL_GEMV_MAXT */
/* W and X tiles (4*tile rows of 33 floats each) and the per-row scales of
 * the quantized path (4*tile floats each). */
#define CL_GEMM_LOCAL_BYTES(tile) (2u * 4u * (tile)*33u * 4u + 2u * 4u * (tile)*4u)

struct ehal_backend_impl {
    uint32_t magic;
    const ehal_host_services *host; /* borrowed; valid until destroy (R9) */
    ehal_cl_fns cl;
    cl_platform_id platform;
    cl_device_id device;
    cl_context ctx;
    cl_command_queue queue;
    cl_program program;
    uint32_t kind;       /* EHAL_DEVICE_* */
    int host_unified;    /* CL_DEVICE_HOST_UNIFIED_MEMORY */
    uint64_t global_mem; /* bytes */
    uint64_t max_alloc;  /* CL_DEVICE_MAX_MEM_ALLOC_SIZE */
    size_t max_wg;       /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
    uint64_t local_mem;  /* CL_DEVICE_LOCAL_MEM_SIZE, bytes */
    uint32_t features;   /* CL_FEAT_* in use */
    uint32_t tile;       /* GEMM work-group edge (outputs: 4x that) */
    char name[64];
    char driver[64];
    char platform_name[64];
    char platform_version[128];
    char build_options[256];
};

struct ehal_buffer_impl {
    uint32_t magic;
    const ehal_backend_impl *owner;
    cl_mem mem;
    uint64_t size;
    void *mapped; /* non-NULL while mapped */
};

/* One enqueued kernel of a prepared node. */
typedef struct ocl_launch {
    cl_kernel kernel;
    uint32_t dims;
    size_t global[3];
    size_t local[3]; /* local[0] == 0: let the driver choose */
    cl_mem owned;    /* a constant table (ROPE) or scratch the node owns, or NULL */
    cl_kernel pre;   /* enqueued before kernel (MATMUL's X quantizer), or NULL */
    size_t pre_global; /* 1-D global size of pre (local: the driver's choice) */
} ocl_launch;

struct ehal_executable_impl {
    uint32_t magic;
    const ehal_backend_impl *owner;
    ehal_sdk_graph *graph; /* owned deep copy */
    uint32_t n_launches;
    ocl_launch *launches;
    cl_event last;        /* event of the last execute's final kernel; NULL if none */
    ehal_status_t status; /* of the last execute */
};

/* cl_device.c */
ehal_status_t ocl_init(const ehal_host_services *host, const ehal_option *opts, uint32_t n_opts,
                       ehal_backend_impl **out);
void ocl_destroy(ehal_backend_impl *be);
ehal_status_t ocl_device_info(ehal_backend_impl *be, ehal_device_info *info);
/* Sets POCL_CACHE_DIR when it is unset and PoCL's default is unwritable.
 * Returns 1 if it set it. */
int ocl_fix_pocl_cache_dir(const ehal_host_services *host);
/* Parses EHAL_OPENCL_DISABLE into CL_FEAT_* bits. */
uint32_t ocl_disabled_features(const ehal_host_services *host);

/* cl_program.c: builds (or loads from the on-disk cache) be->program. */
ehal_status_t ocl_program_build(ehal_backend_impl *be);

/* cl_buffer.c */
ehal_status_t ocl_buffer_alloc(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                               ehal_buffer_impl **out);
void ocl_buffer_free(ehal_backend_impl *be, ehal_buffer_impl *buf);
ehal_status_t ocl_buffer_write(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                               const void *src, uint64_t size);
ehal_status_t ocl_buffer_read(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                              void *dst, uint64_t size);
ehal_status_t ocl_buffer_map(ehal_backend_impl *be, ehal_buffer_impl *buf, void **ptr);
void ocl_buffer_unmap(ehal_backend_impl *be, ehal_buffer_impl *buf);
int ocl_backend_ok(const ehal_backend_impl *be);

/* cl_ops.c: per-op kernel setup, a table indexed by op id. Fills one
 * launch for node `node` of sg (already validated and checked by
 * ocl_op_supported); logs and returns an error otherwise. */
ehal_status_t ocl_op_setup(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                           ocl_launch *l);
/* 1 if this plugin runs the (validated) node; else 0 with a reason. */
int ocl_op_supported(const ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node, char *why,
                     size_t why_size);

/* cl_query.c */
ehal_status_t ocl_query_op(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                           ehal_op_support *out);

/* cl_exec.c */
ehal_status_t ocl_prepare(ehal_backend_impl *be, const ehal_subgraph *sg,
                          ehal_executable_impl **out);
ehal_status_t ocl_execute(ehal_backend_impl *be, ehal_executable_impl *exe,
                          const ehal_execute_args *args);
ehal_status_t ocl_wait(ehal_backend_impl *be, ehal_executable_impl *exe, uint64_t timeout_ns);
void ocl_release(ehal_backend_impl *be, ehal_executable_impl *exe);

/* The embedded kernel source (generated at build time). */
extern const char ehal_cl_kernel_source[];
extern const char ehal_cl_kernel_source_files[];
#endif
