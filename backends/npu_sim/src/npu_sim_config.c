/*
 * The simulated device's parameters. Each has a default, an environment
 * variable and a backend option (context option "npu_sim.<key>"); the option
 * wins over the variable, the variable over the default:
 *
 *   key         variable               unit             default  range
 *   memory      EHAL_NPU_SIM_MEMORY    bytes, K/M/G     256M     1 .. 2^50
 *   tops        EHAL_NPU_SIM_TOPS      1e12 int8 ops/s  2        (0, 1000]
 *   latency_us  EHAL_NPU_SIM_LATENCY_US microseconds    200      0 .. 10^7
 *   compile_ms  EHAL_NPU_SIM_COMPILE_MS milliseconds    20       0 .. 60000
 *   link_gbps   EHAL_NPU_SIM_LINK_GBPS 1e9 bytes/s      8        (0, 1000]
 *
 * tops and link_gbps are decimal numbers ("0.5"); the others non-negative
 * integers. A malformed or out-of-range value fails init with one line
 * naming the key (or variable) and the value.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npu_sim_internal.h"

typedef enum { KIND_U64, KIND_REAL } param_kind;

typedef struct param {
    const char *key;
    const char *env;
    param_kind kind;
    double lo, hi; /* inclusive range; for KIND_REAL lo is exclusive */
    size_t field;  /* offsetof(npu_sim_config, ...) */
} param;

static const param params[] = {
    {"memory", "EHAL_NPU_SIM_MEMORY", KIND_U64, 1.0, 1125899906842624.0,
     offsetof(npu_sim_config, memory_bytes)},
    {"tops", "EHAL_NPU_SIM_TOPS", KIND_REAL, 0.0, 1000.0, offsetof(npu_sim_config, tops)},
    {"latency_us", "EHAL_NPU_SIM_LATENCY_US", KIND_U64, 0.0, 1e7,
     offsetof(npu_sim_config, latency_us)},
    {"compile_ms", "EHAL_NPU_SIM_COMPILE_MS", KIND_U64, 0.0, 60000.0,
     offsetof(npu_sim_config, compile_ms)},
    {"link_gbps", "EHAL_NPU_SIM_LINK_GBPS", KIND_REAL, 0.0, 1000.0,
     offsetof(npu_sim_config, link_gbps)},
};
#define N_PARAMS (sizeof params / sizeof params[0])

void npu_sim_config_defaults(npu_sim_config *cfg) {
    cfg->memory_bytes = 256ull << 20;
    cfg->tops = 2.0;
    cfg->latency_us = 200;
    cfg->compile_ms = 20;
    cfg->link_gbps = 8.0;
}

/* Parses value for p into cfg; on failure writes the expected form to
 * `expect` and returns 0. */
static int parse_value(const param *p, const char *value, npu_sim_config *cfg,
                       const char **expect) {
    if (p->kind == KIND_U64) {
        ehal_option o = {p->key, value};
        uint64_t v = 0;
        *expect = "a non-negative integer (decimal, optional K/M/G suffix)";
        if (ehal_sdk_option_u64(NULL, &o, 1, p->key, &v) != EHAL_STATUS_OK)
            return 0;
        *expect = p->lo >= 1.0 ? "an integer in range (1 .. 2^50)" : "an integer in range";
        if ((double)v < p->lo || (double)v > p->hi)
            return 0;
        memcpy((char *)cfg + p->field, &v, sizeof v);
        return 1;
    }
    *expect = "a positive decimal number (at most 1000)";
    char *end = NULL;
    double v = (value[0] == '\0' || value[0] == ' ') ? NAN : strtod(value, &end);
    if (end == NULL || *end != '\0' || !isfinite(v) || v <= p->lo || v > p->hi)
        return 0;
    memcpy((char *)cfg + p->field, &v, sizeof v);
    return 1;
}

static int known_key(const char *key) {
    for (size_t i = 0; i < N_PARAMS; i++)
        if (key != NULL && strcmp(key, params[i].key) == 0)
            return 1;
    return 0;
}

ehal_status_t npu_sim_config_parse(const ehal_host_services *host, const ehal_option *opts,
                                   uint32_t n_opts, npu_sim_config *cfg) {
    if (opts == NULL && n_opts != 0) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "init: options array is NULL with %u entries", n_opts);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < N_PARAMS; i++) {
        const param *p = &params[i];
        const char *expect = "";
        const char *env = getenv(p->env);
        if (env != NULL && !parse_value(p, env, cfg, &expect)) {
            ehal_sdk_log(host, EHAL_LOG_ERROR, "environment %s='%s' is not %s", p->env, env,
                         expect);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
        const char *opt = ehal_sdk_option(opts, n_opts, p->key);
        if (opt != NULL && !parse_value(p, opt, cfg, &expect)) {
            ehal_sdk_log(host, EHAL_LOG_ERROR, "option '%s': value '%s' is not %s", p->key, opt,
                         expect);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
    }
    for (uint32_t i = 0; i < n_opts; i++)
        if (!known_key(opts[i].key))
            ehal_sdk_log(host, EHAL_LOG_DEBUG, "ignoring unknown option '%s'",
                         opts[i].key != NULL ? opts[i].key : "(null)");
    return EHAL_STATUS_OK;
}
