/*
 * edgehal conformance suite: checks that a backend computes the catalog's
 * ops (and whole LLM subgraphs) like the ops/ reference kernels do.
 *
 * Cases are generated deterministically from the op catalog; each has a
 * stable id ("matmul/q4_0/K4096xN32xT1/s1") from which it is regenerated
 * exactly (--repro). Each case runs in a forked child with a timeout, so a
 * crashing or hanging kernel is one failed case. docs/conformance.md explains
 * the profiles, metrics and the tolerance table.
 */
#ifndef EDGEHAL_CONFORMANCE_H
#define EDGEHAL_CONFORMANCE_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the case set and tolerance table: results are comparable only
 * between runs of the same suite version. */
#define EHAL_CONF_SUITE_VERSION "1.0"

#define EHAL_CONF_ID_MAX 128
#define EHAL_CONF_MSG_MAX 240

/* Case outcome. */
#define EHAL_CONF_PASS 0u
#define EHAL_CONF_FAIL 1u
#define EHAL_CONF_UNSUPPORTED 2u /* backend answered UNSUPPORTED and refused cleanly */
#define EHAL_CONF_XFAIL 3u       /* failed, listed as expected to fail */
#define EHAL_CONF_XPASS 4u       /* passed, listed as expected to fail */
#define EHAL_CONF_NOT_RUN 5u

const char *ehal_conf_status_name(uint32_t status); /* "pass", "fail", ... */

typedef struct ehal_conf_options {
    const char *backend;         /* backend name, or a path to a plugin .so */
    const char *backend_options; /* "key=value,key=value" given to the backend; NULL: none */
    const char *profile;         /* "llm-core" (default when NULL) or "llm-full" */
    const char *filter;          /* glob over case ids; NULL: all */
    const char *repro;           /* run exactly this case id; overrides profile/filter */
    uint64_t seed;               /* 0 means 1 */
    uint32_t jobs;               /* parallel children; 0 means 1 */
    uint32_t group;              /* cases per child (one context each); 0 means 8 */
    double timeout_s;            /* per phase of a case, seconds; 0 means 30, or 120
                                    when sanitized (built with ASan/TSan/MSan or
                                    EHAL_SANITIZED set); > 0 is used as is */
    int quick;                   /* a small subset of the profile */
    int no_fork;                 /* run in-process (debugging) */
    int list;                    /* print ids and exit */
    int verify_xfail;            /* an unexpected pass fails the run */
    const char *xfail_path;      /* expected-failure list; NULL: none */
    const char *json_path;       /* report files; NULL: none */
    const char *junit_path;
    FILE *out;    /* terminal output; NULL: stdout */
    int progress; /* -1: auto (isatty), 0: plain lines, 1: \r line */
    int verbose;  /* print every case, not only failures */
} ehal_conf_options;

/* One case's outcome, as written to the JSON report. */
typedef struct ehal_conf_result {
    char id[EHAL_CONF_ID_MAX];
    char op[24];    /* family name: catalog op name, "kvseq", "layer", "api" */
    char dtype[16]; /* defining dtype name, or "-" */
    char shape[64];
    uint64_t seed;
    uint32_t status; /* EHAL_CONF_* */
    int in_profile;  /* counts for the chosen profile */
    double nmse;     /* worst over the case's checks; -1: not measured */
    double max_rel;
    double tol_nmse; /* tolerance of the check the worst values came from */
    double tol_max_rel;
    double time_ms;
    char message[EHAL_CONF_MSG_MAX];
} ehal_conf_result;

typedef struct ehal_conf_report {
    uint32_t n_results;
    ehal_conf_result *results;
    uint32_t n_pass, n_fail, n_unsupported, n_xfail, n_xpass;
    int profile_met; /* 1 when every profile case passed (or was an expected failure) */
    char backend[64];
    char profile[16];
    double wall_s;
} ehal_conf_report;

/* Runs the suite as configured. On OK (0) *out (may be NULL) receives the
 * report, which the caller frees with ehal_conf_report_free. Returns the
 * process exit code the command should use: 0 profile met, 1 not met or
 * error (a one-line message was printed), 2 bad options. */
int ehal_conf_run(const ehal_conf_options *opts, ehal_conf_report **out);
void ehal_conf_report_free(ehal_conf_report *r);

/* The result for a case id in a report, or NULL. */
const ehal_conf_result *ehal_conf_report_find(const ehal_conf_report *r, const char *id);

/* 1 when name matches the shell-style glob (* ? [..]), else 0. */
int ehal_conf_glob_match(const char *glob, const char *name);

#ifdef __cplusplus
}
#endif
#endif
