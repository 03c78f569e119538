/*
 * Test harness for a backend plugin driven directly through its ABI (no
 * core): loads $EHAL_TEST_PLUGIN_DIR/libedgehal-<name>.so through its entry
 * point with host services that log to stderr and count ERROR lines, builds
 * small subgraphs, runs them on the device and the same nodes through the
 * ehal_ops reference kernels, and compares. Used by the vulkan and opencl
 * op tests and benchmarks. Single-threaded test use only.
 */
#ifndef EHAL_PLUGIN_HARNESS_H
#define EHAL_PLUGIN_HARNESS_H
#include <stddef.h>
#include <stdint.h>

#include "edgehal/backend_abi.h"
#include "edgehal/ops.h"

#define PH_MAX_TENSORS 24
#define PH_MAX_NODES 12

typedef struct ph_graph {
    uint32_t n_tensors, n_nodes;
    ehal_tensor_desc td[PH_MAX_TENSORS];
    const ehal_tensor_desc *tp[PH_MAX_TENSORS];
    ehal_node_desc nd[PH_MAX_NODES];
    const ehal_node_desc *np[PH_MAX_NODES];
    uint8_t params[PH_MAX_NODES][16];
    void *host[PH_MAX_TENSORS]; /* initial contents (inputs, caches) */
    void *ref[PH_MAX_TENSORS];  /* after the reference run */
    void *dev[PH_MAX_TENSORS];  /* after the device run */
    ehal_subgraph sg;
} ph_graph;

/* Loaded plugin state; be == NULL means "skip" with skip_reason set. */
typedef struct ph_backend {
    void *lib;
    const ehal_backend_iface *iface;
    ehal_backend_impl *be;
    char skip_reason[1200];
} ph_backend;

extern unsigned ph_error_logs; /* ERROR lines the plugin logged so far */

/* Opens libedgehal-<name>.so and inits a backend with the given options
 * (may be NULL, 0). Returns 0, or -1 with b->skip_reason set. The library
 * is never dlclosed: device loaders keep threads that reference it. */
int ph_open(ph_backend *b, const char *name, const ehal_option *opts, uint32_t n_opts);
void ph_close(ph_backend *b);

/* Log lines (any level) kept since the last ph_log_reset (the first 256)
 * that contain s. */
unsigned ph_log_count(const char *s);
void ph_log_reset(void);
/* Called with every log line as well (NULL: none). */
typedef void (*ph_log_observer)(int32_t level, const char *msg);
void ph_set_log_observer(ph_log_observer fn);

void ph_graph_init(ph_graph *g);
void ph_graph_free(ph_graph *g);
/* Adds a dense tensor with zeroed host data; returns its index. */
uint32_t ph_tensor(ph_graph *g, uint32_t dtype, int64_t ne0, int64_t ne1, int64_t ne2);
uint32_t ph_node(ph_graph *g, uint32_t op, const uint32_t *ins, uint32_t n_in, uint32_t out,
                 const void *params, uint32_t params_size);

/* Deterministic data: floats uniform in [-scale, scale]; for a quantized or
 * F16 tensor the values are converted with ehal_convert_row. */
void ph_fill(ph_graph *g, uint32_t t, uint32_t seed, float scale);
void ph_fill_i32(ph_graph *g, uint32_t t, const int32_t *v);

/* Runs the reference kernels (into g->ref) and the device (into g->dev).
 * Every node must be supported (query_op). Returns 0, or -1 after printing
 * why. */
int ph_run(ph_backend *b, ph_graph *g);
/* As ph_run, then `iters` more execute+wait rounds, timed (ms per run);
 * ref_ms (may be NULL) gets the time of the reference kernels' one run.
 * Results read back are those of the last run. */
int ph_run_timed(ph_backend *b, ph_graph *g, int iters, double *ms_per_run, double *ref_ms);

/* Runs the reference kernels on g->ref in place (reset: copy g->host
 * into g->ref first). Returns 0, or -1 after printing why. */
int ph_run_ref(ph_graph *g, int reset);

/* max|dev-ref| / max(max|ref|, 1e-30) over tensor t (F32), compared with
 * tol; prints and returns -1 on failure. */
int ph_check_close(const ph_graph *g, uint32_t t, double tol, const char *what);
/* Byte-identical check of tensor t. */
int ph_check_bytes(const ph_graph *g, uint32_t t, const char *what);
#endif
