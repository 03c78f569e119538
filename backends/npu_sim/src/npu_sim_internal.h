/*
 * Private to the npu_sim plugin: the simulated device's parameters, the
 * objects behind the ABI's opaque handles and the functions the table in
 * npu_sim_plugin.c points at. Hidden visibility throughout (R7).
 *
 * Thread-safety: one backend and everything made from it is used by one
 * thread at a time (docs/threading.md); nothing here locks.
 */
#ifndef EHAL_NPU_SIM_INTERNAL_H
#define EHAL_NPU_SIM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "edgehal/backend_abi.h"
#include "edgehal/backend_sdk.h"
#include "edgehal/ops.h"
#include "edgehal/quant.h"

#define NPU_SIM_NAME "npu_sim"

#define NPU_SIM_BACKEND_MAGIC 0x4e53494du /* "NSIM" */
#define NPU_SIM_BUFFER_MAGIC 0x4e534942u  /* "NSIB" */
#define NPU_SIM_EXE_MAGIC 0x4e534958u     /* "NSIX" */

/* The simulated device. Set at init from EHAL_NPU_SIM_* and the options
 * (npu_sim_config.c); constant afterwards. */
typedef struct npu_sim_config {
    uint64_t memory_bytes; /* device memory budget, bytes (> 0) */
    double tops;           /* effective int8 MAC throughput, 1e12 ops/s (> 0) */
    uint64_t latency_us;   /* fixed cost of one dispatch, microseconds */
    uint64_t compile_ms;   /* time prepare spends compiling, milliseconds */
    double link_gbps;      /* host<->device copy bandwidth, 1e9 bytes/s (> 0) */
} npu_sim_config;

struct ehal_backend_impl {
    uint32_t magic;
    /* Borrowed from the core; valid until npu_sim_destroy returns (R9). */
    const ehal_host_services *host;
    npu_sim_config cfg;
    uint64_t used_bytes; /* device memory in live buffers and scratch */
};

/* Device memory, simulated by host memory; counted against the budget. */
struct ehal_buffer_impl {
    uint32_t magic;
    const ehal_backend_impl *owner;
    unsigned char *data; /* host memory, owned */
    uint64_t size;       /* bytes */
};

/* npu_sim_config.c: defaults, then EHAL_NPU_SIM_* variables, then options
 * (an option wins over the variable). A malformed value fails with a logged
 * line naming the key (or variable) and the value. */
void npu_sim_config_defaults(npu_sim_config *cfg);
ehal_status_t npu_sim_config_parse(const ehal_host_services *host, const ehal_option *opts,
                                   uint32_t n_opts, npu_sim_config *cfg);

/* npu_sim_device.c */
ehal_status_t npu_sim_init(const ehal_host_services *host, const ehal_option *opts, uint32_t n_opts,
                           ehal_backend_impl **out);
void npu_sim_destroy(ehal_backend_impl *be);
ehal_status_t npu_sim_device_info(ehal_backend_impl *be, ehal_device_info *info);
int npu_sim_backend_ok(const ehal_backend_impl *be);

/* npu_sim_buffer.c. reserve/unreserve account device memory (buffers and
 * prepare's scratch); reserve logs and returns OUT_OF_MEMORY naming the
 * requested and available bytes when the budget is exceeded. */
ehal_status_t npu_sim_reserve(ehal_backend_impl *be, const char *what, uint64_t bytes);
void npu_sim_unreserve(ehal_backend_impl *be, uint64_t bytes);
ehal_status_t npu_sim_buffer_alloc(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                                   ehal_buffer_impl **out);
void npu_sim_buffer_free(ehal_backend_impl *be, ehal_buffer_impl *buf);
ehal_status_t npu_sim_buffer_write(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                                   const void *src, uint64_t size);
ehal_status_t npu_sim_buffer_read(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                                  void *dst, uint64_t size);
ehal_status_t npu_sim_check_buffer(const ehal_backend_impl *be, const ehal_buffer_impl *buf,
                                   const char *what);

/* npu_sim_ops.c: the ops the device runs, one table indexed by op id.
 * supported: 1 if node `node` (already catalog-valid) is an instance the
 * device runs; else 0 with a reason in why. work: int8 MAC ops and vector
 * ops the node costs. */
typedef struct npu_sim_work {
    double mac_ops; /* int8 multiply-adds x2, at tops */
    double vec_ops; /* f32 vector-unit ops, at tops / NPU_SIM_VECTOR_RATIO */
} npu_sim_work;
#define NPU_SIM_VECTOR_RATIO 32.0
int npu_sim_node_supported(const ehal_subgraph *sg, uint32_t node, char *why, size_t why_size);
npu_sim_work npu_sim_node_work(const ehal_subgraph *sg, uint32_t node);
/* The kernel for a supported op (NULL otherwise); MATMUL is not in it: it
 * needs the executable's scratch (npu_sim_matmul_w8a8). */
ehal_kernel_fn npu_sim_kernel(uint32_t op);

/* npu_sim_matmul.c: Y = W * X with W Q8_0 or Q4_0: each row of X is
 * quantized to Q8_0 blocks (ehal_quantize_row_q8_0) into xq (T * K/32
 * blocks), then per block an int8 x int8 -> int32 dot product, scaled by
 * d_w * d_x and summed in f32. */
ehal_status_t npu_sim_matmul_w8a8(const ehal_kernel_args *a, ehal_block_q8_0 *xq);
/* Blocks of scratch a MATMUL node needs (T * K/32). */
uint64_t npu_sim_matmul_scratch_blocks(const ehal_subgraph *sg, uint32_t node);

/* npu_sim_query.c */
ehal_status_t npu_sim_query_op(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                               ehal_op_support *out);

/* npu_sim_exec.c */
ehal_status_t npu_sim_prepare(ehal_backend_impl *be, const ehal_subgraph *sg,
                              ehal_executable_impl **out);
ehal_status_t npu_sim_execute(ehal_backend_impl *be, ehal_executable_impl *exe,
                              const ehal_execute_args *args);
ehal_status_t npu_sim_wait(ehal_backend_impl *be, ehal_executable_impl *exe, uint64_t timeout_ns);
void npu_sim_release(ehal_backend_impl *be, ehal_executable_impl *exe);

#endif
