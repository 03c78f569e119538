/*
 * Private to libedgehal: the objects behind the opaque handles of
 * edgehal.h and the helpers the source files share. Nothing here is
 * exported; public entry points are marked EHAL_API.
 */
#ifndef EDGEHAL_HAL_INTERNAL_H
#define EDGEHAL_HAL_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "edgehal/edgehal.h"

#define EHAL_API __attribute__((visibility("default")))
#define EHAL_PRINTF(f, a) __attribute__((format(printf, f, a)))

#define EHAL_ERROR_MAX 512

struct ehal_buffer {
    ehal_backend *backend;
    ehal_buffer_impl *impl;
    uint64_t size;  /* bytes; for a prepacked buffer the standard-layout size */
    uint32_t flags; /* EHAL_BUFFER_* */
    int prepacked;  /* backend-private layout: no read/write/range checks */
    int mapped;
    ehal_buffer *prev, *next; /* the backend's live buffers */
};

struct ehal_executable {
    ehal_backend *backend;
    ehal_executable_impl *impl;
    ehal_executable *prev, *next; /* the backend's live executables */
};

struct ehal_backend {
    ehal_context *ctx;
    void *dl;                 /* dlopen handle; NULL for none */
    char *path;               /* the plugin file */
    char *name;               /* copy of iface->name once known */
    uint32_t abi_version;     /* negotiated revision */
    ehal_backend_iface iface; /* the plugin's table; entries it lacks are NULL */
    ehal_backend_impl *impl;  /* NULL until init succeeded */
    ehal_host_services host;  /* user = this backend */
    ehal_device_info info;
    /* The last ERROR the plugin logged. Plugins may log from their own
     * threads (docs/threading.md), so it is guarded by error_lock. */
    char plugin_error[EHAL_ERROR_MAX];
    atomic_flag error_lock;
    ehal_buffer *buffers;
    ehal_executable *executables;
};

typedef struct ehal_skip {
    char *path;
    char *reason;
} ehal_skip;

struct ehal_context {
    ehal_allocator allocator; /* resolved: never has NULL entries */
    /* Allocations made through the allocator and not freed; atomic because
     * plugins may allocate through host services from worker threads. */
    atomic_size_t live_allocs;
    uint32_t flags; /* EHAL_CONTEXT_* */
    int32_t log_level;
    ehal_log_fn log;
    void *log_user;
    ehal_backend **backends;
    uint32_t n_backends, cap_backends;
    ehal_skip *skipped;
    uint32_t n_skipped, cap_skipped;
    char last_error[EHAL_ERROR_MAX];
};

/* ---- alloc.c: every core allocation goes through the context allocator */
void ehal_i_allocator_init(ehal_context *ctx, const ehal_allocator *a);
void *ehal_i_alloc(ehal_context *ctx, size_t size, size_t align);
void *ehal_i_calloc(ehal_context *ctx, size_t n, size_t size); /* zeroed */
void ehal_i_free(ehal_context *ctx, void *ptr);                /* NULL ok */
char *ehal_i_strdup(ehal_context *ctx, const char *s);
/* Grows *arr (elem bytes each) to hold at least need; OUT_OF_MEMORY else. */
ehal_status_t ehal_i_grow(ehal_context *ctx, void **arr, uint32_t *cap, uint32_t need, size_t elem);

/* ---- log.c */
int32_t ehal_i_log_level_from_env(void); /* EHAL_LOG; warn by default */
void ehal_i_log(const ehal_context *ctx, int32_t level, const char *fmt, ...) EHAL_PRINTF(3, 4);
void ehal_i_vlog(const ehal_context *ctx, int32_t level, const char *fmt, va_list ap);
/* Records the message as the context's last error and returns status. */
ehal_status_t ehal_i_fail(ehal_context *ctx, ehal_status_t status, const char *fmt, ...)
    EHAL_PRINTF(3, 4);
/* Records a plugin call failure: "<backend>: <what> failed: <status>[: msg]". */
ehal_status_t ehal_i_plugin_fail(ehal_backend *be, ehal_status_t status, const char *what);

/* The plugin's last logged ERROR line, guarded (loader.c). */
void ehal_i_plugin_error_clear(ehal_backend *be);
void ehal_i_plugin_error_copy(ehal_backend *be, char *out, size_t size);

/* ---- select.c: EHAL_BACKENDS */
/* 1 if a backend called name is loaded under the selection string spec
 * (NULL or "" selects everything). */
int ehal_i_backend_selected(const char *spec, const char *name);

/* ---- loader.c */
ehal_status_t ehal_i_load_all(ehal_context *ctx, const ehal_context_options *o);
void ehal_i_backend_unload(ehal_backend *be);
/* Host services given to a plugin; user must be the ehal_backend. */
void ehal_i_host_services_init(ehal_backend *be);

/* ---- backend.c / buffer.c / exec.c shared helpers */
/* A subgraph with tensors and nodes copied to the core's struct sizes
 * (absent fields zero). */
typedef struct ehal_i_graph {
    ehal_subgraph sg;
    ehal_tensor_desc *tensors;
    ehal_node_desc *nodes;
    const ehal_tensor_desc **tensor_ptrs;
    const ehal_node_desc **node_ptrs;
} ehal_i_graph;
/* Checks the subgraph's structure (sizes, NULLs, node index if not
 * UINT32_MAX) and copies it; on failure records last error. */
ehal_status_t ehal_i_graph_normalize(ehal_context *ctx, const ehal_subgraph *sg, ehal_i_graph *out);
void ehal_i_graph_free(ehal_context *ctx, ehal_i_graph *g);
/* Copies a caller's tensor desc to the core's size; INVALID_ARGUMENT if its
 * struct_size is below the revision-1 minimum. */
ehal_status_t ehal_i_tensor_normalize(ehal_context *ctx, const ehal_tensor_desc *t, uint32_t index,
                                      ehal_tensor_desc *out);
void ehal_i_buffer_free_all(ehal_backend *be);
void ehal_i_executable_release_all(ehal_backend *be);
ehal_buffer *ehal_i_buffer_lookup(ehal_backend *be, const ehal_buffer_impl *impl);

#endif
