/*
 * The backend SDK: small helpers a plugin may link (static library
 * ehal_backend_sdk) so that a simple backend, one whose buffers are host
 * memory, runs a subgraph op by op with a table of kernels. Depends only on
 * the ABI header and the op catalog (ehal_ops), never on the core.
 */
#ifndef EDGEHAL_BACKEND_SDK_H
#define EDGEHAL_BACKEND_SDK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "edgehal/backend_abi.h"
#include "edgehal/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* printf-style logging through host services (host may be NULL: no-op). */
void ehal_sdk_log(const ehal_host_services *host, int32_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Allocation through host services; NULL host falls back to malloc. */
void *ehal_sdk_alloc(const ehal_host_services *host, size_t size);
void *ehal_sdk_calloc(const ehal_host_services *host, size_t n, size_t size);
void ehal_sdk_free(const ehal_host_services *host, void *ptr);

/* Value of option `key`, or NULL. */
const char *ehal_sdk_option(const ehal_option *opts, uint32_t n_opts, const char *key);
/* Parses a non-negative integer option (decimal; K/M/G suffixes allowed).
 * Returns OK and leaves *out unchanged if absent; INVALID_ARGUMENT with a
 * logged message naming key and value if malformed. */
ehal_status_t ehal_sdk_option_u64(const ehal_host_services *host, const ehal_option *opts,
                                  uint32_t n_opts, const char *key, uint64_t *out);

/* Copies the ABI version negotiation for a plugin implementing exactly
 * EHAL_ABI_VERSION: fills args->plugin_version and args->iface, returns OK,
 * or INCOMPATIBLE when the loader's range excludes it. */
ehal_status_t ehal_sdk_negotiate(ehal_entry_args *args, const ehal_backend_iface *iface);

/* A deep copy of a subgraph (tensor descs, nodes, params) that a backend
 * keeps after prepare returns. */
typedef struct ehal_sdk_graph ehal_sdk_graph;
ehal_status_t ehal_sdk_graph_copy(const ehal_host_services *host, const ehal_subgraph *sg,
                                  ehal_sdk_graph **out);
void ehal_sdk_graph_free(const ehal_host_services *host, ehal_sdk_graph *g);
const ehal_subgraph *ehal_sdk_graph_view(const ehal_sdk_graph *g);

/* Validates every node (ehal_op_validate) and checks each has a kernel in
 * table (indexed by op id). On failure logs and returns the status. */
ehal_status_t ehal_sdk_check_subgraph(const ehal_host_services *host, const ehal_subgraph *sg,
                                      const ehal_kernel_fn *table, uint32_t table_len);

/* Runs the nodes in order with table[op], resolving each tensor's host
 * pointer via resolve(user, tensor). Stops at the first failing kernel,
 * logging the node index and op name. */
ehal_status_t ehal_sdk_run_nodes(const ehal_host_services *host, const ehal_subgraph *sg,
                                 const ehal_kernel_fn *table, uint32_t table_len,
                                 ehal_resolve_fn resolve, void *user);

#ifdef __cplusplus
}
#endif
#endif
