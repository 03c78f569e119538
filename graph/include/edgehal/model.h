/*
 * Models: a Llama-family transformer's hyperparameters and weight tensors,
 * from a GGUF v3 file (memory-mapped, never copied) or from the built-in
 * deterministic generator. The executor builds its graph from this.
 *
 * Tensor names are GGUF's llama names: token_embd.weight,
 * blk.<i>.attn_norm.weight, blk.<i>.attn_q.weight, .attn_k, .attn_v,
 * .attn_output, blk.<i>.ffn_norm.weight, .ffn_gate, .ffn_up, .ffn_down,
 * output_norm.weight and output.weight (absent when embeddings are tied).
 * Shapes use ne[0] innermost: attn_q is [dim, n_heads*head_dim], token_embd
 * is [dim, vocab], ffn_down is [ffn_dim, dim]. Norm weights are F32.
 */
#ifndef EDGEHAL_MODEL_H
#define EDGEHAL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "edgehal/backend_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ehal_model_hparams {
    uint32_t dim;        /* llama.embedding_length */
    uint32_t n_layers;   /* llama.block_count */
    uint32_t n_heads;    /* llama.attention.head_count */
    uint32_t n_kv_heads; /* llama.attention.head_count_kv */
    uint32_t ffn_dim;    /* llama.feed_forward_length */
    uint32_t vocab;      /* token_embd ne[1] (or llama.vocab_size) */
    uint32_t context;    /* llama.context_length */
    uint32_t rope_mode;  /* EHAL_ROPE_NORMAL for the llama arch */
    float rope_base;     /* llama.rope.freq_base, default 10000 */
    float rms_eps;       /* llama.attention.layer_norm_rms_epsilon */
    uint32_t tied_embeddings; /* 1 if output.weight is absent */
} ehal_model_hparams;

typedef struct ehal_model_tensor {
    const char *name;
    uint32_t dtype; /* ehal_dtype */
    uint32_t n_dims;
    int64_t ne[EHAL_MAX_DIMS]; /* unused dims are 1 */
    const void *data;          /* into the mapping or the generator's memory */
    uint64_t size;             /* bytes */
} ehal_model_tensor;

typedef struct ehal_model ehal_model;

/* Opens and validates a GGUF v3 file (mmap). On failure returns
 * EHAL_STATUS_FORMAT/IO/UNSUPPORTED and writes a one-line message naming the
 * field or tensor and the value into err. The caller frees *out. */
ehal_status_t ehal_model_load_gguf(const char *path, ehal_model **out, char *err,
                                   size_t err_size);

/* Named presets: "tiny", "small", "1b" (see docs/gguf.md), and "builtin",
 * the small default model `edgehal run` uses with no file. */
ehal_status_t ehal_model_preset_hparams(const char *preset, ehal_model_hparams *out);

/* Generates a deterministic random-weight model: matrices in `dtype`
 * (F32/F16/Q8_0/Q4_0), norms F32. Same (hparams, dtype, seed) -> same bytes
 * on every machine. */
ehal_status_t ehal_model_generate(const ehal_model_hparams *hp, uint32_t dtype, uint64_t seed,
                                  ehal_model **out, char *err, size_t err_size);

/* Writes a GGUF v3 file readable by other GGUF tools (general.*, llama.*
 * keys and a minimal tokenizer.* section). */
ehal_status_t ehal_model_write_gguf(const ehal_model *m, const char *path, char *err,
                                    size_t err_size);

const ehal_model_hparams *ehal_model_get_hparams(const ehal_model *m);
uint32_t ehal_model_tensor_count(const ehal_model *m);
const ehal_model_tensor *ehal_model_tensor_at(const ehal_model *m, uint32_t i);
const ehal_model_tensor *ehal_model_tensor_find(const ehal_model *m, const char *name);
void ehal_model_free(ehal_model *m); /* NULL is fine */

#ifdef __cplusplus
}
#endif
#endif
