/*
 * Private to graph/model: the ehal_model object, the llama tensor layout,
 * the generator's per-tensor entry and small shared helpers.
 */
#ifndef EHAL_MODEL_INTERNAL_H
#define EHAL_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "edgehal/model.h"

#define EHAL_MODEL_NAME_MAX 64 /* GGUF tensor names are at most 64 bytes */

struct ehal_model {
    ehal_model_hparams hp;
    uint32_t n_tensors;
    ehal_model_tensor *tensors;
    char *names;      /* pool of NUL-terminated tensor names (owned) */
    uint32_t *index;  /* open-addressing hash of tensor ids; UINT32_MAX empty */
    uint32_t n_slots; /* power of two, > 2 * n_tensors */
    void *map;        /* read-only mapping of the GGUF file, or NULL */
    size_t map_size;
    void *data; /* generator memory (owned), or NULL */
    int lazy;   /* generated on demand: tensors[i].data is NULL */
    uint32_t gen_dtype;
    uint64_t seed;
    uint32_t file_type; /* general.file_type, as read or as written */
    char name[96];      /* general.name */
};

/* Formats a one-line message into err (err may be NULL). */
void ehal_model_errf(char *err, size_t err_size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Allocation used by every graph/model function, so tests can fail the
 * N-th allocation (ehal_model_test_fail_alloc). */
void *ehal_model_malloc(size_t size);
void *ehal_model_calloc(size_t n, size_t size);
void ehal_model_mfree(void *p);
/* Test hook: the n-th allocation from now on (1-based) and every one after
 * it fail; 0 turns failures off. Not thread-safe; tests only. */
void ehal_model_test_fail_alloc(long n);

/* A model with n tensors and room for names_bytes of names; hp zeroed.
 * NULL on allocation failure. */
ehal_model *ehal_model_new(uint32_t n_tensors, size_t names_bytes);
/* Builds the name index. On a duplicate name returns EHAL_STATUS_FORMAT and
 * sets *dup_a < *dup_b to the two tensor ids. */
ehal_status_t ehal_model_index_build(ehal_model *m, uint32_t *dup_a, uint32_t *dup_b);

/* ---- the llama tensor layout (model_llama.c) ---------------------------- */

typedef struct ehal_llama_spec {
    char name[EHAL_MODEL_NAME_MAX + 1];
    uint32_t n_dims;
    int64_t ne[EHAL_MAX_DIMS]; /* unused dims are 1 */
    int is_norm;               /* F32 norm weight */
    int64_t fan_in;            /* ne[0] */
} ehal_llama_spec;

/* The number of tensors the layout has for hp (output.weight only when
 * !hp->tied_embeddings). */
uint32_t ehal_llama_tensor_count(const ehal_model_hparams *hp);
/* Tensor i of the layout, in file order: token_embd, per layer attn_norm,
 * attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down,
 * then output_norm and output. Returns 0 on success, -1 if i is out of range. */
int ehal_llama_tensor_spec(const ehal_model_hparams *hp, uint32_t i, ehal_llama_spec *out);
/* Checks the hyperparameters are consistent (non-zero, dim % heads,
 * heads % kv_heads, even head_dim). */
ehal_status_t ehal_llama_check_hparams(const ehal_model_hparams *hp, char *err, size_t err_size);
/* Checks that m holds every tensor the layout needs with the right shape
 * and dtype; sets hp.vocab from token_embd and hp.tied_embeddings from the
 * presence of output.weight first. */
ehal_status_t ehal_llama_check_tensors(ehal_model *m, char *err, size_t err_size);
/* Matrix parameter count of the layout (norms included). */
uint64_t ehal_llama_param_count(const ehal_model_hparams *hp);

/* ---- generator (model_generate.c) ---------------------------------------- */

/* Fills dst with tensor i of a lazy or generated model m (its bytes in
 * tensors[i].dtype). scratch holds at least tensors[i].ne[0] floats. */
void ehal_model_generate_tensor(const ehal_model *m, uint32_t i, void *dst, float *scratch);

/* ---- GGUF type names (gguf_format.c) ------------------------------------- */

/* "q6_k" for a known ggml type id, NULL otherwise. */
const char *ehal_gguf_type_name(uint32_t type);
/* 1 for the tensor types a model may hold: f32, f16, q4_0, q8_0. */
int ehal_gguf_type_supported(uint32_t type);
/* "uint8", ..., "float64"; NULL for an unknown value type. */
const char *ehal_gguf_value_type_name(uint32_t vtype);

#endif
