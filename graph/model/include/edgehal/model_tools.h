/*
 * Extras for tools that make model files (`edgehal mkmodel`): a lazily
 * generated model that the writer streams one tensor at a time, so a
 * 1B-parameter model is written without holding its weights in memory,
 * and writer options (name, progress).
 */
#ifndef EDGEHAL_MODEL_TOOLS_H
#define EDGEHAL_MODEL_TOOLS_H

#include <stddef.h>
#include <stdint.h>

#include "edgehal/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* GGUF value types (the numbers are GGUF's). */
#define EHAL_GGUF_UINT8 0u
#define EHAL_GGUF_INT8 1u
#define EHAL_GGUF_UINT16 2u
#define EHAL_GGUF_INT16 3u
#define EHAL_GGUF_UINT32 4u
#define EHAL_GGUF_INT32 5u
#define EHAL_GGUF_FLOAT32 6u
#define EHAL_GGUF_BOOL 7u
#define EHAL_GGUF_STRING 8u
#define EHAL_GGUF_ARRAY 9u
#define EHAL_GGUF_UINT64 10u
#define EHAL_GGUF_INT64 11u
#define EHAL_GGUF_FLOAT64 12u
#define EHAL_GGUF_VALUE_TYPE_COUNT 13u

/* Like ehal_model_generate, but no weights are held: every tensor's data
 * is NULL and ehal_model_write_gguf(_ex) generates each tensor as it writes
 * it, giving the same bytes ehal_model_generate would. Such a model is for
 * writing only; the caller frees it with ehal_model_free. */
ehal_status_t ehal_model_generate_lazy(const ehal_model_hparams *hp, uint32_t dtype, uint64_t seed,
                                       ehal_model **out, char *err, size_t err_size);

/* Called after each tensor is written; bytes count tensor data only. */
typedef void (*ehal_model_progress_fn)(void *user, uint64_t done_bytes, uint64_t total_bytes);

typedef struct ehal_model_write_opts {
    const char *name;                /* general.name; NULL keeps the model's */
    ehal_model_progress_fn progress; /* may be NULL */
    void *progress_user;
} ehal_model_write_opts;

/* ehal_model_write_gguf with options (opts may be NULL). */
ehal_status_t ehal_model_write_gguf_ex(const ehal_model *m, const char *path,
                                       const ehal_model_write_opts *opts, char *err,
                                       size_t err_size);

/* Parameters of a llama model with these hyperparameters (norms included;
 * output.weight counted unless tied). */
uint64_t ehal_model_param_count(const ehal_model_hparams *hp);

/* Bytes of tensor data of m (without the GGUF header and padding). */
uint64_t ehal_model_data_bytes(const ehal_model *m);

/* For an executor that copied or repacked tensor i into backend memory:
 * drops the resident pages that lie wholly inside the tensor's bytes in the
 * file mapping (madvise DONTNEED), so the mapped copy stops counting
 * against the process's resident set. The data stays valid: reading it
 * again faults it back in from the file. Returns the bytes released; 0 for
 * a generated model or an index out of range. Thread-safe. */
uint64_t ehal_model_release_tensor_pages(const ehal_model *m, uint32_t i);

/* Names of the presets ehal_model_preset_hparams knows, NULL-terminated. */
const char *const *ehal_model_preset_names(void);

#ifdef __cplusplus
}
#endif
#endif
