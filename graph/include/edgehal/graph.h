/*
 * edgehal graph API: build a graph of catalog ops (or a Llama-family
 * transformer from a model), partition it across backends by estimated cost,
 * and execute it. Built on edgehal.h (the runtime) and model.h (weights).
 *
 * Thread-safety: a graph, plan or session is used by one thread at a time.
 * Every function returning ehal_status_t writes a one-line message naming
 * the object and the value into the object's last error (or `err`).
 */
#ifndef EDGEHAL_GRAPH_H
#define EDGEHAL_GRAPH_H

#include <stdint.h>
#include <stdio.h>

#include "edgehal/edgehal.h"
#include "edgehal/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- IR ------------------------------------------------------------------ */

#define EHAL_GRAPH_NONE UINT32_MAX /* "no tensor / node" */

/* Node sections, used by pins and by the plan table. */
#define EHAL_SECTION_OTHER 0u
#define EHAL_SECTION_EMBED 1u /* token embedding */
#define EHAL_SECTION_ATTN 2u  /* attention block (norm .. residual add) */
#define EHAL_SECTION_FFN 3u   /* feed-forward block (norm .. residual add) */
#define EHAL_SECTION_HEAD 4u  /* final norm + LM head */

typedef struct ehal_graph ehal_graph;

/* A tensor: a dense desc (dtype, role, shape; buffer NULL), or a view of
 * another tensor: the same bytes at `view_offset` with another shape. */
typedef struct ehal_graph_tensor {
    const char *name;
    ehal_tensor_desc desc;
    uint32_t base;        /* EHAL_GRAPH_NONE, or the tensor this views */
    uint64_t view_offset; /* bytes into base */
    uint32_t producer;    /* node writing it (for a view: its base's), or NONE */
} ehal_graph_tensor;

#define EHAL_GRAPH_MAX_PARAMS 32
typedef struct ehal_graph_node {
    const char *name;
    uint32_t op;
    uint32_t n_inputs;
    uint32_t inputs[EHAL_MAX_INPUTS];
    uint32_t output;
    uint32_t params_size;
    uint8_t params[EHAL_GRAPH_MAX_PARAMS];
    int32_t layer;    /* -1: not in a layer */
    uint32_t section; /* EHAL_SECTION_* */
} ehal_graph_node;

/* The caller frees *out with ehal_graph_free. */
ehal_status_t ehal_graph_create(ehal_graph **out);
void ehal_graph_free(ehal_graph *g); /* NULL is fine */
/* The first builder error, or the last validation error ("" if none). */
const char *ehal_graph_last_error(const ehal_graph *g);

/* Builder calls return the new id, or EHAL_GRAPH_NONE after recording an
 * error; the first error sticks and ehal_graph_validate returns it, so a
 * builder may check once at the end. Names are copied. */
uint32_t ehal_graph_add_tensor(ehal_graph *g, const char *name, uint32_t dtype, uint32_t role,
                               uint32_t n_dims, const int64_t *ne);
/* A view of `base` (resolved to the root tensor) at byte `offset`; its bytes
 * must lie within the base. Views have the base's role. */
uint32_t ehal_graph_add_view(ehal_graph *g, const char *name, uint32_t base, uint64_t offset,
                             uint32_t n_dims, const int64_t *ne);
/* Appends a node (nodes are kept in the order added, which must be
 * topological). params may be NULL when params_size is 0. The node writes
 * `output`; for KV_WRITE, output is the cache (inputs[2]). */
uint32_t ehal_graph_add_node(ehal_graph *g, const char *name, uint32_t op, const uint32_t *inputs,
                             uint32_t n_inputs, uint32_t output, const void *params,
                             uint32_t params_size);
/* Sets the layer and section the node belongs to (for pins and plans). */
ehal_status_t ehal_graph_set_node_group(ehal_graph *g, uint32_t node, int32_t layer,
                                        uint32_t section);
/* Changes a tensor's role (mark input / output / weight / KV). */
ehal_status_t ehal_graph_set_role(ehal_graph *g, uint32_t tensor, uint32_t role);

/* Checks every node with ehal_op_validate plus the graph rules: inputs
 * produced earlier (or weight / input / KV), each activation written once,
 * outputs marked. The message names the node, the tensor and the value. */
ehal_status_t ehal_graph_validate(ehal_graph *g);

uint32_t ehal_graph_tensor_count(const ehal_graph *g);
uint32_t ehal_graph_node_count(const ehal_graph *g);
const ehal_graph_tensor *ehal_graph_tensor_get(const ehal_graph *g, uint32_t id); /* NULL */
const ehal_graph_node *ehal_graph_node_get(const ehal_graph *g, uint32_t id);     /* NULL */
uint32_t ehal_graph_tensor_find(const ehal_graph *g, const char *name);           /* or NONE */
/* The root tensor a view resolves to (id itself if not a view). */
uint32_t ehal_graph_tensor_root(const ehal_graph *g, uint32_t id);

/* ---- Llama-family transformer ----------------------------------------- */

typedef struct ehal_llama_options {
    uint32_t n_tokens;    /* T: tokens processed by one step (>= 1) */
    uint32_t kv_dtype;    /* EHAL_DTYPE_F16, Q8_0 or Q4_0; 0 (F32, no cache dtype) means F16 */
    uint32_t kv_capacity; /* cache slots C; 0: hparams context */
    uint32_t kv_window;   /* 0: full cache */
    uint32_t kv_sinks;    /* sink tokens kept with a window */
    uint32_t all_logits;  /* 1: logits for every position; 0: last only */
} ehal_llama_options;

/* Builds the decoder graph for one step of T tokens. Inputs "tokens" I32[T]
 * and "pos" I32[T]; output "logits" F32[vocab, T or 1]; KV tensors
 * "blk.<i>.cache_k"/"cache_v" [head_dim, C, n_kv_heads]; weights named as in
 * model.h with the model's dtypes and shapes. The caller frees *out. */
ehal_status_t ehal_graph_build_llama(const ehal_model *m, const ehal_llama_options *o,
                                     ehal_graph **out, char *err, size_t err_size);

/* ---- partitioning ------------------------------------------------------- */

typedef struct ehal_plan ehal_plan;

typedef struct ehal_plan_options {
    uint32_t struct_size;
    const char *const *pins; /* "layers 0-7=vulkan", "attention=cpu", ... */
    uint32_t n_pins;
    /* Extra bytes per backend already held (e.g. KV caches elsewhere); may be NULL. */
    const uint64_t *reserved_bytes;
    /* Per backend: multiplies its compute estimates (measured / estimated,
     * see ehal_session_options.calibrate); NULL or 0 entries mean 1. */
    const double *cost_scale;
    /* Per backend: measured cost of one partition execute (ns), used when
     * larger than the declared dispatch_overhead_ns; NULL or 0: declared. */
    const uint64_t *overhead_ns;
} ehal_plan_options;

/* Assigns every node of a validated graph to one of the context's backends
 * (queried with ehal_backend_query_op) minimizing estimated time. The caller
 * frees *out. */
ehal_status_t ehal_plan_create(ehal_context *ctx, const ehal_graph *g, const ehal_plan_options *o,
                               ehal_plan **out, char *err, size_t err_size);
void ehal_plan_free(ehal_plan *p);
/* Backend index (into ehal_backend_get) of a node. */
uint32_t ehal_plan_node_backend(const ehal_plan *p, uint32_t node);
uint32_t ehal_plan_partition_count(const ehal_plan *p);
uint64_t ehal_plan_cost_ns(const ehal_plan *p);
/* Compact layers x backends table. */
void ehal_plan_print(const ehal_plan *p, FILE *f);
/* Per group: chosen backend and the estimated cost of each alternative. */
void ehal_plan_explain(const ehal_plan *p, FILE *f);

/* ---- execution ------------------------------------------------------------ */

typedef struct ehal_session ehal_session;

typedef struct ehal_session_options {
    uint32_t struct_size;
    const char *const *pins;
    uint32_t n_pins;
    uint32_t kv_dtype;    /* 0 or EHAL_DTYPE_F16/Q8_0/Q4_0; 0 means F16 */
    uint32_t kv_capacity; /* 0: model context */
    uint32_t kv_window;
    uint32_t kv_sinks;
    uint32_t all_logits; /* 1: eval returns logits for every position */
    uint32_t trace;      /* 1: record a timeline (ehal_session_write_trace) */
    uint32_t explain;    /* 1: plans keep per-group alternatives (ehal_plan_explain) */
    uint32_t trace_ops;  /* 1: run each node as its own execute, for op-level trace
                          * slices (measured, but with more dispatch overhead) */
    uint32_t calibrate;  /* 1: before planning steps of T tokens, time such a step on
                          * each backend alone and scale its estimates by
                          * measured / estimated (once per T) */
} ehal_session_options;

/* A model bound to a context: weights uploaded once per backend that needs
 * them, per-layer KV caches on the backend running that layer's attention.
 * `m` must outlive the session. The caller frees *out. */
ehal_status_t ehal_session_create(ehal_context *ctx, const ehal_model *m,
                                  const ehal_session_options *o, ehal_session **out, char *err,
                                  size_t err_size);
void ehal_session_free(ehal_session *s);
const char *ehal_session_last_error(const ehal_session *s);

/* Runs n tokens at the next positions. logits receives vocab floats per
 * position (all_logits) or for the last position only. If a backend
 * reports EHAL_STATUS_DEVICE_LOST, the session drops it, re-plans over the
 * remaining backends, rebuilds the KV caches by replaying every token
 * processed so far, and retries the step (stats.replans counts this). */
ehal_status_t ehal_session_eval(ehal_session *s, const int32_t *tokens, uint32_t n, float *logits);
/* The plan used for steps of n tokens (planned on first use); NULL if none.
 * The plan stays valid until a call on s re-plans (stats.replans grows):
 * planning another n_tokens can drop a backend that fails while weights are
 * placed and re-plan every T, which frees the plans returned before. */
const ehal_plan *ehal_session_plan(ehal_session *s, uint32_t n_tokens);
uint32_t ehal_session_position(const ehal_session *s);

typedef struct ehal_session_stats {
    uint64_t steps;
    uint64_t tokens;
    uint64_t wall_ns;         /* inside eval */
    uint64_t exec_ns;         /* inside execute+wait, all backends */
    uint64_t transfer_ns;     /* boundary moves and input/output copies */
    uint64_t transfer_bytes;  /* boundary moves between backends (copied) */
    uint64_t zero_copy_bytes; /* boundary tensors read in place, not copied */
    uint64_t backend_ns[16];  /* execute+wait per backend index */
    uint64_t weight_bytes;    /* as the backends hold them */
    uint64_t kv_bytes;
    uint64_t arena_bytes;
    uint32_t replans;   /* times a lost backend was dropped and the history replayed */
    uint32_t lost_mask; /* bit b: backend index b was lost */
} ehal_session_stats;
void ehal_session_get_stats(const ehal_session *s, ehal_session_stats *out);
/* The calibration factor of backend index b for the most recently planned
 * T (1 when not calibrated or when b cannot run a whole step alone). */
double ehal_session_cost_scale(const ehal_session *s, uint32_t b);
/* The measured cost of one minimal partition execute on backend b, ns (0
 * when not calibrated). */
uint64_t ehal_session_overhead_ns(const ehal_session *s, uint32_t b);
void ehal_session_reset_stats(ehal_session *s);
/* Chrome trace JSON of everything recorded since create. */
ehal_status_t ehal_session_write_trace(const ehal_session *s, const char *path);

/* ---- executing a caller's graph --------------------------------------------- */

/* Returns the bytes of weight `name` (nbytes long, in the tensor's dtype and
 * dense layout), or NULL if unknown. The memory must stay valid and
 * unchanged until the exec is freed (it may be imported without a copy). */
typedef const void *(*ehal_weight_source_fn)(void *user, const char *name, uint64_t nbytes);

typedef struct ehal_graph_exec ehal_graph_exec;

/* Plans a validated graph over the context's backends (pins in o), uploads
 * its weights, allocates its KV tensors (zeroed, persistent across runs)
 * and prepares every partition. g must outlive the exec. The caller frees
 * *out. */
ehal_status_t ehal_graph_exec_create(ehal_context *ctx, const ehal_graph *g,
                                     const ehal_plan_options *o, ehal_weight_source_fn weights,
                                     void *user, ehal_graph_exec **out, char *err, size_t err_size);
void ehal_graph_exec_free(ehal_graph_exec *e);
const char *ehal_graph_exec_last_error(const ehal_graph_exec *e);
const ehal_plan *ehal_graph_exec_plan(const ehal_graph_exec *e);
/* Writes an INPUT tensor (size must be its byte size) for the next run. */
ehal_status_t ehal_graph_exec_set_input(ehal_graph_exec *e, uint32_t tensor, const void *data,
                                        uint64_t size);
ehal_status_t ehal_graph_exec_run(ehal_graph_exec *e);
/* Reads an OUTPUT tensor after a run. */
ehal_status_t ehal_graph_exec_read(ehal_graph_exec *e, uint32_t tensor, void *data, uint64_t size);
void ehal_graph_exec_get_stats(const ehal_graph_exec *e, ehal_session_stats *out);

/* Reference path: the same graphs run on host memory with the catalog's
 * reference kernels. Same eval contract as a session. */
typedef struct ehal_refrun ehal_refrun;
ehal_status_t ehal_refrun_create(const ehal_model *m, const ehal_session_options *o,
                                 ehal_refrun **out, char *err, size_t err_size);
ehal_status_t ehal_refrun_eval(ehal_refrun *r, const int32_t *tokens, uint32_t n, float *logits,
                               char *err, size_t err_size);
void ehal_refrun_free(ehal_refrun *r);

#ifdef __cplusplus
}
#endif
#endif
