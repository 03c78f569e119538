/*
 * Opening and closing the CPU backend, and its options:
 *   threads  worker threads, 0 = one per online CPU (default). The env
 *            variable EHAL_CPU_THREADS sets the default; the option wins.
 *            The pool of that many workers (the caller's thread being one)
 *            is created here and joined by destroy; no op creates threads.
 * Unknown keys are ignored with a DEBUG line, as the ABI asks.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu_internal.h"

#define CPU_THREADS_ENV "EHAL_CPU_THREADS"

static const char *const known_options[] = {"threads"};

int cpu_backend_ok(const ehal_backend_impl *be)
{
    return be != NULL && be->magic == CPU_BACKEND_MAGIC;
}

static ehal_status_t check_threads(const ehal_host_services *host, const char *source,
                                   uint64_t threads)
{
    if (threads > CPU_MAX_THREADS) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "%s %llu exceeds the maximum of %u threads",
                     source, (unsigned long long)threads, CPU_MAX_THREADS);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

/* threads: environment first, then the option over it. */
static ehal_status_t parse_threads(const ehal_host_services *host, const ehal_option *opts,
                                   uint32_t n_opts, uint64_t *threads)
{
    const char *env = getenv(CPU_THREADS_ENV);
    if (env != NULL && env[0] != '\0') {
        ehal_option e = {CPU_THREADS_ENV, env};
        /* parsed silently: the message names the variable, not an option */
        if (ehal_sdk_option_u64(NULL, &e, 1, CPU_THREADS_ENV, threads) != EHAL_STATUS_OK) {
            ehal_sdk_log(host, EHAL_LOG_ERROR,
                         "environment %s='%s' is not a non-negative integer", CPU_THREADS_ENV,
                         env);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
        ehal_status_t st = check_threads(host, CPU_THREADS_ENV, *threads);
        if (st != EHAL_STATUS_OK)
            return st;
    }
    ehal_status_t st = ehal_sdk_option_u64(host, opts, n_opts, "threads", threads);
    if (st == EHAL_STATUS_OK)
        st = check_threads(host, "option 'threads'", *threads);
    return st;
}

static void log_unknown_options(const ehal_host_services *host, const ehal_option *opts,
                                uint32_t n_opts)
{
    for (uint32_t i = 0; i < n_opts; i++) {
        int known = 0;
        for (size_t k = 0; k < sizeof known_options / sizeof known_options[0]; k++)
            known |= opts[i].key != NULL && strcmp(opts[i].key, known_options[k]) == 0;
        if (!known)
            ehal_sdk_log(host, EHAL_LOG_DEBUG, "ignoring unknown option '%s'",
                         opts[i].key != NULL ? opts[i].key : "(null)");
    }
}

ehal_status_t cpu_init(const ehal_host_services *host, const ehal_option *opts, uint32_t n_opts,
                       ehal_backend_impl **out)
{
    if (host == NULL || out == NULL) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "init: %s is NULL",
                     host == NULL ? "host services" : "out");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    if (opts == NULL && n_opts != 0) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "init: options array is NULL with %u entries",
                     n_opts);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    uint64_t threads = 0;
    ehal_status_t st = parse_threads(host, opts, n_opts, &threads);
    if (st != EHAL_STATUS_OK)
        return st;
    log_unknown_options(host, opts, n_opts);

    ehal_backend_impl *be = ehal_sdk_calloc(host, 1, sizeof *be);
    if (be == NULL) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "init: out of memory for the backend (%zu bytes)",
                     sizeof *be);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    be->magic = CPU_BACKEND_MAGIC;
    be->host = host;
    be->threads = threads;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int n = threads != 0 ? (int)threads : online > 0 ? (int)online : 1;
    if (n > 1) {
        be->pool = cpu_pool_create(host, n);
        if (be->pool == NULL) {
            ehal_sdk_log(host, EHAL_LOG_ERROR, "init: cannot start a pool of %d threads", n);
            ehal_sdk_free(host, be);
            return EHAL_STATUS_OUT_OF_MEMORY;
        }
    }
    cpu_kernels_select(be);
    ehal_sdk_log(host, EHAL_LOG_DEBUG, "threads=%d%s", n,
                 threads == 0 ? " (one per online CPU)" : "");
    *out = be;
    return EHAL_STATUS_OK;
}

void cpu_destroy(ehal_backend_impl *be)
{
    if (!cpu_backend_ok(be))
        return;
    const ehal_host_services *host = be->host;
    be->magic = 0;
    cpu_pool_destroy(be->pool);
    ehal_sdk_free(host, be);
}
