/*
 * Isolation: cases run in forked children, a group of cases per child, each
 * child opening its own context (so no driver state is shared across fork).
 * A child sends one fixed-size record per finished case through a pipe. If
 * it dies or stops reporting within the timeout, the first case without a
 * record is the culprit ("crashed: SIGSEGV", "hung: killed after 30 s"); the
 * rest of its group is re-run in a fresh child. The child announces each
 * phase of a case (WIRE_WHERE); the timeout applies to each phase, and the
 * last phase names where a crash or hang happened. A child that a sanitizer
 * halts sends its report's one-line summary first (WIRE_SANITIZER), so the
 * case is named "crashed: sanitizer report: heap-buffer-overflow, ...".
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define MAX_JOBS 64
#define MAX_GROUP 64

#define WIRE_RESULT 0u    /* r is the case's outcome */
#define WIRE_WHERE 1u     /* r.message says what the case is doing now */
#define WIRE_SANITIZER 2u /* r.message: a sanitizer report is halting the child */

typedef struct wire {
    uint32_t k; /* position in the child's group */
    uint32_t kind;
    ehal_conf_result r;
} wire;

typedef struct worker {
    pid_t pid;
    int fd;
    uint32_t group[MAX_GROUP]; /* positions in idx[] */
    uint32_t n, done;
    double deadline, case_start;
    char where[96]; /* last WIRE_WHERE of the current case */
    char san[112];  /* WIRE_SANITIZER of the current case, or "" */
    unsigned char buf[sizeof(wire)];
    size_t have;
} worker;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *sig_name(int s) {
    switch (s) {
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGTRAP: return "SIGTRAP";
    case SIGSYS: return "SIGSYS";
    case SIGPIPE: return "SIGPIPE";
    default: return NULL;
    }
}

static int write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static void run_one(const conf_case *c, conf_ctx *x, ehal_conf_result *r) {
    double t0 = now_s();
    conf_exec_case(c, x, r);
    r->time_ms = (now_s() - t0) * 1e3;
}

static int where_fd = -1, san_fd = -1;
static uint32_t where_k;

/* Death callback of the sanitizer runtime in a case child. */
static void on_sanitizer_death(void) {
    if (san_fd < 0)
        return;
    wire m;
    memset(&m, 0, sizeof m);
    m.k = where_k;
    m.kind = WIRE_SANITIZER;
    conf_sanitizer_report(m.r.message, sizeof m.r.message);
    (void)write_all(san_fd, &m, sizeof m);
}

void conf_where(const char *fmt, ...) {
    if (where_fd < 0)
        return;
    wire m;
    memset(&m, 0, sizeof m);
    m.k = where_k;
    m.kind = WIRE_WHERE;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m.r.message, sizeof m.r.message, fmt, ap);
    va_end(ap);
    if (write_all(where_fd, &m, sizeof m) != 0)
        where_fd = -1;
}

void conf_child_signals(void) {
    /* A crash must kill the child with its signal even when the host
     * process (a test framework, an app) installed handlers for it. */
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        signal(fatal[i], SIG_DFL);
}

/* The child: open, run the group, report each, exit without unwinding the
 * parent's stdio. */
static void child_main(const ehal_conf_options *o, const conf_case *cases, const uint32_t *idx,
                       const worker *w, const ehal_conf_result *results, int fd) {
    conf_child_signals();
    conf_ctx x;
    char msg[EHAL_CONF_MSG_MAX];
    where_fd = san_fd = fd;
    where_k = 0;
    (void)conf_on_sanitizer_death(on_sanitizer_death);
    conf_where("opening the backend");
    int ok = conf_open(o, &x, msg, sizeof msg) == 0;
    for (uint32_t k = 0; k < w->n; k++) {
        wire m;
        where_k = k;
        memset(&m, 0, sizeof m);
        m.k = k;
        m.kind = WIRE_RESULT;
        m.r = results[idx[w->group[k]]];
        if (ok) {
            run_one(&cases[idx[w->group[k]]], &x, &m.r);
        } else {
            m.r.status = EHAL_CONF_FAIL;
            conf_set_msg(m.r.message, sizeof m.r.message, "%s", msg);
        }
        if (write_all(fd, &m, sizeof m) != 0)
            _exit(3);
    }
    where_fd = -1;
    if (ok)
        conf_close(&x);
    _exit(0);
}

static int start(const ehal_conf_options *o, const conf_case *cases, const uint32_t *idx, worker *w,
                 const ehal_conf_result *results, double timeout) {
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(o, cases, idx, w, results, fds[1]);
    }
    close(fds[1]);
    w->pid = pid;
    w->fd = fds[0];
    w->done = 0;
    w->where[0] = '\0';
    w->san[0] = '\0';
    w->have = 0;
    w->case_start = now_s();
    w->deadline = w->case_start + timeout;
    return 0;
}

/* The child is gone or killed: blame the first unreported case, requeue
 * the others. */
/* Cases to re-run after a crash, in order. At most n are pending at once
 * (each case is pending at most once), so compacting keeps it in bounds. */
typedef struct queue {
    uint32_t *v;
    uint32_t head, n;
} queue;

static void push(queue *q, uint32_t x) {
    if (q->head > 0) {
        memmove(q->v, q->v + q->head, (q->n - q->head) * sizeof *q->v);
        q->n -= q->head;
        q->head = 0;
    }
    q->v[q->n++] = x;
}

static void finish(worker *w, ehal_conf_result *results, const uint32_t *idx, int killed,
                   double timeout, queue *retry) {
    int status = 0;
    if (killed)
        kill(w->pid, SIGKILL);
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
    }
    close(w->fd);
    w->pid = 0;
    if (w->done >= w->n)
        return;
    ehal_conf_result *r = &results[idx[w->group[w->done]]];
    r->status = EHAL_CONF_FAIL;
    r->time_ms = (now_s() - w->case_start) * 1e3;
    char what[176];
    if (w->san[0]) {
        /* ASan exits with status 1 after its report; name the report. */
        conf_set_msg(what, sizeof what, "crashed: %s", w->san);
    } else if (killed) {
        conf_set_msg(what, sizeof what, "hung: killed after %g s", timeout);
    } else if (WIFSIGNALED(status)) {
        const char *sn = sig_name(WTERMSIG(status));
        if (sn)
            conf_set_msg(what, sizeof what, "crashed: %s", sn);
        else
            conf_set_msg(what, sizeof what, "crashed: signal %d", WTERMSIG(status));
    } else {
        int es = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        conf_set_msg(what, sizeof what, "crashed: exit status %d before reporting%s", es,
                     es != 0 && conf_sanitized() ? " (a sanitizer report on stderr?)" : "");
    }
    if (w->where[0])
        conf_set_msg(r->message, sizeof r->message, "%s during %s", what, w->where);
    else
        conf_set_msg(r->message, sizeof r->message, "%s", what);
    for (uint32_t k = w->done + 1; k < w->n; k++)
        push(retry, w->group[k]);
}

int conf_run_cases(const ehal_conf_options *o, const conf_case *cases, const uint32_t *idx,
                   uint32_t n, ehal_conf_result *results, conf_progress_fn progress, void *user) {
    double timeout = conf_timeout_s(o);
    uint32_t done = 0;
    if (o->no_fork) {
        conf_ctx x;
        char msg[EHAL_CONF_MSG_MAX];
        int ok = conf_open(o, &x, msg, sizeof msg) == 0;
        for (uint32_t i = 0; i < n; i++) {
            ehal_conf_result *r = &results[idx[i]];
            if (ok) {
                run_one(&cases[idx[i]], &x, r);
            } else {
                r->status = EHAL_CONF_FAIL;
                conf_set_msg(r->message, sizeof r->message, "%s", msg);
            }
            if (progress)
                progress(user, ++done, r);
        }
        if (ok)
            conf_close(&x);
        return 0;
    }
    uint32_t jobs = o->jobs ? o->jobs : 1, group = o->group ? o->group : 8;
    jobs = jobs > MAX_JOBS ? MAX_JOBS : jobs;
    group = group > MAX_GROUP ? MAX_GROUP : group;
    worker *ws = calloc(jobs, sizeof *ws);
    queue retry = {malloc((n + 1) * sizeof(uint32_t)), 0, 0};
    if (!ws || !retry.v) {
        free(ws);
        free(retry.v);
        return -1;
    }
    uint32_t next = 0;
    int rc = 0;
    while (done < n) {
        for (uint32_t j = 0; j < jobs; j++) {
            worker *w = &ws[j];
            if (w->pid || (next >= n && retry.head >= retry.n))
                continue;
            w->n = 0;
            while (w->n < group && retry.head < retry.n)
                w->group[w->n++] = retry.v[retry.head++];
            while (w->n < group && next < n && retry.head >= retry.n)
                w->group[w->n++] = next++;
            if (start(o, cases, idx, w, results, timeout) != 0) {
                rc = -1;
                goto out;
            }
        }
        struct pollfd pf[MAX_JOBS];
        uint32_t map[MAX_JOBS], np = 0;
        double t = now_s(), first = t + 3600.0;
        for (uint32_t j = 0; j < jobs; j++) {
            if (!ws[j].pid)
                continue;
            pf[np].fd = ws[j].fd;
            pf[np].events = POLLIN;
            pf[np].revents = 0;
            map[np++] = j;
            if (ws[j].deadline < first)
                first = ws[j].deadline;
        }
        int wait_ms = first > t ? (int)((first - t) * 1e3) + 1 : 0;
        int pr = poll(pf, np, wait_ms);
        if (pr < 0 && errno != EINTR) {
            rc = -1;
            goto out;
        }
        for (uint32_t q = 0; q < np; q++) {
            worker *w = &ws[map[q]];
            if (!(pf[q].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t got = read(w->fd, w->buf + w->have, sizeof w->buf - w->have);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                uint32_t before = w->done;
                finish(w, results, idx, 0, timeout, &retry);
                if (before < w->n) {
                    done++;
                    if (progress)
                        progress(user, done, &results[idx[w->group[before]]]);
                }
                continue;
            }
            w->have += (size_t)got;
            if (w->have < sizeof(wire))
                continue;
            wire m;
            memcpy(&m, w->buf, sizeof m);
            w->have = 0;
            if (m.kind == WIRE_SANITIZER) {
                if (m.k == w->done)
                    snprintf(w->san, sizeof w->san, "%.*s", (int)sizeof w->san - 1, m.r.message);
                continue;
            }
            if (m.kind == WIRE_WHERE) {
                /* The timeout is per phase: a slow reference computation on
                 * the host does not eat the backend's time. */
                if (m.k == w->done) {
                    snprintf(w->where, sizeof w->where, "%.*s", (int)sizeof w->where - 1,
                             m.r.message);
                    w->deadline = now_s() + timeout;
                }
                continue;
            }
            w->where[0] = '\0';
            w->san[0] = '\0';
            if (m.k < w->n) {
                results[idx[w->group[m.k]]] = m.r;
                w->done = m.k + 1;
                done++;
                if (progress)
                    progress(user, done, &results[idx[w->group[m.k]]]);
            }
            w->case_start = now_s();
            w->deadline = w->case_start + timeout;
        }
        t = now_s();
        for (uint32_t j = 0; j < jobs; j++) {
            worker *w = &ws[j];
            if (w->pid && t > w->deadline) {
                uint32_t before = w->done;
                finish(w, results, idx, 1, timeout, &retry);
                if (before < w->n) {
                    done++;
                    if (progress)
                        progress(user, done, &results[idx[w->group[before]]]);
                }
            }
        }
    }
out:
    for (uint32_t j = 0; j < jobs; j++)
        if (ws[j].pid)
            finish(&ws[j], results, idx, 1, timeout, &retry);
    free(ws);
    free(retry.v);
    return rc;
}
