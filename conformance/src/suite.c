/* ehal_conf_run: select the cases, run them isolated, classify against the
 * expected-failure list, print and write the reports. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

typedef struct prog_state {
    const ehal_conf_options *o;
    FILE *out;
    int tty;
    uint32_t total, n_fail;
    const char *backend;
} prog_state;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void print_repro(FILE *f, const char *backend, const char *id) {
    fprintf(f, "  repro: edgehal conformance --backend %s --repro %s\n", backend, id);
}

static void on_progress(void *user, uint32_t done, const ehal_conf_result *r) {
    prog_state *s = user;
    int bad = r->status == EHAL_CONF_FAIL;
    s->n_fail += (uint32_t)bad;
    if (s->tty) {
        if (bad) {
            fprintf(s->out, "\r\033[KFAIL %s: %s\n", r->id, r->message);
            print_repro(s->out, s->backend, r->id);
        }
        fprintf(s->out, "\r\033[K[%u/%u] %u failed  %s", done, s->total, s->n_fail, r->id);
        fflush(s->out);
        return;
    }
    if (bad || s->o->verbose || r->status == EHAL_CONF_UNSUPPORTED) {
        fprintf(s->out, "[%u/%u] %-11s %s (%.1f ms)%s%s\n", done, s->total,
                ehal_conf_status_name(r->status), r->id, r->time_ms, r->message[0] ? ": " : "",
                r->message);
        if (bad)
            print_repro(s->out, s->backend, r->id);
    } else if (done % 25 == 0 || done == s->total) {
        fprintf(s->out, "[%u/%u] %u failed so far\n", done, s->total, s->n_fail);
    }
    fflush(s->out);
}

/* Opens the backend once in a child (or in-process with no_fork) to fail
 * early with one line, and to learn the backend's own name. */
static int preflight(const ehal_conf_options *o, char *name, size_t name_size, char *msg,
                     size_t msg_size) {
    char buf[EHAL_CONF_MSG_MAX + 64];
    memset(buf, 0, sizeof buf);
    if (o->no_fork) {
        conf_ctx x;
        if (conf_open(o, &x, msg, msg_size) != 0)
            return -1;
        ehal_backend_props pr;
        memset(&pr, 0, sizeof pr);
        pr.struct_size = sizeof pr;
        if (ehal_backend_props_get(x.be, &pr) == EHAL_STATUS_OK && pr.name)
            snprintf(name, name_size, "%s", pr.name);
        conf_close(&x);
        return 0;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        conf_set_msg(msg, msg_size, "pipe failed: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        conf_child_signals();
        conf_ctx x;
        char m[EHAL_CONF_MSG_MAX];
        if (conf_open(o, &x, m, sizeof m) != 0) {
            snprintf(buf, sizeof buf, "E%s", m);
        } else {
            ehal_backend_props pr;
            memset(&pr, 0, sizeof pr);
            pr.struct_size = sizeof pr;
            if (ehal_backend_props_get(x.be, &pr) == EHAL_STATUS_OK && pr.name)
                snprintf(buf, sizeof buf, "O%s", pr.name);
            else
                snprintf(buf, sizeof buf, "O?");
            conf_close(&x);
        }
        ssize_t w = write(fds[1], buf, sizeof buf);
        _exit(w == (ssize_t)sizeof buf ? 0 : 1);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        conf_set_msg(msg, msg_size, "fork failed: %s", strerror(errno));
        return -1;
    }
    size_t have = 0;
    double timeout = conf_timeout_s(o), end = now_s() + timeout;
    while (have < sizeof buf) {
        struct pollfd pf = {fds[0], POLLIN, 0};
        double left = end - now_s();
        if (left <= 0 || poll(&pf, 1, (int)(left * 1e3) + 1) == 0) {
            kill(pid, SIGKILL);
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
            }
            close(fds[0]);
            conf_set_msg(msg, msg_size, "backend %s: opening it did not finish within %g s",
                         o->backend ? o->backend : "cpu", timeout);
            return -1;
        }
        ssize_t n = read(fds[0], buf + have, sizeof buf - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (have < sizeof buf) {
        int sig = WIFSIGNALED(status), v = sig ? WTERMSIG(status) : WEXITSTATUS(status);
        conf_set_msg(msg, msg_size, "backend %s: opening it killed the process (%s %d)%s",
                     o->backend ? o->backend : "cpu", sig ? "signal" : "exit status", v,
                     !sig && v != 0 && conf_sanitized() ? "; a sanitizer report on stderr?" : "");
        return -1;
    }
    buf[sizeof buf - 1] = '\0';
    if (buf[0] != 'O') {
        conf_set_msg(msg, msg_size, "%s", buf + 1);
        return -1;
    }
    snprintf(name, name_size, "%.63s", buf + 1);
    return 0;
}

/* The seed a case id was generated with (its "/s<N>" suffix), or 0. */
static uint64_t id_seed(const char *id) {
    const char *s = strrchr(id, '/');
    if (!s || s[1] != 's')
        return 0;
    char *end;
    unsigned long long v = strtoull(s + 2, &end, 10);
    return *end == '\0' ? (uint64_t)v : 0;
}

static void fill_identity(ehal_conf_result *r, const conf_case *c, int in_profile) {
    memset(r, 0, sizeof *r);
    const conf_family *f = conf_family_get(c->family);
    snprintf(r->id, sizeof r->id, "%s", c->id);
    snprintf(r->op, sizeof r->op, "%s", f->name);
    snprintf(r->dtype, sizeof r->dtype, "%s",
             c->dtype == UINT32_MAX ? "-" : ehal_dtype_name(c->dtype));
    snprintf(r->shape, sizeof r->shape, "%s", c->shape);
    r->seed = c->seed;
    r->status = EHAL_CONF_NOT_RUN;
    r->in_profile = in_profile;
    r->nmse = r->max_rel = -1.0;
}

int ehal_conf_run(const ehal_conf_options *opts, ehal_conf_report **out) {
    ehal_conf_options o = *opts;
    FILE *f = o.out ? o.out : stdout;
    if (out)
        *out = NULL;
    const char *profile = o.profile ? o.profile : "llm-core";
    int full = strcmp(profile, "llm-full") == 0;
    if (!full && strcmp(profile, "llm-core") != 0) {
        fprintf(stderr, "edgehal conformance: unknown profile '%s' (llm-core, llm-full)\n",
                profile);
        return 2;
    }
    uint64_t seed = o.seed ? o.seed : 1;
    if (o.repro) {
        seed = id_seed(o.repro);
        if (!seed) {
            fprintf(stderr,
                    "edgehal conformance: --repro '%s' is not a case id (it ends in /s<seed>)\n",
                    o.repro);
            return 2;
        }
    }
    o.seed = seed;
    conf_caselist l;
    if (conf_cases_generate(&l, seed) != 0) {
        fprintf(stderr, "edgehal conformance: out of memory generating cases\n");
        conf_caselist_free(&l);
        return 1;
    }
    uint32_t *idx = malloc((l.n + 1) * sizeof *idx);
    ehal_conf_report *rep = calloc(1, sizeof *rep);
    ehal_conf_result *res = calloc(l.n + 1, sizeof *res);
    conf_xfail xf = {0};
    int code = 1;
    if (!idx || !rep || !res) {
        fprintf(stderr, "edgehal conformance: out of memory\n");
        goto done;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < l.n; i++) {
        const conf_case *c = &l.v[i];
        int sel = o.repro
                      ? strcmp(c->id, o.repro) == 0
                      : (full || (c->flags & CONF_CORE)) && (!o.quick || (c->flags & CONF_QUICK)) &&
                            (!o.filter || ehal_conf_glob_match(o.filter, c->id));
        if (sel)
            idx[n++] = i;
    }
    if (o.repro && n == 0) {
        fprintf(stderr, "edgehal conformance: no case with id '%s' in suite version %s\n", o.repro,
                EHAL_CONF_SUITE_VERSION);
        goto done;
    }
    if (o.list) {
        for (uint32_t i = 0; i < n; i++)
            fprintf(f, "%s\n", l.v[idx[i]].id);
        code = 0;
        goto done;
    }
    char msg[EHAL_CONF_MSG_MAX];
    if (o.xfail_path && conf_xfail_load(o.xfail_path, &xf, msg, sizeof msg) != 0) {
        fprintf(stderr, "edgehal conformance: %s\n", msg);
        goto done;
    }
    const char *bname = o.backend ? o.backend : "cpu";
    snprintf(rep->profile, sizeof rep->profile, "%s", o.repro ? "repro" : profile);
    if (preflight(&o, rep->backend, sizeof rep->backend, msg, sizeof msg) != 0) {
        fprintf(stderr, "edgehal conformance: %s\n", msg);
        goto done;
    }
    for (uint32_t i = 0; i < n; i++)
        fill_identity(&res[idx[i]], &l.v[idx[i]], 1);
    prog_state ps = {&o, f, 0, n, 0, bname};
    ps.tty = o.progress < 0 ? isatty(fileno(f)) : o.progress;
    fprintf(f, "edgehal conformance %s: backend %s (%s), profile %s%s, %u cases, seed %llu\n",
            EHAL_CONF_SUITE_VERSION, rep->backend, bname, rep->profile, o.quick ? " (quick)" : "",
            n, (unsigned long long)seed);
    double t0 = now_s();
    if (conf_run_cases(&o, l.v, idx, n, res, on_progress, &ps) != 0) {
        fprintf(stderr, "edgehal conformance: cannot start case processes: %s\n", strerror(errno));
        goto done;
    }
    rep->wall_s = now_s() - t0;
    if (ps.tty)
        fprintf(f, "\r\033[K");
    rep->results = malloc((n + 1) * sizeof *rep->results);
    if (!rep->results)
        goto done;
    for (uint32_t i = 0; i < n; i++) {
        ehal_conf_result *r = &res[idx[i]];
        if (xf.n && conf_xfail_match(&xf, r->id)) {
            if (r->status == EHAL_CONF_FAIL) {
                r->status = EHAL_CONF_XFAIL;
            } else if (r->status == EHAL_CONF_PASS) {
                r->status = EHAL_CONF_XPASS;
                if (o.verify_xfail) {
                    r->status = EHAL_CONF_FAIL;
                    conf_set_msg(r->message, sizeof r->message,
                                 "unexpected pass: listed in %s but passed", o.xfail_path);
                }
            }
        }
        rep->results[rep->n_results++] = *r;
        rep->n_pass += r->status == EHAL_CONF_PASS;
        rep->n_fail += r->status == EHAL_CONF_FAIL || r->status == EHAL_CONF_NOT_RUN;
        rep->n_unsupported += r->status == EHAL_CONF_UNSUPPORTED;
        rep->n_xfail += r->status == EHAL_CONF_XFAIL;
        rep->n_xpass += r->status == EHAL_CONF_XPASS;
    }
    rep->profile_met = rep->n_fail == 0 && rep->n_unsupported == 0;
    conf_print_table(f, rep);
    if (rep->n_unsupported) {
        fprintf(f, "\nmissing for %s (the backend calls these unsupported):\n", rep->profile);
        for (uint32_t i = 0; i < rep->n_results; i++)
            if (rep->results[i].status == EHAL_CONF_UNSUPPORTED)
                fprintf(f, "  %s\n", rep->results[i].id);
    }
    if (rep->n_fail) {
        fprintf(f, "\nfailing:\n");
        for (uint32_t i = 0; i < rep->n_results; i++)
            if (rep->results[i].status == EHAL_CONF_FAIL) {
                fprintf(f, "  %s: %s\n", rep->results[i].id, rep->results[i].message);
                print_repro(f, bname, rep->results[i].id);
            }
    }
    fprintf(f,
            "\n%u cases: %u pass, %u fail, %u unsupported, %u xfail, %u xpass in %.1f s\n"
            "profile %s: %s (suite %s)\n",
            rep->n_results, rep->n_pass, rep->n_fail, rep->n_unsupported, rep->n_xfail,
            rep->n_xpass, rep->wall_s, rep->profile, rep->profile_met ? "MET" : "NOT MET",
            EHAL_CONF_SUITE_VERSION);
    code = rep->profile_met ? 0 : 1;
    if (o.json_path && conf_write_json(o.json_path, rep, &o) != 0) {
        fprintf(stderr, "edgehal conformance: cannot write JSON report %s: %s\n", o.json_path,
                strerror(errno));
        code = 1;
    }
    if (o.junit_path && conf_write_junit(o.junit_path, rep) != 0) {
        fprintf(stderr, "edgehal conformance: cannot write JUnit report %s: %s\n", o.junit_path,
                strerror(errno));
        code = 1;
    }
    fflush(f);
done:
    conf_xfail_free(&xf);
    conf_caselist_free(&l);
    free(idx);
    free(res);
    if (out && code != 2 && rep && rep->results) {
        *out = rep;
    } else {
        ehal_conf_report_free(rep);
    }
    return code;
}

void ehal_conf_report_free(ehal_conf_report *r) {
    if (!r)
        return;
    free(r->results);
    free(r);
}

const ehal_conf_result *ehal_conf_report_find(const ehal_conf_report *r, const char *id) {
    for (uint32_t i = 0; r && i < r->n_results; i++)
        if (strcmp(r->results[i].id, id) == 0)
            return &r->results[i];
    return NULL;
}
