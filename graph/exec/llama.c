/* The Llama-family decoder graph for one step of T tokens. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "edgehal/graph.h"
#include "edgehal/ops.h"

typedef struct builder {
    ehal_graph *g;
    const ehal_model *m;
    char *err;
    size_t err_size;
    int failed;
    int32_t layer;
    uint32_t section;
} builder;

static void fail(builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(builder *b, const char *fmt, ...) {
    if (b->failed)
        return;
    b->failed = 1;
    if (b->err && b->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->err, b->err_size, fmt, ap);
        va_end(ap);
    }
}

static uint32_t weight(builder *b, const char *name) {
    uint32_t id = ehal_graph_tensor_find(b->g, name);
    if (id != EHAL_GRAPH_NONE)
        return id;
    const ehal_model_tensor *mt = ehal_model_tensor_find(b->m, name);
    if (!mt) {
        fail(b, "model: weight tensor '%s' is missing", name);
        return EHAL_GRAPH_NONE;
    }
    return ehal_graph_add_tensor(b->g, name, mt->dtype, EHAL_ROLE_WEIGHT,
                                 mt->n_dims ? mt->n_dims : 1, mt->ne);
}

static uint32_t act(builder *b, const char *name, uint32_t dtype, int64_t n0, int64_t n1,
                    int64_t n2) {
    int64_t ne[3] = {n0, n1, n2};
    return ehal_graph_add_tensor(b->g, name, dtype, EHAL_ROLE_ACTIVATION, n2 > 1 ? 3 : 2, ne);
}

static uint32_t view(builder *b, const char *name, uint32_t base, uint64_t off, int64_t n0,
                     int64_t n1, int64_t n2) {
    int64_t ne[3] = {n0, n1, n2};
    return ehal_graph_add_view(b->g, name, base, off, 3, ne);
}

static uint32_t node(builder *b, const char *name, uint32_t op, uint32_t n_in, const uint32_t *in,
                     uint32_t out, const void *params, uint32_t psize) {
    for (uint32_t i = 0; i < n_in; i++)
        if (in[i] == EHAL_GRAPH_NONE)
            return EHAL_GRAPH_NONE; /* the graph already holds the first error */
    uint32_t id = ehal_graph_add_node(b->g, name, op, in, n_in, out, params, psize);
    if (id != EHAL_GRAPH_NONE)
        ehal_graph_set_node_group(b->g, id, b->layer, b->section);
    return out;
}

#define NODE(b, name, op, out, params, psize, ...)                                      \
    node(b, name, op, (uint32_t)(sizeof((uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t)), \
         (const uint32_t[]){__VA_ARGS__}, out, params, psize)

static uint32_t matmul(builder *b, const char *wname, const char *oname, uint32_t x, int64_t t) {
    uint32_t w = weight(b, wname);
    const ehal_graph_tensor *wt = ehal_graph_tensor_get(b->g, w);
    if (!wt)
        return EHAL_GRAPH_NONE;
    uint32_t y = act(b, oname, EHAL_DTYPE_F32, wt->desc.ne[1], t, 1);
    return NODE(b, oname, EHAL_OP_MATMUL, y, NULL, 0, w, x);
}

static uint32_t rms_norm(builder *b, const char *wname, const char *oname, uint32_t x, int64_t d,
                         int64_t t, float eps) {
    ehal_params_rms_norm p = {eps};
    uint32_t y = act(b, oname, EHAL_DTYPE_F32, d, t, 1);
    return NODE(b, oname, EHAL_OP_RMS_NORM, y, &p, sizeof p, x, weight(b, wname));
}

static void build_layer(builder *b, const ehal_model_hparams *hp, const ehal_llama_options *o,
                        uint32_t li, uint32_t *h, uint32_t pos, int64_t T, int64_t C) {
    char nm[96], wn[96];
    const int64_t D = hp->dim / hp->n_heads, Hq = hp->n_heads, Hkv = hp->n_kv_heads;
#define N(s) (snprintf(nm, sizeof nm, "blk.%u." s, li), nm)
#define W(s) (snprintf(wn, sizeof wn, "blk.%u." s, li), wn)
    b->layer = (int32_t)li;
    b->section = EHAL_SECTION_ATTN;
    uint32_t xn = rms_norm(b, W("attn_norm.weight"), N("attn_norm"), *h, hp->dim, T, hp->rms_eps);
    ehal_params_rope rp = {hp->rope_mode, 0, hp->rope_base, 1.0f};
    uint32_t q = matmul(b, W("attn_q.weight"), N("q"), xn, T);
    uint32_t q3 = view(b, N("q.heads"), q, 0, D, Hq, T);
    uint32_t qr = act(b, N("q.rope"), EHAL_DTYPE_F32, D, Hq, T);
    NODE(b, N("q.rope"), EHAL_OP_ROPE, qr, &rp, sizeof rp, q3, pos);
    uint32_t k = matmul(b, W("attn_k.weight"), N("k"), xn, T);
    uint32_t k3 = view(b, N("k.heads"), k, 0, D, Hkv, T);
    uint32_t kr = act(b, N("k.rope"), EHAL_DTYPE_F32, D, Hkv, T);
    NODE(b, N("k.rope"), EHAL_OP_ROPE, kr, &rp, sizeof rp, k3, pos);
    int64_t cne[3] = {D, C, Hkv};
    const uint32_t kvt = o->kv_dtype ? o->kv_dtype : EHAL_DTYPE_F16;
    uint32_t ck = ehal_graph_add_tensor(b->g, N("cache_k"), kvt, EHAL_ROLE_KV, 3, cne);
    uint32_t cv = ehal_graph_add_tensor(b->g, N("cache_v"), kvt, EHAL_ROLE_KV, 3, cne);
    ehal_params_kv kp = {o->kv_window, o->kv_sinks};
    NODE(b, N("k.kv_write"), EHAL_OP_KV_WRITE, ck, &kp, sizeof kp, kr, pos, ck);
    uint32_t v = matmul(b, W("attn_v.weight"), N("v"), xn, T);
    uint32_t v3 = view(b, N("v.heads"), v, 0, D, Hkv, T);
    NODE(b, N("v.kv_write"), EHAL_OP_KV_WRITE, cv, &kp, sizeof kp, v3, pos, cv);
    ehal_params_attention ap = {0.0f, o->kv_window, o->kv_sinks, 0};
    uint32_t at = act(b, N("attention"), EHAL_DTYPE_F32, D, Hq, T);
    NODE(b, N("attention"), EHAL_OP_ATTENTION, at, &ap, sizeof ap, qr, ck, cv, pos);
    uint32_t at2 = view(b, N("attention.flat"), at, 0, D * Hq, T, 1);
    uint32_t ao = matmul(b, W("attn_output.weight"), N("attn_out"), at2, T);
    uint32_t h1 = act(b, N("attn_residual"), EHAL_DTYPE_F32, hp->dim, T, 1);
    NODE(b, N("attn_residual"), EHAL_OP_ADD, h1, NULL, 0, *h, ao);
    b->section = EHAL_SECTION_FFN;
    uint32_t fn = rms_norm(b, W("ffn_norm.weight"), N("ffn_norm"), h1, hp->dim, T, hp->rms_eps);
    uint32_t gt = matmul(b, W("ffn_gate.weight"), N("ffn_gate"), fn, T);
    uint32_t up = matmul(b, W("ffn_up.weight"), N("ffn_up"), fn, T);
    uint32_t sw = act(b, N("ffn_swiglu"), EHAL_DTYPE_F32, hp->ffn_dim, T, 1);
    NODE(b, N("ffn_swiglu"), EHAL_OP_SWIGLU, sw, NULL, 0, gt, up);
    uint32_t dn = matmul(b, W("ffn_down.weight"), N("ffn_down"), sw, T);
    uint32_t h2 = act(b, N("ffn_residual"), EHAL_DTYPE_F32, hp->dim, T, 1);
    NODE(b, N("ffn_residual"), EHAL_OP_ADD, h2, NULL, 0, h1, dn);
    *h = h2;
#undef N
#undef W
}

ehal_status_t ehal_graph_build_llama(const ehal_model *m, const ehal_llama_options *o,
                                     ehal_graph **out, char *err, size_t err_size) {
    if (err && err_size)
        err[0] = '\0';
    if (!m || !o || !out) {
        if (err && err_size)
            snprintf(err, err_size, "build_llama: NULL argument");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    const ehal_model_hparams *hp = ehal_model_get_hparams(m);
    if (!hp || !hp->n_heads || !hp->n_kv_heads || hp->dim % hp->n_heads ||
        hp->n_heads % hp->n_kv_heads || o->n_tokens == 0) {
        if (err && err_size)
            snprintf(err, err_size,
                     "build_llama: hparams dim %u heads %u kv_heads %u or T %u invalid",
                     hp ? hp->dim : 0, hp ? hp->n_heads : 0, hp ? hp->n_kv_heads : 0, o->n_tokens);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_graph *g = NULL;
    ehal_status_t st = ehal_graph_create(&g);
    if (st != EHAL_STATUS_OK)
        return st;
    builder b = {g, m, err, err_size, 0, -1, EHAL_SECTION_EMBED};
    const int64_t T = o->n_tokens;
    const int64_t C = o->kv_capacity ? o->kv_capacity : hp->context;
    int64_t ne1[1] = {T};
    uint32_t tok = ehal_graph_add_tensor(g, "tokens", EHAL_DTYPE_I32, EHAL_ROLE_INPUT, 1, ne1);
    uint32_t pos = ehal_graph_add_tensor(g, "pos", EHAL_DTYPE_I32, EHAL_ROLE_INPUT, 1, ne1);
    uint32_t h = act(&b, "embed", EHAL_DTYPE_F32, hp->dim, T, 1);
    NODE(&b, "embed", EHAL_OP_GET_ROWS, h, NULL, 0, weight(&b, "token_embd.weight"), tok);
    for (uint32_t li = 0; li < hp->n_layers && !b.failed; li++)
        build_layer(&b, hp, o, li, &h, pos, T, C);
    b.layer = -1;
    b.section = EHAL_SECTION_HEAD;
    uint32_t on = rms_norm(&b, "output_norm.weight", "output_norm", h, hp->dim, T, hp->rms_eps);
    int64_t TL = T;
    if (!o->all_logits && T > 1 && on != EHAL_GRAPH_NONE) {
        on = view(&b, "output_norm.last", on, (uint64_t)(T - 1) * hp->dim * 4, hp->dim, 1, 1);
        TL = 1;
    }
    const char *head = ehal_model_tensor_find(m, "output.weight") && !hp->tied_embeddings
                           ? "output.weight"
                           : "token_embd.weight";
    uint32_t lg = matmul(&b, head, "logits", on, TL);
    if (lg != EHAL_GRAPH_NONE)
        ehal_graph_set_role(g, lg, EHAL_ROLE_OUTPUT);
    if (b.failed) {
        ehal_graph_free(g);
        return EHAL_STATUS_FORMAT;
    }
    st = ehal_graph_validate(g);
    if (st != EHAL_STATUS_OK) {
        if (err && err_size)
            snprintf(err, err_size, "llama graph: %s", ehal_graph_last_error(g));
        ehal_graph_free(g);
        return st;
    }
    *out = g;
    return EHAL_STATUS_OK;
}
