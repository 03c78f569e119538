/* Calibration: measured / estimated cost per backend and T, and the
 * measured cost of a partition boundary (ehal_session_options.calibrate). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_internal.h"

/* Times a step of T tokens with every node on one backend (a throwaway
 * session with 'all=<backend>', best of 3 after a warm-up) and records
 * measured / estimated per backend. A backend that cannot run the whole
 * step alone keeps factor 1. */
const double *ehal_session_calibration(ehal_session *s, uint32_t T) {
    if (!s->o.calibrate || !s->m)
        return NULL;
    for (uint32_t i = 0; i < s->n_cal; i++)
        if (s->cal_T[i] == T)
            return s->cal_scale[i];
    uint32_t slot = s->n_cal < EHAL_EXEC_MAX_PROGRAMS ? s->n_cal++ : T % EHAL_EXEC_MAX_PROGRAMS;
    s->cal_T[slot] = T;
    double *scale = s->cal_scale[slot];
    int32_t *tok = malloc(sizeof *tok * T);
    float *logits = malloc(sizeof *logits * s->hp.vocab);
    for (uint32_t i = 0; tok && i < T; i++)
        tok[i] = 1;
    for (uint32_t b = 0; b < s->n_backends && tok && logits; b++) {
        scale[b] = 0;
        ehal_backend_props pr = {.struct_size = sizeof pr};
        pr.device.struct_size = sizeof pr.device;
        ehal_backend_props_get(ehal_backend_get(s->ctx, b), &pr);
        char pin[64];
        snprintf(pin, sizeof pin, "all=%.40s", pr.name ? pr.name : "?");
        const char *pins[1] = {pin};
        ehal_session_options o = s->o;
        o.pins = pins;
        o.n_pins = 1;
        o.calibrate = o.trace = o.trace_ops = o.explain = o.all_logits = 0;
        o.kv_window = 0; /* 4 steps from position 0 */
        o.kv_capacity = 4 * T;
        ehal_session *t = NULL;
        char err[64];
        if (ehal_session_create(s->ctx, s->m, &o, &t, err, sizeof err) != EHAL_STATUS_OK)
            continue;
        const ehal_plan *pl = ehal_session_plan(t, T);
        int ok = pl && ehal_session_eval(t, tok, T, logits) == EHAL_STATUS_OK;
        uint64_t best = UINT64_MAX;
        for (int r = 0; r < 3 && ok; r++) {
            uint64_t t0 = ehal_exec_now_ns();
            ok = ehal_session_eval(t, tok, T, logits) == EHAL_STATUS_OK;
            uint64_t dt = ehal_exec_now_ns() - t0;
            best = dt < best ? dt : best;
        }
        if (ok && ehal_plan_cost_ns(pl) > 0)
            scale[b] = (double)best / (double)ehal_plan_cost_ns(pl);
        ehal_session_free(t);
    }
    free(tok), free(logits);
    memcpy(s->cost_scale, scale, sizeof s->cost_scale);
    return scale;
}

static const void *no_weights(void *user, const char *name, uint64_t nbytes) {
    (void)user, (void)name, (void)nbytes;
    return NULL;
}

/* One ADD of 64 floats as its own partition, per backend: what a partition
 * boundary costs beyond its kernels (dispatch, wait, small moves). */
const uint64_t *ehal_session_overheads(ehal_session *s) {
    if (!s->o.calibrate)
        return NULL;
    if (s->cal_overhead_done)
        return s->cal_overhead;
    s->cal_overhead_done = 1;
    ehal_graph *g = NULL;
    if (ehal_graph_create(&g) != EHAL_STATUS_OK)
        return NULL;
    int64_t ne[1] = {64};
    uint32_t x = ehal_graph_add_tensor(g, "x", EHAL_DTYPE_F32, EHAL_ROLE_INPUT, 1, ne);
    uint32_t y = ehal_graph_add_tensor(g, "y", EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, 1, ne);
    uint32_t in[2] = {x, x};
    ehal_graph_add_node(g, "add", EHAL_OP_ADD, in, 2, y, NULL, 0);
    float buf[64] = {0};
    for (uint32_t b = 0; b < s->n_backends && ehal_graph_validate(g) == EHAL_STATUS_OK; b++) {
        ehal_backend_props pr = {.struct_size = sizeof pr};
        pr.device.struct_size = sizeof pr.device;
        ehal_backend_props_get(ehal_backend_get(s->ctx, b), &pr);
        char pin[64];
        snprintf(pin, sizeof pin, "all=%.40s", pr.name ? pr.name : "?");
        const char *pins[1] = {pin};
        ehal_plan_options po = {sizeof po, pins, 1, NULL, NULL, NULL};
        ehal_graph_exec *e = NULL;
        char err[64];
        if (ehal_graph_exec_create(s->ctx, g, &po, no_weights, NULL, &e, err, sizeof err) !=
            EHAL_STATUS_OK)
            continue;
        uint64_t best = UINT64_MAX;
        int ok = ehal_graph_exec_run(e) == EHAL_STATUS_OK; /* warm-up */
        for (int r = 0; r < 5 && ok; r++) {
            uint64_t t0 = ehal_exec_now_ns();
            ok = ehal_graph_exec_set_input(e, x, buf, sizeof buf) == EHAL_STATUS_OK &&
                 ehal_graph_exec_run(e) == EHAL_STATUS_OK &&
                 ehal_graph_exec_read(e, y, buf, sizeof buf) == EHAL_STATUS_OK;
            uint64_t dt = ehal_exec_now_ns() - t0;
            best = dt < best ? dt : best;
        }
        if (ok)
            s->cal_overhead[b] = best;
        ehal_graph_exec_free(e);
    }
    ehal_graph_free(g);
    return s->cal_overhead;
}
