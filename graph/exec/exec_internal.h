/* Executor internals: a program is one graph (one token count T) with its
 * plan, activation arenas and prepared partitions. Internal to ehal_graph. */
#ifndef EHAL_EXEC_INTERNAL_H
#define EHAL_EXEC_INTERNAL_H

#include <stdint.h>

#include "edgehal/graph.h"
#include "plan_internal.h"

#define EHAL_EXEC_MAX_PROGRAMS 8
#define EHAL_NO_OFFSET UINT64_MAX

typedef struct ehal_weight_buf {
    char *name; /* owned copy */
    uint32_t backend;
    uint32_t packed;
    ehal_buffer *buf;
    uint64_t bytes;
} ehal_weight_buf;

typedef struct ehal_kv_buf {
    char name[48];
    uint32_t backend;
    ehal_buffer *buf;
    uint64_t bytes;
} ehal_kv_buf;

typedef struct ehal_copy {
    uint32_t root, from, to;
} ehal_copy;

typedef struct ehal_part_rt {
    uint32_t backend, start, end; /* nodes [start, end) */
    uint32_t plan_part;           /* the plan partition it belongs to */
    ehal_executable *exe;
    ehal_copy *copies; /* boundary tensors moved in before it runs */
    uint32_t n_copies;
    char label[96]; /* "T%u p%u <name> [%u..%u]": names are < 32 bytes */
} ehal_part_rt;

typedef struct ehal_program {
    uint32_t n_tokens;
    ehal_graph *g;
    ehal_plan *plan;
    uint32_t n_backends;
    uint64_t *off; /* [n_tensors * n_backends] arena offsets of roots */
    ehal_buffer *arena[EHAL_PART_MAX_BACKENDS];
    void *map[EHAL_PART_MAX_BACKENDS]; /* mapped arena, or NULL */
    /* Zero-copy: zc[a][b] set when b reads a's activations in place, via
     * imp[a][b], a's mapped arena imported into b (both HOST_SHARED). */
    uint8_t zc[EHAL_PART_MAX_BACKENDS][EHAL_PART_MAX_BACKENDS];
    uint8_t zc_used[EHAL_PART_MAX_BACKENDS][EHAL_PART_MAX_BACKENDS];
    ehal_buffer *imp[EHAL_PART_MAX_BACKENDS][EHAL_PART_MAX_BACKENDS];
    uint64_t arena_size[EHAL_PART_MAX_BACKENDS];
    ehal_part_rt *parts;
    uint32_t n_parts;
    uint32_t tok, pos, logits; /* root tensor ids */
    uint32_t logits_backend;
    uint64_t logits_rows;
    uint64_t last_use; /* for eviction */
    int allow_zc, zc_failed;
    int graph_borrowed; /* a caller's graph (ehal_graph_exec), not freed */
    uint64_t zc_bytes;  /* boundary bytes read in place per step */
} ehal_program;

struct ehal_session {
    ehal_context *ctx;
    const ehal_model *m;             /* NULL for a caller's graph */
    const ehal_graph *user_graph;    /* set for ehal_graph_exec */
    ehal_weight_source_fn weight_fn; /* with user_graph */
    void *weight_user;
    ehal_model_hparams hp;
    ehal_session_options o;
    char **pins;
    uint32_t n_backends;
    ehal_weight_buf *weights;
    uint32_t n_weights, cap_weights;
    ehal_kv_buf *kv;
    uint32_t n_kv, cap_kv;
    ehal_program *progs[EHAL_EXEC_MAX_PROGRAMS];
    uint64_t use_clock;
    uint32_t position;
    uint32_t dead_mask;      /* backends lost or failing twice; never planned again */
    uint32_t failed_backend; /* backend of the last failed prepare/execute, or NONE */
    int32_t *history;        /* every token processed, for replay after a loss */
    uint32_t n_history, cap_history;
    double cost_scale[EHAL_PART_MAX_BACKENDS]; /* of the last calibrated T; 0: none */
    uint32_t cal_T[EHAL_EXEC_MAX_PROGRAMS];    /* calibrated token counts */
    double cal_scale[EHAL_EXEC_MAX_PROGRAMS][EHAL_PART_MAX_BACKENDS];
    uint32_t n_cal;
    uint64_t cal_overhead[EHAL_PART_MAX_BACKENDS]; /* measured ns per execute */
    int cal_overhead_done;
    ehal_session_stats stats;
    char err[320];
    char recovery[160]; /* the last recovery, one line ("" if none) */
    /* trace */
    uint64_t t0_ns;
    struct ehal_trace_ev *ev;
    uint32_t n_ev, cap_ev;
    int32_t *staging_i32;
    void *staging;
    uint64_t staging_size;
};

typedef struct ehal_trace_ev {
    uint64_t ts_ns, dur_ns;
    uint32_t track; /* backend index, or n_backends for transfers */
    char name[96];  /* a partition label (see ehal_part_rt) */
} ehal_trace_ev;

uint64_t ehal_exec_now_ns(void);

/* Builds (graph, plan, weights, KV, arenas, prepared partitions) for T. */
ehal_status_t ehal_program_build(ehal_session *s, uint32_t n_tokens, ehal_program **out);
void ehal_program_free(ehal_program *p);

/* The buffer of weight t on backend b, uploaded on first use (packed: as a
 * MATMUL/GET_ROWS weight input, through prepack). */
ehal_status_t ehal_weight_buffer_get(ehal_session *s, const ehal_graph_tensor *t, uint32_t b,
                                     int packed, ehal_buffer **out);
/* The KV cache named like t, or NULL. */
ehal_kv_buf *ehal_kv_find(ehal_session *s, const char *name);
/* The KV cache for t on backend b, allocated and zeroed on first use. */
ehal_status_t ehal_kv_buf_get(ehal_session *s, const ehal_graph_tensor *t, uint32_t b,
                              ehal_buffer **out);

/* Runs every partition of p once (boundary moves, execute, wait). */
ehal_status_t ehal_program_run(ehal_session *s, ehal_program *p);

/* With calibrate set: the per-backend cost factors for steps of T tokens
 * (measured once per T), or NULL. */
const double *ehal_session_calibration(ehal_session *s, uint32_t T);
/* With calibrate set: measured ns of one minimal partition execute per
 * backend (measured once), or NULL. */
const uint64_t *ehal_session_overheads(ehal_session *s);

/* Records a trace slice (no-op unless tracing). */
void ehal_trace_add(ehal_session *s, uint32_t track, const char *name, uint64_t t0, uint64_t t1);

#endif
