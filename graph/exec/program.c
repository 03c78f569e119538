/* Programs: placing one step's graph on the backends. Weights and KV caches
 * are per session (uploaded / allocated once); activations live in one
 * arena buffer per backend, packed by lifetime. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgehal/ops.h"
#include "exec_internal.h"

#define ALIGN 256u

static ehal_status_t fail(ehal_session *s, ehal_status_t st, const char *what, const char *name) {
    snprintf(s->err, sizeof s->err, "%s '%s': %s: %s", what, name, ehal_status_string(st),
             ehal_last_error(s->ctx));
    return st;
}

static uint64_t align_up(uint64_t x) {
    return (x + ALIGN - 1) / ALIGN * ALIGN;
}

void ehal_program_free(ehal_program *p) {
    if (!p)
        return;
    for (uint32_t k = 0; k < p->n_parts; k++) {
        ehal_executable_release(p->parts[k].exe);
        free(p->parts[k].copies);
    }
    free(p->parts);
    for (uint32_t a = 0; a < EHAL_PART_MAX_BACKENDS; a++)
        for (uint32_t b = 0; b < EHAL_PART_MAX_BACKENDS; b++)
            ehal_buffer_free(p->imp[a][b]);
    for (uint32_t b = 0; b < EHAL_PART_MAX_BACKENDS; b++) {
        if (p->map[b])
            ehal_buffer_unmap(p->arena[b]);
        ehal_buffer_free(p->arena[b]);
    }
    free(p->off);
    ehal_plan_free(p->plan);
    if (!p->graph_borrowed)
        ehal_graph_free(p->g);
    free(p);
}

typedef struct item {
    uint32_t root, backend;
    uint64_t size, start, end, off;
} item;

static int item_cmp(const void *a, const void *b) {
    const item *x = a, *y = b;
    if (x->backend != y->backend)
        return x->backend < y->backend ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->size > y->size ? -1 : x->size < y->size;
}

static int off_cmp(const void *a, const void *b) {
    const item *x = *(const item *const *)a, *y = *(const item *const *)b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* First-fit by lifetime: items of one backend, sorted by start. */
static uint64_t pack(item *it, uint32_t n) {
    uint64_t top = 0;
    item **live = malloc(sizeof *live * (n ? n : 1));
    if (!live)
        return EHAL_NO_OFFSET;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t nl = 0;
        for (uint32_t j = 0; j < i; j++)
            if (it[j].end >= it[i].start && it[j].start <= it[i].end)
                live[nl++] = &it[j];
        qsort(live, nl, sizeof *live, off_cmp);
        uint64_t off = 0;
        for (uint32_t j = 0; j < nl; j++) {
            if (live[j]->off >= off + it[i].size)
                break;
            uint64_t e = align_up(live[j]->off + live[j]->size);
            if (e > off)
                off = e;
        }
        it[i].off = off;
        if (off + it[i].size > top)
            top = off + it[i].size;
    }
    free(live);
    return top;
}

static ehal_status_t place_activations(ehal_session *s, ehal_program *p) {
    const ehal_graph *g = p->g;
    const uint32_t nt = ehal_graph_tensor_count(g), nn = ehal_graph_node_count(g);
    const uint32_t B = p->n_backends;
    const ehal_plan *pl = p->plan;
    uint64_t *first = malloc(sizeof *first * nt * B), *lastu = malloc(sizeof *lastu * nt * B);
    uint32_t *part_of = malloc(sizeof *part_of * (nn ? nn : 1));
    int is_cpu[EHAL_PART_MAX_BACKENDS], shared[EHAL_PART_MAX_BACKENDS];
    if (!first || !lastu || !part_of) {
        free(first), free(lastu), free(part_of);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    for (uint32_t b = 0; b < B; b++) {
        ehal_backend_props pr = {.struct_size = sizeof pr};
        pr.device.struct_size = sizeof pr.device;
        ehal_backend_props_get(ehal_backend_get(s->ctx, b), &pr);
        is_cpu[b] = pr.device.kind == EHAL_DEVICE_CPU;
        shared[b] = (pr.device.flags & EHAL_DEVICE_HOST_SHARED) != 0;
    }
    for (uint32_t a = 0; a < B; a++)
        for (uint32_t b = 0; b < B; b++)
            p->zc[a][b] = p->allow_zc && a != b && shared[a] && shared[b];
    for (size_t k = 0; k < (size_t)nt * B; k++)
        first[k] = EHAL_NO_OFFSET, lastu[k] = 0, p->off[k] = EHAL_NO_OFFSET;
    for (uint32_t k = 0; k < pl->n_parts; k++)
        for (uint32_t i = pl->part_start[k]; i < pl->part_start[k + 1]; i++)
            part_of[i] = k;
    /* Lifetimes in node indices. A backend that is not a CPU gets whole
     * partitions (it may run a partition's nodes concurrently); a copy
     * moved in lives from its partition's start. */
    for (uint32_t i = 0; i < nn; i++) {
        const ehal_graph_node *n = ehal_graph_node_get(g, i);
        uint32_t b = pl->assign[i];
        uint32_t k = part_of[i];
        for (uint32_t q = 0; q <= n->n_inputs; q++) {
            uint32_t t = q < n->n_inputs ? n->inputs[q] : n->output;
            uint32_t r = ehal_graph_tensor_root(g, t);
            const ehal_graph_tensor *rt = ehal_graph_tensor_get(g, r);
            uint32_t role = rt->desc.role;
            if (role == EHAL_ROLE_WEIGHT || role == EHAL_ROLE_KV)
                continue;
            size_t x = (size_t)r * B + b;
            int local = role != EHAL_ROLE_INPUT && rt->producer != EHAL_GRAPH_NONE &&
                        pl->assign[rt->producer] == b;
            uint64_t st = (!local || !is_cpu[b]) ? pl->part_start[k] : i;
            uint64_t en = is_cpu[b] ? i : pl->part_start[k + 1] - 1;
            if (!local && role != EHAL_ROLE_INPUT && rt->producer != EHAL_GRAPH_NONE &&
                p->zc[pl->assign[rt->producer]][b]) {
                /* read in place from the producer's arena: keep it alive */
                uint32_t a = pl->assign[rt->producer];
                size_t y = (size_t)r * B + a;
                uint64_t ea = en > pl->part_start[k + 1] - 1 ? en : pl->part_start[k + 1] - 1;
                if (ea > lastu[y])
                    lastu[y] = ea;
                p->zc_used[a][b] = 1;
                continue;
            }
            if (role == EHAL_ROLE_INPUT)
                st = 0, en = nn;
            if (role == EHAL_ROLE_OUTPUT)
                en = nn;
            if (st < first[x])
                first[x] = st;
            if (en > lastu[x])
                lastu[x] = en;
            /* the producer's copy must outlive the move into b */
            if (!local && role != EHAL_ROLE_INPUT) {
                size_t y = (size_t)r * B + pl->assign[rt->producer];
                if (pl->part_start[k] > lastu[y])
                    lastu[y] = pl->part_start[k];
            }
        }
    }
    item *it = malloc(sizeof *it * ((size_t)nt * B + 1));
    uint32_t ni = 0;
    if (!it) {
        free(first), free(lastu), free(part_of);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    for (uint32_t r = 0; r < nt; r++)
        for (uint32_t b = 0; b < B; b++) {
            size_t x = (size_t)r * B + b;
            if (first[x] == EHAL_NO_OFFSET)
                continue;
            it[ni++] = (item){r,
                              b,
                              align_up(ehal_tensor_nbytes(&ehal_graph_tensor_get(g, r)->desc)),
                              first[x],
                              lastu[x],
                              0};
        }
    qsort(it, ni, sizeof *it, item_cmp);
    ehal_status_t st = EHAL_STATUS_OK;
    for (uint32_t lo = 0; lo < ni && st == EHAL_STATUS_OK;) {
        uint32_t hi = lo;
        while (hi < ni && it[hi].backend == it[lo].backend)
            hi++;
        uint32_t b = it[lo].backend;
        uint64_t top = pack(it + lo, hi - lo);
        if (top == EHAL_NO_OFFSET) {
            st = EHAL_STATUS_OUT_OF_MEMORY;
            break;
        }
        for (uint32_t j = lo; j < hi; j++)
            p->off[(size_t)it[j].root * B + b] = it[j].off;
        p->arena_size[b] = top ? top : ALIGN;
        st = ehal_buffer_alloc(ehal_backend_get(s->ctx, b), p->arena_size[b], 0, &p->arena[b]);
        if (st != EHAL_STATUS_OK) {
            char nm[32];
            snprintf(nm, sizeof nm, "%s", pl->names[b]);
            fail(s, st, "allocating activation arena on", nm);
            s->failed_backend = b;
            break;
        }
        s->stats.arena_bytes += p->arena_size[b];
        void *ptr = NULL;
        if (ehal_buffer_map(p->arena[b], &ptr) == EHAL_STATUS_OK)
            p->map[b] = ptr;
        lo = hi;
    }
    for (uint32_t a = 0; a < B && st == EHAL_STATUS_OK; a++)
        for (uint32_t b = 0; b < B && st == EHAL_STATUS_OK; b++) {
            if (!p->zc_used[a][b])
                continue;
            /* Import a's arena into b; if either side refuses, the caller
             * rebuilds the program with copies instead. */
            if (!p->map[a] ||
                ehal_buffer_import_host(ehal_backend_get(s->ctx, b), p->map[a], p->arena_size[a], 0,
                                        &p->imp[a][b]) != EHAL_STATUS_OK) {
                p->zc_failed = 1;
                st = EHAL_STATUS_UNSUPPORTED;
            }
        }
    free(it), free(first), free(lastu), free(part_of);
    return st;
}

/* Where tensor t lives on backend b, for a node's `slot` (input index, or
 * n_inputs for the output). */
static ehal_status_t locate(ehal_session *s, ehal_program *p, const ehal_graph_node *n,
                            uint32_t slot, uint32_t b, ehal_buffer **buf, uint64_t *off) {
    uint32_t t = slot < n->n_inputs ? n->inputs[slot] : n->output;
    const ehal_graph_tensor *gt = ehal_graph_tensor_get(p->g, t);
    uint32_t r = ehal_graph_tensor_root(p->g, t);
    const ehal_graph_tensor *rt = ehal_graph_tensor_get(p->g, r);
    *off = gt->view_offset;
    if (rt->desc.role == EHAL_ROLE_WEIGHT) {
        int packed = slot == 0 && (n->op == EHAL_OP_MATMUL || n->op == EHAL_OP_GET_ROWS);
        return ehal_weight_buffer_get(s, rt, b, packed, buf);
    }
    if (rt->desc.role == EHAL_ROLE_KV)
        return ehal_kv_buf_get(s, rt, b, buf);
    uint64_t o = p->off[(size_t)r * p->n_backends + b];
    if (o == EHAL_NO_OFFSET && rt->producer != EHAL_GRAPH_NONE) {
        uint32_t a = p->plan->assign[rt->producer];
        if (p->imp[a][b]) {
            *buf = p->imp[a][b];
            *off += p->off[(size_t)r * p->n_backends + a];
            return EHAL_STATUS_OK;
        }
    }
    if (o == EHAL_NO_OFFSET) {
        snprintf(s->err, sizeof s->err, "tensor '%s' has no place on backend %u", rt->name, b);
        return EHAL_STATUS_INTERNAL;
    }
    *buf = p->arena[b];
    *off += o;
    return EHAL_STATUS_OK;
}

static ehal_status_t prepare_part(ehal_session *s, ehal_program *p, ehal_part_rt *pr) {
    const ehal_graph *g = p->g;
    const uint32_t nt = ehal_graph_tensor_count(g), cnt = pr->end - pr->start;
    uint32_t *local = malloc(sizeof *local * nt);
    ehal_tensor_desc *descs = calloc((size_t)cnt * (EHAL_MAX_INPUTS + 1), sizeof *descs);
    const ehal_tensor_desc **tp = calloc((size_t)cnt * (EHAL_MAX_INPUTS + 1), sizeof *tp);
    ehal_node_desc *nd = calloc(cnt, sizeof *nd);
    const ehal_node_desc **np = calloc(cnt, sizeof *np);
    ehal_status_t st = EHAL_STATUS_OK;
    if (!local || !descs || !tp || !nd || !np) {
        st = EHAL_STATUS_OUT_OF_MEMORY;
        goto done;
    }
    for (uint32_t t = 0; t < nt; t++)
        local[t] = UINT32_MAX;
    uint32_t nl = 0;
    for (uint32_t i = pr->start; i < pr->end && st == EHAL_STATUS_OK; i++) {
        const ehal_graph_node *n = ehal_graph_node_get(g, i);
        ehal_node_desc *d = &nd[i - pr->start];
        d->struct_size = sizeof *d;
        d->op = n->op;
        d->n_inputs = n->n_inputs;
        d->n_outputs = 1;
        d->params_size = n->params_size;
        d->params = n->params_size ? n->params : NULL;
        for (uint32_t q = 0; q <= n->n_inputs && st == EHAL_STATUS_OK; q++) {
            uint32_t t = q < n->n_inputs ? n->inputs[q] : n->output;
            if (local[t] == UINT32_MAX) {
                ehal_buffer *buf = NULL;
                uint64_t off = 0;
                st = locate(s, p, n, q, pr->backend, &buf, &off);
                if (st != EHAL_STATUS_OK)
                    break;
                descs[nl] = ehal_graph_tensor_get(g, t)->desc;
                descs[nl].buffer = ehal_buffer_handle(buf);
                descs[nl].offset = off;
                tp[nl] = &descs[nl];
                local[t] = nl++;
            }
            if (q < n->n_inputs)
                d->inputs[q] = local[t];
            else
                d->outputs[0] = local[t];
        }
        np[i - pr->start] = d;
    }
    if (st == EHAL_STATUS_OK) {
        ehal_subgraph sg = {sizeof sg, nl, cnt, 0, tp, np};
        st = ehal_prepare(ehal_backend_get(s->ctx, pr->backend), &sg, &pr->exe);
        if (st != EHAL_STATUS_OK) {
            fail(s, st, "preparing partition", pr->label);
            s->failed_backend = pr->backend;
        }
    }
done:
    if (st == EHAL_STATUS_OUT_OF_MEMORY && !s->err[0])
        snprintf(s->err, sizeof s->err, "partition %s: out of host memory", pr->label);
    free(local), free(descs), free(tp), free(nd), free(np);
    return st;
}

/* Boundary moves: every activation a partition reads that its backend does
 * not hold yet this step, moved in once before its first reader. */
static ehal_status_t plan_copies(ehal_program *p) {
    const ehal_graph *g = p->g;
    const uint32_t nt = ehal_graph_tensor_count(g), B = p->n_backends;
    uint8_t *have = calloc((size_t)nt * B, 1);
    if (!have)
        return EHAL_STATUS_OUT_OF_MEMORY;
    for (uint32_t k = 0; k < p->n_parts; k++) {
        ehal_part_rt *pr = &p->parts[k];
        pr->copies =
            calloc((size_t)(pr->end - pr->start) * EHAL_MAX_INPUTS + 1, sizeof *pr->copies);
        if (!pr->copies) {
            free(have);
            return EHAL_STATUS_OUT_OF_MEMORY;
        }
        for (uint32_t i = pr->start; i < pr->end; i++) {
            const ehal_graph_node *n = ehal_graph_node_get(g, i);
            for (uint32_t q = 0; q < n->n_inputs; q++) {
                uint32_t r = ehal_graph_tensor_root(g, n->inputs[q]);
                const ehal_graph_tensor *rt = ehal_graph_tensor_get(g, r);
                if (rt->desc.role == EHAL_ROLE_WEIGHT || rt->desc.role == EHAL_ROLE_KV ||
                    rt->desc.role == EHAL_ROLE_INPUT || rt->producer == EHAL_GRAPH_NONE)
                    continue;
                uint32_t from = p->plan->assign[rt->producer];
                if (from == pr->backend || have[(size_t)r * B + pr->backend])
                    continue;
                have[(size_t)r * B + pr->backend] = 1;
                if (p->imp[from][pr->backend]) { /* read in place */
                    p->zc_bytes += ehal_tensor_nbytes(&rt->desc);
                    continue;
                }
                pr->copies[pr->n_copies++] = (ehal_copy){r, from, pr->backend};
            }
        }
    }
    free(have);
    return EHAL_STATUS_OK;
}

static ehal_status_t build_once(ehal_session *s, uint32_t T, int allow_zc, int *zc_failed,
                                ehal_program **out);

ehal_status_t ehal_program_build(ehal_session *s, uint32_t T, ehal_program **out) {
    int zc_failed = 0;
    ehal_status_t st = build_once(s, T, 1, &zc_failed, out);
    if (st != EHAL_STATUS_OK && zc_failed) {
        s->err[0] = '\0';
        st = build_once(s, T, 0, &zc_failed, out);
    }
    return st;
}

static ehal_status_t build_once(ehal_session *s, uint32_t T, int allow_zc, int *zc_failed,
                                ehal_program **out) {
    *out = NULL;
    ehal_program *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(s->err, sizeof s->err, "program T=%u: out of host memory for %zu bytes", T,
                 sizeof *p);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    p->allow_zc = allow_zc;
    p->n_tokens = T;
    p->n_backends = s->n_backends;
    ehal_llama_options lo = {
        T, s->o.kv_dtype, s->o.kv_capacity, s->o.kv_window, s->o.kv_sinks, s->o.all_logits};
    char err[256];
    ehal_status_t st = EHAL_STATUS_OK;
    if (s->user_graph) {
        p->g = (ehal_graph *)s->user_graph;
        p->graph_borrowed = 1;
    } else {
        st = ehal_graph_build_llama(s->m, &lo, &p->g, err, sizeof err);
    }
    if (st != EHAL_STATUS_OK) {
        if (err[0])
            snprintf(s->err, sizeof s->err, "%s", err);
        else
            snprintf(s->err, sizeof s->err, "program T=%u: building the graph: %s", T,
                     ehal_status_string(st));
        free(p);
        return st;
    }
    const uint32_t nn = ehal_graph_node_count(p->g);
    /* Keep attention where an existing KV cache lives. */
    uint32_t *fixed = malloc(sizeof *fixed * nn);
    if (!fixed) {
        snprintf(s->err, sizeof s->err,
                 "program T=%u: out of host memory for %zu bytes of KV placements", T,
                 sizeof *fixed * nn);
        ehal_program_free(p);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    for (uint32_t i = 0; i < nn; i++) {
        const ehal_graph_node *n = ehal_graph_node_get(p->g, i);
        fixed[i] = EHAL_GRAPH_NONE;
        for (uint32_t q = 0; q < n->n_inputs; q++) {
            const ehal_graph_tensor *t = ehal_graph_tensor_get(p->g, n->inputs[q]);
            ehal_kv_buf *k = t->desc.role == EHAL_ROLE_KV ? ehal_kv_find(s, t->name) : NULL;
            if (k)
                fixed[i] = k->backend;
        }
    }
    ehal_plan_options po = {sizeof po,
                            (const char *const *)s->pins,
                            s->o.n_pins,
                            NULL,
                            s->user_graph ? NULL : ehal_session_calibration(s, T),
                            s->user_graph ? NULL : ehal_session_overheads(s)};
    st = ehal_plan_create_ex(s->ctx, p->g, &po, fixed, s->dead_mask, (int)s->o.explain, &p->plan,
                             err, sizeof err);
    free(fixed);
    if (st != EHAL_STATUS_OK) {
        if (err[0])
            snprintf(s->err, sizeof s->err, "%s", err);
        else
            snprintf(s->err, sizeof s->err, "program T=%u: planning: %s", T,
                     ehal_status_string(st));
        ehal_program_free(p);
        return st;
    }
    const uint32_t nt = ehal_graph_tensor_count(p->g);
    p->off = malloc(sizeof *p->off * nt * p->n_backends);
    /* With op tracing every node runs as its own execute (measured op
     * times, at the cost of more dispatches); plan partition k of node i
     * is kept in plan_part for the enclosing trace slice. */
    const int per_op = s->o.trace_ops != 0;
    const uint32_t nrt = per_op ? ehal_graph_node_count(p->g) : p->plan->n_parts;
    p->parts = calloc(nrt, sizeof *p->parts);
    if (!p->off || !p->parts) {
        snprintf(s->err, sizeof s->err, "program T=%u: out of host memory for %zu bytes of %s", T,
                 !p->off ? sizeof *p->off * nt * p->n_backends : sizeof *p->parts * nrt,
                 !p->off ? "tensor offsets" : "partitions");
        ehal_program_free(p);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    p->n_parts = nrt;
    for (uint32_t k = 0, pk = 0; k < nrt; k++) {
        ehal_part_rt *pr = &p->parts[k];
        if (per_op) {
            while (p->plan->part_start[pk + 1] <= k)
                pk++;
            pr->start = k;
            pr->end = k + 1;
            pr->plan_part = pk;
            pr->backend = p->plan->assign[k];
            snprintf(pr->label, sizeof pr->label, "%s", ehal_graph_node_get(p->g, k)->name);
        } else {
            pr->backend = p->plan->part_backend[k];
            pr->start = p->plan->part_start[k];
            pr->end = p->plan->part_start[k + 1];
            pr->plan_part = k;
            snprintf(pr->label, sizeof pr->label, "T%u p%u %s [%u..%u]", T, k,
                     p->plan->names[pr->backend], pr->start, pr->end - 1);
        }
    }
    p->tok = ehal_graph_tensor_find(p->g, "tokens");
    p->pos = ehal_graph_tensor_find(p->g, "pos");
    p->logits = ehal_graph_tensor_find(p->g, "logits");
    const ehal_graph_tensor *lt = ehal_graph_tensor_get(p->g, p->logits);
    if (lt && lt->producer != EHAL_GRAPH_NONE) {
        p->logits_backend = p->plan->assign[lt->producer];
        p->logits_rows = (uint64_t)lt->desc.ne[1];
    }
    st = place_activations(s, p);
    if (st == EHAL_STATUS_OK)
        st = plan_copies(p);
    for (uint32_t k = 0; k < p->n_parts && st == EHAL_STATUS_OK; k++)
        st = prepare_part(s, p, &p->parts[k]);
    if (st != EHAL_STATUS_OK) {
        if (!s->err[0])
            snprintf(s->err, sizeof s->err, "program T=%u: %s", T, ehal_status_string(st));
        *zc_failed = p->zc_failed;
        for (uint32_t b = 0; b < p->n_backends; b++)
            s->stats.arena_bytes -= p->arena[b] ? p->arena_size[b] : 0;
        ehal_program_free(p);
        return st;
    }
    *out = p;
    return EHAL_STATUS_OK;
}
