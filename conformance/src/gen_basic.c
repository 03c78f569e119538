/*
 * Case generators for the stateless ops: get_rows, matmul, rms_norm, rope,
 * add, mul, swiglu, softmax, copy. Each family enumerates shapes (decode
 * T=1 and prefill T>=32, odd sizes where the dtype allows) and builds a
 * one-node program whose output is compared with the reference.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const uint32_t weight_dtypes[] = {EHAL_DTYPE_F32, EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0,
                                         EHAL_DTYPE_Q4_0};

static int is_quant(uint32_t dt) {
    return ehal_dtype_is_quantized(dt);
}

/* The single node of a one-op case, with its output checked. */
static int single(conf_prog *p, uint32_t op, const uint32_t *in, uint32_t n_in, uint32_t out,
                  const void *params, uint32_t psize, uint32_t tol_dtype, char *msg, size_t n) {
    conf_node_add(p, 0, op, n_in, in, out, params, psize);
    conf_check_add(p, 0, out, ehal_op_name(op), tol_dtype, "output");
    if (p->oom) {
        conf_set_msg(msg, n, "out of memory building the case");
        return -1;
    }
    return 0;
}

/* ---- get_rows: p = {D, V, T} ------------------------------------------------ */

static void get_rows_enum(conf_caselist *l, uint32_t fam) {
    static const int64_t shapes[][3] = {
        {4096, 256, 1}, {256, 1000, 7}, {64, 32000, 32}, {128, 64, 128}, {97, 50, 5}};
    for (size_t d = 0; d < 4; d++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            if (is_quant(weight_dtypes[d]) && shapes[s][0] % 32)
                continue;
            char sh[64];
            snprintf(sh, sizeof sh, "D%lldxV%lldxT%lld", (long long)shapes[s][0],
                     (long long)shapes[s][1], (long long)shapes[s][2]);
            conf_case *c = conf_case_add(l, fam, weight_dtypes[d], sh, NULL);
            if (!c)
                return;
            memcpy(c->p, shapes[s], sizeof shapes[s]);
            if (s == 0)
                c->flags |= CONF_QUICK;
        }
    }
}

static int get_rows_build(const conf_case *c, conf_prog *p, char *msg, size_t n) {
    int64_t D = c->p[0], V = c->p[1], T = c->p[2];
    uint32_t tab = conf_tensor_add(p, c->dtype, EHAL_ROLE_WEIGHT, D, V, 1, 1);
    uint32_t ids = conf_tensor_add(p, EHAL_DTYPE_I32, EHAL_ROLE_INPUT, T, 1, 1, 1);
    uint32_t out = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, D, T, 1, 1);
    if (p->oom)
        return conf_set_msg(msg, n, "out of memory"), -1;
    conf_fill_uniform(p, tab, -2.0f, 2.0f);
    conf_fill_i32_range(p, ids, 0, (int32_t)V);
    int32_t *iv = p->t[ids].host;
    iv[0] = (int32_t)V - 1; /* both ends of the table */
    if (T > 2)
        iv[T - 1] = 0;
    uint32_t in[2] = {tab, ids};
    return single(p, EHAL_OP_GET_ROWS, in, 2, out, NULL, 0, c->dtype, msg, n);
}

const conf_family conf_fam_get_rows = {"get_rows", EHAL_OP_GET_ROWS, get_rows_enum, get_rows_build,
                                       NULL};

/* ---- matmul: p = {K, N, T} -------------------------------------------------- */

static void matmul_enum(conf_caselist *l, uint32_t fam) {
    static const int64_t shapes[][3] = {
        {4096, 32, 1},  {4096, 512, 1},  {128, 4096, 1}, {64, 31, 1}, {512, 10, 3},
        {256, 257, 64}, {1024, 96, 128}, {4096, 64, 32}, {97, 33, 5}, {4099, 7, 1}};
    for (size_t d = 0; d < 4; d++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            if (is_quant(weight_dtypes[d]) && shapes[s][0] % 32)
                continue;
            char sh[64];
            snprintf(sh, sizeof sh, "K%lldxN%lldxT%lld", (long long)shapes[s][0],
                     (long long)shapes[s][1], (long long)shapes[s][2]);
            conf_case *c = conf_case_add(l, fam, weight_dtypes[d], sh, NULL);
            if (!c)
                return;
            memcpy(c->p, shapes[s], sizeof shapes[s]);
            if (s == 0 || s == 3)
                c->flags |= CONF_QUICK;
        }
    }
}

static int matmul_build(const conf_case *c, conf_prog *p, char *msg, size_t n) {
    int64_t K = c->p[0], N = c->p[1], T = c->p[2];
    uint32_t w = conf_tensor_add(p, c->dtype, EHAL_ROLE_WEIGHT, K, N, 1, 1);
    uint32_t x = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_INPUT, K, T, 1, 1);
    uint32_t y = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, N, T, 1, 1);
    if (p->oom)
        return conf_set_msg(msg, n, "out of memory"), -1;
    conf_fill_uniform(p, w, -1.0f, 1.0f);
    conf_fill_uniform(p, x, -1.0f, 1.0f);
    uint32_t in[2] = {w, x};
    return single(p, EHAL_OP_MATMUL, in, 2, y, NULL, 0, c->dtype, msg, n);
}

const conf_family conf_fam_matmul = {"matmul", EHAL_OP_MATMUL, matmul_enum, matmul_build, NULL};

/* ---- rms_norm: p = {D, T, eps*1e9} ------------------------------------------- */

static void rms_norm_enum(conf_caselist *l, uint32_t fam) {
    static const int64_t shapes[][3] = {
        {4096, 1, 10000}, {4096, 32, 1000}, {128, 128, 10000}, {97, 5, 10000}, {1, 3, 10000}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        char sh[64];
        snprintf(sh, sizeof sh, "D%lldxT%lld", (long long)shapes[s][0], (long long)shapes[s][1]);
        char var[32];
        snprintf(var, sizeof var, "eps%g", (double)shapes[s][2] * 1e-9);
        conf_case *c = conf_case_add(l, fam, EHAL_DTYPE_F32, sh, var);
        if (!c)
            return;
        memcpy(c->p, shapes[s], sizeof shapes[s]);
        if (s == 0)
            c->flags |= CONF_QUICK;
    }
}

static int rms_norm_build(const conf_case *c, conf_prog *p, char *msg, size_t n) {
    int64_t D = c->p[0], T = c->p[1];
    uint32_t x = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_INPUT, D, T, 1, 1);
    uint32_t w = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_WEIGHT, D, 1, 1, 1);
    uint32_t y = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, D, T, 1, 1);
    if (p->oom)
        return conf_set_msg(msg, n, "out of memory"), -1;
    p->t[w].weight = 0; /* a norm weight is a plain buffer, not prepacked */
    conf_fill_normal(p, x, 3.0f);
    conf_fill_uniform(p, w, 0.5f, 1.5f);
    ehal_params_rms_norm prm = {(float)((double)c->p[2] * 1e-9)};
    uint32_t in[2] = {x, w};
    return single(p, EHAL_OP_RMS_NORM, in, 2, y, &prm, sizeof prm, EHAL_DTYPE_F32, msg, n);
}

const conf_family conf_fam_rms_norm = {"rms_norm", EHAL_OP_RMS_NORM, rms_norm_enum, rms_norm_build,
                                       NULL};

/* ---- rope: p = {D, H, T, mode, n_rot, pos0, base, scale*100} ------------------ */

static void rope_enum(conf_caselist *l, uint32_t fam) {
    static const int64_t shapes[][8] = {
        {128, 32, 1, 0, 0, 4095, 10000, 100},  {64, 8, 32, 0, 0, 0, 10000, 100},
        {128, 8, 64, 0, 64, 100, 500000, 100}, {64, 4, 7, 0, 0, 2040, 10000, 25},
        {128, 32, 1, 1, 0, 4095, 10000, 100},  {64, 8, 32, 1, 0, 0, 10000, 100},
        {128, 8, 64, 1, 64, 100, 500000, 100}, {64, 4, 7, 1, 0, 2040, 10000, 25}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t *q = shapes[s];
        char sh[64], var[64];
        snprintf(sh, sizeof sh, "D%lldxH%lldxT%lld", (long long)q[0], (long long)q[1],
                 (long long)q[2]);
        snprintf(var, sizeof var, "%s-r%lld-P%lld-b%lld-f%lld", q[3] ? "neox" : "normal",
                 (long long)(q[4] ? q[4] : q[0]), (long long)q[5], (long long)q[6],
                 (long long)q[7]);
        conf_case *c = conf_case_add(l, fam, EHAL_DTYPE_F32, sh, var);
        if (!c)
            return;
        memcpy(c->p, q, sizeof shapes[s]);
        if (s == 0 || s == 4)
            c->flags |= CONF_QUICK;
    }
}

static int rope_build(const conf_case *c, conf_prog *p, char *msg, size_t n) {
    int64_t D = c->p[0], H = c->p[1], T = c->p[2];
    uint32_t x = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_INPUT, D, H, T, 1);
    uint32_t pos = conf_tensor_add(p, EHAL_DTYPE_I32, EHAL_ROLE_INPUT, T, 1, 1, 1);
    uint32_t y = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, D, H, T, 1);
    if (p->oom)
        return conf_set_msg(msg, n, "out of memory"), -1;
    conf_fill_normal(p, x, 1.0f);
    int32_t *pv = p->t[pos].host;
    for (int64_t t = 0; t < T; t++)
        pv[t] = (int32_t)(c->p[5] + t);
    ehal_params_rope prm = {(uint32_t)c->p[3], (uint32_t)c->p[4], (float)c->p[6],
                            (float)c->p[7] / 100.0f};
    uint32_t in[2] = {x, pos};
    return single(p, EHAL_OP_ROPE, in, 2, y, &prm, sizeof prm, EHAL_DTYPE_F32, msg, n);
}

const conf_family conf_fam_rope = {"rope", EHAL_OP_ROPE, rope_enum, rope_build, NULL};

/* ---- add, mul, swiglu: p = {ne0, ne1, nan} ------------------------------------- */

static void binary_enum(conf_caselist *l, uint32_t fam, int with_nan) {
    static const int64_t shapes[][3] = {{4096, 1, 0}, {4096, 32, 0}, {11008, 3, 0},
                                        {97, 13, 0},  {1, 1, 0},     {64, 4, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        if (shapes[s][2] && !with_nan)
            continue;
        char sh[64];
        snprintf(sh, sizeof sh, "%lldx%lld", (long long)shapes[s][0], (long long)shapes[s][1]);
        conf_case *c = conf_case_add(l, fam, EHAL_DTYPE_F32, sh, shapes[s][2] ? "nan-inf" : NULL);
        if (!c)
            return;
        memcpy(c->p, shapes[s], sizeof shapes[s]);
        if (s == 0)
            c->flags |= CONF_QUICK;
    }
}

/* NaN and Inf propagate through add and mul by IEEE rules; the reference
 * output holds them and the comparison demands the same class there. */
static int binary_build(const conf_case *c, conf_prog *p, uint32_t op, char *msg, size_t n) {
    int64_t A = c->p[0], B = c->p[1];
    uint32_t a = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_INPUT, A, B, 1, 1);
    uint32_t b = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_INPUT, A, B, 1, 1);
    uint32_t y = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, A, B, 1, 1);
    if (p->oom)
        return conf_set_msg(msg, n, "out of memory"), -1;
    if (op == EHAL_OP_SWIGLU)
        conf_fill_normal(p, a, 4.0f);
    else
        conf_fill_uniform(p, a, -10.0f, 10.0f);
    conf_fill_uniform(p, b, -2.0f, 2.0f);
    if (c->p[2]) {
        float *av = p->t[a].host, *bv = p->t[b].host;
        int64_t cnt = A * B;
        av[1 % cnt] = NAN;
        bv[5 % cnt] = INFINITY;
        av[9 % cnt] = -INFINITY;
        bv[17 % cnt] = NAN;
        av[30 % cnt] = INFINITY;
        bv[30 % cnt] = 1.0f;
    }
    uint32_t in[2] = {a, b};
    return single(p, op, in, 2, y, NULL, 0, EHAL_DTYPE_F32, msg, n);
}

static void add_enum(conf_caselist *l, uint32_t fam) {
    binary_enum(l, fam, 1);
}
static void mul_enum(conf_caselist *l, uint32_t fam) {
    binary_enum(l, fam, 1);
}
static void swiglu_enum(conf_caselist *l, uint32_t fam) {
    binary_enum(l, fam, 0);
}
static int add_build(const conf_case *c, conf_prog *p, char *m, size_t n) {
    return binary_build(c, p, EHAL_OP_ADD, m, n);
}
static int mul_build(const conf_case *c, conf_prog *p, char *m, size_t n) {
    return binary_build(c, p, EHAL_OP_MUL, m, n);
}
static int swiglu_build(const conf_case *c, conf_prog *p, char *m, size_t n) {
    return binary_build(c, p, EHAL_OP_SWIGLU, m, n);
}

const conf_family conf_fam_add = {"add", EHAL_OP_ADD, add_enum, add_build, NULL};
const conf_family conf_fam_mul = {"mul", EHAL_OP_MUL, mul_enum, mul_build, NULL};
const conf_family conf_fam_swiglu = {"swiglu", EHAL_OP_SWIGLU, swiglu_enum, swiglu_build, NULL};

/* ---- softmax: p = {D, T, scale*1000, sigma} ---------------------------------------- */

static void softmax_enum(conf_caselist *l, uint32_t fam) {
    static const int64_t shapes[][4] = {{4096, 1, 1000, 1},
                                        {256, 32, 125, 4},
                                        {32000, 1, 1000, 3},
                                        {97, 5, 1000, 30},
                                        {1, 4, 1000, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        char sh[64], var[32];
        snprintf(sh, sizeof sh, "D%lldxT%lld", (long long)shapes[s][0], (long long)shapes[s][1]);
        snprintf(var, sizeof var, "scale%g-sd%lld", (double)shapes[s][2] / 1000.0,
                 (long long)shapes[s][3]);
        conf_case *c = conf_case_add(l, fam, EHAL_DTYPE_F32, sh, var);
        if (!c)
            return;
        memcpy(c->p, shapes[s], sizeof shapes[s]);
        if (s == 0)
            c->flags |= CONF_QUICK;
    }
}

static int softmax_build(const conf_case *c, conf_prog *p, char *msg, size_t n) {
    int64_t D = c->p[0], T = c->p[1];
    uint32_t x = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_INPUT, D, T, 1, 1);
    uint32_t y = conf_tensor_add(p, EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, D, T, 1, 1);
    if (p->oom)
        return conf_set_msg(msg, n, "out of memory"), -1;
    conf_fill_normal(p, x, (float)c->p[3]); /* large sigma: needs max subtraction */
    ehal_params_softmax prm = {(float)c->p[2] / 1000.0f};
    uint32_t in[1] = {x};
    return single(p, EHAL_OP_SOFTMAX, in, 1, y, &prm, sizeof prm, EHAL_DTYPE_F32, msg, n);
}

const conf_family conf_fam_softmax = {"softmax", EHAL_OP_SOFTMAX, softmax_enum, softmax_build,
                                      NULL};

/* ---- copy: p = {ne0, ne1, src dtype}; the case dtype is the destination ---------------- */

static int copy_defined(uint32_t src, uint32_t dst, int64_t ne0, int64_t ne1) {
    ehal_tensor_desc a, b;
    int64_t ne[2] = {ne0, ne1};
    ehal_tensor_desc_init(&a, src, 2, ne);
    ehal_tensor_desc_init(&b, dst, 2, ne);
    const ehal_tensor_desc *ts[2] = {&a, &b};
    ehal_node_desc nd = {0};
    nd.struct_size = sizeof nd;
    nd.op = EHAL_OP_COPY;
    nd.n_inputs = 1;
    nd.n_outputs = 1;
    nd.inputs[0] = 0;
    nd.outputs[0] = 1;
    const ehal_node_desc *ns[1] = {&nd};
    ehal_subgraph sg = {sizeof sg, 2, 1, 0, ts, ns};
    return ehal_op_validate(&sg, 0, NULL, 0) == EHAL_STATUS_OK;
}

static void copy_enum(conf_caselist *l, uint32_t fam) {
    static const uint32_t dts[] = {EHAL_DTYPE_F32, EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0, EHAL_DTYPE_Q4_0,
                                   EHAL_DTYPE_I32};
    static const int64_t shapes[][2] = {{4096, 4}, {96, 3}, {97, 3}};
    for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
        for (size_t s0 = 0; s0 < sizeof dts / sizeof dts[0]; s0++) {
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                if (!copy_defined(dts[s0], dts[d], shapes[s][0], shapes[s][1]))
                    continue;
                char sh[64], var[32];
                snprintf(sh, sizeof sh, "%lldx%lld", (long long)shapes[s][0],
                         (long long)shapes[s][1]);
                snprintf(var, sizeof var, "from-%s", ehal_dtype_name(dts[s0]));
                conf_case *c = conf_case_add(l, fam, dts[d], sh, var);
                if (!c)
                    return;
                c->p[0] = shapes[s][0];
                c->p[1] = shapes[s][1];
                c->p[2] = dts[s0];
                if (s == 0)
                    c->flags |= CONF_QUICK;
            }
        }
    }
}

static int copy_build(const conf_case *c, conf_prog *p, char *msg, size_t n) {
    uint32_t src = conf_tensor_add(p, (uint32_t)c->p[2], EHAL_ROLE_INPUT, c->p[0], c->p[1], 1, 1);
    uint32_t dst = conf_tensor_add(p, c->dtype, EHAL_ROLE_OUTPUT, c->p[0], c->p[1], 1, 1);
    if (p->oom)
        return conf_set_msg(msg, n, "out of memory"), -1;
    if (c->p[2] == EHAL_DTYPE_I32)
        conf_fill_i32_range(p, src, -100000, 100000);
    else
        conf_fill_uniform(p, src, -3.0f, 3.0f);
    uint32_t in[1] = {src};
    return single(p, EHAL_OP_COPY, in, 1, dst, NULL, 0, c->dtype, msg, n);
}

const conf_family conf_fam_copy = {"copy", EHAL_OP_COPY, copy_enum, copy_build, NULL};
