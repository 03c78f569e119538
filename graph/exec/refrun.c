/* The reference path: the session's graphs run on host memory with the
 * catalog's reference kernels, node by node. Slow and obviously correct;
 * `edgehal run --check` compares against it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgehal/ops.h"
#include "exec_internal.h"

typedef struct ref_prog {
    uint32_t T;
    ehal_graph *g;
    ehal_tensor_desc *descs;
    const ehal_tensor_desc **tp;
    ehal_node_desc *nd;
    const ehal_node_desc **np;
    void **data;  /* [n_tensors] host pointer (views included) */
    void **owned; /* [n_tensors] activation memory to free */
} ref_prog;

typedef struct ref_kv {
    char name[48];
    void *data;
} ref_kv;

struct ehal_refrun {
    const ehal_model *m;
    ehal_model_hparams hp;
    ehal_session_options o;
    ref_prog *progs[EHAL_EXEC_MAX_PROGRAMS];
    ref_kv *kv;
    uint32_t n_kv;
    uint32_t position;
};

static void prog_free(ref_prog *p) {
    if (!p)
        return;
    uint32_t nt = ehal_graph_tensor_count(p->g);
    for (uint32_t t = 0; p->owned && t < nt; t++)
        free(p->owned[t]);
    free(p->owned), free(p->data), free(p->descs), free(p->tp), free(p->nd), free(p->np);
    ehal_graph_free(p->g);
    free(p);
}

void ehal_refrun_free(ehal_refrun *r) {
    if (!r)
        return;
    for (uint32_t i = 0; i < EHAL_EXEC_MAX_PROGRAMS; i++)
        prog_free(r->progs[i]);
    for (uint32_t i = 0; i < r->n_kv; i++)
        free(r->kv[i].data);
    free(r->kv);
    free(r);
}

ehal_status_t ehal_refrun_create(const ehal_model *m, const ehal_session_options *o,
                                 ehal_refrun **out, char *err, size_t err_size) {
    if (!m || !out) {
        if (err && err_size)
            snprintf(err, err_size, "refrun: NULL argument");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_refrun *r = calloc(1, sizeof *r);
    if (!r)
        return EHAL_STATUS_OUT_OF_MEMORY;
    r->m = m;
    r->hp = *ehal_model_get_hparams(m);
    if (o)
        memcpy(&r->o, o, o->struct_size < sizeof r->o ? o->struct_size : sizeof r->o);
    if (!r->o.kv_dtype)
        r->o.kv_dtype = EHAL_DTYPE_F16;
    if (!r->o.kv_capacity)
        r->o.kv_capacity = r->hp.context;
    *out = r;
    return EHAL_STATUS_OK;
}

static void *kv_data(ehal_refrun *r, const ehal_graph_tensor *t) {
    for (uint32_t i = 0; i < r->n_kv; i++)
        if (!strcmp(r->kv[i].name, t->name))
            return r->kv[i].data;
    ref_kv *nk = realloc(r->kv, (r->n_kv + 1) * sizeof *nk);
    if (!nk)
        return NULL;
    r->kv = nk;
    void *d = calloc(1, ehal_tensor_nbytes(&t->desc));
    if (!d)
        return NULL;
    snprintf(r->kv[r->n_kv].name, sizeof r->kv[r->n_kv].name, "%s", t->name);
    r->kv[r->n_kv++].data = d;
    return d;
}

static ehal_status_t prog_build(ehal_refrun *r, uint32_t T, ref_prog **out, char *err,
                                size_t err_size) {
    ref_prog *p = calloc(1, sizeof *p);
    if (!p)
        return EHAL_STATUS_OUT_OF_MEMORY;
    p->T = T;
    ehal_llama_options lo = {
        T, r->o.kv_dtype, r->o.kv_capacity, r->o.kv_window, r->o.kv_sinks, r->o.all_logits};
    ehal_status_t st = ehal_graph_build_llama(r->m, &lo, &p->g, err, err_size);
    if (st != EHAL_STATUS_OK) {
        free(p);
        return st;
    }
    const uint32_t nt = ehal_graph_tensor_count(p->g), nn = ehal_graph_node_count(p->g);
    p->descs = calloc(nt, sizeof *p->descs);
    p->tp = calloc(nt, sizeof *p->tp);
    p->nd = calloc(nn, sizeof *p->nd);
    p->np = calloc(nn, sizeof *p->np);
    p->data = calloc(nt, sizeof *p->data);
    p->owned = calloc(nt, sizeof *p->owned);
    if (!p->descs || !p->tp || !p->nd || !p->np || !p->data || !p->owned) {
        prog_free(p);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    for (uint32_t t = 0; t < nt && st == EHAL_STATUS_OK; t++) {
        const ehal_graph_tensor *gt = ehal_graph_tensor_get(p->g, t);
        p->descs[t] = gt->desc;
        p->tp[t] = &p->descs[t];
        if (gt->base != EHAL_GRAPH_NONE)
            continue;
        if (gt->desc.role == EHAL_ROLE_WEIGHT) {
            const ehal_model_tensor *mt = ehal_model_tensor_find(r->m, gt->name);
            p->data[t] = mt ? (void *)mt->data : NULL;
        } else if (gt->desc.role == EHAL_ROLE_KV) {
            p->data[t] = kv_data(r, gt);
        } else {
            p->owned[t] = calloc(1, ehal_tensor_nbytes(&gt->desc));
            p->data[t] = p->owned[t];
        }
        if (!p->data[t]) {
            snprintf(err, err_size, "reference: no memory for tensor '%s'", gt->name);
            st = EHAL_STATUS_OUT_OF_MEMORY;
        }
    }
    for (uint32_t t = 0; t < nt; t++) {
        const ehal_graph_tensor *gt = ehal_graph_tensor_get(p->g, t);
        if (gt->base != EHAL_GRAPH_NONE && p->data[gt->base])
            p->data[t] = (char *)p->data[gt->base] + gt->view_offset;
    }
    for (uint32_t i = 0; i < nn; i++) {
        const ehal_graph_node *n = ehal_graph_node_get(p->g, i);
        ehal_node_desc *d = &p->nd[i];
        d->struct_size = sizeof *d;
        d->op = n->op;
        d->n_inputs = n->n_inputs;
        d->n_outputs = 1;
        memcpy(d->inputs, n->inputs, sizeof d->inputs);
        d->outputs[0] = n->output;
        d->params_size = n->params_size;
        d->params = n->params_size ? n->params : NULL;
        p->np[i] = d;
    }
    if (st != EHAL_STATUS_OK) {
        prog_free(p);
        return st;
    }
    *out = p;
    return EHAL_STATUS_OK;
}

static void *resolve(void *user, const ehal_tensor_desc *t) {
    ref_prog *p = user;
    return p->data[t - p->descs];
}

ehal_status_t ehal_refrun_eval(ehal_refrun *r, const int32_t *tokens, uint32_t T, float *logits,
                               char *err, size_t err_size) {
    char dummy[8];
    if (!err || !err_size)
        err = dummy, err_size = sizeof dummy;
    err[0] = '\0';
    if (!r || !tokens || T == 0)
        return EHAL_STATUS_INVALID_ARGUMENT;
    ref_prog *p = NULL;
    for (uint32_t i = 0; i < EHAL_EXEC_MAX_PROGRAMS && !p; i++)
        if (r->progs[i] && r->progs[i]->T == T)
            p = r->progs[i];
    if (!p) {
        ehal_status_t st = prog_build(r, T, &p, err, err_size);
        if (st != EHAL_STATUS_OK)
            return st;
        uint32_t slot = 0;
        while (slot < EHAL_EXEC_MAX_PROGRAMS - 1 && r->progs[slot])
            slot++;
        prog_free(r->progs[slot]);
        r->progs[slot] = p;
    }
    const ehal_graph *g = p->g;
    uint32_t tok = ehal_graph_tensor_find(g, "tokens"), pos = ehal_graph_tensor_find(g, "pos");
    uint32_t lg = ehal_graph_tensor_find(g, "logits");
    memcpy(p->data[tok], tokens, sizeof *tokens * T);
    for (uint32_t i = 0; i < T; i++)
        ((int32_t *)p->data[pos])[i] = (int32_t)(r->position + i);
    ehal_subgraph sg = {sizeof sg, ehal_graph_tensor_count(g), ehal_graph_node_count(g), 0, p->tp,
                        p->np};
    for (uint32_t i = 0; i < sg.n_nodes; i++) {
        ehal_kernel_fn fn = ehal_ref_kernel(p->nd[i].op);
        ehal_kernel_args a;
        memset(&a, 0, sizeof a);
        ehal_kernel_args_fill(&a, &sg, i, resolve, p);
        ehal_status_t st = fn ? fn(&a) : EHAL_STATUS_UNSUPPORTED;
        if (st != EHAL_STATUS_OK) {
            snprintf(err, err_size, "reference: node %u '%s' (%s) failed with status %d", i,
                     ehal_graph_node_get(g, i)->name, ehal_op_name(p->nd[i].op), st);
            return st;
        }
    }
    if (logits)
        memcpy(logits, p->data[lg], ehal_tensor_nbytes(&p->descs[lg]));
    r->position += T;
    return EHAL_STATUS_OK;
}
