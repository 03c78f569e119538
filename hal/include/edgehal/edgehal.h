/*
 * edgehal runtime API: what a runtime links against (libedgehal).
 * Discover backends and devices, allocate buffers, prepare and run
 * subgraphs. Every function returns a status (0 = ok); on failure the
 * context's last error holds a one-line message naming the object and value.
 *
 * Thread-safety: see docs/threading.md. In short, a context and everything
 * made from it is used by one thread at a time; distinct contexts are
 * independent.
 */
#ifndef EDGEHAL_EDGEHAL_H
#define EDGEHAL_EDGEHAL_H

#include <stddef.h>
#include <stdint.h>

#include "edgehal/backend_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ehal_context ehal_context;
typedef struct ehal_backend ehal_backend;       /* a loaded, opened plugin */
typedef struct ehal_buffer ehal_buffer;         /* memory on one backend */
typedef struct ehal_executable ehal_executable; /* a prepared subgraph */

/* "ok", "invalid argument", ...; never NULL. */
const char *ehal_status_string(ehal_status_t status);

/* ---- context ------------------------------------------------------------- */

/* Host allocator used for every allocation the core (and, through host
 * services, each plugin) makes. */
typedef struct ehal_allocator {
    void *user;
    void *(*alloc)(void *user, size_t size, size_t align); /* NULL on failure */
    void (*free)(void *user, void *ptr);
} ehal_allocator;

typedef void (*ehal_log_fn)(void *user, int32_t level, const char *msg);

#define EHAL_CONTEXT_NO_DEFAULT_PATHS 1u /* search only backend_path/env */
#define EHAL_CONTEXT_NO_ENV 2u           /* ignore EHAL_* environment */

typedef struct ehal_context_options {
    uint32_t struct_size;
    uint32_t flags;                  /* EHAL_CONTEXT_* */
    const ehal_allocator *allocator; /* NULL: malloc/free */
    /* Backend selection as EHAL_BACKENDS ("cpu,vulkan" or "-opencl"); NULL:
     * the environment variable, or all. */
    const char *backends;
    /* Extra search entries, as EHAL_BACKEND_PATH (colon-separated dirs or
     * .so files), searched before the environment's. */
    const char *backend_path;
    /* Messages at or below this level are logged (EHAL_LOG_*); -1: from
     * EHAL_LOG (error|warn|info|debug), default warn. */
    int32_t log_level;
    ehal_log_fn log; /* NULL: stderr, prefixed "edgehal: " */
    void *log_user;
    /* Options for backends, keys "<backend>.<key>" (e.g. "cpu.threads"). */
    const ehal_option *backend_options;
    uint32_t n_backend_options;
} ehal_context_options;

/* Loads every plugin found (search order: <exe dir>/../lib/edgehal, the
 * installed library dir, then EHAL_BACKEND_PATH). A plugin that cannot be
 * loaded is skipped with a one-line reason (see ehal_skipped_*); that is not
 * an error. opts may be NULL. The caller destroys *out. */
ehal_status_t ehal_context_create(const ehal_context_options *opts, ehal_context **out);
void ehal_context_destroy(ehal_context *ctx);

/* The message of the context's most recent failure ("" if none). */
const char *ehal_last_error(const ehal_context *ctx);

/* ---- backends and devices ------------------------------------------------ */

uint32_t ehal_backend_count(const ehal_context *ctx);
ehal_backend *ehal_backend_get(const ehal_context *ctx, uint32_t index);
ehal_backend *ehal_backend_find(const ehal_context *ctx, const char *name); /* NULL */

typedef struct ehal_backend_props {
    uint32_t struct_size;
    uint32_t abi_version;      /* negotiated revision */
    const char *name;          /* "cpu" */
    const char *path;          /* the plugin file, or "(static)" */
    ehal_device_info device;   /* kind, memory, flags, ... */
} ehal_backend_props;

ehal_status_t ehal_backend_props_get(const ehal_backend *be, ehal_backend_props *out);

/* Plugins that were found but not loaded, with the reason. */
uint32_t ehal_skipped_count(const ehal_context *ctx);
const char *ehal_skipped_path(const ehal_context *ctx, uint32_t index);
const char *ehal_skipped_reason(const ehal_context *ctx, uint32_t index);

/* Validates the node against the catalog, then asks the backend. */
ehal_status_t ehal_backend_query_op(ehal_backend *be, const ehal_subgraph *sg,
                                    uint32_t node, ehal_op_support *out);

/* The support level (EHAL_SUPPORT_*) for a representative instance of op
 * with `dtype` as its defining dtype: the weight dtype for MATMUL and
 * GET_ROWS, the cache dtype for KV_WRITE and ATTENTION, the destination
 * dtype for COPY, F32 elsewhere. Used for the op x dtype matrix. Returns
 * EHAL_SUPPORT_UNSUPPORTED for combinations the catalog does not define. */
uint32_t ehal_backend_op_support(ehal_backend *be, uint32_t op, uint32_t dtype);
/* 1 if the catalog defines op with that defining dtype, else 0. */
int ehal_op_dtype_defined(uint32_t op, uint32_t dtype);

/* ---- buffers ---------------------------------------------------------------- */

ehal_status_t ehal_buffer_alloc(ehal_backend *be, uint64_t size, uint32_t flags,
                                ehal_buffer **out);
ehal_status_t ehal_buffer_import_host(ehal_backend *be, void *ptr, uint64_t size,
                                      uint32_t flags, ehal_buffer **out);
/* Uploads a weight in the backend's private layout if it offers one, else
 * as a plain buffer. */
ehal_status_t ehal_buffer_prepack(ehal_backend *be, const ehal_tensor_desc *weight,
                                  const void *host_data, ehal_buffer **out);
/* As ehal_buffer_prepack, but only a backend-private layout: returns
 * EHAL_STATUS_UNSUPPORTED (setting no error) where the backend has none for
 * this tensor, so a caller on a host-shared device can import the host
 * memory instead of paying for a copy. */
ehal_status_t ehal_buffer_prepack_private(ehal_backend *be, const ehal_tensor_desc *weight,
                                          const void *host_data, ehal_buffer **out);
void ehal_buffer_free(ehal_buffer *buf); /* NULL is fine */
uint64_t ehal_buffer_size(const ehal_buffer *buf);
ehal_backend *ehal_buffer_backend(const ehal_buffer *buf);
/* Range-checked: offset + size must lie within the buffer. */
ehal_status_t ehal_buffer_write(ehal_buffer *buf, uint64_t offset, const void *src,
                                uint64_t size);
ehal_status_t ehal_buffer_read(ehal_buffer *buf, uint64_t offset, void *dst, uint64_t size);
/* UNSUPPORTED if the backend cannot map. */
ehal_status_t ehal_buffer_map(ehal_buffer *buf, void **ptr);
void ehal_buffer_unmap(ehal_buffer *buf);
/* The plugin-side handle, for ehal_tensor_desc.buffer. */
ehal_buffer_impl *ehal_buffer_handle(const ehal_buffer *buf);

/* ---- execution ---------------------------------------------------------------- */

/* Validates every node, checks each tensor's buffer belongs to `be` and the
 * range fits, then prepares. The caller releases *out. */
ehal_status_t ehal_prepare(ehal_backend *be, const ehal_subgraph *sg, ehal_executable **out);
ehal_status_t ehal_execute(ehal_executable *exe);
ehal_status_t ehal_wait(ehal_executable *exe, uint64_t timeout_ns);
void ehal_executable_release(ehal_executable *exe); /* NULL is fine */

#ifdef __cplusplus
}
#endif

/* The graph builder, partitioner and executor (libedgehal-graph), and
 * models from GGUF files. Define EHAL_NO_GRAPH_API to use the runtime
 * alone. */
#ifndef EHAL_NO_GRAPH_API
#include "edgehal/graph.h"
#endif
#endif /* EDGEHAL_EDGEHAL_H */
