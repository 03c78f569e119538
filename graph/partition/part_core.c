/* Exact DP over the node order. State after node i: the backend of every
 * node whose output is still needed later (the live producers), node i
 * included, encoded as base-B digits. A transformer keeps this set small
 * (the residual stream, the normed input while Q/K/V read it, and the
 * caches), so the state space stays in the thousands. */
#include "part_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STATES (1u << 20)

static uint64_t sat_add(uint64_t a, uint64_t b) {
    return a > EHAL_PART_INF - b ? EHAL_PART_INF : a + b;
}

uint64_t ehal_part_xfer_cost(const ehal_part_problem *p, uint32_t a, uint32_t b, uint64_t bytes) {
    if (a == b)
        return 0;
    size_t k = (size_t)a * p->n_backends + b;
    double v = (double)bytes * (p->xfer_ns_per_byte ? p->xfer_ns_per_byte[k] : 0.0);
    uint64_t f = p->xfer_fixed_ns ? p->xfer_fixed_ns[k] : 0;
    return sat_add(f, v >= 1.8e19 ? EHAL_PART_INF : (uint64_t)v);
}

uint64_t ehal_part_evaluate(const ehal_part_problem *p, const uint32_t *a) {
    uint64_t c = 0;
    for (uint32_t i = 0; i < p->n_nodes; i++) {
        if (a[i] >= p->n_backends)
            return EHAL_PART_INF;
        uint64_t nc = p->cost[(size_t)i * p->n_backends + a[i]];
        if (nc == EHAL_PART_INF)
            return EHAL_PART_INF;
        c = sat_add(c, nc);
        if (i == 0 || a[i] != a[i - 1])
            c = sat_add(c, p->overhead[a[i]]);
    }
    for (uint32_t e = 0; e < p->n_edges; e++) {
        const ehal_part_edge *ed = &p->edges[e];
        uint32_t x = a[ed->producer], y = a[ed->consumer];
        if (x != y) {
            if (ed->tied)
                return EHAL_PART_INF;
            c = sat_add(c, ehal_part_xfer_cost(p, x, y, ed->bytes));
        }
    }
    return c;
}

static void usage(const ehal_part_problem *p, const uint32_t *a, uint64_t *use) {
    memset(use, 0, sizeof(uint64_t) * p->n_backends);
    if (!p->mem)
        return;
    for (uint32_t i = 0; i < p->n_nodes; i++)
        use[a[i]] += p->mem[(size_t)i * p->n_backends + a[i]];
}

int ehal_part_fits(const ehal_part_problem *p, const uint32_t *a) {
    if (!p->mem || !p->mem_limit)
        return 1;
    uint64_t use[EHAL_PART_MAX_BACKENDS] = {0};
    usage(p, a, use);
    for (uint32_t b = 0; b < p->n_backends; b++)
        if (p->mem_limit[b] && use[b] > p->mem_limit[b])
            return 0;
    return 1;
}

typedef struct dp_work {
    uint32_t *members; /* members of each step, concatenated */
    uint32_t *m_start; /* [n+1] */
    uint32_t **back;   /* per step: previous state index */
    uint32_t *e_start; /* edges grouped by consumer */
    uint32_t *e_order;
} dp_work;

static void work_free(dp_work *w, uint32_t n) {
    if (w->back)
        for (uint32_t i = 0; i < n; i++)
            free(w->back[i]);
    free(w->back), free(w->members), free(w->m_start), free(w->e_start), free(w->e_order);
}

/* One DP solve with node costs pc (priced). Returns OK and fills assign,
 * UNSUPPORTED when every assignment is forbidden. */
static ehal_status_t dp_solve(const ehal_part_problem *p, const uint64_t *pc, uint32_t *assign,
                              char *err, size_t err_size) {
    const uint32_t n = p->n_nodes, B = p->n_backends;
    dp_work w = {0};
    ehal_status_t st = EHAL_STATUS_OK;
    uint32_t *last = calloc(n, sizeof *last);
    uint32_t *posin = malloc(sizeof *posin * n);
    uint64_t *cur = NULL, *nxt = NULL;
    w.m_start = calloc(n + 1, sizeof *w.m_start);
    w.back = calloc(n, sizeof *w.back);
    w.e_start = calloc(n + 1, sizeof *w.e_start);
    w.e_order = malloc(sizeof *w.e_order * (p->n_edges ? p->n_edges : 1));
    if (!last || !posin || !w.m_start || !w.back || !w.e_start || !w.e_order) {
        st = EHAL_STATUS_OUT_OF_MEMORY;
        goto done;
    }
    for (uint32_t i = 0; i < n; i++)
        last[i] = i;
    for (uint32_t e = 0; e < p->n_edges; e++) {
        const ehal_part_edge *ed = &p->edges[e];
        if (ed->producer >= ed->consumer || ed->consumer >= n) {
            snprintf(err, err_size, "partition: edge %u from node %u to %u is not forward", e,
                     ed->producer, ed->consumer);
            st = EHAL_STATUS_INVALID_ARGUMENT;
            goto done;
        }
        if (ed->consumer > last[ed->producer])
            last[ed->producer] = ed->consumer;
        w.e_start[ed->consumer + 1]++;
    }
    for (uint32_t i = 0; i < n; i++)
        w.e_start[i + 1] += w.e_start[i];
    {
        uint32_t *fill = calloc(n, sizeof *fill);
        if (!fill) {
            st = EHAL_STATUS_OUT_OF_MEMORY;
            goto done;
        }
        for (uint32_t e = 0; e < p->n_edges; e++) {
            uint32_t c = p->edges[e].consumer;
            w.e_order[w.e_start[c] + fill[c]++] = e;
        }
        free(fill);
    }
    /* members of step i: earlier live producers (in order) then i. */
    size_t total = 0, cap = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t prev_s = i ? w.m_start[i - 1] : 0, prev_e = i ? w.m_start[i] : 0;
        size_t need = total + (prev_e - prev_s) + 1;
        if (need > cap) {
            cap = need * 2 + 64;
            uint32_t *nm = realloc(w.members, cap * sizeof *nm);
            if (!nm) {
                st = EHAL_STATUS_OUT_OF_MEMORY;
                goto done;
            }
            w.members = nm;
        }
        w.m_start[i] = (uint32_t)total;
        for (uint32_t k = prev_s; k < prev_e; k++)
            if (last[w.members[k]] > i)
                w.members[total++] = w.members[k];
        w.members[total++] = i;
        w.m_start[i + 1] = (uint32_t)total;
    }
    /* state counts */
    uint64_t maxs = 1;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t s = 1;
        for (uint32_t k = w.m_start[i]; k < w.m_start[i + 1]; k++) {
            s *= B;
            if (s > MAX_STATES || w.m_start[i + 1] - w.m_start[i] > 60) {
                snprintf(err, err_size,
                         "partition: %u tensors live after node %u; the graph is too branched "
                         "for the exact DP with %u backends",
                         w.m_start[i + 1] - w.m_start[i], i, B);
                st = EHAL_STATUS_UNSUPPORTED;
                goto done;
            }
        }
        if (s > maxs)
            maxs = s;
    }
    cur = malloc(sizeof *cur * maxs);
    nxt = malloc(sizeof *nxt * maxs);
    if (!cur || !nxt) {
        st = EHAL_STATUS_OUT_OF_MEMORY;
        goto done;
    }
    /* step 0: single member, node 0 */
    for (uint32_t b = 0; b < B; b++)
        cur[b] = sat_add(pc[b], pc[b] == EHAL_PART_INF ? 0 : p->overhead[b]);
    uint64_t cur_n = B;
    uint32_t digits[64];
    for (uint32_t i = 1; i < n; i++) {
        uint32_t ps = w.m_start[i - 1], pn = w.m_start[i] - ps;
        uint32_t ns = w.m_start[i], nn = w.m_start[i + 1] - ns;
        uint64_t nxt_n = 1;
        for (uint32_t k = 0; k < nn; k++)
            nxt_n *= B;
        for (uint64_t s = 0; s < nxt_n; s++)
            nxt[s] = EHAL_PART_INF;
        w.back[i] = malloc(sizeof(uint32_t) * nxt_n);
        if (!w.back[i]) {
            st = EHAL_STATUS_OUT_OF_MEMORY;
            goto done;
        }
        for (uint32_t k = 0; k < pn; k++)
            posin[w.members[ps + k]] = k;
        /* multiplier of each carried member in the next state */
        uint64_t mult[64];
        uint32_t from[64];
        uint64_t mm = 1;
        for (uint32_t k = 0; k < nn; k++) {
            from[k] = k + 1 < nn ? posin[w.members[ns + k]] : UINT32_MAX;
            mult[k] = mm;
            mm *= B;
        }
        const uint64_t *row = pc + (size_t)i * B;
        for (uint64_t s = 0; s < cur_n; s++) {
            if (cur[s] == EHAL_PART_INF)
                continue;
            uint64_t t = s;
            for (uint32_t k = 0; k < pn; k++) {
                digits[k] = (uint32_t)(t % B);
                t /= B;
            }
            uint32_t prev_b = digits[pn - 1];
            uint64_t base_idx = 0;
            for (uint32_t k = 0; k + 1 < nn; k++)
                base_idx += digits[from[k]] * mult[k];
            for (uint32_t b = 0; b < B; b++) {
                if (row[b] == EHAL_PART_INF)
                    continue;
                uint64_t c = sat_add(cur[s], row[b]);
                if (b != prev_b)
                    c = sat_add(c, p->overhead[b]);
                for (uint32_t q = w.e_start[i]; q < w.e_start[i + 1] && c != EHAL_PART_INF; q++) {
                    const ehal_part_edge *ed = &p->edges[w.e_order[q]];
                    uint32_t pb = digits[posin[ed->producer]];
                    if (pb != b)
                        c = ed->tied ? EHAL_PART_INF
                                     : sat_add(c, ehal_part_xfer_cost(p, pb, b, ed->bytes));
                }
                uint64_t ni = base_idx + b * mult[nn - 1];
                if (c < nxt[ni]) {
                    nxt[ni] = c;
                    w.back[i][ni] = (uint32_t)s;
                }
            }
        }
        uint64_t *tmp = cur;
        cur = nxt;
        nxt = tmp;
        cur_n = nxt_n;
    }
    uint64_t best = EHAL_PART_INF, bs = 0;
    for (uint64_t s = 0; s < cur_n; s++)
        if (cur[s] < best)
            best = cur[s], bs = s;
    if (best == EHAL_PART_INF) {
        /* Name the first node no backend may run, if there is one. */
        uint32_t bad = UINT32_MAX;
        for (uint32_t i = 0; i < n && bad == UINT32_MAX; i++) {
            int any = 0;
            for (uint32_t b = 0; b < B; b++)
                any |= pc[(size_t)i * B + b] != EHAL_PART_INF;
            if (!any)
                bad = i;
        }
        if (bad != UINT32_MAX)
            snprintf(err, err_size, "partition: no allowed backend supports node %u '%s'", bad,
                     p->node_names ? p->node_names[bad] : "?");
        else
            snprintf(err, err_size,
                     "partition: no assignment keeps each KV cache with its readers under the "
                     "given pins");
        st = EHAL_STATUS_UNSUPPORTED;
        goto done;
    }
    for (uint32_t i = n; i-- > 0;) {
        uint32_t nn = w.m_start[i + 1] - w.m_start[i];
        uint64_t t = bs;
        for (uint32_t k = 0; k + 1 < nn; k++)
            t /= B;
        assign[i] = (uint32_t)(t % B);
        if (i > 0)
            bs = w.back[i][bs];
    }
done:
    if (st == EHAL_STATUS_OUT_OF_MEMORY)
        snprintf(err, err_size, "partition: out of host memory for %u nodes", n);
    free(cur), free(nxt), free(last), free(posin);
    work_free(&w, n);
    return st;
}

/* After pricing memory, the DP's answer fits but may leave room unused
 * (pricing moves equal nodes all at once). Greedy repair: move single nodes
 * and runs of up to 64 nodes to another backend while that lowers the
 * objective and still fits. */
static void improve(const ehal_part_problem *p, uint32_t *a) {
    const uint32_t n = p->n_nodes, B = p->n_backends;
    uint32_t *t = malloc(sizeof *t * n);
    if (!t)
        return;
    uint64_t best = ehal_part_evaluate(p, a);
    for (int pass = 0, changed = 1; changed && pass < 8; pass++) {
        changed = 0;
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t len = 1; len <= 64 && i + len <= n; len++)
                for (uint32_t b = 0; b < B; b++) {
                    memcpy(t, a, sizeof *t * n);
                    for (uint32_t k = i; k < i + len; k++)
                        t[k] = b;
                    uint64_t c = ehal_part_evaluate(p, t);
                    if (c < best && ehal_part_fits(p, t)) {
                        best = c;
                        memcpy(a, t, sizeof *t * n);
                        changed = 1;
                    }
                }
    }
    free(t);
}

/* Names the first backend whose use is over its limit. */
static void over_limit_error(const ehal_part_problem *p, const uint64_t *use, char *err,
                             size_t err_size) {
    for (uint32_t b = 0; b < p->n_backends; b++)
        if (p->mem_limit[b] && use[b] > p->mem_limit[b]) {
            snprintf(err, err_size,
                     "partition: backend '%s' would hold %llu bytes of weights and KV "
                     "caches, its limit is %llu, and no other backend can take them",
                     p->backend_names ? p->backend_names[b] : "?", (unsigned long long)use[b],
                     (unsigned long long)p->mem_limit[b]);
            return;
        }
}

ehal_status_t ehal_part_solve(const ehal_part_problem *p, uint32_t *assign, uint64_t *cost,
                              char *err, size_t err_size) {
    char dummy[8];
    if (!err || !err_size)
        err = dummy, err_size = sizeof dummy;
    err[0] = '\0';
    if (!p || !assign || p->n_nodes == 0 || p->n_backends == 0 ||
        p->n_backends > EHAL_PART_MAX_BACKENDS || !p->cost || !p->overhead) {
        snprintf(err, err_size, "partition: empty or invalid problem (%u nodes, %u backends)",
                 p ? p->n_nodes : 0, p ? p->n_backends : 0);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    const uint32_t n = p->n_nodes, B = p->n_backends;
    uint64_t *pc = malloc(sizeof *pc * n * B);
    if (!pc) {
        snprintf(err, err_size, "partition: out of host memory");
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    double lambda[EHAL_PART_MAX_BACKENDS] = {0};
    ehal_status_t st = EHAL_STATUS_OK;
    uint64_t use[EHAL_PART_MAX_BACKENDS] = {0};
    for (int iter = 0; iter < 80; iter++) {
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t b = 0; b < B; b++) {
                size_t k = (size_t)i * B + b;
                uint64_t c = p->cost[k];
                if (c != EHAL_PART_INF && p->mem && lambda[b] > 0) {
                    double extra = lambda[b] * (double)p->mem[k];
                    c = extra >= 1e18 ? EHAL_PART_INF - 1 : sat_add(c, (uint64_t)extra);
                }
                pc[k] = c;
            }
        st = dp_solve(p, pc, assign, err, err_size);
        if (st == EHAL_STATUS_UNSUPPORTED && iter > 0) {
            /* Solvable unpriced, so the memory prices saturated every
             * assignment: no way to fit (use is the last one tried). */
            over_limit_error(p, use, err, err_size);
            st = EHAL_STATUS_OUT_OF_MEMORY;
            break;
        }
        if (st == EHAL_STATUS_OK && iter > 0 && ehal_part_fits(p, assign))
            improve(p, assign);
        if (st != EHAL_STATUS_OK || ehal_part_fits(p, assign))
            break;
        usage(p, assign, use);
        uint64_t plain = ehal_part_evaluate(p, assign);
        int stuck = 1;
        for (uint32_t b = 0; b < B; b++)
            if (p->mem_limit[b] && use[b] > p->mem_limit[b]) {
                double start = 1e-3 * (double)(plain ? plain : 1) / (double)p->mem_limit[b];
                lambda[b] = lambda[b] > 0 ? lambda[b] * 2 : start;
                if (lambda[b] < 1e12)
                    stuck = 0;
            }
        if (stuck || iter == 79) {
            over_limit_error(p, use, err, err_size);
            st = EHAL_STATUS_OUT_OF_MEMORY;
            break;
        }
    }
    if (st == EHAL_STATUS_OK && cost)
        *cost = ehal_part_evaluate(p, assign);
    free(pc);
    return st;
}
