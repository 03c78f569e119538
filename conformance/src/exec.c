/*
 * Runs one case: the program on the backend (buffers with guard regions,
 * capability query, prepare, execute, wait, read back) and on the reference
 * kernels, then compares every check with its tolerance row.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define GUARD 256u /* bytes before and after every written tensor */
#define GUARD_BYTE 0xA5u

static const char *err(conf_ctx *x) {
    const char *e = ehal_last_error(x->ctx);
    return e && *e ? e : "(no message)";
}

typedef struct run {
    conf_prog *p;
    conf_ctx *x;
    ehal_conf_result *r;
    void **ref;           /* reference contents per tensor (aliases share) */
    ehal_buffer **buf;    /* per base tensor */
    uint64_t *off;        /* tensor offset in its buffer */
    ehal_tensor_desc *bd; /* backend descs (buffer set) */
    double worst_ratio;
} run;

static uint32_t base_of(const conf_prog *p, uint32_t i) {
    return p->t[i].alias == UINT32_MAX ? i : p->t[i].alias;
}

static void fail(run *R, const char *fmt, const char *a, const char *b) {
    R->r->status = EHAL_CONF_FAIL;
    conf_set_msg(R->r->message, sizeof R->r->message, fmt, a, b);
}

/* ---- subgraph of one step ------------------------------------------------ */

typedef struct stepgraph {
    ehal_subgraph sg;
    const ehal_tensor_desc *tp[CONF_MAX_TENSORS];
    const ehal_node_desc *np[CONF_MAX_NODES];
    ehal_node_desc nodes[CONF_MAX_NODES];
    uint32_t node_ids[CONF_MAX_NODES]; /* program node index */
    uint32_t tens_ids[CONF_MAX_TENSORS];
} stepgraph;

/* Builds the step's subgraph over the tensors its nodes use; descs from
 * `descs` (reference or backend view). */
static void step_graph(const conf_prog *p, uint32_t step, const ehal_tensor_desc *descs,
                       size_t stride, stepgraph *g) {
    uint32_t map[CONF_MAX_TENSORS];
    for (uint32_t i = 0; i < p->n_t; i++)
        map[i] = UINT32_MAX;
    uint32_t nt = 0, nn = 0;
    for (uint32_t k = 0; k < p->n_nodes; k++) {
        if (p->nodes[k].step != step)
            continue;
        ehal_node_desc nd = p->nodes[k].n;
        nd.params = nd.params_size ? p->nodes[k].params : NULL;
        for (uint32_t j = 0; j < nd.n_inputs + 1; j++) {
            uint32_t *slot = j < nd.n_inputs ? &nd.inputs[j] : &nd.outputs[0];
            uint32_t t = *slot;
            if (map[t] == UINT32_MAX) {
                map[t] = nt;
                g->tens_ids[nt] = t;
                g->tp[nt++] = (const ehal_tensor_desc *)((const char *)descs + stride * t);
            }
            *slot = map[t];
        }
        g->nodes[nn] = nd;
        g->node_ids[nn] = k;
        g->np[nn] = &g->nodes[nn];
        nn++;
    }
    g->sg.struct_size = sizeof g->sg;
    g->sg.n_tensors = nt;
    g->sg.n_nodes = nn;
    g->sg.reserved0 = 0;
    g->sg.tensors = g->tp;
    g->sg.nodes = g->np;
}

/* ---- reference ---------------------------------------------------------------- */

static void *ref_resolve(void *user, const ehal_tensor_desc *t) {
    run *R = user;
    size_t i = (size_t)((const char *)t - (const char *)&R->p->t[0].d) / sizeof(conf_tensor);
    return i < R->p->n_t ? R->ref[i] : NULL;
}

static int ref_step(run *R, uint32_t step) {
    stepgraph *g = malloc(sizeof *g);
    if (!g)
        return fail(R, "%s%s", "out of memory", ""), -1;
    step_graph(R->p, step, &R->p->t[0].d, sizeof(conf_tensor), g);
    int rc = 0;
    for (uint32_t k = 0; k < g->sg.n_nodes && rc == 0; k++) {
        ehal_kernel_args a;
        ehal_kernel_args_fill(&a, &g->sg, k, ref_resolve, R);
        ehal_kernel_fn fn = ehal_ref_kernel(g->nodes[k].op);
        if (!fn || fn(&a) != EHAL_STATUS_OK) {
            fail(R, "suite error: reference kernel %s failed%s", ehal_op_name(g->nodes[k].op), "");
            rc = -1;
        }
    }
    free(g);
    return rc;
}

/* ---- validation and capability ------------------------------------------------ */

/* Validates every node and asks the backend; returns 1 if all supported,
 * 0 if some node is unsupported (message names it), -1 on failure. */
static int query_all(run *R) {
    stepgraph *g = malloc(sizeof *g);
    if (!g)
        return fail(R, "%s%s", "out of memory", ""), -1;
    int res = 1;
    for (uint32_t s = 0; s < R->p->n_steps && res == 1; s++) {
        step_graph(R->p, s, &R->p->t[0].d, sizeof(conf_tensor), g);
        for (uint32_t k = 0; k < g->sg.n_nodes; k++) {
            char vm[160];
            if (ehal_op_validate(&g->sg, k, vm, sizeof vm) != EHAL_STATUS_OK) {
                fail(R, "suite error: generated node is invalid: %s%s", vm, "");
                res = -1;
                break;
            }
            ehal_op_support sup = {sizeof sup, 0, 0, 0};
            ehal_status_t st = ehal_backend_query_op(R->x->be, &g->sg, k, &sup);
            if (st != EHAL_STATUS_OK) {
                char m[160];
                conf_set_msg(m, sizeof m, "query_op failed on a valid %s node: %s",
                             ehal_op_name(g->nodes[k].op), ehal_status_string(st));
                fail(R, "%s: %s", m, err(R->x));
                res = -1;
                break;
            }
            if (sup.level == EHAL_SUPPORT_UNSUPPORTED) {
                conf_set_msg(R->r->message, sizeof R->r->message,
                             "query_op: %s node %u (step %u) unsupported",
                             ehal_op_name(g->nodes[k].op), k, s);
                res = 0;
                break;
            }
        }
    }
    free(g);
    return res;
}

/* ---- buffers -------------------------------------------------------------------- */

static int upload(run *R) {
    conf_prog *p = R->p;
    for (uint32_t i = 0; i < p->n_t; i++) {
        conf_tensor *t = &p->t[i];
        if (t->alias != UINT32_MAX)
            continue;
        ehal_status_t st;
        if (t->weight && !t->written) {
            R->off[i] = 0;
            st = ehal_buffer_prepack(R->x->be, &t->d, t->host, &R->buf[i]);
        } else {
            uint64_t total = t->nbytes + 2 * GUARD;
            unsigned char *img = malloc(total);
            if (!img)
                return fail(R, "%s%s", "out of memory", ""), -1;
            memset(img, GUARD_BYTE, total);
            memcpy(img + GUARD, t->host, t->nbytes);
            R->off[i] = GUARD;
            st = ehal_buffer_alloc(R->x->be, total, 0, &R->buf[i]);
            if (st == EHAL_STATUS_OK)
                st = ehal_buffer_write(R->buf[i], 0, img, total);
            free(img);
        }
        if (st != EHAL_STATUS_OK) {
            char m[96];
            conf_set_msg(m, sizeof m, "buffer upload of %llu bytes failed (%s)",
                         (unsigned long long)t->nbytes, ehal_status_string(st));
            return fail(R, "%s: %s", m, err(R->x)), -1;
        }
    }
    for (uint32_t i = 0; i < p->n_t; i++) {
        uint32_t b = base_of(p, i);
        R->bd[i] = p->t[i].d;
        R->bd[i].buffer = ehal_buffer_handle(R->buf[b]);
        R->bd[i].offset = R->off[b];
    }
    return 0;
}

static const char *writer_op(const conf_prog *p, uint32_t t) {
    for (uint32_t k = 0; k < p->n_nodes; k++) {
        uint32_t o = p->nodes[k].n.outputs[0];
        if (o == t || base_of(p, o) == t)
            return ehal_op_name(p->nodes[k].n.op);
    }
    return "?";
}

/* Reads back written tensor i into got (nbytes), checking its guards. */
static int readback(run *R, uint32_t i, unsigned char *scratch, void *got) {
    conf_tensor *t = &R->p->t[i];
    uint64_t total = t->nbytes + 2 * GUARD;
    ehal_status_t st = ehal_buffer_read(R->buf[i], 0, scratch, total);
    if (st != EHAL_STATUS_OK) {
        char m[96];
        conf_set_msg(m, sizeof m, "buffer_read failed (%s)", ehal_status_string(st));
        return fail(R, "%s: %s", m, err(R->x)), -1;
    }
    uint64_t before = 0, after = 0, last_after = 0, first_before = GUARD;
    for (uint64_t b = 0; b < GUARD; b++) {
        if (scratch[b] != GUARD_BYTE) {
            before++;
            if (first_before == GUARD)
                first_before = b;
        }
        if (scratch[GUARD + t->nbytes + b] != GUARD_BYTE) {
            after++;
            last_after = b + 1;
        }
    }
    if (after || before) {
        char m[200];
        if (after)
            conf_set_msg(m, sizeof m,
                         "wrote %llu bytes past the end of the output of %s (tensor %u, %llu "
                         "bytes; up to byte +%llu)",
                         (unsigned long long)after, writer_op(R->p, i), i,
                         (unsigned long long)t->nbytes, (unsigned long long)last_after);
        else
            conf_set_msg(m, sizeof m,
                         "wrote %llu bytes before the start of the output of %s (tensor %u, from "
                         "byte -%llu)",
                         (unsigned long long)before, writer_op(R->p, i), i,
                         (unsigned long long)(GUARD - first_before));
        return fail(R, "%s%s", m, ""), -1;
    }
    memcpy(got, scratch + GUARD, t->nbytes);
    return 0;
}

/* ---- comparison ------------------------------------------------------------------ */

static float *to_f32(const ehal_tensor_desc *d, const void *data) {
    int64_t n = ehal_tensor_nelements(d);
    float *f = malloc((size_t)n * sizeof(float) + 1);
    if (!f)
        return NULL;
    if (d->dtype == EHAL_DTYPE_I32) {
        for (int64_t i = 0; i < n; i++)
            f[i] = (float)((const int32_t *)data)[i];
        return f;
    }
    int64_t ne0 = d->ne[0];
    uint64_t rb = ehal_row_bytes(d->dtype, ne0);
    for (int64_t r = 0; r < n / ne0; r++)
        if (ehal_convert_row(d->dtype, (const char *)data + (uint64_t)r * rb, EHAL_DTYPE_F32,
                             f + r * ne0, ne0) != EHAL_STATUS_OK) {
            free(f);
            return NULL;
        }
    return f;
}

static int compare(run *R, const conf_check *ck, const void *got_bytes) {
    const conf_tensor *t = &R->p->t[ck->tensor];
    float *got = to_f32(&t->d, got_bytes);
    float *want = to_f32(&t->d, R->ref[ck->tensor]);
    if (!got || !want) {
        free(got);
        free(want);
        return fail(R, "%s%s", "out of memory comparing outputs", ""), -1;
    }
    conf_tol tol = conf_tolerance(ck->tol_name, ck->tol_dtype);
    conf_metrics m;
    conf_measure(got, want, ehal_tensor_nelements(&t->d), tol.rel_floor, &m);
    double ratio = fmax(tol.nmse > 0 ? m.nmse / tol.nmse : (m.nmse > 0 ? INFINITY : 0),
                        tol.max_rel > 0 ? m.max_rel / tol.max_rel : (m.max_rel > 0 ? INFINITY : 0));
    if (ratio > R->worst_ratio || R->r->nmse < 0) {
        R->worst_ratio = ratio;
        R->r->nmse = m.nmse;
        R->r->max_rel = m.max_rel;
        R->r->tol_nmse = tol.nmse;
        R->r->tol_max_rel = tol.max_rel;
    }
    int rc = 0;
    if (m.bad_index >= 0) {
        R->r->status = EHAL_CONF_FAIL;
        conf_set_msg(
            R->r->message, sizeof R->r->message,
            "%s (step %u): element %lld is %g where the reference is %g (NaN/Inf mismatch)",
            ck->what, ck->step, (long long)m.bad_index, (double)m.bad_got, (double)m.bad_want);
        rc = -1;
    } else if (m.nmse > tol.nmse || m.max_rel > tol.max_rel) {
        R->r->status = EHAL_CONF_FAIL;
        conf_set_msg(R->r->message, sizeof R->r->message,
                     "%s (step %u): tolerance exceeded: nmse %.3g (tol %.3g), max_rel %.3g (tol "
                     "%.3g) at element %lld: got %g want %g",
                     ck->what, ck->step, m.nmse, tol.nmse, m.max_rel, tol.max_rel,
                     (long long)m.worst_index,
                     m.worst_index >= 0 ? (double)got[m.worst_index] : 0.0,
                     m.worst_index >= 0 ? (double)want[m.worst_index] : 0.0);
        rc = -1;
    }
    free(got);
    free(want);
    return rc;
}

/* ---- one step on the backend ---------------------------------------------------- */

/* "rms_norm, matmul, rope": the distinct ops of a step, in order. */
static void step_ops(const stepgraph *g, char *out, size_t n) {
    size_t len = 0;
    out[0] = '\0';
    for (uint32_t k = 0; k < g->sg.n_nodes; k++) {
        const char *name = ehal_op_name(g->nodes[k].op);
        int seen = 0;
        for (uint32_t j = 0; j < k; j++)
            seen |= g->nodes[j].op == g->nodes[k].op;
        if (seen || len + strlen(name) + 3 >= n)
            continue;
        len += (size_t)snprintf(out + len, n - len, "%s%s", len ? ", " : "", name);
    }
}

static int backend_step(run *R, uint32_t s, stepgraph *g) {
    step_graph(R->p, s, R->bd, sizeof(ehal_tensor_desc), g);
    char ops[64];
    step_ops(g, ops, sizeof ops);
    conf_where("prepare of step %u (%s)", s, ops);
    ehal_executable *exe = NULL;
    ehal_status_t st = ehal_prepare(R->x->be, &g->sg, &exe);
    if (st != EHAL_STATUS_OK) {
        char m[120];
        conf_set_msg(m, sizeof m,
                     "capability: query_op said supported but prepare failed (step %u, %s)", s,
                     ehal_status_string(st));
        return fail(R, "%s: %s", m, err(R->x)), -1;
    }
    conf_where("execute of step %u (%s)", s, ops);
    st = ehal_execute(exe);
    const char *what = "execute";
    if (st == EHAL_STATUS_OK) {
        what = "wait";
        st = ehal_wait(exe, UINT64_MAX);
    }
    conf_where("release of step %u (%s)", s, ops);
    ehal_executable_release(exe);
    if (st != EHAL_STATUS_OK) {
        char m[120];
        conf_set_msg(m, sizeof m, "%s failed on a supported subgraph (step %u, %s)", what, s,
                     ehal_status_string(st));
        return fail(R, "%s: %s", m, err(R->x)), -1;
    }
    return 0;
}

static void run_program(run *R) {
    conf_prog *p = R->p;
    conf_where("query_op");
    int q = query_all(R);
    if (q < 0)
        return;
    conf_where("buffer allocation and upload");
    if (upload(R) != 0)
        return;
    stepgraph *g = malloc(sizeof *g);
    if (!g) {
        fail(R, "%s%s", "out of memory", "");
        return;
    }
    if (q == 0) {
        /* Unsupported: prepare must refuse it cleanly. Try each step. */
        char why[EHAL_CONF_MSG_MAX];
        conf_set_msg(why, sizeof why, "%s", R->r->message);
        for (uint32_t s = 0; s < p->n_steps; s++) {
            step_graph(p, s, R->bd, sizeof(ehal_tensor_desc), g);
            ehal_executable *exe = NULL;
            ehal_status_t st = ehal_prepare(R->x->be, &g->sg, &exe);
            if (st == EHAL_STATUS_OK) {
                ehal_executable_release(exe);
                continue;
            }
            R->r->status = EHAL_CONF_UNSUPPORTED;
            conf_set_msg(R->r->message, sizeof R->r->message, "%s; prepare refused it (%s)", why,
                         ehal_status_string(st));
            free(g);
            return;
        }
        fail(R, "capability: %s, yet prepare accepted every step%s", why, "");
        free(g);
        return;
    }
    unsigned char *scratch = NULL;
    void *got = NULL;
    uint64_t maxb = 0;
    for (uint32_t i = 0; i < p->n_t; i++)
        maxb = p->t[i].nbytes > maxb ? p->t[i].nbytes : maxb;
    scratch = malloc(maxb + 2 * GUARD);
    got = malloc(maxb + 1);
    if (!scratch || !got) {
        fail(R, "%s%s", "out of memory", "");
        goto out;
    }
    for (uint32_t s = 0; s < p->n_steps; s++) {
        if (backend_step(R, s, g) != 0)
            goto out;
        conf_where("reference kernels of step %u (host, not the backend)", s);
        if (ref_step(R, s) != 0)
            goto out;
        conf_where("read-back and compare of step %u", s);
        for (uint32_t c = 0; c < p->n_checks; c++) {
            const conf_check *ck = &p->checks[c];
            if (ck->step != s)
                continue;
            uint32_t b = base_of(p, ck->tensor);
            if (readback(R, b, scratch, got) != 0 || compare(R, ck, got) != 0)
                goto out;
        }
        /* Guards of every other written tensor. */
        for (uint32_t i = 0; i < p->n_t; i++)
            if (p->t[i].written && p->t[i].alias == UINT32_MAX && readback(R, i, scratch, got) != 0)
                goto out;
    }
    R->r->status = EHAL_CONF_PASS;
out:
    free(scratch);
    free(got);
    free(g);
}

void conf_exec_case(const conf_case *c, conf_ctx *x, ehal_conf_result *r) {
    const conf_family *f = conf_family_get(c->family);
    r->status = EHAL_CONF_FAIL;
    r->nmse = r->max_rel = -1.0;
    r->message[0] = '\0';
    if (f->run) {
        f->run(c, x, r);
        return;
    }
    conf_prog *p = calloc(1, sizeof *p);
    run R = {0};
    R.p = p;
    R.x = x;
    R.r = r;
    if (!p) {
        conf_set_msg(r->message, sizeof r->message, "out of memory");
        return;
    }
    p->rng = conf_hash(c->id);
    char msg[160];
    if (f->build(c, p, msg, sizeof msg) != 0) {
        conf_set_msg(r->message, sizeof r->message, "suite error: building the case: %s", msg);
        goto out;
    }
    R.ref = calloc(p->n_t, sizeof *R.ref);
    R.buf = calloc(p->n_t, sizeof *R.buf);
    R.off = calloc(p->n_t, sizeof *R.off);
    R.bd = calloc(p->n_t, sizeof *R.bd);
    if (!R.ref || !R.buf || !R.off || !R.bd) {
        conf_set_msg(r->message, sizeof r->message, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < p->n_t; i++) {
        if (p->t[i].alias != UINT32_MAX)
            continue;
        R.ref[i] = malloc(p->t[i].nbytes + 1);
        if (!R.ref[i]) {
            conf_set_msg(r->message, sizeof r->message, "out of memory");
            goto out;
        }
        memcpy(R.ref[i], p->t[i].host, p->t[i].nbytes);
    }
    for (uint32_t i = 0; i < p->n_t; i++)
        if (p->t[i].alias != UINT32_MAX)
            R.ref[i] = R.ref[p->t[i].alias];
    run_program(&R);
out:
    for (uint32_t i = 0; R.ref && i < p->n_t; i++)
        if (p->t[i].alias == UINT32_MAX)
            free(R.ref[i]);
    for (uint32_t i = 0; R.buf && i < p->n_t; i++)
        ehal_buffer_free(R.buf[i]);
    free(R.ref);
    free(R.buf);
    free(R.off);
    free(R.bd);
    conf_prog_free(p);
    free(p);
}
