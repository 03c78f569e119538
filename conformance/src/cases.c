/* The case list: families in a fixed order, ids, profile membership. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A catalog op without a generator still shows up, as a failing case, so a
 * new op cannot silently escape the suite. */
static void missing_run(const conf_case *c, conf_ctx *x, ehal_conf_result *r) {
    (void)x;
    r->status = EHAL_CONF_FAIL;
    conf_set_msg(r->message, sizeof r->message,
                 "the suite has no case generator for catalog op %s (id %lld)",
                 ehal_op_name((uint32_t)c->p[0]), (long long)c->p[0]);
}

static const conf_family fam_missing = {"missing", EHAL_OP_NONE, NULL, NULL, missing_run};

/* One entry per catalog op: adding an op adds one generator here. */
static const conf_family *const op_fams[EHAL_OP_ID_LIMIT_] = {
    [EHAL_OP_GET_ROWS] = &conf_fam_get_rows, [EHAL_OP_MATMUL] = &conf_fam_matmul,
    [EHAL_OP_RMS_NORM] = &conf_fam_rms_norm, [EHAL_OP_ROPE] = &conf_fam_rope,
    [EHAL_OP_ADD] = &conf_fam_add,           [EHAL_OP_MUL] = &conf_fam_mul,
    [EHAL_OP_SWIGLU] = &conf_fam_swiglu,     [EHAL_OP_SOFTMAX] = &conf_fam_softmax,
    [EHAL_OP_KV_WRITE] = &conf_fam_kv_write, [EHAL_OP_ATTENTION] = &conf_fam_attention,
    [EHAL_OP_COPY] = &conf_fam_copy,
};

/* Family indices are positions in this list (stable within a suite version). */
static const conf_family *const fams[] = {
    &conf_fam_get_rows, &conf_fam_matmul,    &conf_fam_rms_norm, &conf_fam_rope,
    &conf_fam_add,      &conf_fam_mul,       &conf_fam_swiglu,   &conf_fam_softmax,
    &conf_fam_kv_write, &conf_fam_attention, &conf_fam_copy,     &conf_fam_kvseq,
    &conf_fam_layer,    &conf_fam_api,       &fam_missing,
};
#define N_FAMS (sizeof fams / sizeof fams[0])

uint32_t conf_family_count(void) {
    return (uint32_t)N_FAMS;
}

const conf_family *conf_family_get(uint32_t i) {
    return i < N_FAMS ? fams[i] : NULL;
}

const conf_family *conf_op_family(uint32_t op) {
    return op < EHAL_OP_ID_LIMIT_ ? op_fams[op] : NULL;
}

static uint32_t family_index(const conf_family *f) {
    for (uint32_t i = 0; i < N_FAMS; i++)
        if (fams[i] == f)
            return i;
    return UINT32_MAX;
}

/* llm-core: what a Llama-style decoder needs. llm-full is every case. */
static const struct {
    const char *family;
    uint32_t dtype;
} core_rows[] = {
    {"get_rows", EHAL_DTYPE_F32},  {"get_rows", EHAL_DTYPE_F16},  {"get_rows", EHAL_DTYPE_Q8_0},
    {"get_rows", EHAL_DTYPE_Q4_0}, {"matmul", EHAL_DTYPE_F32},    {"matmul", EHAL_DTYPE_F16},
    {"matmul", EHAL_DTYPE_Q8_0},   {"matmul", EHAL_DTYPE_Q4_0},   {"rms_norm", EHAL_DTYPE_F32},
    {"rope", EHAL_DTYPE_F32},      {"add", EHAL_DTYPE_F32},       {"mul", EHAL_DTYPE_F32},
    {"swiglu", EHAL_DTYPE_F32},    {"softmax", EHAL_DTYPE_F32},   {"kv_write", EHAL_DTYPE_F16},
    {"kv_write", EHAL_DTYPE_Q8_0}, {"attention", EHAL_DTYPE_F16}, {"attention", EHAL_DTYPE_Q8_0},
    {"kvseq", EHAL_DTYPE_F16},     {"kvseq", EHAL_DTYPE_Q8_0},    {"layer", EHAL_DTYPE_F16},
    {"layer", EHAL_DTYPE_Q4_0},    {"layer", EHAL_DTYPE_Q8_0},    {"api", UINT32_MAX},
    {"missing", UINT32_MAX},
};

int conf_in_core(const char *family, uint32_t dtype) {
    for (size_t i = 0; i < sizeof core_rows / sizeof core_rows[0]; i++)
        if (core_rows[i].dtype == dtype && strcmp(core_rows[i].family, family) == 0)
            return 1;
    return 0;
}

conf_case *conf_case_add(conf_caselist *l, uint32_t family, uint32_t dtype, const char *shape,
                         const char *variant) {
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 256;
        conf_case *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = 1;
            return NULL;
        }
        l->v = v;
        l->cap = cap;
    }
    conf_case *c = &l->v[l->n++];
    memset(c, 0, sizeof *c);
    const conf_family *f = conf_family_get(family);
    c->family = family;
    c->dtype = dtype;
    c->seed = l->seed;
    snprintf(c->shape, sizeof c->shape, "%s", shape);
    const char *dn = dtype == UINT32_MAX ? "-" : ehal_dtype_name(dtype);
    if (variant && *variant)
        snprintf(c->id, sizeof c->id, "%s/%s/%s/%s/s%llu", f->name, dn, shape, variant,
                 (unsigned long long)l->seed);
    else
        snprintf(c->id, sizeof c->id, "%s/%s/%s/s%llu", f->name, dn, shape,
                 (unsigned long long)l->seed);
    if (conf_in_core(f->name, dtype))
        c->flags |= CONF_CORE;
    return c;
}

void conf_caselist_free(conf_caselist *l) {
    free(l->v);
    memset(l, 0, sizeof *l);
}

int conf_cases_generate(conf_caselist *l, uint64_t seed) {
    memset(l, 0, sizeof *l);
    l->seed = seed;
    const uint32_t *ops;
    uint32_t n_ops = ehal_op_list(&ops);
    for (uint32_t i = 0; i < n_ops; i++) {
        const conf_family *f = conf_op_family(ops[i]);
        if (f && f->enumerate) {
            f->enumerate(l, family_index(f));
        } else {
            char shape[48];
            snprintf(shape, sizeof shape, "no-generator");
            conf_case *c = conf_case_add(l, family_index(&fam_missing), UINT32_MAX, shape,
                                         ehal_op_name(ops[i]));
            if (c)
                c->p[0] = ops[i];
        }
    }
    conf_fam_kvseq.enumerate(l, family_index(&conf_fam_kvseq));
    conf_fam_layer.enumerate(l, family_index(&conf_fam_layer));
    conf_fam_api.enumerate(l, family_index(&conf_fam_api));
    return l->oom ? -1 : 0;
}

int ehal_conf_glob_match(const char *g, const char *s) {
    for (; *g; g++, s++) {
        if (*g == '*') {
            while (g[1] == '*')
                g++;
            if (!g[1])
                return 1;
            for (; *s; s++)
                if (ehal_conf_glob_match(g + 1, s))
                    return 1;
            return ehal_conf_glob_match(g + 1, s);
        }
        if (!*s)
            return 0;
        if (*g == '?')
            continue;
        if (*g == '[') {
            const char *e = strchr(g + 1, ']');
            if (e) {
                int neg = g[1] == '!' || g[1] == '^';
                int hit = 0;
                for (const char *q = g + 1 + neg; q < e; q++) {
                    if (q + 2 < e && q[1] == '-') {
                        hit |= *s >= q[0] && *s <= q[2];
                        q += 2;
                    } else {
                        hit |= *s == *q;
                    }
                }
                if (hit == neg)
                    return 0;
                g = e;
                continue;
            }
        }
        if (*g != *s)
            return 0;
    }
    return *s == '\0';
}
