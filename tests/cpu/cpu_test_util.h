/*
 * Helpers shared by the CPU plugin tests (cpu_test_util.c): recording host
 * services, the plugin loaded with dlopen, a per-test backend and a small
 * subgraph builder whose tensors lie back to back (64-byte aligned) in one
 * buffer. Include after <cmocka.h>.
 */
#ifndef EHAL_CPU_TEST_UTIL_H
#define EHAL_CPU_TEST_UTIL_H

#include <stdint.h>

#include "edgehal/backend_abi.h"

/* ---- host services: the last WARN/ERROR line, live allocations, and
 * fail_at > 0 makes the fail_at-th allocation from now fail. */
extern char last_log[1024];
extern long live_allocs;
extern long fail_at;
extern const ehal_host_services host;

/* ---- the plugin, loaded by load_plugin (a cmocka group setup) */
extern ehal_backend_entry_fn entry;
int load_plugin(void **state);
int unload_plugin(void **state);
/* Negotiates with the loader range [lo, hi]; returns the table or NULL. */
const ehal_backend_iface *negotiate(uint32_t lo, uint32_t hi, ehal_status_t *st,
                                    uint32_t *plugin_version);

/* ---- per-test backend: open_backend/close_backend as setup/teardown;
 * close_backend fails the test if any host allocation is left. */
typedef struct fixture {
    const ehal_backend_iface *iface;
    ehal_backend_impl *be;
} fixture;
extern fixture fx;
int open_backend(void **state);
int close_backend(void **state);

/* ---- subgraph builder (F32, F16, I32, Q8_0 and Q4_0 tensors) */
#define MAX_T 12
#define MAX_N 6

typedef struct graph {
    ehal_tensor_desc t[MAX_T];
    const ehal_tensor_desc *tp[MAX_T];
    ehal_node_desc n[MAX_N];
    const ehal_node_desc *np[MAX_N];
    ehal_subgraph sg;
    uint64_t size; /* bytes the tensors need */
    ehal_buffer_impl *buf;
    ehal_executable_impl *exe;
} graph;

uint64_t nbytes(const ehal_tensor_desc *t);
void g_init(graph *g);
/* Adds a tensor [ne0, ne1, ne2]; returns its index. */
uint32_t g_tensor(graph *g, uint32_t dtype, int64_t ne0, int64_t ne1, int64_t ne2);
void g_node(graph *g, uint32_t op, uint32_t n_in, const uint32_t *in, uint32_t out,
            const void *params, uint32_t params_size);
/* Allocates fx's buffer for all tensors and binds them to it. */
void g_bind(graph *g);
void g_set(graph *g, uint32_t ti, const void *data);
void g_get(graph *g, uint32_t ti, void *data);
/* prepare + execute + wait, each asserted OK. */
void g_run(graph *g);
void g_free(graph *g);

/* Fails naming the first element further than tol from want. */
void assert_floats(const float *got, const double *want, int n, double tol);

#endif
