/* The llama tensor layout: names and shapes derived from the
 * hyperparameters, shared by the generator (what to make) and the reader
 * (what a file must hold). */
#include <stdio.h>
#include <string.h>

#include "model_internal.h"

#include "edgehal/model_tools.h"

#define PER_LAYER 9u

enum { T_ATTN_NORM, T_Q, T_K, T_V, T_O, T_FFN_NORM, T_GATE, T_UP, T_DOWN };

static const char *const layer_names[PER_LAYER] = {
    "attn_norm.weight", "attn_q.weight",   "attn_k.weight", "attn_v.weight",   "attn_output.weight",
    "ffn_norm.weight",  "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
};

uint32_t ehal_llama_tensor_count(const ehal_model_hparams *hp) {
    return 1u + PER_LAYER * hp->n_layers + 1u + (hp->tied_embeddings ? 0u : 1u);
}

static void set2(ehal_llama_spec *s, int64_t ne0, int64_t ne1) {
    s->n_dims = 2;
    s->ne[0] = ne0;
    s->ne[1] = ne1;
}

int ehal_llama_tensor_spec(const ehal_model_hparams *hp, uint32_t i, ehal_llama_spec *out) {
    if (i >= ehal_llama_tensor_count(hp))
        return -1;
    memset(out, 0, sizeof *out);
    for (int d = 0; d < EHAL_MAX_DIMS; d++)
        out->ne[d] = 1;
    const int64_t dim = hp->dim, vocab = hp->vocab, ffn = hp->ffn_dim;
    const int64_t hd = hp->n_heads ? dim / hp->n_heads : 0;
    const int64_t kv = hd * hp->n_kv_heads;
    if (i == 0) {
        snprintf(out->name, sizeof out->name, "token_embd.weight");
        set2(out, dim, vocab);
    } else if (i <= PER_LAYER * hp->n_layers) {
        uint32_t layer = (i - 1) / PER_LAYER, k = (i - 1) % PER_LAYER;
        snprintf(out->name, sizeof out->name, "blk.%u.%s", layer, layer_names[k]);
        switch (k) {
        case T_ATTN_NORM:
        case T_FFN_NORM:
            out->n_dims = 1;
            out->ne[0] = dim;
            out->is_norm = 1;
            break;
        case T_Q: set2(out, dim, hd * hp->n_heads); break;
        case T_K:
        case T_V: set2(out, dim, kv); break;
        case T_O: set2(out, hd * hp->n_heads, dim); break;
        case T_GATE:
        case T_UP: set2(out, dim, ffn); break;
        default: set2(out, ffn, dim); break; /* T_DOWN */
        }
    } else if (i == PER_LAYER * hp->n_layers + 1) {
        snprintf(out->name, sizeof out->name, "output_norm.weight");
        out->n_dims = 1;
        out->ne[0] = dim;
        out->is_norm = 1;
    } else {
        snprintf(out->name, sizeof out->name, "output.weight");
        set2(out, dim, vocab);
    }
    out->fan_in = out->ne[0];
    return 0;
}

uint64_t ehal_llama_param_count(const ehal_model_hparams *hp) {
    uint64_t n = 0;
    ehal_llama_spec s;
    for (uint32_t i = 0; ehal_llama_tensor_spec(hp, i, &s) == 0; i++)
        n += (uint64_t)s.ne[0] * (uint64_t)s.ne[1];
    return n;
}

uint64_t ehal_model_param_count(const ehal_model_hparams *hp) {
    return hp ? ehal_llama_param_count(hp) : 0;
}

ehal_status_t ehal_llama_check_hparams(const ehal_model_hparams *hp, char *err, size_t err_size) {
    static const struct {
        const char *key;
        size_t off;
    } req[] = {
        {"llama.embedding_length", offsetof(ehal_model_hparams, dim)},
        {"llama.block_count", offsetof(ehal_model_hparams, n_layers)},
        {"llama.attention.head_count", offsetof(ehal_model_hparams, n_heads)},
        {"llama.attention.head_count_kv", offsetof(ehal_model_hparams, n_kv_heads)},
        {"llama.feed_forward_length", offsetof(ehal_model_hparams, ffn_dim)},
        {"llama.context_length", offsetof(ehal_model_hparams, context)},
        {"vocab", offsetof(ehal_model_hparams, vocab)},
    };
    for (size_t k = 0; k < sizeof req / sizeof req[0]; k++) {
        uint32_t v;
        memcpy(&v, (const char *)hp + req[k].off, sizeof v);
        if (v == 0) {
            ehal_model_errf(err, err_size, "%s: value 0 is not allowed", req[k].key);
            return EHAL_STATUS_FORMAT;
        }
    }
    if (hp->dim > (1u << 20) || hp->ffn_dim > (1u << 22) || hp->n_layers > 4096 ||
        hp->vocab > (1u << 24)) {
        ehal_model_errf(err, err_size,
                        "hparams: dim %u, ffn %u, layers %u or vocab %u beyond the supported "
                        "limits (2^20, 2^22, 4096, 2^24)",
                        hp->dim, hp->ffn_dim, hp->n_layers, hp->vocab);
        return EHAL_STATUS_UNSUPPORTED;
    }
    if (hp->dim % hp->n_heads != 0) {
        ehal_model_errf(err, err_size,
                        "llama.attention.head_count: %u does not divide embedding_length %u",
                        hp->n_heads, hp->dim);
        return EHAL_STATUS_FORMAT;
    }
    if (hp->n_kv_heads > hp->n_heads || hp->n_heads % hp->n_kv_heads != 0) {
        ehal_model_errf(err, err_size,
                        "llama.attention.head_count_kv: %u does not divide head_count %u",
                        hp->n_kv_heads, hp->n_heads);
        return EHAL_STATUS_FORMAT;
    }
    if ((hp->dim / hp->n_heads) % 2 != 0) {
        ehal_model_errf(err, err_size,
                        "head dimension %u (embedding_length / head_count) is odd; "
                        "RoPE needs it even",
                        hp->dim / hp->n_heads);
        return EHAL_STATUS_FORMAT;
    }
    if (!(hp->rms_eps > 0.0f) || !(hp->rope_base > 0.0f)) {
        ehal_model_errf(err, err_size,
                        "llama.rope.freq_base %g and layer_norm_rms_epsilon %g must be > 0",
                        (double)hp->rope_base, (double)hp->rms_eps);
        return EHAL_STATUS_FORMAT;
    }
    return EHAL_STATUS_OK;
}

static void shape_str(char *buf, size_t n, uint32_t n_dims, const int64_t *ne) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (uint32_t d = 0; d < n_dims && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, d ? ", %lld" : "%lld", (long long)ne[d]);
    if (k < n)
        snprintf(buf + k, n - k, "]");
}

ehal_status_t ehal_llama_check_tensors(ehal_model *m, char *err, size_t err_size) {
    const ehal_model_tensor *emb = ehal_model_tensor_find(m, "token_embd.weight");
    if (!emb) {
        ehal_model_errf(err, err_size, "token_embd.weight: tensor missing");
        return EHAL_STATUS_FORMAT;
    }
    if (emb->ne[1] <= 0 || emb->ne[1] > UINT32_MAX) {
        ehal_model_errf(err, err_size, "token_embd.weight: vocab size ne[1] = %lld out of range",
                        (long long)emb->ne[1]);
        return EHAL_STATUS_FORMAT;
    }
    m->hp.vocab = (uint32_t)emb->ne[1];
    m->hp.tied_embeddings = ehal_model_tensor_find(m, "output.weight") ? 0u : 1u;
    ehal_status_t st = ehal_llama_check_hparams(&m->hp, err, err_size);
    if (st != EHAL_STATUS_OK)
        return st;
    ehal_llama_spec s;
    for (uint32_t i = 0; ehal_llama_tensor_spec(&m->hp, i, &s) == 0; i++) {
        const ehal_model_tensor *t = ehal_model_tensor_find(m, s.name);
        if (!t) {
            ehal_model_errf(err, err_size, "%s: tensor missing", s.name);
            return EHAL_STATUS_FORMAT;
        }
        if (memcmp(t->ne, s.ne, sizeof s.ne) != 0) {
            char got[96], want[96];
            shape_str(got, sizeof got, t->n_dims, t->ne);
            shape_str(want, sizeof want, s.n_dims, s.ne);
            ehal_model_errf(err, err_size, "%s: shape %s, expected %s", s.name, got, want);
            return EHAL_STATUS_FORMAT;
        }
        if (s.is_norm && t->dtype != EHAL_DTYPE_F32) {
            const char *tn = ehal_gguf_type_name(t->dtype);
            ehal_model_errf(err, err_size, "%s: norm weight type %s, expected f32", s.name,
                            tn ? tn : "unknown");
            return EHAL_STATUS_UNSUPPORTED;
        }
    }
    return EHAL_STATUS_OK;
}
