/* The graph IR: tensors and nodes in topological order, with validation
 * that delegates per-op rules to the catalog (ehal_op_validate). */
#include "edgehal/graph.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "edgehal/ops.h"

struct ehal_graph {
    ehal_graph_tensor *tensors;
    uint32_t n_tensors, cap_tensors;
    ehal_graph_node *nodes;
    uint32_t n_nodes, cap_nodes;
    int sticky; /* first builder error is kept */
    ehal_status_t status;
    char err[256];
};

static void set_err(ehal_graph *g, ehal_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(ehal_graph *g, ehal_status_t st, const char *fmt, ...) {
    if (g->sticky)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->err, sizeof g->err, fmt, ap);
    va_end(ap);
    g->status = st;
    g->sticky = 1;
}

static char *dup_name(const char *s) {
    size_t n = strlen(s ? s : "") + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s ? s : "", n);
    return d;
}

ehal_status_t ehal_graph_create(ehal_graph **out) {
    if (!out)
        return EHAL_STATUS_INVALID_ARGUMENT;
    *out = calloc(1, sizeof **out);
    return *out ? EHAL_STATUS_OK : EHAL_STATUS_OUT_OF_MEMORY;
}

void ehal_graph_free(ehal_graph *g) {
    if (!g)
        return;
    for (uint32_t i = 0; i < g->n_tensors; i++)
        free((char *)g->tensors[i].name);
    for (uint32_t i = 0; i < g->n_nodes; i++)
        free((char *)g->nodes[i].name);
    free(g->tensors);
    free(g->nodes);
    free(g);
}

const char *ehal_graph_last_error(const ehal_graph *g) {
    return g ? g->err : "no graph";
}

static int grow(void **p, uint32_t *cap, uint32_t need, size_t elem) {
    if (need <= *cap)
        return 1;
    uint32_t nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, (size_t)nc * elem);
    if (!np)
        return 0;
    *p = np;
    *cap = nc;
    return 1;
}

static uint32_t push_tensor(ehal_graph *g, const char *name, const ehal_tensor_desc *d,
                            uint32_t base, uint64_t off) {
    if (!grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors + 1, sizeof *g->tensors)) {
        set_err(g, EHAL_STATUS_OUT_OF_MEMORY, "tensor '%s': out of memory", name);
        return EHAL_GRAPH_NONE;
    }
    ehal_graph_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = dup_name(name);
    if (!t->name) {
        set_err(g, EHAL_STATUS_OUT_OF_MEMORY, "tensor '%s': out of memory", name);
        return EHAL_GRAPH_NONE;
    }
    t->desc = *d;
    t->base = base;
    t->view_offset = off;
    t->producer = base == EHAL_GRAPH_NONE ? EHAL_GRAPH_NONE : g->tensors[base].producer;
    return g->n_tensors++;
}

uint32_t ehal_graph_add_tensor(ehal_graph *g, const char *name, uint32_t dtype, uint32_t role,
                               uint32_t n_dims, const int64_t *ne) {
    if (!g)
        return EHAL_GRAPH_NONE;
    if (!name)
        name = "";
    if (!ehal_dtype_valid(dtype)) {
        set_err(g, EHAL_STATUS_INVALID_ARGUMENT, "tensor '%s': unknown dtype %u", name, dtype);
        return EHAL_GRAPH_NONE;
    }
    if (role > EHAL_ROLE_OUTPUT) {
        set_err(g, EHAL_STATUS_INVALID_ARGUMENT, "tensor '%s': unknown role %u", name, role);
        return EHAL_GRAPH_NONE;
    }
    if (n_dims < 1 || n_dims > EHAL_MAX_DIMS || !ne) {
        set_err(g, EHAL_STATUS_INVALID_ARGUMENT, "tensor '%s': n_dims %u not in 1..%d", name,
                n_dims, EHAL_MAX_DIMS);
        return EHAL_GRAPH_NONE;
    }
    for (uint32_t i = 0; i < n_dims; i++)
        if (ne[i] < 1) {
            set_err(g, EHAL_STATUS_INVALID_ARGUMENT, "tensor '%s': ne[%u] = %lld, must be >= 1",
                    name, i, (long long)ne[i]);
            return EHAL_GRAPH_NONE;
        }
    ehal_tensor_desc d;
    ehal_tensor_desc_init(&d, dtype, n_dims, ne);
    d.role = role;
    if (ehal_tensor_nbytes(&d) == 0) {
        set_err(g, EHAL_STATUS_INVALID_ARGUMENT,
                "tensor '%s': ne[0] = %lld is not a whole number of %s blocks", name,
                (long long)ne[0], ehal_dtype_name(dtype));
        return EHAL_GRAPH_NONE;
    }
    return push_tensor(g, name, &d, EHAL_GRAPH_NONE, 0);
}

uint32_t ehal_graph_tensor_root(const ehal_graph *g, uint32_t id) {
    if (!g || id >= g->n_tensors)
        return EHAL_GRAPH_NONE;
    while (g->tensors[id].base != EHAL_GRAPH_NONE)
        id = g->tensors[id].base;
    return id;
}

uint32_t ehal_graph_add_view(ehal_graph *g, const char *name, uint32_t base, uint64_t offset,
                             uint32_t n_dims, const int64_t *ne) {
    if (!g)
        return EHAL_GRAPH_NONE;
    if (!name)
        name = "";
    if (base >= g->n_tensors) {
        set_err(g, EHAL_STATUS_INVALID_ARGUMENT, "view '%s': base tensor %u does not exist", name,
                base);
        return EHAL_GRAPH_NONE;
    }
    uint32_t root = ehal_graph_tensor_root(g, base);
    offset += g->tensors[base].view_offset;
    const ehal_graph_tensor *bt = &g->tensors[root];
    if (n_dims < 1 || n_dims > EHAL_MAX_DIMS || !ne) {
        set_err(g, EHAL_STATUS_INVALID_ARGUMENT, "view '%s': n_dims %u not in 1..%d", name, n_dims,
                EHAL_MAX_DIMS);
        return EHAL_GRAPH_NONE;
    }
    ehal_tensor_desc d;
    ehal_tensor_desc_init(&d, bt->desc.dtype, n_dims, ne);
    d.role = bt->desc.role;
    uint64_t nb = ehal_tensor_nbytes(&d);
    uint64_t bb = ehal_tensor_nbytes(&bt->desc);
    if (nb == 0 || offset + nb > bb) {
        set_err(g, EHAL_STATUS_INVALID_ARGUMENT,
                "view '%s': %llu bytes at offset %llu exceed base '%s' (%llu bytes)", name,
                (unsigned long long)nb, (unsigned long long)offset, bt->name,
                (unsigned long long)bb);
        return EHAL_GRAPH_NONE;
    }
    return push_tensor(g, name, &d, root, offset);
}

uint32_t ehal_graph_add_node(ehal_graph *g, const char *name, uint32_t op, const uint32_t *inputs,
                             uint32_t n_inputs, uint32_t output, const void *params,
                             uint32_t params_size) {
    if (!g)
        return EHAL_GRAPH_NONE;
    if (!name)
        name = "";
    if (n_inputs > EHAL_MAX_INPUTS || (n_inputs && !inputs)) {
        set_err(g, EHAL_STATUS_INVALID_ARGUMENT, "node '%s': %u inputs, at most %d", name, n_inputs,
                EHAL_MAX_INPUTS);
        return EHAL_GRAPH_NONE;
    }
    if (params_size > EHAL_GRAPH_MAX_PARAMS || (params_size && !params)) {
        set_err(g, EHAL_STATUS_INVALID_ARGUMENT, "node '%s': params_size %u, at most %d", name,
                params_size, EHAL_GRAPH_MAX_PARAMS);
        return EHAL_GRAPH_NONE;
    }
    for (uint32_t i = 0; i < n_inputs; i++)
        if (inputs[i] >= g->n_tensors) {
            set_err(g, EHAL_STATUS_INVALID_ARGUMENT,
                    "node '%s': input %u is tensor %u, which does not exist", name, i, inputs[i]);
            return EHAL_GRAPH_NONE;
        }
    if (output >= g->n_tensors) {
        set_err(g, EHAL_STATUS_INVALID_ARGUMENT,
                "node '%s': output is tensor %u, which does not exist", name, output);
        return EHAL_GRAPH_NONE;
    }
    if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes)) {
        set_err(g, EHAL_STATUS_OUT_OF_MEMORY, "node '%s': out of memory", name);
        return EHAL_GRAPH_NONE;
    }
    ehal_graph_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->name = dup_name(name);
    if (!n->name) {
        set_err(g, EHAL_STATUS_OUT_OF_MEMORY, "node '%s': out of memory", name);
        return EHAL_GRAPH_NONE;
    }
    n->op = op;
    n->n_inputs = n_inputs;
    for (uint32_t i = 0; i < n_inputs; i++)
        n->inputs[i] = inputs[i];
    n->output = output;
    n->params_size = params_size;
    if (params_size)
        memcpy(n->params, params, params_size);
    n->layer = -1;
    uint32_t id = g->n_nodes++;
    /* The first writer of a root tensor is its producer (KV caches are
     * written in place and keep no producer: they persist across steps). */
    uint32_t root = ehal_graph_tensor_root(g, output);
    if (g->tensors[root].desc.role != EHAL_ROLE_KV && g->tensors[root].producer == EHAL_GRAPH_NONE)
        for (uint32_t t = 0; t < g->n_tensors; t++)
            if (ehal_graph_tensor_root(g, t) == root)
                g->tensors[t].producer = id;
    return id;
}

ehal_status_t ehal_graph_set_node_group(ehal_graph *g, uint32_t node, int32_t layer,
                                        uint32_t section) {
    if (!g || node >= g->n_nodes)
        return EHAL_STATUS_INVALID_ARGUMENT;
    g->nodes[node].layer = layer;
    g->nodes[node].section = section;
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_graph_set_role(ehal_graph *g, uint32_t tensor, uint32_t role) {
    if (!g)
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (tensor >= g->n_tensors || role > EHAL_ROLE_OUTPUT) {
        set_err(g, EHAL_STATUS_INVALID_ARGUMENT, "set_role: tensor %u role %u is invalid", tensor,
                role);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    uint32_t root = ehal_graph_tensor_root(g, tensor);
    for (uint32_t t = 0; t < g->n_tensors; t++)
        if (ehal_graph_tensor_root(g, t) == root)
            g->tensors[t].desc.role = role;
    return EHAL_STATUS_OK;
}

static int is_source_role(uint32_t role) {
    return role == EHAL_ROLE_WEIGHT || role == EHAL_ROLE_INPUT || role == EHAL_ROLE_KV;
}

ehal_status_t ehal_graph_validate(ehal_graph *g) {
    if (!g)
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (g->sticky)
        return g->status;
    g->err[0] = '\0';
    if (g->n_nodes == 0) {
        snprintf(g->err, sizeof g->err, "graph: has no nodes");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    const ehal_tensor_desc **tp = malloc(sizeof *tp * (g->n_tensors ? g->n_tensors : 1));
    ehal_node_desc *nd = malloc(sizeof *nd * g->n_nodes);
    const ehal_node_desc **np = malloc(sizeof *np * g->n_nodes);
    if (!tp || !nd || !np) {
        free(tp), free(nd), free(np);
        snprintf(g->err, sizeof g->err, "graph: out of memory validating");
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    for (uint32_t t = 0; t < g->n_tensors; t++)
        tp[t] = &g->tensors[t].desc;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const ehal_graph_node *n = &g->nodes[i];
        memset(&nd[i], 0, sizeof nd[i]);
        nd[i].struct_size = sizeof nd[i];
        nd[i].op = n->op;
        nd[i].n_inputs = n->n_inputs;
        nd[i].n_outputs = 1;
        memcpy(nd[i].inputs, n->inputs, sizeof n->inputs);
        nd[i].outputs[0] = n->output;
        nd[i].params_size = n->params_size;
        nd[i].params = n->params_size ? n->params : NULL;
        np[i] = &nd[i];
    }
    ehal_subgraph sg = {sizeof sg, g->n_tensors, g->n_nodes, 0, tp, np};
    ehal_status_t st = EHAL_STATUS_OK;
    char msg[200];
    for (uint32_t i = 0; i < g->n_nodes && st == EHAL_STATUS_OK; i++) {
        const ehal_graph_node *n = &g->nodes[i];
        msg[0] = '\0';
        st = ehal_op_validate(&sg, i, msg, sizeof msg);
        if (st != EHAL_STATUS_OK) {
            snprintf(g->err, sizeof g->err, "node %u '%s' (%s): %s", i, n->name,
                     ehal_op_name(n->op), msg[0] ? msg : "rejected by the op catalog");
            break;
        }
        for (uint32_t k = 0; k < n->n_inputs; k++) {
            const ehal_graph_tensor *t = &g->tensors[n->inputs[k]];
            uint32_t prod = t->producer;
            if (is_source_role(t->desc.role))
                continue;
            if (prod == EHAL_GRAPH_NONE || prod >= i) {
                snprintf(g->err, sizeof g->err,
                         "node %u '%s' (%s): input %u tensor '%s' (role %u) is %s", i, n->name,
                         ehal_op_name(n->op), k, t->name, t->desc.role,
                         prod == EHAL_GRAPH_NONE ? "never produced and not an input, weight or KV"
                                                 : "produced by a later node");
                st = EHAL_STATUS_INVALID_ARGUMENT;
                break;
            }
        }
        if (st != EHAL_STATUS_OK)
            break;
        const ehal_graph_tensor *o = &g->tensors[n->output];
        if (o->desc.role == EHAL_ROLE_WEIGHT || o->desc.role == EHAL_ROLE_INPUT) {
            snprintf(g->err, sizeof g->err,
                     "node %u '%s' (%s): output tensor '%s' has role %s, which nodes may not write",
                     i, n->name, ehal_op_name(n->op), o->name,
                     o->desc.role == EHAL_ROLE_WEIGHT ? "weight" : "input");
            st = EHAL_STATUS_INVALID_ARGUMENT;
        } else if (o->desc.role != EHAL_ROLE_KV && o->producer != i) {
            snprintf(g->err, sizeof g->err,
                     "node %u '%s' (%s): output tensor '%s' is already written by node %u", i,
                     n->name, ehal_op_name(n->op), o->name, o->producer);
            st = EHAL_STATUS_INVALID_ARGUMENT;
        }
    }
    if (st == EHAL_STATUS_OK) {
        int has_out = 0;
        for (uint32_t t = 0; t < g->n_tensors; t++)
            has_out |= g->tensors[t].desc.role == EHAL_ROLE_OUTPUT;
        if (!has_out) {
            snprintf(g->err, sizeof g->err, "graph: no tensor is marked as an output");
            st = EHAL_STATUS_INVALID_ARGUMENT;
        }
    }
    free(tp), free(nd), free(np);
    return st;
}

uint32_t ehal_graph_tensor_count(const ehal_graph *g) {
    return g ? g->n_tensors : 0;
}
uint32_t ehal_graph_node_count(const ehal_graph *g) {
    return g ? g->n_nodes : 0;
}

const ehal_graph_tensor *ehal_graph_tensor_get(const ehal_graph *g, uint32_t id) {
    return g && id < g->n_tensors ? &g->tensors[id] : NULL;
}

const ehal_graph_node *ehal_graph_node_get(const ehal_graph *g, uint32_t id) {
    return g && id < g->n_nodes ? &g->nodes[id] : NULL;
}

uint32_t ehal_graph_tensor_find(const ehal_graph *g, const char *name) {
    if (!g || !name)
        return EHAL_GRAPH_NONE;
    for (uint32_t t = 0; t < g->n_tensors; t++)
        if (strcmp(g->tensors[t].name, name) == 0)
            return t;
    return EHAL_GRAPH_NONE;
}
