/*
 * Test harness for the OpenCL plugin: loads libedgehal-opencl.so from
 * $EHAL_TEST_PLUGIN_DIR through its entry point, keeps the plugin's log
 * lines so tests can count them, builds small subgraphs, runs them on the
 * device and the same nodes through the ehal_ops reference kernels.
 */
#ifndef EHAL_OCL_HARNESS_H
#define EHAL_OCL_HARNESS_H
#include <stddef.h>
#include <stdint.h>

#include "edgehal/backend_abi.h"
#include "edgehal/ops.h"

#define OT_MAX_TENSORS 24
#define OT_MAX_NODES 12

typedef struct ot_graph {
    uint32_t n_tensors, n_nodes;
    ehal_tensor_desc td[OT_MAX_TENSORS];
    const ehal_tensor_desc *tp[OT_MAX_TENSORS];
    ehal_node_desc nd[OT_MAX_NODES];
    const ehal_node_desc *np[OT_MAX_NODES];
    uint8_t params[OT_MAX_NODES][16];
    void *host[OT_MAX_TENSORS]; /* initial contents (inputs, caches) */
    void *ref[OT_MAX_TENSORS];  /* after the reference run */
    void *dev[OT_MAX_TENSORS];  /* after the device run */
    ehal_subgraph sg;
} ot_graph;

/* Loaded plugin state; be == NULL means "skip" with skip_reason set. */
typedef struct ot_backend {
    void *lib;
    const ehal_backend_iface *iface;
    ehal_backend_impl *be;
    char skip_reason[1200];
} ot_backend;

extern unsigned ot_error_logs; /* all ERROR logs */

/* Opens the plugin and inits a backend with the given options. */
int ot_open_opts(ot_backend *b, const ehal_option *opts, uint32_t n_opts);
int ot_open(ot_backend *b);
/* Log lines (any level) seen since the last ot_log_reset containing s. */
unsigned ot_log_count(const char *s);
void ot_log_reset(void);
void ot_close(ot_backend *b);

void ot_graph_init(ot_graph *g);
void ot_graph_free(ot_graph *g);
/* Adds a dense tensor with zeroed host data; returns its index. */
uint32_t ot_tensor(ot_graph *g, uint32_t dtype, int64_t ne0, int64_t ne1, int64_t ne2);
uint32_t ot_node(ot_graph *g, uint32_t op, const uint32_t *ins, uint32_t n_in, uint32_t out,
                 const void *params, uint32_t params_size);

/* Deterministic data: floats uniform in [-scale, scale]; for a quantized or
 * F16 tensor the values are converted with ehal_convert_row. */
void ot_fill(ot_graph *g, uint32_t t, uint32_t seed, float scale);
void ot_fill_i32(ot_graph *g, uint32_t t, const int32_t *v);

/* Runs the reference kernels (into g->ref) and the device (into g->dev).
 * Returns 0, or -1 after printing why. */
int ot_run(ot_backend *b, ot_graph *g);
/* As ot_run, then `iters` more execute+wait rounds, timed (ms per run).
 * Results read back are those of the last run. */
int ot_run_timed(ot_backend *b, ot_graph *g, int iters, double *ms_per_run);

/* Runs the reference kernels on g->ref in place (reset: copy g->host
 * into g->ref first). Returns 0, or -1 after printing why. */
int ot_run_ref(ot_graph *g, int reset);

/* max|dev-ref| / max(max|ref|, 1e-30) over tensor t (F32), compared with
 * tol; prints and returns -1 on failure. */
int ot_check_close(const ot_graph *g, uint32_t t, double tol, const char *what);
/* Byte-identical check of tensor t. */
int ot_check_bytes(const ot_graph *g, uint32_t t, const char *what);
#endif
