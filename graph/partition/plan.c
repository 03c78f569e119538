/* Plans: the partition problem built from backend cost queries, solved by
 * the DP core, with per-group alternatives for --explain. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgehal/ops.h"
#include "pins.h"
#include "plan_internal.h"

#define HOST_BW 20e9     /* bytes/s assumed for host memcpy */
#define UNKNOWN_LINK 8e9 /* bytes/s when a device declares none */
#define MIN_OVERHEAD_NS 1000ull

typedef struct whole {
    ehal_tensor_desc *descs;
    const ehal_tensor_desc **tp;
    ehal_node_desc *nd;
    const ehal_node_desc **np;
    ehal_subgraph sg;
} whole;

static void whole_free(whole *w) {
    free(w->descs), free(w->tp), free(w->nd), free(w->np);
}

static int whole_init(whole *w, const ehal_graph *g) {
    uint32_t nt = ehal_graph_tensor_count(g), nn = ehal_graph_node_count(g);
    memset(w, 0, sizeof *w);
    w->descs = calloc(nt, sizeof *w->descs);
    w->tp = calloc(nt, sizeof *w->tp);
    w->nd = calloc(nn, sizeof *w->nd);
    w->np = calloc(nn, sizeof *w->np);
    if (!w->descs || !w->tp || !w->nd || !w->np) {
        whole_free(w);
        return 0;
    }
    for (uint32_t t = 0; t < nt; t++) {
        w->descs[t] = ehal_graph_tensor_get(g, t)->desc;
        w->tp[t] = &w->descs[t];
    }
    for (uint32_t i = 0; i < nn; i++) {
        const ehal_graph_node *n = ehal_graph_node_get(g, i);
        ehal_node_desc *d = &w->nd[i];
        d->struct_size = sizeof *d;
        d->op = n->op;
        d->n_inputs = n->n_inputs;
        d->n_outputs = 1;
        memcpy(d->inputs, n->inputs, sizeof d->inputs);
        d->outputs[0] = n->output;
        d->params_size = n->params_size;
        d->params = n->params_size ? n->params : NULL;
        w->np[i] = d;
    }
    w->sg = (ehal_subgraph){sizeof w->sg, nt, nn, 0, w->tp, w->np};
    return 1;
}

/* A rough estimate for a backend that gives none: flops and bytes at rates
 * by device kind. */
static uint64_t fallback_cost(const ehal_graph *g, const ehal_graph_node *n, uint32_t kind) {
    double bytes = 0, flops = 0;
    for (uint32_t k = 0; k < n->n_inputs; k++)
        bytes += (double)ehal_tensor_nbytes(&ehal_graph_tensor_get(g, n->inputs[k])->desc);
    const ehal_tensor_desc *o = &ehal_graph_tensor_get(g, n->output)->desc;
    bytes += (double)ehal_tensor_nbytes(o);
    if (n->op == EHAL_OP_MATMUL) {
        const ehal_tensor_desc *w = &ehal_graph_tensor_get(g, n->inputs[0])->desc;
        const ehal_tensor_desc *x = &ehal_graph_tensor_get(g, n->inputs[1])->desc;
        flops = 2.0 * (double)w->ne[0] * (double)w->ne[1] * (double)x->ne[1];
    } else if (n->op == EHAL_OP_ATTENTION) {
        const ehal_tensor_desc *q = &ehal_graph_tensor_get(g, n->inputs[0])->desc;
        const ehal_tensor_desc *k = &ehal_graph_tensor_get(g, n->inputs[1])->desc;
        flops = 4.0 * (double)ehal_tensor_nelements(q) * (double)k->ne[1] / 4;
    } else {
        flops = 5.0 * (double)ehal_tensor_nelements(o);
    }
    double fr = kind == EHAL_DEVICE_GPU ? 200e9 : kind == EHAL_DEVICE_NPU ? 500e9 : 20e9;
    double br = kind == EHAL_DEVICE_GPU ? 50e9 : 10e9;
    double s = flops / fr > bytes / br ? flops / fr : bytes / br;
    return (uint64_t)(s * 1e9) + 1;
}

static double link_bw(const ehal_device_info *d) {
    if (d->flags & EHAL_DEVICE_HOST_SHARED)
        return d->link_bytes_per_s ? (double)d->link_bytes_per_s : HOST_BW;
    return d->link_bytes_per_s ? (double)d->link_bytes_per_s : UNKNOWN_LINK;
}

void ehal_plan_free(ehal_plan *p) {
    if (!p)
        return;
    free(p->assign), free(p->part_start), free(p->part_backend);
    free(p->group_name), free(p->group_alt), free(p->group_nodes);
    free(p);
}

static uint32_t group_of(const ehal_graph_node *n, uint32_t n_layers) {
    if (n->layer >= 0)
        return 1 + (uint32_t)n->layer;
    if (n->section == EHAL_SECTION_EMBED)
        return 0;
    if (n->section == EHAL_SECTION_HEAD)
        return n_layers + 1;
    return n_layers + 2;
}

ehal_status_t ehal_plan_create_ex(ehal_context *ctx, const ehal_graph *g,
                                  const ehal_plan_options *o, const uint32_t *fixed,
                                  uint32_t forbid_mask, int explain, ehal_plan **out, char *err,
                                  size_t err_size) {
    char dummy[8];
    if (!err || !err_size)
        err = dummy, err_size = sizeof dummy;
    err[0] = '\0';
    if (!ctx || !g || !out) {
        snprintf(err, err_size, "plan: NULL argument");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    const uint32_t nn = ehal_graph_node_count(g), B = ehal_backend_count(ctx);
    if (B == 0 || B > EHAL_PART_MAX_BACKENDS) {
        snprintf(err, err_size, "plan: %u backends loaded, need 1..%d", B, EHAL_PART_MAX_BACKENDS);
        return EHAL_STATUS_UNSUPPORTED;
    }
    ehal_plan *p = calloc(1, sizeof *p);
    whole w;
    if (!p || !whole_init(&w, g)) {
        free(p);
        snprintf(err, err_size, "plan: out of host memory");
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    p->g = g;
    p->n_nodes = nn;
    p->n_backends = B;
    ehal_status_t st = EHAL_STATUS_OK;
    ehal_device_info dev[EHAL_PART_MAX_BACKENDS];
    const char *names[EHAL_PART_MAX_BACKENDS];
    uint64_t overhead[EHAL_PART_MAX_BACKENDS], limit[EHAL_PART_MAX_BACKENDS];
    double xpb[EHAL_PART_MAX_BACKENDS * EHAL_PART_MAX_BACKENDS];
    uint64_t xfix[EHAL_PART_MAX_BACKENDS * EHAL_PART_MAX_BACKENDS];
    for (uint32_t b = 0; b < B; b++) {
        ehal_backend_props pr;
        memset(&pr, 0, sizeof pr);
        pr.struct_size = sizeof pr;
        pr.device.struct_size = sizeof pr.device;
        ehal_backend_props_get(ehal_backend_get(ctx, b), &pr);
        dev[b] = pr.device;
        snprintf(p->names[b], sizeof p->names[b], "%s", pr.name ? pr.name : "?");
        names[b] = p->names[b];
        overhead[b] = dev[b].dispatch_overhead_ns > MIN_OVERHEAD_NS ? dev[b].dispatch_overhead_ns
                                                                    : MIN_OVERHEAD_NS;
        if (o && o->struct_size >= offsetof(ehal_plan_options, overhead_ns) + sizeof(void *) &&
            o->overhead_ns && o->overhead_ns[b] > overhead[b])
            overhead[b] = o->overhead_ns[b];
        uint64_t res = o && o->reserved_bytes ? o->reserved_bytes[b] : 0;
        limit[b] =
            dev[b].memory_bytes ? (dev[b].memory_bytes > res ? dev[b].memory_bytes - res : 1) : 0;
    }
    for (uint32_t a = 0; a < B; a++)
        for (uint32_t b = 0; b < B; b++) {
            int both = (dev[a].flags & dev[b].flags & EHAL_DEVICE_HOST_SHARED) != 0;
            xpb[a * B + b] = a == b ? 0
                             : both ? 1e9 / HOST_BW
                                    : 1e9 / link_bw(&dev[a]) + 1e9 / link_bw(&dev[b]);
            xfix[a * B + b] = a == b ? 0 : both ? 1000 : 10000;
        }
    uint64_t *cost = calloc((size_t)nn * B, sizeof *cost);
    uint64_t *mem = calloc((size_t)nn * B, sizeof *mem);
    uint32_t *pinned = calloc(nn ? nn : 1, sizeof *pinned);
    const char **node_names = calloc(nn ? nn : 1, sizeof *node_names);
    ehal_part_edge *edges = calloc((size_t)nn * EHAL_MAX_INPUTS + 1, sizeof *edges);
    uint32_t n_edges = 0;
    p->assign = calloc(nn ? nn : 1, sizeof *p->assign);
    if (!cost || !mem || !pinned || !node_names || !edges || !p->assign) {
        snprintf(err, err_size, "plan: out of host memory");
        st = EHAL_STATUS_OUT_OF_MEMORY;
        goto done;
    }
    st = ehal_pins_apply(g, o ? o->pins : NULL, o ? o->n_pins : 0, names, B, pinned, err, err_size);
    if (st != EHAL_STATUS_OK)
        goto done;
    for (uint32_t i = 0; i < nn; i++) {
        const ehal_graph_node *n = ehal_graph_node_get(g, i);
        node_names[i] = n->name;
        if (fixed && fixed[i] != EHAL_GRAPH_NONE)
            pinned[i] = fixed[i];
        if (pinned[i] != EHAL_GRAPH_NONE && (forbid_mask >> pinned[i] & 1u))
            pinned[i] = EHAL_GRAPH_NONE;
        for (uint32_t b = 0; b < B; b++) {
            size_t k = (size_t)i * B + b;
            ehal_op_support sup;
            memset(&sup, 0, sizeof sup);
            sup.struct_size = sizeof sup;
            ehal_status_t qs = ehal_backend_query_op(ehal_backend_get(ctx, b), &w.sg, i, &sup);
            if (qs != EHAL_STATUS_OK || sup.level == EHAL_SUPPORT_UNSUPPORTED ||
                (forbid_mask >> b & 1u) || (pinned[i] != EHAL_GRAPH_NONE && pinned[i] != b)) {
                cost[k] = EHAL_PART_INF;
                continue;
            }
            cost[k] = sup.cost_ns ? sup.cost_ns : fallback_cost(g, n, dev[b].kind);
            if (o && o->struct_size >= offsetof(ehal_plan_options, cost_scale) + sizeof(void *) &&
                o->cost_scale && o->cost_scale[b] > 0) {
                double sc = (double)cost[k] * o->cost_scale[b];
                cost[k] = sc >= 1e18 ? (uint64_t)1e18 : (uint64_t)sc + 1;
            }
            if (sup.level == EHAL_SUPPORT_PREFERRED)
                cost[k] -= cost[k] / 16; /* a small nudge, not a rule */
            /* Host inputs (tokens, positions) and the graph output. */
            for (uint32_t q = 0; q < n->n_inputs; q++) {
                const ehal_graph_tensor *t = ehal_graph_tensor_get(g, n->inputs[q]);
                if (t->desc.role == EHAL_ROLE_INPUT)
                    cost[k] +=
                        (uint64_t)(1e9 / link_bw(&dev[b]) * (double)ehal_tensor_nbytes(&t->desc));
                if (t->desc.role == EHAL_ROLE_WEIGHT)
                    mem[k] += ehal_tensor_nbytes(&t->desc);
            }
            const ehal_graph_tensor *ot = ehal_graph_tensor_get(g, n->output);
            if (ot->desc.role == EHAL_ROLE_OUTPUT)
                cost[k] +=
                    (uint64_t)(1e9 / link_bw(&dev[b]) * (double)ehal_tensor_nbytes(&ot->desc));
            if (n->op == EHAL_OP_KV_WRITE)
                mem[k] += ehal_tensor_nbytes(&ot->desc);
        }
        /* Edges: activations from their producer; KV caches tie every node
         * touching one to the node that first wrote it. */
        for (uint32_t q = 0; q < n->n_inputs; q++) {
            const ehal_graph_tensor *t = ehal_graph_tensor_get(g, n->inputs[q]);
            if (t->desc.role == EHAL_ROLE_KV) {
                uint32_t root = ehal_graph_tensor_root(g, n->inputs[q]);
                for (uint32_t j = 0; j < i; j++) {
                    const ehal_graph_node *m = ehal_graph_node_get(g, j);
                    if (ehal_graph_tensor_root(g, m->output) == root) {
                        edges[n_edges++] = (ehal_part_edge){j, i, 0, 1};
                        break;
                    }
                }
            } else if (t->producer != EHAL_GRAPH_NONE && t->producer < i) {
                edges[n_edges++] =
                    (ehal_part_edge){t->producer, i, ehal_tensor_nbytes(&t->desc), 0};
            }
        }
    }
    /* A pin onto a backend that cannot run the node: name the node, the
     * backend and the op, not just "no allowed backend". */
    for (uint32_t i = 0; i < nn; i++) {
        uint32_t b = pinned[i];
        if (b == EHAL_GRAPH_NONE || cost[(size_t)i * B + b] != EHAL_PART_INF)
            continue;
        const ehal_graph_node *n = ehal_graph_node_get(g, i);
        snprintf(err, err_size,
                 "plan: node %u '%s' is pinned to '%s', which does not support this %s; pin "
                 "only what it runs (e.g. 'op:matmul=%s')",
                 i, n->name, names[b], ehal_op_name(n->op), names[b]);
        st = EHAL_STATUS_UNSUPPORTED;
        goto done;
    }
    ehal_part_problem pb = {nn,    B,       cost, overhead, xpb,   xfix,
                            edges, n_edges, mem,  limit,    names, node_names};
    st = ehal_part_solve(&pb, p->assign, &p->cost_ns, err, err_size);
    if (st != EHAL_STATUS_OK)
        goto done;
    /* partitions: maximal runs of one backend in node order */
    p->part_start = calloc(nn + 1, sizeof *p->part_start);
    p->part_backend = calloc(nn ? nn : 1, sizeof *p->part_backend);
    if (!p->part_start || !p->part_backend) {
        st = EHAL_STATUS_OUT_OF_MEMORY;
        goto done;
    }
    for (uint32_t i = 0; i < nn; i++)
        if (i == 0 || p->assign[i] != p->assign[i - 1]) {
            p->part_start[p->n_parts] = i;
            p->part_backend[p->n_parts++] = p->assign[i];
        }
    p->part_start[p->n_parts] = nn;
    /* groups */
    uint32_t n_layers = 0;
    for (uint32_t i = 0; i < nn; i++) {
        int32_t l = ehal_graph_node_get(g, i)->layer;
        if (l >= 0 && (uint32_t)l + 1 > n_layers)
            n_layers = (uint32_t)l + 1;
    }
    p->n_groups = n_layers + 3;
    p->group_name = calloc(p->n_groups, sizeof *p->group_name);
    p->group_alt = calloc((size_t)p->n_groups * B, sizeof *p->group_alt);
    p->group_nodes = calloc((size_t)p->n_groups * B, sizeof *p->group_nodes);
    if (!p->group_name || !p->group_alt || !p->group_nodes) {
        st = EHAL_STATUS_OUT_OF_MEMORY;
        goto done;
    }
    for (uint32_t gi = 0; gi < p->n_groups; gi++) {
        if (gi == 0)
            snprintf(p->group_name[gi], sizeof p->group_name[gi], "embed");
        else if (gi <= n_layers)
            snprintf(p->group_name[gi], sizeof p->group_name[gi], "layer %u", gi - 1);
        else
            snprintf(p->group_name[gi], sizeof p->group_name[gi],
                     gi == n_layers + 1 ? "lm_head" : "other");
    }
    for (uint32_t i = 0; i < nn; i++)
        p->group_nodes[(size_t)group_of(ehal_graph_node_get(g, i), n_layers) * B + p->assign[i]]++;
    for (size_t k = 0; k < (size_t)p->n_groups * B; k++)
        p->group_alt[k] = EHAL_PART_INF;
    p->has_alt = explain;
    if (explain) {
        uint64_t *c2 = malloc(sizeof *c2 * nn * B);
        uint32_t *a2 = malloc(sizeof *a2 * (nn ? nn : 1));
        char e2[64];
        if (!c2 || !a2) {
            free(c2), free(a2);
            st = EHAL_STATUS_OUT_OF_MEMORY;
            goto done;
        }
        for (uint32_t gi = 0; gi < p->n_groups; gi++) {
            uint32_t cnt = 0;
            for (uint32_t b = 0; b < B; b++)
                cnt += p->group_nodes[(size_t)gi * B + b];
            if (!cnt)
                continue;
            for (uint32_t b = 0; b < B; b++) {
                memcpy(c2, cost, sizeof *c2 * nn * B);
                for (uint32_t i = 0; i < nn; i++)
                    if (group_of(ehal_graph_node_get(g, i), n_layers) == gi)
                        for (uint32_t x = 0; x < B; x++)
                            if (x != b)
                                c2[(size_t)i * B + x] = EHAL_PART_INF;
                pb.cost = c2;
                uint64_t c = EHAL_PART_INF;
                if (ehal_part_solve(&pb, a2, &c, e2, sizeof e2) != EHAL_STATUS_OK)
                    c = EHAL_PART_INF;
                p->group_alt[(size_t)gi * B + b] = c;
            }
        }
        pb.cost = cost;
        free(c2), free(a2);
    }
done:
    if (st == EHAL_STATUS_OUT_OF_MEMORY && !err[0])
        snprintf(err, err_size, "plan: out of host memory");
    free(cost), free(mem), free(pinned), free(node_names), free(edges);
    whole_free(&w);
    if (st != EHAL_STATUS_OK) {
        ehal_plan_free(p);
        return st;
    }
    *out = p;
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_plan_create(ehal_context *ctx, const ehal_graph *g, const ehal_plan_options *o,
                               ehal_plan **out, char *err, size_t err_size) {
    return ehal_plan_create_ex(ctx, g, o, NULL, 0, 1, out, err, err_size);
}

uint32_t ehal_plan_node_backend(const ehal_plan *p, uint32_t node) {
    return p && node < p->n_nodes ? p->assign[node] : EHAL_GRAPH_NONE;
}
uint32_t ehal_plan_partition_count(const ehal_plan *p) {
    return p ? p->n_parts : 0;
}
uint64_t ehal_plan_cost_ns(const ehal_plan *p) {
    return p ? p->cost_ns : 0;
}

void ehal_plan_print(const ehal_plan *p, FILE *f) {
    if (!p || !f)
        return;
    fprintf(f, "plan: %u nodes in %u partition%s, estimated %.3f ms per step\n", p->n_nodes,
            p->n_parts, p->n_parts == 1 ? "" : "s", (double)p->cost_ns / 1e6);
    fprintf(f, "  %-10s", "nodes");
    for (uint32_t b = 0; b < p->n_backends; b++)
        fprintf(f, " %8s", p->names[b]);
    fprintf(f, "\n");
    for (uint32_t gi = 0; gi < p->n_groups; gi++) {
        uint32_t cnt = 0;
        for (uint32_t b = 0; b < p->n_backends; b++)
            cnt += p->group_nodes[(size_t)gi * p->n_backends + b];
        if (!cnt)
            continue;
        fprintf(f, "  %-10s", p->group_name[gi]);
        for (uint32_t b = 0; b < p->n_backends; b++) {
            uint32_t c = p->group_nodes[(size_t)gi * p->n_backends + b];
            if (c)
                fprintf(f, " %8u", c);
            else
                fprintf(f, " %8s", ".");
        }
        fprintf(f, "\n");
    }
    fprintf(f, "  partitions:");
    for (uint32_t k = 0; k < p->n_parts; k++)
        fprintf(f, " [%u..%u]=%s", p->part_start[k], p->part_start[k + 1] - 1,
                p->names[p->part_backend[k]]);
    fprintf(f, "\n");
}

void ehal_plan_explain(const ehal_plan *p, FILE *f) {
    if (!p || !f)
        return;
    if (!p->has_alt) {
        fprintf(f, "explain: this plan was made without alternatives\n");
        return;
    }
    fprintf(f, "explain: estimated ms per step of the best plan with the group forced onto each "
               "backend (* = chosen; n/a = unsupported or pinned away)\n");
    fprintf(f, "  %-10s %-8s", "group", "chosen");
    for (uint32_t b = 0; b < p->n_backends; b++)
        fprintf(f, " %12s", p->names[b]);
    fprintf(f, "\n");
    for (uint32_t gi = 0; gi < p->n_groups; gi++) {
        const uint32_t B = p->n_backends;
        uint32_t cnt = 0, chosen = UINT32_MAX, kinds = 0;
        for (uint32_t b = 0; b < B; b++) {
            uint32_t c = p->group_nodes[(size_t)gi * B + b];
            cnt += c;
            if (c)
                chosen = b, kinds++;
        }
        if (!cnt)
            continue;
        fprintf(f, "  %-10s %-8s", p->group_name[gi], kinds > 1 ? "mixed" : p->names[chosen]);
        for (uint32_t b = 0; b < B; b++) {
            uint64_t c = p->group_alt[(size_t)gi * B + b];
            char cell[32];
            if (c == EHAL_PART_INF)
                snprintf(cell, sizeof cell, "n/a");
            else
                snprintf(cell, sizeof cell, "%.3f%s", (double)c / 1e6,
                         kinds == 1 && b == chosen ? "*" : "");
            fprintf(f, " %12s", cell);
        }
        fprintf(f, "\n");
    }
}
