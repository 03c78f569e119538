/* Sessions: a model bound to a context, stepping programs over tokens. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgehal/ops.h"
#include "exec_internal.h"

uint64_t ehal_exec_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

ehal_status_t ehal_session_create(ehal_context *ctx, const ehal_model *m,
                                  const ehal_session_options *o, ehal_session **out, char *err,
                                  size_t err_size) {
    char dummy[8];
    if (!err || !err_size)
        err = dummy, err_size = sizeof dummy;
    err[0] = '\0';
    if (!ctx || !m || !out) {
        snprintf(err, err_size, "session: NULL argument");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    uint32_t B = ehal_backend_count(ctx);
    if (B == 0 || B > EHAL_PART_MAX_BACKENDS) {
        snprintf(err, err_size, "session: %u backends loaded, need 1..%d", B,
                 EHAL_PART_MAX_BACKENDS);
        return EHAL_STATUS_UNSUPPORTED;
    }
    ehal_session *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_size, "session: out of host memory");
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    s->ctx = ctx;
    s->m = m;
    s->hp = *ehal_model_get_hparams(m);
    if (o)
        memcpy(&s->o, o, o->struct_size < sizeof s->o ? o->struct_size : sizeof s->o);
    s->o.struct_size = sizeof s->o;
    if (s->o.kv_dtype == 0)
        s->o.kv_dtype = EHAL_DTYPE_F16;
    if (s->o.kv_dtype != EHAL_DTYPE_F16 && s->o.kv_dtype != EHAL_DTYPE_Q8_0 &&
        s->o.kv_dtype != EHAL_DTYPE_Q4_0) {
        snprintf(err, err_size, "session: kv dtype %s (%u) is not f16, q8_0 or q4_0",
                 ehal_dtype_name(s->o.kv_dtype), s->o.kv_dtype);
        free(s);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    if (!s->o.kv_capacity)
        s->o.kv_capacity = s->hp.context;
    if (s->o.kv_window && s->o.kv_sinks >= s->o.kv_capacity) {
        snprintf(err, err_size, "session: kv sinks %u must be below the cache capacity %u",
                 s->o.kv_sinks, s->o.kv_capacity);
        free(s);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    s->n_backends = B;
    s->o.pins = NULL;
    if (o && o->n_pins) {
        s->pins = calloc(o->n_pins, sizeof *s->pins);
        for (uint32_t i = 0; s->pins && i < o->n_pins; i++) {
            size_t n = strlen(o->pins[i]) + 1;
            s->pins[i] = malloc(n);
            if (s->pins[i])
                memcpy(s->pins[i], o->pins[i], n);
        }
    }
    s->t0_ns = ehal_exec_now_ns();
    *out = s;
    return EHAL_STATUS_OK;
}

uint64_t ehal_session_overhead_ns(const ehal_session *s, uint32_t b) {
    return s && b < EHAL_PART_MAX_BACKENDS ? s->cal_overhead[b] : 0;
}

double ehal_session_cost_scale(const ehal_session *s, uint32_t b) {
    return s && b < EHAL_PART_MAX_BACKENDS && s->cost_scale[b] > 0 ? s->cost_scale[b] : 1.0;
}

void ehal_session_free(ehal_session *s) {
    if (!s)
        return;
    for (uint32_t i = 0; i < EHAL_EXEC_MAX_PROGRAMS; i++)
        ehal_program_free(s->progs[i]);
    for (uint32_t i = 0; i < s->n_weights; i++) {
        ehal_buffer_free(s->weights[i].buf);
        free(s->weights[i].name);
    }
    for (uint32_t i = 0; i < s->n_kv; i++)
        ehal_buffer_free(s->kv[i].buf);
    for (uint32_t i = 0; s->pins && i < s->o.n_pins; i++)
        free(s->pins[i]);
    free(s->pins), free(s->weights), free(s->kv), free(s->ev), free(s->staging);
    free(s->history);
    free(s->staging_i32);
    free(s);
}

const char *ehal_session_last_error(const ehal_session *s) {
    return !s ? "no session" : s->err[0] ? s->err : s->recovery;
}
uint32_t ehal_session_position(const ehal_session *s) {
    return s ? s->position : 0;
}

void ehal_trace_add(ehal_session *s, uint32_t track, const char *name, uint64_t t0, uint64_t t1) {
    if (!s->o.trace || s->n_ev >= (1u << 22))
        return;
    if (s->n_ev == s->cap_ev) {
        uint32_t nc = s->cap_ev ? s->cap_ev * 2 : 1024;
        ehal_trace_ev *ne = realloc(s->ev, nc * sizeof *ne);
        if (!ne)
            return;
        s->ev = ne;
        s->cap_ev = nc;
    }
    ehal_trace_ev *e = &s->ev[s->n_ev++];
    e->ts_ns = t0 - s->t0_ns;
    e->dur_ns = t1 - t0;
    e->track = track;
    snprintf(e->name, sizeof e->name, "%s", name);
}

static ehal_program *get_program(ehal_session *s, uint32_t T, ehal_status_t *st) {
    for (uint32_t i = 0; i < EHAL_EXEC_MAX_PROGRAMS; i++)
        if (s->progs[i] && s->progs[i]->n_tokens == T) {
            s->progs[i]->last_use = ++s->use_clock;
            *st = EHAL_STATUS_OK;
            return s->progs[i];
        }
    ehal_program *p = NULL;
    *st = ehal_program_build(s, T, &p);
    if (*st != EHAL_STATUS_OK)
        return NULL;
    uint32_t slot = 0;
    for (uint32_t i = 0; i < EHAL_EXEC_MAX_PROGRAMS; i++) {
        if (!s->progs[i]) {
            slot = i;
            break;
        }
        if (s->progs[i]->last_use < s->progs[slot]->last_use)
            slot = i;
    }
    if (s->progs[slot]) {
        for (uint32_t b = 0; b < s->progs[slot]->n_backends; b++)
            s->stats.arena_bytes -= s->progs[slot]->arena_size[b];
        ehal_program_free(s->progs[slot]);
    }
    s->progs[slot] = p;
    p->last_use = ++s->use_clock;
    return p;
}

static void *staging(ehal_session *s, uint64_t n) {
    if (n > s->staging_size) {
        void *np = realloc(s->staging, n);
        if (!np)
            return NULL;
        s->staging = np;
        s->staging_size = n;
    }
    return s->staging;
}

static ehal_status_t move(ehal_session *s, ehal_program *p, const ehal_copy *c) {
    const ehal_graph_tensor *rt = ehal_graph_tensor_get(p->g, c->root);
    uint64_t n = ehal_tensor_nbytes(&rt->desc);
    uint64_t so = p->off[(size_t)c->root * p->n_backends + c->from];
    uint64_t d_o = p->off[(size_t)c->root * p->n_backends + c->to];
    ehal_status_t st;
    if (p->map[c->from] && p->map[c->to]) {
        memcpy((char *)p->map[c->to] + d_o, (const char *)p->map[c->from] + so, n);
        st = EHAL_STATUS_OK;
    } else if (p->map[c->from]) {
        st = ehal_buffer_write(p->arena[c->to], d_o, (const char *)p->map[c->from] + so, n);
        s->failed_backend = c->to;
    } else if (p->map[c->to]) {
        st = ehal_buffer_read(p->arena[c->from], so, (char *)p->map[c->to] + d_o, n);
        s->failed_backend = c->from;
    } else {
        void *tmp = staging(s, n);
        if (!tmp) {
            snprintf(s->err, sizeof s->err,
                     "moving '%s': out of host memory for %llu bytes of staging", rt->name,
                     (unsigned long long)n);
            return EHAL_STATUS_OUT_OF_MEMORY;
        }
        st = ehal_buffer_read(p->arena[c->from], so, tmp, n);
        s->failed_backend = c->from;
        if (st == EHAL_STATUS_OK) {
            st = ehal_buffer_write(p->arena[c->to], d_o, tmp, n);
            s->failed_backend = c->to;
        }
    }
    /* failed_backend names the backend whose read or write failed. */
    if (st == EHAL_STATUS_OK)
        s->failed_backend = EHAL_GRAPH_NONE;
    else
        snprintf(s->err, sizeof s->err, "moving '%s' from %s to %s: %s: %s", rt->name,
                 p->plan->names[c->from], p->plan->names[c->to], ehal_status_string(st),
                 ehal_last_error(s->ctx));
    s->stats.transfer_bytes += n;
    return st;
}

ehal_status_t ehal_program_run(ehal_session *s, ehal_program *p) {
    ehal_status_t st = EHAL_STATUS_OK;
    const uint32_t B = p->n_backends;
    uint64_t group_t0 = 0;
    for (uint32_t k = 0; k < p->n_parts; k++) {
        ehal_part_rt *pr = &p->parts[k];
        if (k == 0 || p->parts[k - 1].plan_part != pr->plan_part)
            group_t0 = ehal_exec_now_ns();
        if (pr->n_copies) {
            uint64_t c0 = ehal_exec_now_ns();
            for (uint32_t c = 0; c < pr->n_copies && st == EHAL_STATUS_OK; c++)
                st = move(s, p, &pr->copies[c]);
            uint64_t c1 = ehal_exec_now_ns();
            s->stats.transfer_ns += c1 - c0;
            ehal_trace_add(s, B, "move", c0, c1);
            if (st != EHAL_STATUS_OK)
                return st;
        }
        uint64_t e0 = ehal_exec_now_ns();
        st = ehal_execute(pr->exe);
        if (st == EHAL_STATUS_OK)
            st = ehal_wait(pr->exe, UINT64_MAX);
        uint64_t e1 = ehal_exec_now_ns();
        if (st != EHAL_STATUS_OK) {
            s->failed_backend = pr->backend;
            snprintf(s->err, sizeof s->err, "executing partition %s: %s: %s", pr->label,
                     ehal_status_string(st), ehal_last_error(s->ctx));
            return st;
        }
        s->stats.exec_ns += e1 - e0;
        s->stats.backend_ns[pr->backend < 16 ? pr->backend : 15] += e1 - e0;
        ehal_trace_add(s, pr->backend, pr->label, e0, e1);
        if (s->o.trace_ops && (k + 1 == p->n_parts || p->parts[k + 1].plan_part != pr->plan_part)) {
            char nm[96]; /* fits the label of any name (32) and counts */
            uint32_t pp = pr->plan_part;
            snprintf(nm, sizeof nm, "T%u p%u %s [%u..%u]", p->n_tokens, pp,
                     p->plan->names[pr->backend], p->plan->part_start[pp],
                     p->plan->part_start[pp + 1] - 1);
            ehal_trace_add(s, pr->backend, nm, group_t0, e1);
        }
    }
    s->stats.zero_copy_bytes += p->zc_bytes;
    return EHAL_STATUS_OK;
}

static ehal_status_t run_step(ehal_session *s, const int32_t *tokens, uint32_t T, float *logits) {
    ehal_status_t st;
    ehal_program *p = get_program(s, T, &st);
    if (!p)
        return st;
    if (s->o.kv_window == 0 && (uint64_t)s->position + T > s->o.kv_capacity) {
        snprintf(s->err, sizeof s->err,
                 "session: position %u + %u tokens exceeds the KV capacity %u (use --kv-window)",
                 s->position, T, s->o.kv_capacity);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    const uint32_t B = p->n_backends;
    int32_t *pos = malloc(sizeof *pos * T);
    if (!pos) {
        snprintf(s->err, sizeof s->err,
                 "step of %u tokens: out of host memory for %zu bytes of positions", T,
                 sizeof *pos * T);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    for (uint32_t i = 0; i < T; i++)
        pos[i] = (int32_t)(s->position + i);
    uint64_t t0 = ehal_exec_now_ns();
    st = EHAL_STATUS_OK;
    for (uint32_t b = 0; b < B && st == EHAL_STATUS_OK; b++) {
        uint64_t ot = p->off[(size_t)p->tok * B + b], op = p->off[(size_t)p->pos * B + b];
        if (ot != EHAL_NO_OFFSET)
            st = ehal_buffer_write(p->arena[b], ot, tokens, sizeof *tokens * T);
        if (st == EHAL_STATUS_OK && op != EHAL_NO_OFFSET)
            st = ehal_buffer_write(p->arena[b], op, pos, sizeof *pos * T);
        if (st != EHAL_STATUS_OK)
            s->failed_backend = b;
    }
    free(pos);
    uint64_t t1 = ehal_exec_now_ns();
    s->stats.transfer_ns += t1 - t0;
    ehal_trace_add(s, B, "inputs", t0, t1);
    if (st != EHAL_STATUS_OK) {
        snprintf(s->err, sizeof s->err, "writing inputs: %s", ehal_last_error(s->ctx));
        return st;
    }
    st = ehal_program_run(s, p);
    if (st != EHAL_STATUS_OK)
        return st;
    uint64_t r0 = ehal_exec_now_ns();
    uint64_t lo = p->off[(size_t)p->logits * B + p->logits_backend];
    uint64_t n = (uint64_t)s->hp.vocab * p->logits_rows * sizeof(float);
    if (logits)
        st = ehal_buffer_read(p->arena[p->logits_backend], lo, logits, n);
    if (st != EHAL_STATUS_OK)
        s->failed_backend = p->logits_backend;
    uint64_t r1 = ehal_exec_now_ns();
    s->stats.transfer_ns += r1 - r0;
    ehal_trace_add(s, B, "logits", r0, r1);
    if (st != EHAL_STATUS_OK) {
        snprintf(s->err, sizeof s->err, "reading logits: %s", ehal_last_error(s->ctx));
        return st;
    }
    s->position += T;
    s->stats.steps++;
    s->stats.tokens += T;
    return EHAL_STATUS_OK;
}

static ehal_status_t remember(ehal_session *s, const int32_t *tokens, uint32_t n) {
    if (s->n_history + n > s->cap_history) {
        uint32_t nc = s->cap_history ? s->cap_history : 256;
        while (nc < s->n_history + n)
            nc *= 2;
        int32_t *nh = realloc(s->history, sizeof *nh * nc);
        if (!nh)
            return EHAL_STATUS_OUT_OF_MEMORY;
        s->history = nh;
        s->cap_history = nc;
    }
    memcpy(s->history + s->n_history, tokens, sizeof *tokens * n);
    s->n_history += n;
    return EHAL_STATUS_OK;
}

/* Backend `dead` was lost, or kept failing with `cause`: never plan it
 * again and free its weights. Fails (one line in s->err) when it was the
 * last backend. */
static ehal_status_t drop_backend(ehal_session *s, uint32_t dead, ehal_status_t cause) {
    char why[160];
    snprintf(why, sizeof why, "%.150s", s->err);
    ehal_backend_props pr = {.struct_size = sizeof pr};
    pr.device.struct_size = sizeof pr.device;
    const char *name = "?";
    if (ehal_backend_props_get(ehal_backend_get(s->ctx, dead), &pr) == EHAL_STATUS_OK && pr.name)
        name = pr.name;
    s->dead_mask |= 1u << dead;
    s->stats.replans++;
    s->stats.lost_mask = s->dead_mask;
    if ((s->dead_mask & ((1u << s->n_backends) - 1u)) == (1u << s->n_backends) - 1u) {
        snprintf(s->err, sizeof s->err, "every backend was lost; last: %.31s (%s): %.150s", name,
                 ehal_status_string(cause), why);
        return EHAL_STATUS_DEVICE_LOST;
    }
    snprintf(s->recovery, sizeof s->recovery,
             "backend %.31s %s (%s); re-planned over the rest and replayed %u tokens", name,
             cause == EHAL_STATUS_DEVICE_LOST ? "was lost" : "kept failing",
             ehal_status_string(cause), s->n_history);
    uint32_t keep = 0;
    for (uint32_t i = 0; i < s->n_weights; i++) {
        if (s->weights[i].backend == dead) {
            s->stats.weight_bytes -= s->weights[i].bytes;
            ehal_buffer_free(s->weights[i].buf);
            free(s->weights[i].name);
        } else {
            s->weights[keep++] = s->weights[i];
        }
    }
    s->n_weights = keep;
    return EHAL_STATUS_OK;
}

/* Forgets everything placed (programs, KV caches), so the next step
 * re-plans over the live backends, and replays the token history to
 * rebuild the caches. Safe to call again after it failed. */
static ehal_status_t replay(ehal_session *s) {
    for (uint32_t i = 0; i < EHAL_EXEC_MAX_PROGRAMS; i++) {
        ehal_program_free(s->progs[i]);
        s->progs[i] = NULL;
    }
    s->stats.arena_bytes = 0;
    for (uint32_t i = 0; i < s->n_kv; i++)
        ehal_buffer_free(s->kv[i].buf);
    s->n_kv = 0;
    s->stats.kv_bytes = 0;
    s->position = 0;
    /* Replay in chunks a windowed cache accepts in one step. */
    uint32_t chunk = s->n_history ? s->n_history : 1;
    if (s->o.kv_window) {
        uint32_t ring = s->o.kv_capacity - s->o.kv_sinks;
        chunk = ring > s->o.kv_window ? ring - s->o.kv_window + 1 : 1;
    }
    ehal_status_t st = EHAL_STATUS_OK;
    float *scratch = NULL;
    for (uint32_t at = 0; at < s->n_history && st == EHAL_STATUS_OK; at += chunk) {
        uint32_t n = s->n_history - at < chunk ? s->n_history - at : chunk;
        uint64_t bytes = sizeof *scratch * s->hp.vocab * (s->o.all_logits ? n : 1);
        float *nl = realloc(scratch, bytes);
        if (!nl) {
            snprintf(s->err, sizeof s->err, "replay: out of host memory for %llu bytes of logits",
                     (unsigned long long)bytes);
            st = EHAL_STATUS_OUT_OF_MEMORY;
            break;
        }
        scratch = nl;
        st = run_step(s, s->history + at, n, scratch);
    }
    free(scratch);
    return st;
}

/* A failure is the backend's (s->failed_backend) for these statuses:
 * DEVICE_LOST drops it at once, the others after one retry. */
static int backend_failure(ehal_status_t st) {
    return st == EHAL_STATUS_DEVICE_LOST || st == EHAL_STATUS_INTERNAL ||
           st == EHAL_STATUS_OUT_OF_MEMORY || st == EHAL_STATUS_TIMEOUT;
}

/* One try: a step of n tokens, or (tokens NULL) only building its program. */
static ehal_status_t attempt(ehal_session *s, const int32_t *tokens, uint32_t n, float *logits) {
    if (tokens)
        return run_step(s, tokens, n, logits);
    ehal_status_t st;
    get_program(s, n, &st);
    return st;
}

/* attempt(), surviving backend failures: a failure of backend b
 * (s->failed_backend) is retried once as it is unless it is DEVICE_LOST;
 * failing again (or lost) drops b, replays the history and tries again. */
static ehal_status_t survive(ehal_session *s, const int32_t *tokens, uint32_t n, float *logits) {
    s->failed_backend = EHAL_GRAPH_NONE;
    ehal_status_t st = attempt(s, tokens, n, logits);
    uint32_t retried = 0; /* backends already retried once here */
    int replaying = 0;    /* a backend was dropped; the caches are not rebuilt yet */
    while (st != EHAL_STATUS_OK && backend_failure(st) && s->failed_backend < s->n_backends &&
           !(s->dead_mask >> s->failed_backend & 1u)) {
        const uint32_t b = s->failed_backend;
        s->failed_backend = EHAL_GRAPH_NONE;
        if (st != EHAL_STATUS_DEVICE_LOST && !(retried >> b & 1u)) {
            retried |= 1u << b; /* a first error may be transient: retry as it is */
            s->err[0] = '\0';
        } else {
            st = drop_backend(s, b, st);
            if (st != EHAL_STATUS_OK)
                break;
            replaying = 1;
        }
        st = replaying ? replay(s) : EHAL_STATUS_OK;
        if (st == EHAL_STATUS_OK) {
            replaying = 0;
            st = attempt(s, tokens, n, logits);
        }
    }
    return st;
}

const ehal_plan *ehal_session_plan(ehal_session *s, uint32_t n_tokens) {
    if (!s || survive(s, NULL, n_tokens, NULL) != EHAL_STATUS_OK)
        return NULL;
    ehal_status_t st;
    ehal_program *p = get_program(s, n_tokens, &st); /* built by survive: cached */
    return p ? p->plan : NULL;
}

ehal_status_t ehal_session_eval(ehal_session *s, const int32_t *tokens, uint32_t n, float *logits) {
    if (!s || !tokens || n == 0) {
        if (s)
            snprintf(s->err, sizeof s->err, "eval: no tokens");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    s->err[0] = '\0';
    for (uint32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= s->hp.vocab) {
            snprintf(s->err, sizeof s->err, "eval: token %u is %d, vocab is %u", i, tokens[i],
                     s->hp.vocab);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
    uint64_t w0 = ehal_exec_now_ns();
    ehal_status_t st = survive(s, tokens, n, logits);
    if (st == EHAL_STATUS_OK && remember(s, tokens, n) != EHAL_STATUS_OK) {
        snprintf(s->err, sizeof s->err, "eval: out of host memory for the token history");
        st = EHAL_STATUS_OUT_OF_MEMORY;
    }
    if (st == EHAL_STATUS_OK)
        s->err[0] = '\0'; /* a retried failure is not this eval's error */
    s->stats.wall_ns += ehal_exec_now_ns() - w0;
    return st;
}

void ehal_session_get_stats(const ehal_session *s, ehal_session_stats *out) {
    if (s && out)
        *out = s->stats;
}

void ehal_session_reset_stats(ehal_session *s) {
    if (!s)
        return;
    ehal_session_stats keep = s->stats;
    memset(&s->stats, 0, sizeof s->stats);
    s->stats.weight_bytes = keep.weight_bytes;
    s->stats.kv_bytes = keep.kv_bytes;
    s->stats.arena_bytes = keep.arena_bytes;
    /* What was lost is the session's state, not a measurement: a backend
     * dropped while planning is still reported after a reset. */
    s->stats.replans = keep.replans;
    s->stats.lost_mask = keep.lost_mask;
}

ehal_status_t ehal_session_write_trace(const ehal_session *s, const char *path) {
    if (!s || !path)
        return EHAL_STATUS_INVALID_ARGUMENT;
    FILE *f = fopen(path, "w");
    if (!f)
        return EHAL_STATUS_IO;
    fprintf(f, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
    const ehal_program *any = NULL;
    for (uint32_t i = 0; i < EHAL_EXEC_MAX_PROGRAMS && !any; i++)
        any = s->progs[i];
    for (uint32_t b = 0; b <= s->n_backends; b++)
        fprintf(f,
                "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%u,\"args\":{\"name\":"
                "\"%s\"}}%s\n",
                b,
                b == s->n_backends ? "transfers"
                : any              ? any->plan->names[b]
                                   : "backend",
                b < s->n_backends || s->n_ev ? "," : "");
    for (uint32_t i = 0; i < s->n_ev; i++) {
        const ehal_trace_ev *e = &s->ev[i];
        fprintf(f,
                "{\"name\":\"%s\",\"ph\":\"X\",\"pid\":1,\"tid\":%u,\"ts\":%.3f,\"dur\":%.3f}%s\n",
                e->name, e->track, (double)e->ts_ns / 1e3, (double)e->dur_ns / 1e3,
                i + 1 < s->n_ev ? "," : "");
    }
    fprintf(f, "]}\n");
    return fclose(f) == 0 ? EHAL_STATUS_OK : EHAL_STATUS_IO;
}
