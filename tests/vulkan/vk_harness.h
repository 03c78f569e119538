/*
 * Test harness for the Vulkan plugin: loads libedgehal-vulkan.so from
 * $EHAL_TEST_PLUGIN_DIR through its entry point, counts validation-layer
 * messages arriving through the host log, builds small subgraphs, runs them
 * on the device and the same nodes through the ehal_ops reference kernels.
 */
#ifndef EHAL_VK_HARNESS_H
#define EHAL_VK_HARNESS_H
#include <stddef.h>
#include <stdint.h>

#include "edgehal/backend_abi.h"
#include "edgehal/ops.h"

#define VT_MAX_TENSORS 24
#define VT_MAX_NODES 12

typedef struct vt_graph {
    uint32_t n_tensors, n_nodes;
    ehal_tensor_desc td[VT_MAX_TENSORS];
    const ehal_tensor_desc *tp[VT_MAX_TENSORS];
    ehal_node_desc nd[VT_MAX_NODES];
    const ehal_node_desc *np[VT_MAX_NODES];
    uint8_t params[VT_MAX_NODES][16];
    void *host[VT_MAX_TENSORS]; /* initial contents (inputs, caches) */
    void *ref[VT_MAX_TENSORS];  /* after the reference run */
    void *dev[VT_MAX_TENSORS];  /* after the device run */
    ehal_subgraph sg;
} vt_graph;

/* Loaded plugin state; be == NULL means "skip" with skip_reason set. */
typedef struct vt_backend {
    void *lib;
    const ehal_backend_iface *iface;
    ehal_backend_impl *be;
    char skip_reason[1200];
} vt_backend;

extern unsigned vt_validation_messages; /* validation-layer messages seen */
extern unsigned vt_error_logs;          /* all ERROR logs */
extern int vt_validation_enabled;       /* the plugin said the layer is on */

int vt_open(vt_backend *b);
void vt_close(vt_backend *b);

void vt_graph_init(vt_graph *g);
void vt_graph_free(vt_graph *g);
/* Adds a dense tensor with zeroed host data; returns its index. */
uint32_t vt_tensor(vt_graph *g, uint32_t dtype, int64_t ne0, int64_t ne1, int64_t ne2);
uint32_t vt_node(vt_graph *g, uint32_t op, const uint32_t *ins, uint32_t n_in, uint32_t out,
                 const void *params, uint32_t params_size);

/* Deterministic data: floats uniform in [-scale, scale]; for a quantized or
 * F16 tensor the values are converted with ehal_convert_row. */
void vt_fill(vt_graph *g, uint32_t t, uint32_t seed, float scale);
void vt_fill_i32(vt_graph *g, uint32_t t, const int32_t *v);

/* Runs the reference kernels (into g->ref) and the device (into g->dev).
 * Returns 0, or -1 after printing why. */
int vt_run(vt_backend *b, vt_graph *g);
/* As vt_run, then `iters` more execute+wait rounds, timed (ms per run);
 * ref_ms (may be NULL) gets the time of the reference kernels' one run.
 * Results read back are those of the last run. */
int vt_run_timed(vt_backend *b, vt_graph *g, int iters, double *ms_per_run, double *ref_ms);

/* Runs the reference kernels on g->ref in place (reset: copy g->host
 * into g->ref first). Returns 0, or -1 after printing why. */
int vt_run_ref(vt_graph *g, int reset);

/* max|dev-ref| / max(max|ref|, 1e-30) over tensor t (F32), compared with
 * tol; prints and returns -1 on failure. */
int vt_check_close(const vt_graph *g, uint32_t t, double tol, const char *what);
/* Byte-identical check of tensor t. */
int vt_check_bytes(const vt_graph *g, uint32_t t, const char *what);
#endif
