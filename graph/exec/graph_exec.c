/* Executing a caller's graph: one program over a borrowed graph, with
 * weights from a caller's source instead of a model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgehal/ops.h"
#include "exec_internal.h"

struct ehal_graph_exec {
    ehal_session *s;
    ehal_program *p;
};

void ehal_graph_exec_free(ehal_graph_exec *e) {
    if (!e)
        return;
    ehal_program_free(e->p);
    ehal_session_free(e->s);
    free(e);
}

ehal_status_t ehal_graph_exec_create(ehal_context *ctx, const ehal_graph *g,
                                     const ehal_plan_options *o, ehal_weight_source_fn weights,
                                     void *user, ehal_graph_exec **out, char *err,
                                     size_t err_size) {
    char dummy[8];
    if (!err || !err_size)
        err = dummy, err_size = sizeof dummy;
    err[0] = '\0';
    if (!ctx || !g || !out) {
        snprintf(err, err_size, "graph_exec: NULL argument");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    uint32_t B = ehal_backend_count(ctx);
    if (B == 0 || B > EHAL_PART_MAX_BACKENDS) {
        snprintf(err, err_size, "graph_exec: %u backends loaded, need 1..%d", B,
                 EHAL_PART_MAX_BACKENDS);
        return EHAL_STATUS_UNSUPPORTED;
    }
    ehal_graph_exec *e = calloc(1, sizeof *e);
    ehal_session *s = calloc(1, sizeof *s);
    if (!e || !s) {
        free(e), free(s);
        snprintf(err, err_size, "graph_exec: out of host memory");
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    e->s = s;
    s->ctx = ctx;
    s->user_graph = g;
    s->weight_fn = weights;
    s->weight_user = user;
    s->n_backends = B;
    s->o.struct_size = sizeof s->o;
    s->t0_ns = ehal_exec_now_ns();
    if (o && o->n_pins) {
        s->pins = calloc(o->n_pins, sizeof *s->pins);
        if (!s->pins) {
            ehal_graph_exec_free(e);
            return EHAL_STATUS_OUT_OF_MEMORY;
        }
        s->o.n_pins = o->n_pins;
        for (uint32_t i = 0; i < o->n_pins; i++) {
            size_t n = strlen(o->pins[i]) + 1;
            s->pins[i] = malloc(n);
            if (!s->pins[i]) {
                ehal_graph_exec_free(e);
                return EHAL_STATUS_OUT_OF_MEMORY;
            }
            memcpy(s->pins[i], o->pins[i], n);
        }
    }
    ehal_status_t st = ehal_program_build(s, 0, &e->p);
    if (st != EHAL_STATUS_OK) {
        snprintf(err, err_size, "%s", s->err);
        ehal_graph_exec_free(e);
        return st;
    }
    *out = e;
    return EHAL_STATUS_OK;
}

const char *ehal_graph_exec_last_error(const ehal_graph_exec *e) {
    return e ? e->s->err : "no graph exec";
}

const ehal_plan *ehal_graph_exec_plan(const ehal_graph_exec *e) {
    return e ? e->p->plan : NULL;
}

static const ehal_graph_tensor *checked(ehal_graph_exec *e, uint32_t tensor, uint32_t role,
                                        uint64_t size, const char *what) {
    const ehal_graph_tensor *t = ehal_graph_tensor_get(e->p->g, tensor);
    if (!t) {
        snprintf(e->s->err, sizeof e->s->err, "%s: tensor %u does not exist", what, tensor);
        return NULL;
    }
    if (t->desc.role != role) {
        snprintf(e->s->err, sizeof e->s->err, "%s: tensor '%s' has role %u, not %s", what, t->name,
                 t->desc.role, role == EHAL_ROLE_INPUT ? "input" : "output");
        return NULL;
    }
    if (size != ehal_tensor_nbytes(&t->desc)) {
        snprintf(e->s->err, sizeof e->s->err, "%s: tensor '%s' is %llu bytes, got %llu", what,
                 t->name, (unsigned long long)ehal_tensor_nbytes(&t->desc),
                 (unsigned long long)size);
        return NULL;
    }
    return t;
}

ehal_status_t ehal_graph_exec_set_input(ehal_graph_exec *e, uint32_t tensor, const void *data,
                                        uint64_t size) {
    if (!e || !data)
        return EHAL_STATUS_INVALID_ARGUMENT;
    const ehal_graph_tensor *t = checked(e, tensor, EHAL_ROLE_INPUT, size, "set_input");
    if (!t)
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_program *p = e->p;
    uint32_t r = ehal_graph_tensor_root(p->g, tensor);
    for (uint32_t b = 0; b < p->n_backends; b++) {
        uint64_t off = p->off[(size_t)r * p->n_backends + b];
        if (off == EHAL_NO_OFFSET)
            continue;
        ehal_status_t st = ehal_buffer_write(p->arena[b], off + t->view_offset, data, size);
        if (st != EHAL_STATUS_OK) {
            snprintf(e->s->err, sizeof e->s->err, "set_input '%s' on %s: %s", t->name,
                     p->plan->names[b], ehal_last_error(e->s->ctx));
            return st;
        }
    }
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_graph_exec_run(ehal_graph_exec *e) {
    if (!e)
        return EHAL_STATUS_INVALID_ARGUMENT;
    e->s->err[0] = '\0';
    uint64_t t0 = ehal_exec_now_ns();
    ehal_status_t st = ehal_program_run(e->s, e->p);
    e->s->stats.wall_ns += ehal_exec_now_ns() - t0;
    if (st == EHAL_STATUS_OK)
        e->s->stats.steps++;
    return st;
}

ehal_status_t ehal_graph_exec_read(ehal_graph_exec *e, uint32_t tensor, void *data, uint64_t size) {
    if (!e || !data)
        return EHAL_STATUS_INVALID_ARGUMENT;
    const ehal_graph_tensor *t = checked(e, tensor, EHAL_ROLE_OUTPUT, size, "read");
    if (!t)
        return EHAL_STATUS_INVALID_ARGUMENT;
    ehal_program *p = e->p;
    uint32_t r = ehal_graph_tensor_root(p->g, tensor);
    uint32_t a = p->plan->assign[ehal_graph_tensor_get(p->g, r)->producer];
    uint64_t off = p->off[(size_t)r * p->n_backends + a];
    ehal_status_t st = ehal_buffer_read(p->arena[a], off + t->view_offset, data, size);
    if (st != EHAL_STATUS_OK)
        snprintf(e->s->err, sizeof e->s->err, "read '%s' from %s: %s", t->name, p->plan->names[a],
                 ehal_last_error(e->s->ctx));
    return st;
}

void ehal_graph_exec_get_stats(const ehal_graph_exec *e, ehal_session_stats *out) {
    if (e && out)
        *out = e->s->stats;
}
