/*
 * edgehal backend ABI, revision 1.
 *
 * The one header a backend plugin (libedgehal-<name>.so) is built against.
 * It is standalone C99: it depends on <stdint.h> and <stddef.h> only.
 * docs/abi.md states the contract as numbered requirements (R1, R2, ...);
 * the comments here cite them.
 *
 * Stability rules (R1-R4):
 *  - Op ids, dtype ids and the layout of every ehal_params_* struct are fixed
 *    numbers forever. New ops and dtypes take new numbers; nothing is reused.
 *  - Every struct that crosses the boundary begins with `uint32_t struct_size`,
 *    set by whoever fills the struct. A reader treats fields beyond the
 *    smaller of (its own sizeof, struct_size) as absent (zero / NULL).
 *  - Function tables only grow at the end. An entry may be NULL where marked
 *    "optional"; the core supplies a default or reports EHAL_STATUS_UNSUPPORTED.
 */
#ifndef EDGEHAL_BACKEND_ABI_H
#define EDGEHAL_BACKEND_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- versions (R5, R6) ------------------------------------------------- */

/* The ABI revision this header describes. Revision 1 is the first; a
 * revision is bumped when the tables or structs grow. */
#define EHAL_ABI_VERSION 1u
/* Oldest revision a current core still loads. */
#define EHAL_ABI_VERSION_MIN 1u

/* The single symbol a plugin exports (R7). */
#define EHAL_BACKEND_ENTRY_SYMBOL "ehal_backend_entry"

#if defined(_WIN32)
#define EHAL_PLUGIN_EXPORT __declspec(dllexport)
#else
#define EHAL_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* ---- status codes (R12) -------------------------------------------------- */

typedef int32_t ehal_status_t;
#define EHAL_STATUS_OK 0
#define EHAL_STATUS_INVALID_ARGUMENT 1 /* caller passed something wrong */
#define EHAL_STATUS_UNSUPPORTED 2      /* op/dtype/shape/feature not offered */
#define EHAL_STATUS_UNIMPLEMENTED 3    /* entry exists but does nothing yet */
#define EHAL_STATUS_OUT_OF_MEMORY 4    /* host or device allocation failed */
#define EHAL_STATUS_INCOMPATIBLE 5     /* ABI version or struct size mismatch */
#define EHAL_STATUS_DEVICE_LOST 6      /* device gone; backend is unusable */
#define EHAL_STATUS_TIMEOUT 7          /* wait ran past its deadline */
#define EHAL_STATUS_INTERNAL 8         /* a bug or driver error */
#define EHAL_STATUS_NOT_FOUND 9        /* named thing does not exist */
#define EHAL_STATUS_IO 10              /* file or mapping failed */
#define EHAL_STATUS_FORMAT 11          /* malformed input file */
#define EHAL_STATUS_COUNT_ 12

/* ---- dtypes (R2) ------------------------------------------------------------
 * The numbers are GGUF's ggml_type numbers, so GGUF tensors load without a
 * translation table. Block layouts (Q8_0, Q4_0) are GGUF's byte for byte;
 * see ops/include/edgehal/quant.h. */
#define EHAL_DTYPE_LIST(X)                                                     \
    /*  NAME   id  name     block_values  block_bytes */                       \
    X(F32, 0, "f32", 1, 4)                                                     \
    X(F16, 1, "f16", 1, 2)                                                     \
    X(Q4_0, 2, "q4_0", 32, 18)                                                 \
    X(Q8_0, 8, "q8_0", 32, 34)                                                 \
    X(I32, 26, "i32", 1, 4)

typedef enum ehal_dtype {
#define EHAL_X_DTYPE_ENUM(N, id, s, bv, bb) EHAL_DTYPE_##N = id,
    EHAL_DTYPE_LIST(EHAL_X_DTYPE_ENUM)
#undef EHAL_X_DTYPE_ENUM
    EHAL_DTYPE_ID_LIMIT_ = 32 /* ids are < this; a table indexed by id fits */
} ehal_dtype;

/* ---- ops (R2, R3) -------------------------------------------------------------
 * One line per op: NAME, fixed id, string name, inputs, outputs, param struct.
 * Tensor shapes use ne[0] as the innermost, contiguous dimension.
 *
 *  GET_ROWS   in: table[D,V] (F32/F16/Q8_0/Q4_0), ids[T] I32    out: [D,T] F32
 *  MATMUL     in: W[K,N] (F32/F16/Q8_0/Q4_0), X[K,T] F32        out: Y[N,T] F32
 *             Y[t][n] = sum_k W[n][k] * X[t][k]
 *  RMS_NORM   in: X[D,T] F32, w[D] F32                          out: [D,T] F32
 *  ROPE       in: X[D,H,T] F32, pos[T] I32                      out: [D,H,T] F32
 *  ADD, MUL   in: A[...] F32, B same shape F32                  out: same F32
 *  SWIGLU     in: gate[F,T] F32, up[F,T] F32    out: silu(gate)*up [F,T] F32
 *  SOFTMAX    in: X[D,T] F32                    out: softmax(scale*x) along D
 *  KV_WRITE   in: src[D,Hkv,T] F32, pos[T] I32, cache[D,C,Hkv] (F16/Q8_0/Q4_0)
 *             out: the same cache tensor (written in place, see slot rule)
 *  ATTENTION  in: Q[D,Hq,T] F32, K[D,C,Hkv], V[D,C,Hkv] caches, pos[T] I32
 *             out: O[D,Hq,T] F32    (Hq % Hkv == 0: grouped-query attention)
 *  COPY       in: src (any)                      out: dst, same shape (any)
 *
 * KV cache slot rule (shared by KV_WRITE and ATTENTION, window/n_sink from
 * the params): with capacity C = cache ne[1],
 *   slot(p) = p                                      if window == 0 or p < n_sink
 *           = n_sink + (p - n_sink) % (C - n_sink)   otherwise.
 * A query at position q attends to key positions k <= q (causal) with
 *   k < n_sink  or  window == 0  or  q - k < window.
 */
#define EHAL_OP_LIST(X)                                                        \
    X(GET_ROWS, 1, "get_rows", 2, 1, ehal_params_none)                         \
    X(MATMUL, 2, "matmul", 2, 1, ehal_params_none)                             \
    X(RMS_NORM, 3, "rms_norm", 2, 1, ehal_params_rms_norm)                     \
    X(ROPE, 4, "rope", 2, 1, ehal_params_rope)                                 \
    X(ADD, 5, "add", 2, 1, ehal_params_none)                                   \
    X(MUL, 6, "mul", 2, 1, ehal_params_none)                                   \
    X(SWIGLU, 7, "swiglu", 2, 1, ehal_params_none)                             \
    X(SOFTMAX, 8, "softmax", 1, 1, ehal_params_softmax)                        \
    X(KV_WRITE, 9, "kv_write", 3, 1, ehal_params_kv)                           \
    X(ATTENTION, 10, "attention", 4, 1, ehal_params_attention)                 \
    X(COPY, 11, "copy", 1, 1, ehal_params_none)

typedef enum ehal_op {
    EHAL_OP_NONE = 0,
#define EHAL_X_OP_ENUM(N, id, s, ni, no, P) EHAL_OP_##N = id,
    EHAL_OP_LIST(EHAL_X_OP_ENUM)
#undef EHAL_X_OP_ENUM
    EHAL_OP_ID_LIMIT_ = 64 /* ids are < this */
} ehal_op;

#define EHAL_MAX_DIMS 4
#define EHAL_MAX_INPUTS 4
#define EHAL_MAX_OUTPUTS 1

/* Param structs: fixed layouts, passed with their size (R3). */
typedef struct ehal_params_none {
    uint32_t reserved;
} ehal_params_none;

typedef struct ehal_params_rms_norm {
    float eps;
} ehal_params_rms_norm;

#define EHAL_ROPE_NORMAL 0u /* rotate pairs (x[2i], x[2i+1]) */
#define EHAL_ROPE_NEOX 1u   /* rotate pairs (x[i], x[i + n_rot/2]) */
typedef struct ehal_params_rope {
    uint32_t mode;    /* EHAL_ROPE_NORMAL or EHAL_ROPE_NEOX */
    uint32_t n_rot;   /* leading dims rotated, even, <= D; 0 means D */
    float freq_base;  /* theta_i = pos * freq_base^(-2i/n_rot) */
    float freq_scale; /* multiplies pos; 0 means 1 */
} ehal_params_rope;

typedef struct ehal_params_softmax {
    float scale; /* 0 means 1 */
} ehal_params_softmax;

/* Cache policy, shared by KV_WRITE and ATTENTION (see the slot rule). */
typedef struct ehal_params_kv {
    uint32_t window; /* 0: full cache; else keys within this many positions */
    uint32_t n_sink; /* leading positions kept forever (StreamingLLM sinks) */
} ehal_params_kv;

#define EHAL_ATTN_NONCAUSAL 1u /* flag: ignore the causal mask */
typedef struct ehal_params_attention {
    float scale;     /* 0 means 1/sqrt(D) */
    uint32_t window; /* as ehal_params_kv */
    uint32_t n_sink; /* as ehal_params_kv */
    uint32_t flags;  /* EHAL_ATTN_* */
} ehal_params_attention;

/* ---- opaque plugin-side objects ------------------------------------------ */

typedef struct ehal_backend_impl ehal_backend_impl;   /* one opened device */
typedef struct ehal_buffer_impl ehal_buffer_impl;     /* device memory */
typedef struct ehal_executable_impl ehal_executable_impl; /* prepared subgraph */

/* ---- host services (R9) ---------------------------------------------------
 * Given to the plugin at init; valid until the plugin's destroy returns.
 * The plugin should allocate host memory through alloc/free so the host can
 * account for it and inject failures. */
#define EHAL_LOG_ERROR 0
#define EHAL_LOG_WARN 1
#define EHAL_LOG_INFO 2
#define EHAL_LOG_DEBUG 3

typedef struct ehal_host_services {
    uint32_t struct_size;
    uint32_t host_abi_version; /* the revision the core negotiated */
    void *user;
    void (*log)(void *user, int32_t level, const char *msg);
    /* Returns NULL on failure; align is a power of two, 0 means 16. */
    void *(*alloc)(void *user, size_t size, size_t align);
    void (*free)(void *user, void *ptr); /* ptr may be NULL */
} ehal_host_services;

/* ---- options ------------------------------------------------------------------
 * Key/value strings from the runtime (e.g. "threads"="4", "device"="1").
 * A plugin ignores keys it does not know, logging them at DEBUG. */
typedef struct ehal_option {
    const char *key;
    const char *value;
} ehal_option;

/* ---- device description (R10) ------------------------------------------- */
#define EHAL_DEVICE_CPU 0u
#define EHAL_DEVICE_GPU 1u
#define EHAL_DEVICE_NPU 2u
#define EHAL_DEVICE_OTHER 3u

#define EHAL_DEVICE_HOST_SHARED 1u  /* device memory is host memory */
#define EHAL_DEVICE_STATIC_SHAPES 2u /* prepare compiles for exact shapes */
#define EHAL_DEVICE_ASYNC 4u         /* execute may return before completion */

typedef struct ehal_device_info {
    uint32_t struct_size;
    uint32_t kind;               /* EHAL_DEVICE_* */
    uint32_t flags;              /* EHAL_DEVICE_HOST_SHARED | ... */
    uint32_t reserved0;
    char name[64];               /* e.g. "llvmpipe (LLVM 15.0.6, 256 bits)" */
    char driver[64];             /* driver / implementation version */
    uint64_t memory_bytes;       /* usable device memory; 0 = unknown */
    uint64_t max_buffer_bytes;   /* largest single buffer; 0 = no limit */
    uint64_t link_bytes_per_s;   /* host<->device copy bandwidth; 0 = unknown */
    uint64_t dispatch_overhead_ns; /* fixed cost of one execute */
} ehal_device_info;

/* ---- tensors and subgraphs (R11) ----------------------------------------
 * Tensors are dense: element (i0,i1,i2,i3) of a non-quantized tensor is at
 * byte offset ((i3*ne2 + i2)*ne1 + i1)*row_bytes + i0*elem_bytes, where
 * row_bytes = ne0 / block_values * block_bytes. Quantized tensors need
 * ne0 % 32 == 0. Unused dims are 1. */
#define EHAL_ROLE_ACTIVATION 0u
#define EHAL_ROLE_WEIGHT 1u /* constant after upload */
#define EHAL_ROLE_KV 2u     /* persistent cache, written by KV_WRITE */
#define EHAL_ROLE_INPUT 3u
#define EHAL_ROLE_OUTPUT 4u

typedef struct ehal_tensor_desc {
    uint32_t struct_size;
    uint32_t dtype;  /* ehal_dtype */
    uint32_t role;   /* EHAL_ROLE_* */
    uint32_t reserved0;
    int64_t ne[EHAL_MAX_DIMS];
    /* Where the data lives: a buffer of this backend and a byte offset.
     * NULL in capability queries and wherever the shape alone matters. */
    ehal_buffer_impl *buffer;
    uint64_t offset;
} ehal_tensor_desc;

typedef struct ehal_node_desc {
    uint32_t struct_size;
    uint32_t op; /* ehal_op */
    uint32_t n_inputs;
    uint32_t n_outputs;
    uint32_t inputs[EHAL_MAX_INPUTS];   /* indices into ehal_subgraph.tensors */
    uint32_t outputs[EHAL_MAX_OUTPUTS];
    uint32_t params_size;               /* bytes at params; 0 if none */
    const void *params;                 /* the op's ehal_params_* struct */
} ehal_node_desc;

/* A topologically ordered list of nodes over a table of tensors. The
 * pointers are valid only during the call they are passed to; a plugin
 * copies what it keeps. */
typedef struct ehal_subgraph {
    uint32_t struct_size;
    uint32_t n_tensors;
    uint32_t n_nodes;
    uint32_t reserved0;
    const ehal_tensor_desc *const *tensors;
    const ehal_node_desc *const *nodes;
} ehal_subgraph;

/* ---- capability query (R13) ------------------------------------------------ */
#define EHAL_SUPPORT_UNSUPPORTED 0u
#define EHAL_SUPPORT_SUPPORTED 1u
#define EHAL_SUPPORT_PREFERRED 2u

typedef struct ehal_op_support {
    uint32_t struct_size;
    uint32_t level;      /* EHAL_SUPPORT_*; "supported" is a promise */
    uint64_t cost_ns;    /* estimated execution time; 0 = no estimate */
    uint64_t prepare_ns; /* one-time cost of preparing it (compile) */
} ehal_op_support;

/* ---- buffers ------------------------------------------------------------------ */
#define EHAL_BUFFER_WEIGHTS 1u  /* written once, then read-only */
#define EHAL_BUFFER_HOST_READ 2u /* will be read back often */

/* ---- execution ------------------------------------------------------------------ */
typedef struct ehal_execute_args {
    uint32_t struct_size;
    uint32_t flags; /* none defined yet */
} ehal_execute_args;

/* ---- the backend interface (R8, R14-R20) ----------------------------------
 * All entries return EHAL_STATUS_OK (0) or an error code, having logged a
 * one-line reason through host services. None may abort the process.
 *
 * Ordering: buffer_write/buffer_read are synchronous and ordered after every
 * execute previously submitted on the same backend (R18). */
typedef struct ehal_backend_iface {
    uint32_t struct_size;
    uint32_t reserved0;
    const char *name; /* short backend name, e.g. "cpu"; static storage */

    /* Opens the device selected by the options (or the default one). */
    ehal_status_t (*init)(const ehal_host_services *host, const ehal_option *opts,
                          uint32_t n_opts, ehal_backend_impl **out);
    void (*destroy)(ehal_backend_impl *be);
    /* info->struct_size is set by the caller; fill at most that much. */
    ehal_status_t (*device_info)(ehal_backend_impl *be, ehal_device_info *info);

    /* Capability of node sg->nodes[node]. Never fails for a well-formed
     * node: an op it cannot run is answered UNSUPPORTED. */
    ehal_status_t (*query_op)(ehal_backend_impl *be, const ehal_subgraph *sg,
                              uint32_t node, ehal_op_support *out);

    ehal_status_t (*buffer_alloc)(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                                  ehal_buffer_impl **out);
    void (*buffer_free)(ehal_backend_impl *be, ehal_buffer_impl *buf);
    ehal_status_t (*buffer_write)(ehal_backend_impl *be, ehal_buffer_impl *buf,
                                  uint64_t offset, const void *src, uint64_t size);
    ehal_status_t (*buffer_read)(ehal_backend_impl *be, ehal_buffer_impl *buf,
                                 uint64_t offset, void *dst, uint64_t size);
    /* Optional: host pointer to the whole buffer, valid until unmap. */
    ehal_status_t (*buffer_map)(ehal_backend_impl *be, ehal_buffer_impl *buf, void **ptr);
    void (*buffer_unmap)(ehal_backend_impl *be, ehal_buffer_impl *buf); /* optional */
    /* Optional: wrap caller memory without copying; the caller keeps it
     * alive and unchanged until buffer_free. */
    ehal_status_t (*buffer_import_host)(ehal_backend_impl *be, void *ptr, uint64_t size,
                                        uint32_t flags, ehal_buffer_impl **out);
    /* Optional: upload a weight tensor in a backend-private layout. The
     * returned buffer may only be used as that tensor (offset 0) in a
     * MATMUL or GET_ROWS weight input; `host_data` is the tensor's bytes in
     * the standard layout. */
    ehal_status_t (*prepack)(ehal_backend_impl *be, const ehal_tensor_desc *weight,
                             const void *host_data, ehal_buffer_impl **out);

    /* Compile a subgraph whose tensors all carry buffers of this backend. */
    ehal_status_t (*prepare)(ehal_backend_impl *be, const ehal_subgraph *sg,
                             ehal_executable_impl **out);
    /* Submit one run; may return before it completes (EHAL_DEVICE_ASYNC). */
    ehal_status_t (*execute)(ehal_backend_impl *be, ehal_executable_impl *exe,
                             const ehal_execute_args *args);
    /* Block until the last execute of exe completes, or timeout_ns passes
     * (UINT64_MAX: no limit). Returns the execution's status. */
    ehal_status_t (*wait)(ehal_backend_impl *be, ehal_executable_impl *exe,
                          uint64_t timeout_ns);
    void (*release)(ehal_backend_impl *be, ehal_executable_impl *exe);
    /* Appended entries of later revisions go here. */
} ehal_backend_iface;

/* Size of the revision-1 table: every entry up to and including release.
 * A table smaller than this is refused (R8). */
#define EHAL_BACKEND_IFACE_MIN_SIZE                                            \
    (offsetof(ehal_backend_iface, release) + sizeof(void (*)(void)))

/* ---- the entry point (R5-R7) ----------------------------------------------
 * The loader fills struct_size, loader_min_version, loader_max_version and
 * host; the plugin sets plugin_version to the revision it implements within
 * [loader_min_version, loader_max_version] and iface to its static table,
 * and returns OK. If it implements no revision in that range it sets
 * plugin_version to its own revision and returns EHAL_STATUS_INCOMPATIBLE. */
typedef struct ehal_entry_args {
    uint32_t struct_size;
    uint32_t loader_min_version;
    uint32_t loader_max_version;
    uint32_t plugin_version; /* out */
    const ehal_host_services *host;
    const ehal_backend_iface *iface; /* out */
} ehal_entry_args;

typedef ehal_status_t (*ehal_backend_entry_fn)(ehal_entry_args *args);

/* Compile-time layout checks: these sizes are part of revision 1 (R4).
 * `tag` is an identifier naming the check. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define EHAL_ABI_STATIC_ASSERT(c, tag) static_assert(c, #tag)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define EHAL_ABI_STATIC_ASSERT(c, tag) _Static_assert(c, #tag)
#else
#define EHAL_ABI_STATIC_ASSERT(c, tag) typedef char ehal_abi_check_##tag[(c) ? 1 : -1]
#endif
EHAL_ABI_STATIC_ASSERT(sizeof(ehal_params_rope) == 16, params_rope_layout);
EHAL_ABI_STATIC_ASSERT(sizeof(ehal_params_attention) == 16, params_attention_layout);
EHAL_ABI_STATIC_ASSERT(sizeof(ehal_params_kv) == 8, params_kv_layout);
EHAL_ABI_STATIC_ASSERT(offsetof(ehal_tensor_desc, ne) == 16, tensor_desc_layout);
EHAL_ABI_STATIC_ASSERT(offsetof(ehal_device_info, name) == 16, device_info_layout);

#ifdef __cplusplus
}
#endif
#endif /* EDGEHAL_BACKEND_ABI_H */
