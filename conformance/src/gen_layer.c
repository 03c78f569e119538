/*
 * "layer": one whole Llama-style decoder layer as a single subgraph, the
 * node chain the transformer builder emits:
 *   rms_norm, q/k/v matmul, rope(q), rope(k), kv_write(k), kv_write(v),
 *   attention, out matmul, add, rms_norm, gate/up matmul, swiglu, down
 *   matmul, add.
 * Matmul outputs [H*D, T] are viewed as heads [D, H, T] through aliased
 * tensor descs over the same bytes, as a graph does. The layer output and
 * the K cache are compared with the reference chain (both to the layer row).
 *
 * p = {D, Hq, Hkv, F, T, C, pos0, cache dtype}
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static void layer_enum(conf_caselist *l, uint32_t fam) {
    static const struct {
        uint32_t wdt, cdt;
        int64_t p[7];
    } rows[] = {
        {EHAL_DTYPE_F16, EHAL_DTYPE_F16, {64, 8, 2, 1024, 16, 256, 0}},
        {EHAL_DTYPE_F16, EHAL_DTYPE_F16, {64, 8, 2, 1024, 1, 256, 200}},
        {EHAL_DTYPE_Q4_0, EHAL_DTYPE_F16, {64, 8, 2, 1024, 16, 256, 0}},
        {EHAL_DTYPE_Q4_0, EHAL_DTYPE_F16, {64, 8, 2, 1024, 1, 256, 200}},
        {EHAL_DTYPE_Q8_0, EHAL_DTYPE_Q8_0, {64, 8, 2, 1024, 1, 256, 200}},
        {EHAL_DTYPE_F32, EHAL_DTYPE_F16, {128, 4, 1, 768, 8, 128, 50}},
        {EHAL_DTYPE_Q4_0, EHAL_DTYPE_Q4_0, {64, 8, 2, 1024, 4, 256, 100}},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        const int64_t *q = rows[r].p;
        char sh[64], var[48];
        snprintf(sh, sizeof sh, "D%lldxHq%lldxHkv%lldxF%lldxT%lld", (long long)q[0],
                 (long long)q[1], (long long)q[2], (long long)q[3], (long long)q[4]);
        snprintf(var, sizeof var, "C%lld-P%lld-kv%s", (long long)q[5], (long long)q[6],
                 ehal_dtype_name(rows[r].cdt));
        conf_case *c = conf_case_add(l, fam, rows[r].wdt, sh, var);
        if (!c)
            return;
        memcpy(c->p, q, sizeof rows[r].p);
        c->p[7] = rows[r].cdt;
        if (r == 3)
            c->flags |= CONF_QUICK;
    }
}

/* A weight [in, out] with variance 1/in, so activations stay near unit scale. */
static uint32_t weight(conf_prog *p, uint32_t dt, int64_t in, int64_t out) {
    uint32_t w = conf_tensor_add(p, dt, EHAL_ROLE_WEIGHT, in, out, 1, 1);
    if (w != UINT32_MAX) {
        float a = (float)sqrt(3.0 / (double)in);
        conf_fill_uniform(p, w, -a, a);
    }
    return w;
}

static uint32_t act(conf_prog *p, int64_t ne0, int64_t ne1, int64_t ne2) {
    return conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_ACTIVATION, ne0, ne1, ne2, 1);
}

static void node(conf_prog *p, uint32_t op, uint32_t a, uint32_t b, uint32_t c, uint32_t d,
                 uint32_t out, const void *prm, uint32_t psize) {
    uint32_t in[4] = {a, b, c, d};
    uint32_t n = d != UINT32_MAX ? 4 : c != UINT32_MAX ? 3 : b != UINT32_MAX ? 2 : 1;
    conf_node_add(p, 0, op, n, in, out, prm, psize);
}

#define NONE UINT32_MAX

static int layer_build(const conf_case *c, conf_prog *p, char *msg, size_t n) {
    int64_t D = c->p[0], Hq = c->p[1], Hkv = c->p[2], F = c->p[3], T = c->p[4], C = c->p[5];
    int64_t dim = D * Hq, kvdim = D * Hkv;
    uint32_t wdt = c->dtype, cdt = (uint32_t)c->p[7];

    uint32_t x = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_INPUT, dim, T, 1, 1);
    uint32_t pos = conf_tensor_add(p, EHAL_DTYPE_I32, EHAL_ROLE_INPUT, T, 1, 1, 1);
    uint32_t kc = conf_tensor_add(p, cdt, EHAL_ROLE_KV, D, C, Hkv, 1);
    uint32_t vc = conf_tensor_add(p, cdt, EHAL_ROLE_KV, D, C, Hkv, 1);
    uint32_t wn1 = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_WEIGHT, dim, 1, 1, 1);
    uint32_t wn2 = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_WEIGHT, dim, 1, 1, 1);
    uint32_t wq = weight(p, wdt, dim, dim), wk = weight(p, wdt, dim, kvdim);
    uint32_t wv = weight(p, wdt, dim, kvdim), wo = weight(p, wdt, dim, dim);
    uint32_t wg = weight(p, wdt, dim, F), wu = weight(p, wdt, dim, F);
    uint32_t wd = weight(p, wdt, F, dim);
    if (p->oom)
        return conf_set_msg(msg, n, "out of memory"), -1;
    p->t[wn1].weight = p->t[wn2].weight = 0;
    conf_fill_normal(p, x, 1.0f);
    conf_fill_uniform(p, wn1, 0.8f, 1.2f);
    conf_fill_uniform(p, wn2, 0.8f, 1.2f);
    /* Positions before pos0 hold earlier tokens: a seeded cache. */
    conf_fill_normal(p, kc, 1.0f);
    conf_fill_normal(p, vc, 1.0f);
    int32_t *pv = p->t[pos].host;
    for (int64_t t = 0; t < T; t++)
        pv[t] = (int32_t)(c->p[6] + t);

    uint32_t n1 = act(p, dim, T, 1), q = act(p, dim, T, 1), k = act(p, kvdim, T, 1);
    uint32_t v = act(p, kvdim, T, 1);
    uint32_t q3 = conf_tensor_alias(p, q, D, Hq, T, 1), k3 = conf_tensor_alias(p, k, D, Hkv, T, 1);
    uint32_t v3 = conf_tensor_alias(p, v, D, Hkv, T, 1);
    uint32_t qr = act(p, D, Hq, T), kr = act(p, D, Hkv, T), a = act(p, D, Hq, T);
    uint32_t a2 = conf_tensor_alias(p, a, dim, T, 1, 1);
    uint32_t o = act(p, dim, T, 1), h = act(p, dim, T, 1), n2 = act(p, dim, T, 1);
    uint32_t g = act(p, F, T, 1), u = act(p, F, T, 1), s = act(p, F, T, 1);
    uint32_t dn = act(p, dim, T, 1);
    uint32_t y = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, dim, T, 1, 1);
    if (p->oom)
        return conf_set_msg(msg, n, "out of memory"), -1;

    ehal_params_rms_norm np = {1e-5f};
    ehal_params_rope rp = {EHAL_ROPE_NORMAL, 0, 10000.0f, 1.0f};
    ehal_params_kv kp = {0, 0};
    ehal_params_attention ap = {0.0f, 0, 0, 0};
    node(p, EHAL_OP_RMS_NORM, x, wn1, NONE, NONE, n1, &np, sizeof np);
    node(p, EHAL_OP_MATMUL, wq, n1, NONE, NONE, q, NULL, 0);
    node(p, EHAL_OP_MATMUL, wk, n1, NONE, NONE, k, NULL, 0);
    node(p, EHAL_OP_MATMUL, wv, n1, NONE, NONE, v, NULL, 0);
    node(p, EHAL_OP_ROPE, q3, pos, NONE, NONE, qr, &rp, sizeof rp);
    node(p, EHAL_OP_ROPE, k3, pos, NONE, NONE, kr, &rp, sizeof rp);
    node(p, EHAL_OP_KV_WRITE, kr, pos, kc, NONE, kc, &kp, sizeof kp);
    node(p, EHAL_OP_KV_WRITE, v3, pos, vc, NONE, vc, &kp, sizeof kp);
    node(p, EHAL_OP_ATTENTION, qr, kc, vc, pos, a, &ap, sizeof ap);
    node(p, EHAL_OP_MATMUL, wo, a2, NONE, NONE, o, NULL, 0);
    node(p, EHAL_OP_ADD, x, o, NONE, NONE, h, NULL, 0);
    node(p, EHAL_OP_RMS_NORM, h, wn2, NONE, NONE, n2, &np, sizeof np);
    node(p, EHAL_OP_MATMUL, wg, n2, NONE, NONE, g, NULL, 0);
    node(p, EHAL_OP_MATMUL, wu, n2, NONE, NONE, u, NULL, 0);
    node(p, EHAL_OP_SWIGLU, g, u, NONE, NONE, s, NULL, 0);
    node(p, EHAL_OP_MATMUL, wd, s, NONE, NONE, dn, NULL, 0);
    node(p, EHAL_OP_ADD, h, dn, NONE, NONE, y, NULL, 0);
    conf_check_add(p, 0, y, "layer", wdt, "layer output");
    /* The cache holds rope(matmul(...)): upstream differences the layer row
     * allows reach it, so it is held to the layer row too. */
    conf_check_add(p, 0, kc, "layer", wdt, "k cache");
    return p->oom ? (conf_set_msg(msg, n, "out of memory"), -1) : 0;
}

const conf_family conf_fam_layer = {"layer", EHAL_OP_NONE, layer_enum, layer_build, NULL};
