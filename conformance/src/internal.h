/* Internal types of the conformance suite (not installed). */
#ifndef EHAL_CONF_INTERNAL_H
#define EHAL_CONF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "edgehal/conformance.h"
#include "edgehal/edgehal.h"
#include "edgehal/ops.h"

/* ---- cases --------------------------------------------------------------- */

#define CONF_CORE 1u  /* member of llm-core (llm-full holds every case) */
#define CONF_QUICK 2u /* member of the --quick subset */

/* A case: which family builds it and the integers that family reads. The id
 * is a pure function of these (and the seed), and vice versa. */
typedef struct conf_case {
    char id[EHAL_CONF_ID_MAX];
    char shape[64];
    uint32_t family; /* index into conf_families() */
    uint32_t dtype;  /* defining dtype (EHAL_DTYPE_*), or UINT32_MAX */
    uint32_t flags;  /* CONF_CORE | CONF_QUICK */
    uint64_t seed;
    int64_t p[12]; /* family-specific */
} conf_case;

typedef struct conf_caselist {
    conf_case *v;
    uint32_t n, cap;
    uint64_t seed; /* suite seed: becomes the /s<seed> suffix */
    int oom;
} conf_caselist;

/* Appends a case; the id is "<family>/<dtype>/<shape>[/<variant>]/s<seed>". */
conf_case *conf_case_add(conf_caselist *l, uint32_t family, uint32_t dtype, const char *shape,
                         const char *variant);
void conf_caselist_free(conf_caselist *l);
/* Every case of the suite for one seed, in a fixed order. */
int conf_cases_generate(conf_caselist *l, uint64_t seed);

/* ---- programs: what a case runs ------------------------------------------ */

#define CONF_MAX_TENSORS 200
#define CONF_MAX_NODES 160
#define CONF_MAX_CHECKS 64

typedef struct conf_tensor {
    ehal_tensor_desc d; /* buffer NULL: the reference view */
    void *host;         /* initial contents, nbytes */
    uint64_t nbytes;
    int written;    /* output of some node: guarded and read back */
    int weight;     /* uploaded through ehal_buffer_prepack */
    uint32_t alias; /* index of the tensor whose bytes this one views, or UINT32_MAX */
} conf_tensor;

typedef struct conf_node {
    ehal_node_desc n;
    uint32_t step;
    uint64_t params[4]; /* storage for n.params (<= 32 bytes) */
} conf_node;

typedef struct conf_check {
    uint32_t step;        /* compared after this step */
    uint32_t tensor;      /* tensor index */
    const char *tol_name; /* tolerance row: op/family name */
    uint32_t tol_dtype;
    const char *what; /* "output", "k cache", ... */
} conf_check;

typedef struct conf_prog {
    conf_tensor t[CONF_MAX_TENSORS];
    uint32_t n_t;
    conf_node nodes[CONF_MAX_NODES];
    uint32_t n_nodes;
    uint32_t n_steps;
    conf_check checks[CONF_MAX_CHECKS];
    uint32_t n_checks;
    uint64_t rng;
    int oom;
} conf_prog;

/* Adds a tensor (contents zero); returns its index or UINT32_MAX. */
uint32_t conf_tensor_add(conf_prog *p, uint32_t dtype, uint32_t role, int64_t ne0, int64_t ne1,
                         int64_t ne2, int64_t ne3);
/* A second shape over the bytes of tensor `base` (same dtype and size), as a
 * graph views [N, T] matmul output as [D, H, T] heads. */
uint32_t conf_tensor_alias(conf_prog *p, uint32_t base, int64_t ne0, int64_t ne1, int64_t ne2,
                           int64_t ne3);
void conf_prog_free(conf_prog *p);
/* Adds a node in step `step`; `out` may equal an input (KV_WRITE). */
uint32_t conf_node_add(conf_prog *p, uint32_t step, uint32_t op, uint32_t n_in, const uint32_t *in,
                       uint32_t out, const void *params, uint32_t psize);
void conf_check_add(conf_prog *p, uint32_t step, uint32_t tensor, const char *tol_name,
                    uint32_t tol_dtype, const char *what);

/* Deterministic PRNG (splitmix64). */
uint64_t conf_rng_u64(uint64_t *s);
float conf_rng_uniform(uint64_t *s, float lo, float hi); /* [lo, hi) */
float conf_rng_normal(uint64_t *s);
uint64_t conf_hash(const char *s);

/* Fills tensor t: values drawn as f32 then converted to its dtype (so
 * quantized tensors hold what the reference quantizer makes of them). */
int conf_fill_uniform(conf_prog *p, uint32_t t, float lo, float hi);
int conf_fill_normal(conf_prog *p, uint32_t t, float sigma);
int conf_fill_f32_values(conf_prog *p, uint32_t t, const float *v); /* nelements values */
void conf_fill_i32(conf_prog *p, uint32_t t, const int32_t *v);
void conf_fill_i32_range(conf_prog *p, uint32_t t, int32_t lo, int32_t hi); /* uniform [lo,hi) */

/* ---- families ---------------------------------------------------------------- */

typedef struct conf_ctx conf_ctx; /* exec.c: the backend a case runs on */

typedef struct conf_family {
    const char *name; /* "matmul", "kvseq", ... */
    uint32_t op;      /* catalog op id, or EHAL_OP_NONE */
    /* Appends this family's cases. */
    void (*enumerate)(conf_caselist *l, uint32_t family);
    /* Builds the program of a case; returns 0, or -1 with msg set. */
    int (*build)(const conf_case *c, conf_prog *p, char *msg, size_t msg_size);
    /* For non-program families (api): runs the case directly. */
    void (*run)(const conf_case *c, conf_ctx *x, ehal_conf_result *r);
} conf_family;

uint32_t conf_family_count(void);
const conf_family *conf_family_get(uint32_t i);

/* Per-op families: entries for the catalog ops (gen_*.c). Indexed by op id;
 * an op of the catalog without an entry gets a failing "no generator" case. */
const conf_family *conf_op_family(uint32_t op);
extern const conf_family conf_fam_get_rows, conf_fam_matmul, conf_fam_rms_norm, conf_fam_rope,
    conf_fam_add, conf_fam_mul, conf_fam_swiglu, conf_fam_softmax, conf_fam_kv_write,
    conf_fam_attention, conf_fam_copy, conf_fam_kvseq, conf_fam_layer, conf_fam_api;

/* Profile membership of an (op-or-family name, dtype) pair for llm-core. */
int conf_in_core(const char *family, uint32_t dtype);

/* ---- tolerances and metrics ------------------------------------------------------ */

typedef struct conf_tol {
    double nmse;      /* max normalized mean squared error */
    double max_rel;   /* max |a-b| / max(|b|, rel_floor * rms(b)) */
    double rel_floor; /* fraction of the reference rms */
} conf_tol;

/* The row for (name, dtype); a default strict row if none matches. */
conf_tol conf_tolerance(const char *name, uint32_t dtype);

typedef struct conf_metrics {
    double nmse, max_rel;
    int64_t worst_index;
    int64_t bad_index; /* first NaN/Inf mismatch, or -1 */
    float bad_got, bad_want;
} conf_metrics;

void conf_measure(const float *got, const float *want, int64_t n, double rel_floor,
                  conf_metrics *m);

/* ---- execution --------------------------------------------------------------------- */

struct conf_ctx {
    ehal_context *ctx;
    ehal_backend *be;
};

/* Opens a context holding the backend named by opts->backend (name or
 * .so path). Returns 0, or -1 with msg set. */
int conf_open(const ehal_conf_options *o, conf_ctx *x, char *msg, size_t msg_size);
void conf_close(conf_ctx *x);

/* Runs one case on the backend and the reference; fills r (status, metrics,
 * message). Never aborts on a backend failure. */
void conf_exec_case(const conf_case *c, conf_ctx *x, ehal_conf_result *r);

/* Runs cases[idx[i]] for i < n, isolated in forked children per opts
 * (or in-process with no_fork); results[idx[i]] receive the outcomes.
 * progress(user, done) is called after each result. */
typedef void (*conf_progress_fn)(void *user, uint32_t done, const ehal_conf_result *r);
int conf_run_cases(const ehal_conf_options *o, const conf_case *cases, const uint32_t *idx,
                   uint32_t n, ehal_conf_result *results, conf_progress_fn progress, void *user);

/* Tells the parent what the current case is doing ("execute of step 2
 * (kv_write, attention)"), so a crash or a hang names where it happened.
 * A no-op outside a forked case child. */
void conf_where(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* In a freshly forked case child: default actions for the fatal signals. */
void conf_child_signals(void);

/* ---- sanitizers (sanitize.c) -------------------------------------------------- */

/* The timeout of one phase of a case when ehal_conf_options.timeout_s is 0:
 * 30 s, times 4 when sanitized (instrumented code runs 3-10x slower). */
#define CONF_DEFAULT_TIMEOUT_S 30.0
#define CONF_SANITIZED_TIMEOUT_SCALE 4.0

/* 1 when this suite is built with ASan/TSan/MSan, or EHAL_SANITIZED is set
 * and non-empty in the environment (the backend under test is sanitized). */
int conf_sanitized(void);
/* The per-phase timeout in seconds: o->timeout_s when set (taken as is),
 * else the default above. */
double conf_timeout_s(const ehal_conf_options *o);
/* Makes fn run when a sanitizer runtime halts the process after a report;
 * -1 when no sanitizer runtime is linked. fn must only write(2). */
int conf_on_sanitizer_death(void (*fn)(void));
/* One line naming the current sanitizer report ("sanitizer report:
 * heap-buffer-overflow, WRITE of 4 bytes"), for use from that callback. */
void conf_sanitizer_report(char *msg, size_t n);

/* ---- reports ---------------------------------------------------------------- */

void conf_print_table(FILE *f, const ehal_conf_report *r);
int conf_write_json(const char *path, const ehal_conf_report *r, const ehal_conf_options *o);
int conf_write_junit(const char *path, const ehal_conf_report *r);

/* Expected-failure list: ids or globs, one per line, '#' comments. */
typedef struct conf_xfail {
    char **pat;
    uint32_t n;
} conf_xfail;
int conf_xfail_load(const char *path, conf_xfail *x, char *msg, size_t msg_size);
int conf_xfail_match(const conf_xfail *x, const char *id);
void conf_xfail_free(conf_xfail *x);

void conf_set_msg(char *msg, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
