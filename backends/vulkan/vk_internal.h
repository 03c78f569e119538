/* Private state of the Vulkan backend; shared by the vk_*.c files only. */
#ifndef EHAL_VK_INTERNAL_H
#define EHAL_VK_INTERNAL_H
#include <stdint.h>

#include "edgehal/backend_abi.h"
#include "edgehal/backend_sdk.h"
#include "edgehal/ops.h"
#include "vk_loader.h"
#include "vk_shaders.h"

#define EHAL_VK_BINDINGS 5     /* inputs 0..3, output at 4 */
#define EHAL_VK_OUT_BINDING 4
#define EHAL_VK_VALIDATION_PREFIX "vulkan validation: "

/* Device features as the shaders see them, after EHAL_VULKAN_DISABLE. */
typedef struct ehal_vk_features {
    int storage8, storage16, int8, fp16, subgroup, int_dot;
    uint32_t subgroup_size;
} ehal_vk_features;

typedef struct ehal_vk_exec_list ehal_vk_exec_list;

struct ehal_backend_impl {
    const ehal_host_services *host;
    ehal_vk_fns fn;
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice pdev;
    VkDevice dev;
    VkQueue queue;
    uint32_t queue_family;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem;
    ehal_vk_features feat;   /* in use (masked) */
    ehal_vk_features avail;  /* reported by the device */
    int host_shared;         /* a DEVICE_LOCAL|HOST_VISIBLE type exists */
    uint32_t host_type;      /* memory type for host-visible buffers */
    uint32_t device_type;    /* memory type for device-local buffers */
    uint64_t device_heap_bytes;
    VkDescriptorSetLayout dsl;
    VkPipelineLayout layout;
    VkPipelineCache pcache;
    char cache_path[512];
    void *cache_loaded;        /* the cache file as read at init (or NULL) */
    size_t cache_loaded_size;
    VkPipeline *pipelines;   /* [ehal_vk_shader_count], created lazily */
    VkCommandPool cmd_pool;  /* one pool; plugin calls are not concurrent */
    struct ehal_buffer_impl *dummy; /* bound to unused bindings */
    ehal_executable_impl *inflight; /* executables with a pending submit */
    uint32_t validation_messages;
};

struct ehal_buffer_impl {
    VkBuffer buf;
    VkDeviceMemory mem;
    void *mapped;      /* persistent mapping when host visible, else NULL */
    uint64_t size;     /* requested size */
    uint64_t alloc_size; /* size rounded up to 16 */
    int coherent;
};

/* Host-computed per-node constants (e.g. RoPE frequencies in two-float
 * precision) live in a small buffer bound at this binding. */
#define EHAL_VK_AUX_BINDING 2
#define EHAL_VK_AUX_MAX 2048 /* floats */

/* One node's dispatch, as chosen by vk_ops.c. */
typedef struct ehal_vk_dispatch {
    char shader[48]; /* variant name */
    uint32_t aux_count;  /* floats in aux; 0: none */
    float aux[EHAL_VK_AUX_MAX];
    uint32_t pc_u[19];
    float pc_f[8];
    uint32_t groups;    /* workgroups (linear; split into x/y when large) */
    uint32_t groups_y;  /* 0: linear; else a 2D grid groups x groups_y */
    /* Pre-pass (the quantized GEMV's activation quantizer): when
     * scratch_bytes != 0, pre_shader runs first (pre_groups workgroups,
     * push constant u[0] = pre_u0) reading the node's input 1 and writing a
     * scratch buffer the executable owns; the node's dispatch then sees
     * that buffer at binding 1 instead of input 1. */
    uint64_t scratch_bytes;
    char pre_shader[24];
    uint32_t pre_groups, pre_u0;
} ehal_vk_dispatch;

/* vk_device.c */
ehal_status_t ehal_vk_device_open(ehal_backend_impl *be, const ehal_option *opts, uint32_t n_opts);
void ehal_vk_device_close(ehal_backend_impl *be);
ehal_status_t ehal_vk_device_info(ehal_backend_impl *be, ehal_device_info *info);

/* vk_buffer.c */
ehal_status_t ehal_vk_buffer_alloc(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                                   ehal_buffer_impl **out);
void ehal_vk_buffer_free(ehal_backend_impl *be, ehal_buffer_impl *buf);
ehal_status_t ehal_vk_buffer_write(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                                   const void *src, uint64_t size);
ehal_status_t ehal_vk_buffer_read(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t offset,
                                  void *dst, uint64_t size);
ehal_status_t ehal_vk_buffer_map(ehal_backend_impl *be, ehal_buffer_impl *buf, void **ptr);
void ehal_vk_buffer_unmap(ehal_backend_impl *be, ehal_buffer_impl *buf);

/* vk_pipeline.c */
ehal_status_t ehal_vk_pipelines_init(ehal_backend_impl *be);
void ehal_vk_pipelines_destroy(ehal_backend_impl *be);
/* The pipeline of a shader variant, compiled on first use. */
ehal_status_t ehal_vk_pipeline_get(ehal_backend_impl *be, const char *name, VkPipeline *out);

/* vk_ops.c: per-op support checks and dispatch setup (a table by op id). */
/* 0 if node can run, else writes why (a node that passed ehal_op_validate). */
int ehal_vk_op_check(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node, char *why,
                     size_t why_size);
ehal_status_t ehal_vk_op_setup(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                               ehal_vk_dispatch *d);
uint64_t ehal_vk_op_cost_ns(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node);

/* vk_exec.c */
ehal_status_t ehal_vk_query_op(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                               ehal_op_support *out);
ehal_status_t ehal_vk_prepare(ehal_backend_impl *be, const ehal_subgraph *sg,
                              ehal_executable_impl **out);
ehal_status_t ehal_vk_execute(ehal_backend_impl *be, ehal_executable_impl *exe,
                              const ehal_execute_args *args);
ehal_status_t ehal_vk_wait(ehal_backend_impl *be, ehal_executable_impl *exe, uint64_t timeout_ns);
void ehal_vk_release(ehal_backend_impl *be, ehal_executable_impl *exe);
/* Waits for every pending submit (R18 ordering before host access). */
ehal_status_t ehal_vk_wait_all(ehal_backend_impl *be);
/* Runs a one-time command buffer filled by record(), waiting for it. */
ehal_status_t ehal_vk_run_once(ehal_backend_impl *be,
                               void (*record)(ehal_backend_impl *, VkCommandBuffer, void *),
                               void *user);

const char *ehal_vk_result_name(VkResult r);
#endif
