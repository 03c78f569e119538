/* The Llama builder's semantics, checked against an independent plain-C
 * forward pass written here from the Llama definition (RMSNorm, RoPE on
 * adjacent pairs, grouped-query causal attention, SwiGLU FFN, tied head),
 * not from the graph: the graph run on the reference path must match it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edgehal/graph.h"

static const float *W(const ehal_model *m, const char *fmt, int layer) {
    char name[96];
    snprintf(name, sizeof name, fmt, layer);
    const ehal_model_tensor *t = ehal_model_tensor_find(m, name);
    if (!t || t->dtype != EHAL_DTYPE_F32)
        fail_msg("tensor %s missing or not f32", name);
    return t->data;
}

/* y[n] = sum_k w[n*K + k] x[k] */
static void mv(const float *w, const float *x, float *y, int K, int N) {
    for (int n = 0; n < N; n++) {
        double s = 0;
        for (int k = 0; k < K; k++)
            s += (double)w[(size_t)n * K + k] * x[k];
        y[n] = (float)s;
    }
}

static void rmsnorm(const float *x, const float *w, float *y, int d, float eps) {
    double ss = 0;
    for (int i = 0; i < d; i++)
        ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / d + eps));
    for (int i = 0; i < d; i++)
        y[i] = x[i] * r * w[i];
}

static void rope(float *v, int n_heads, int D, int pos, float base) {
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < D / 2; i++) {
            double th = pos * pow(base, -2.0 * i / D);
            float *p = v + h * D + 2 * i;
            float a = p[0], b = p[1];
            p[0] = (float)(a * cos(th) - b * sin(th));
            p[1] = (float)(a * sin(th) + b * cos(th));
        }
}

/* logits[n_tok][vocab] for tokens at positions 0..n_tok-1 */
static void naive_forward(const ehal_model *m, const int32_t *tok, int n_tok, float *logits) {
    const ehal_model_hparams *hp = ehal_model_get_hparams(m);
    const int d = (int)hp->dim, H = (int)hp->n_heads, Hk = (int)hp->n_kv_heads;
    const int D = d / H, F = (int)hp->ffn_dim, V = (int)hp->vocab, L = (int)hp->n_layers;
    float *K = calloc((size_t)L * n_tok * Hk * D, sizeof *K);
    float *Vc = calloc((size_t)L * n_tok * Hk * D, sizeof *Vc);
    float *x = malloc(sizeof *x * d), *xn = malloc(sizeof *xn * d), *q = malloc(sizeof *q * d);
    float *att = malloc(sizeof *att * d), *o = malloc(sizeof *o * d);
    float *g = malloc(sizeof *g * F), *u = malloc(sizeof *u * F), *sc = malloc(sizeof *sc * n_tok);
    assert_non_null(K), assert_non_null(Vc), assert_non_null(g), assert_non_null(u);
    for (int t = 0; t < n_tok; t++) {
        memcpy(x, W(m, "token_embd.weight", 0) + (size_t)tok[t] * d, sizeof *x * d);
        for (int l = 0; l < L; l++) {
            float *kl = K + ((size_t)l * n_tok + t) * Hk * D,
                  *vl = Vc + ((size_t)l * n_tok + t) * Hk * D;
            rmsnorm(x, W(m, "blk.%d.attn_norm.weight", l), xn, d, hp->rms_eps);
            mv(W(m, "blk.%d.attn_q.weight", l), xn, q, d, H * D);
            mv(W(m, "blk.%d.attn_k.weight", l), xn, kl, d, Hk * D);
            mv(W(m, "blk.%d.attn_v.weight", l), xn, vl, d, Hk * D);
            rope(q, H, D, t, hp->rope_base);
            rope(kl, Hk, D, t, hp->rope_base);
            for (int h = 0; h < H; h++) {
                int kh = h / (H / Hk);
                double mx = -1e30, sum = 0;
                for (int s = 0; s <= t; s++) {
                    const float *ks = K + ((size_t)l * n_tok + s) * Hk * D + kh * D;
                    double dot = 0;
                    for (int i = 0; i < D; i++)
                        dot += (double)q[h * D + i] * ks[i];
                    sc[s] = (float)(dot / sqrt((double)D));
                    if (sc[s] > mx)
                        mx = sc[s];
                }
                for (int s = 0; s <= t; s++)
                    sum += sc[s] = (float)exp(sc[s] - mx);
                for (int i = 0; i < D; i++) {
                    double acc = 0;
                    for (int s = 0; s <= t; s++)
                        acc += sc[s] * Vc[((size_t)l * n_tok + s) * Hk * D + kh * D + i];
                    att[h * D + i] = (float)(acc / sum);
                }
            }
            mv(W(m, "blk.%d.attn_output.weight", l), att, o, d, d);
            for (int i = 0; i < d; i++)
                x[i] += o[i];
            rmsnorm(x, W(m, "blk.%d.ffn_norm.weight", l), xn, d, hp->rms_eps);
            mv(W(m, "blk.%d.ffn_gate.weight", l), xn, g, d, F);
            mv(W(m, "blk.%d.ffn_up.weight", l), xn, u, d, F);
            for (int i = 0; i < F; i++)
                g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
            mv(W(m, "blk.%d.ffn_down.weight", l), g, o, F, d);
            for (int i = 0; i < d; i++)
                x[i] += o[i];
        }
        rmsnorm(x, W(m, "output_norm.weight", 0), xn, d, hp->rms_eps);
        const char *head =
            ehal_model_tensor_find(m, "output.weight") ? "output.weight" : "token_embd.weight";
        mv(W(m, head, 0), xn, logits + (size_t)t * V, d, V);
    }
    free(K), free(Vc), free(x), free(xn), free(q), free(att), free(o), free(g), free(u), free(sc);
}

static void check_preset(const char *preset) {
    ehal_model_hparams hp;
    assert_int_equal(ehal_model_preset_hparams(preset, &hp), EHAL_STATUS_OK);
    hp.n_layers = hp.n_layers > 2 ? 2 : hp.n_layers; /* keep the naive pass quick */
    hp.vocab = hp.vocab > 1024 ? 1024 : hp.vocab;
    ehal_model *m = NULL;
    char err[256];
    if (ehal_model_generate(&hp, EHAL_DTYPE_F32, 7, &m, err, sizeof err) != EHAL_STATUS_OK)
        fail_msg("generate %s: %s", preset, err);
    const int32_t tok[6] = {3, 100, 7, 250, 3, 42};
    const int n = 6, V = (int)hp.vocab;
    float *want = malloc(sizeof *want * n * V), *got = malloc(sizeof *got * n * V);
    naive_forward(m, tok, n, want);
    ehal_session_options so;
    memset(&so, 0, sizeof so);
    so.struct_size = sizeof so;
    so.kv_dtype = EHAL_DTYPE_F16;
    so.kv_capacity = 16;
    so.all_logits = 1;
    ehal_refrun *r = NULL;
    assert_int_equal(ehal_refrun_create(m, &so, &r, err, sizeof err), EHAL_STATUS_OK);
    /* prefill 4, then two single steps: both graph shapes are checked */
    assert_int_equal(ehal_refrun_eval(r, tok, 4, got, err, sizeof err), EHAL_STATUS_OK);
    assert_int_equal(ehal_refrun_eval(r, tok + 4, 1, got + 4 * V, err, sizeof err), EHAL_STATUS_OK);
    assert_int_equal(ehal_refrun_eval(r, tok + 5, 1, got + 5 * V, err, sizeof err), EHAL_STATUS_OK);
    double md = 0, mr = 0;
    for (int i = 0; i < n * V; i++) {
        double dd = fabs((double)got[i] - want[i]);
        md = dd > md || dd != dd ? dd : md;
        mr = fabs(want[i]) > mr ? fabs(want[i]) : mr;
    }
    print_message("%s: max |diff| %.3g, max |logit| %.3g\n", preset, md, mr);
    /* the f16 KV cache is the only rounding the naive pass does not do */
    assert_true(md <= 2e-3 * (mr > 1 ? mr : 1));
    assert_true(mr > 0.1);
    ehal_refrun_free(r);
    ehal_model_free(m);
    free(want), free(got);
}

static void builtin_graph_matches_naive_llama_forward(void **state) {
    (void)state;
    check_preset("builtin"); /* GQA (4 heads, 2 KV heads), tied embeddings */
}

static void tiny_graph_matches_naive_llama_forward(void **state) {
    (void)state;
    check_preset("tiny"); /* untied output.weight */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_graph_matches_naive_llama_forward),
        cmocka_unit_test(tiny_graph_matches_naive_llama_forward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
