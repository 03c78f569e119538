/*
 * KV-cache cases: kv_write and attention as single ops (caches filled with
 * seeded values), and "kvseq": many kv_write appends of random lengths
 * followed by attention at each step, running the cache past its capacity
 * so the ring-buffer slot rule (window, sinks) is exercised end to end.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const uint32_t cache_dtypes[] = {EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0, EHAL_DTYPE_Q4_0};

/* ---- kv_write: p = {D, Hkv, T, C, pos0, window, n_sink} ----------------------- */

static void kv_write_enum(conf_caselist *l, uint32_t fam) {
    static const int64_t shapes[][7] = {
        {128, 8, 1, 4096, 4095, 0, 0}, /* decode at the end of a 4096 context */
        {64, 2, 32, 256, 0, 0, 0},     /* prefill */
        {128, 1, 7, 512, 100, 0, 0},   /* odd T */
        {64, 4, 16, 64, 116, 40, 4},   /* ring: wraps past capacity, sinks kept */
        {64, 4, 8, 64, 0, 48, 4},      /* writes into the sink slots */
        {64, 2, 5, 32, 1000, 28, 0},   /* ring without sinks */
    };
    for (size_t d = 0; d < 3; d++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int64_t *q = shapes[s];
            char sh[64], var[48];
            snprintf(sh, sizeof sh, "D%lldxHkv%lldxT%lldxC%lld", (long long)q[0], (long long)q[1],
                     (long long)q[2], (long long)q[3]);
            snprintf(var, sizeof var, "P%lld-w%lld-sink%lld", (long long)q[4], (long long)q[5],
                     (long long)q[6]);
            conf_case *c = conf_case_add(l, fam, cache_dtypes[d], sh, var);
            if (!c)
                return;
            memcpy(c->p, q, sizeof shapes[s]);
            if (s == 0 || s == 3)
                c->flags |= CONF_QUICK;
        }
    }
}

static int kv_write_build(const conf_case *c, conf_prog *p, char *msg, size_t n) {
    int64_t D = c->p[0], H = c->p[1], T = c->p[2], C = c->p[3];
    uint32_t src = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_INPUT, D, H, T, 1);
    uint32_t pos = conf_tensor_add(p, EHAL_DTYPE_I32, EHAL_ROLE_INPUT, T, 1, 1, 1);
    uint32_t cache = conf_tensor_add(p, c->dtype, EHAL_ROLE_KV, D, C, H, 1);
    if (p->oom)
        return conf_set_msg(msg, n, "out of memory"), -1;
    conf_fill_normal(p, src, 1.0f);
    conf_fill_normal(p, cache, 1.0f); /* slots not written must keep these */
    int32_t *pv = p->t[pos].host;
    for (int64_t t = 0; t < T; t++)
        pv[t] = (int32_t)(c->p[4] + t);
    ehal_params_kv prm = {(uint32_t)c->p[5], (uint32_t)c->p[6]};
    uint32_t in[3] = {src, pos, cache};
    conf_node_add(p, 0, EHAL_OP_KV_WRITE, 3, in, cache, &prm, sizeof prm);
    conf_check_add(p, 0, cache, "kv_write", c->dtype, "cache");
    return p->oom ? (conf_set_msg(msg, n, "out of memory"), -1) : 0;
}

const conf_family conf_fam_kv_write = {"kv_write", EHAL_OP_KV_WRITE, kv_write_enum, kv_write_build,
                                       NULL};

/* ---- attention: p = {D, Hq, Hkv, T, C, pos0, window, n_sink, full_only} -------- */

static void attention_enum(conf_caselist *l, uint32_t fam) {
    static const int64_t shapes[][9] = {
        {128, 32, 8, 1, 4096, 4095, 0, 0, 0}, /* decode, 4096 context, GQA 4 */
        {64, 8, 8, 1, 512, 300, 0, 0, 0},     /* GQA 1 */
        {128, 16, 2, 1, 1024, 1000, 0, 0, 0}, /* GQA 8 */
        {64, 8, 2, 32, 256, 0, 0, 0, 0},      /* prefill from position 0 */
        {128, 8, 1, 64, 512, 128, 0, 0, 0},   /* prefill with offset, GQA 8 */
        {64, 4, 1, 1, 64, 31, 32, 0, 0},      /* window edge: all keys inside */
        {64, 4, 1, 1, 64, 32, 32, 0, 0},      /* window edge: key 0 just outside */
        {64, 4, 2, 8, 64, 100, 32, 4, 0},     /* window + sinks, ring wrapped */
        {64, 4, 2, 3, 64, 35, 32, 4, 0},      /* queries straddling the window edge */
        {128, 4, 1, 32, 4096, 4064, 0, 0, 1}, /* prefill at the end of 4096 (llm-full) */
    };
    for (size_t d = 0; d < 3; d++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int64_t *q = shapes[s];
            char sh[64], var[48];
            snprintf(sh, sizeof sh, "D%lldxHq%lldxHkv%lldxT%lldxC%lld", (long long)q[0],
                     (long long)q[1], (long long)q[2], (long long)q[3], (long long)q[4]);
            snprintf(var, sizeof var, "P%lld-w%lld-sink%lld", (long long)q[5], (long long)q[6],
                     (long long)q[7]);
            conf_case *c = conf_case_add(l, fam, cache_dtypes[d], sh, var);
            if (!c)
                return;
            memcpy(c->p, q, sizeof shapes[s]);
            if (q[8])
                c->flags &= ~CONF_CORE;
            if (s == 0 || s == 7)
                c->flags |= CONF_QUICK;
        }
    }
}

static int attention_build(const conf_case *c, conf_prog *p, char *msg, size_t n) {
    int64_t D = c->p[0], Hq = c->p[1], Hkv = c->p[2], T = c->p[3], C = c->p[4];
    uint32_t q = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_INPUT, D, Hq, T, 1);
    uint32_t k = conf_tensor_add(p, c->dtype, EHAL_ROLE_KV, D, C, Hkv, 1);
    uint32_t v = conf_tensor_add(p, c->dtype, EHAL_ROLE_KV, D, C, Hkv, 1);
    uint32_t pos = conf_tensor_add(p, EHAL_DTYPE_I32, EHAL_ROLE_INPUT, T, 1, 1, 1);
    uint32_t o = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, D, Hq, T, 1);
    if (p->oom)
        return conf_set_msg(msg, n, "out of memory"), -1;
    conf_fill_normal(p, q, 1.0f);
    conf_fill_normal(p, k, 1.0f);
    conf_fill_normal(p, v, 1.0f);
    int32_t *pv = p->t[pos].host;
    for (int64_t t = 0; t < T; t++)
        pv[t] = (int32_t)(c->p[5] + t);
    ehal_params_attention prm = {0.0f, (uint32_t)c->p[6], (uint32_t)c->p[7], 0};
    uint32_t in[4] = {q, k, v, pos};
    conf_node_add(p, 0, EHAL_OP_ATTENTION, 4, in, o, &prm, sizeof prm);
    conf_check_add(p, 0, o, "attention", c->dtype, "output");
    return p->oom ? (conf_set_msg(msg, n, "out of memory"), -1) : 0;
}

const conf_family conf_fam_attention = {"attention", EHAL_OP_ATTENTION, attention_enum,
                                        attention_build, NULL};

/* ---- kvseq: p = {D, Hq, Hkv, C, window, n_sink, steps, maxT} ------------------------
 * Step i appends T_i (seeded, 1..maxT; the first is a prefill of maxT) rows
 * to the K and V caches and attends with T_i queries. Ring cases choose
 * C >= n_sink + window + maxT - 1 so no key a query may see is overwritten
 * within its own step. */

static void kvseq_enum(conf_caselist *l, uint32_t fam) {
    static const int64_t shapes[][8] = {
        {64, 8, 2, 256, 0, 0, 12, 16}, /* full cache, appends */
        {64, 4, 1, 48, 32, 4, 24, 8},  /* ring with sinks, ~2.5x capacity */
        {64, 4, 2, 64, 48, 0, 30, 6},  /* ring without sinks */
    };
    for (size_t d = 0; d < 3; d++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int64_t *q = shapes[s];
            char sh[64], var[48];
            snprintf(sh, sizeof sh, "D%lldxHq%lldxHkv%lldxC%lld", (long long)q[0], (long long)q[1],
                     (long long)q[2], (long long)q[3]);
            snprintf(var, sizeof var, "w%lld-sink%lld-%lldsteps", (long long)q[4], (long long)q[5],
                     (long long)q[6]);
            conf_case *c = conf_case_add(l, fam, cache_dtypes[d], sh, var);
            if (!c)
                return;
            memcpy(c->p, q, sizeof shapes[s]);
            if (s == 1)
                c->flags |= CONF_QUICK;
        }
    }
}

static int kvseq_build(const conf_case *c, conf_prog *p, char *msg, size_t n) {
    int64_t D = c->p[0], Hq = c->p[1], Hkv = c->p[2], C = c->p[3];
    uint32_t window = (uint32_t)c->p[4], n_sink = (uint32_t)c->p[5];
    int64_t steps = c->p[6], maxT = c->p[7];
    uint32_t kc = conf_tensor_add(p, c->dtype, EHAL_ROLE_KV, D, C, Hkv, 1);
    uint32_t vc = conf_tensor_add(p, c->dtype, EHAL_ROLE_KV, D, C, Hkv, 1);
    if (p->oom)
        return conf_set_msg(msg, n, "out of memory"), -1;
    ehal_params_kv kp = {window, n_sink};
    ehal_params_attention ap = {0.0f, window, n_sink, 0};
    int64_t pos0 = 0;
    for (int64_t s = 0; s < steps; s++) {
        int64_t T = s == 0 ? maxT : 1 + (int64_t)(conf_rng_u64(&p->rng) % (uint64_t)maxT);
        if (window == 0 && pos0 + T > C)
            T = C - pos0;
        if (T <= 0)
            break;
        uint32_t ks = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_INPUT, D, Hkv, T, 1);
        uint32_t vs = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_INPUT, D, Hkv, T, 1);
        uint32_t q = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_INPUT, D, Hq, T, 1);
        uint32_t pos = conf_tensor_add(p, EHAL_DTYPE_I32, EHAL_ROLE_INPUT, T, 1, 1, 1);
        uint32_t o = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, D, Hq, T, 1);
        if (p->oom)
            return conf_set_msg(msg, n, "out of memory"), -1;
        conf_fill_normal(p, ks, 1.0f);
        conf_fill_normal(p, vs, 1.0f);
        conf_fill_normal(p, q, 1.0f);
        int32_t *pv = p->t[pos].host;
        for (int64_t t = 0; t < T; t++)
            pv[t] = (int32_t)(pos0 + t);
        uint32_t kin[3] = {ks, pos, kc}, vin[3] = {vs, pos, vc}, ain[4] = {q, kc, vc, pos};
        conf_node_add(p, (uint32_t)s, EHAL_OP_KV_WRITE, 3, kin, kc, &kp, sizeof kp);
        conf_node_add(p, (uint32_t)s, EHAL_OP_KV_WRITE, 3, vin, vc, &kp, sizeof kp);
        conf_node_add(p, (uint32_t)s, EHAL_OP_ATTENTION, 4, ain, o, &ap, sizeof ap);
        conf_check_add(p, (uint32_t)s, o, "attention", c->dtype, "attention output");
        pos0 += T;
        if (s == steps - 1) {
            conf_check_add(p, (uint32_t)s, kc, "kv_write", c->dtype, "k cache");
            conf_check_add(p, (uint32_t)s, vc, "kv_write", c->dtype, "v cache");
        }
    }
    return p->oom ? (conf_set_msg(msg, n, "out of memory"), -1) : 0;
}

const conf_family conf_fam_kvseq = {"kvseq", EHAL_OP_NONE, kvseq_enum, kvseq_build, NULL};
