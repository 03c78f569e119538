/*
 * Deterministic random-weight llama models. The bytes depend only on
 * (hparams, dtype, seed): the generator uses its own PRNG (splitmix64) and
 * exactly rounded float32 arithmetic (this file is built with
 * -ffp-contract=off), and quantizes with ehal_convert_row. The distribution
 * is documented in docs/gguf.md ("Generated weights"):
 *
 *   key    = splitmix64 step from state (seed ^ fnv1a64(name))
 *   row r  : state = key ^ (r * 0xD1B54A32D192ED03), one splitmix64 step per value
 *   u      = (x >> 40) * 2^-24                      in [0, 1), exact
 *   matrix : (2u - 1) * (1 / sqrtf(ne[0]))          uniform, fan-in scaled
 *   token_embd : 2u - 1                             uniform in [-1, 1)
 *   norm   : 1 + 0.125 * (2u - 1)                   around 1
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#include "edgehal/model_tools.h"
#include "edgehal/quant.h"

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t fnv1a64(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

static uint64_t bytes_of(uint32_t dtype, int64_t ne0, int64_t rows) {
    switch (dtype) {
    case EHAL_DTYPE_F32: return (uint64_t)ne0 * (uint64_t)rows * 4u;
    case EHAL_DTYPE_F16: return (uint64_t)ne0 * (uint64_t)rows * 2u;
    case EHAL_DTYPE_Q8_0: return (uint64_t)(ne0 / 32) * (uint64_t)rows * 34u;
    default: return (uint64_t)(ne0 / 32) * (uint64_t)rows * 18u; /* Q4_0 */
    }
}

void ehal_model_generate_tensor(const ehal_model *m, uint32_t i, void *dst, float *scratch) {
    const ehal_model_tensor *t = &m->tensors[i];
    const int is_norm = t->n_dims == 1;
    const int is_embd = strcmp(t->name, "token_embd.weight") == 0;
    const float a = is_embd ? 1.0f : 1.0f / sqrtf((float)t->ne[0]);
    uint64_t s0 = m->seed ^ fnv1a64(t->name);
    const uint64_t key = splitmix64(&s0);
    const int64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
    const uint64_t row_bytes = bytes_of(t->dtype, t->ne[0], 1);
    for (int64_t r = 0; r < rows; r++) {
        uint64_t s = key ^ ((uint64_t)r * 0xD1B54A32D192ED03ull);
        for (int64_t j = 0; j < t->ne[0]; j++) {
            float u = (float)(splitmix64(&s) >> 40) * 0x1.0p-24f;
            float c = 2.0f * u - 1.0f; /* exact */
            scratch[j] = is_norm ? 1.0f + 0.125f * c : c * a;
        }
        /* Cannot fail: the dtype and ne[0] were checked when m was built. */
        (void)ehal_convert_row(EHAL_DTYPE_F32, scratch, t->dtype,
                               (uint8_t *)dst + (uint64_t)r * row_bytes, t->ne[0]);
    }
}

static const char *dtype_str(uint32_t d) {
    const char *n = ehal_gguf_type_name(d);
    return n ? n : "unknown";
}

static ehal_status_t build(const ehal_model_hparams *hp_in, uint32_t dtype, uint64_t seed, int lazy,
                           ehal_model **out, char *err, size_t err_size) {
    if (out)
        *out = NULL;
    if (!hp_in || !out) {
        ehal_model_errf(err, err_size, "ehal_model_generate: hp and out must not be NULL");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    if (!ehal_gguf_type_supported(dtype)) {
        ehal_model_errf(err, err_size, "dtype %s (%u) cannot be generated (f32, f16, q8_0, q4_0)",
                        dtype_str(dtype), dtype);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_model_hparams hp = *hp_in;
    hp.rope_mode = EHAL_ROPE_NORMAL;
    hp.tied_embeddings = hp.tied_embeddings ? 1u : 0u;
    ehal_status_t st = ehal_llama_check_hparams(&hp, err, err_size);
    if (st != EHAL_STATUS_OK)
        return EHAL_STATUS_INVALID_ARGUMENT;
    if ((dtype == EHAL_DTYPE_Q4_0 || dtype == EHAL_DTYPE_Q8_0) &&
        (hp.dim % 32 != 0 || hp.ffn_dim % 32 != 0)) {
        ehal_model_errf(err, err_size, "dtype %s needs dim (%u) and ffn_dim (%u) multiples of 32",
                        dtype_str(dtype), hp.dim, hp.ffn_dim);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    const uint32_t n = ehal_llama_tensor_count(&hp);
    ehal_model *m = ehal_model_new(n, (size_t)n * (EHAL_MODEL_NAME_MAX + 1));
    if (!m) {
        ehal_model_errf(err, err_size, "out of memory for a %u-tensor model", n);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    m->hp = hp;
    m->lazy = lazy;
    m->gen_dtype = dtype;
    m->seed = seed;
    m->file_type = dtype == EHAL_DTYPE_F32    ? 0u
                   : dtype == EHAL_DTYPE_F16  ? 1u
                   : dtype == EHAL_DTYPE_Q4_0 ? 2u
                                              : 7u;
    snprintf(m->name, sizeof m->name, "edgehal-random-llama-%ux%u-%s", hp.dim, hp.n_layers,
             dtype_str(dtype));
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        ehal_llama_spec s;
        ehal_llama_tensor_spec(&hp, i, &s);
        ehal_model_tensor *t = &m->tensors[i];
        char *name = m->names + (size_t)i * (EHAL_MODEL_NAME_MAX + 1);
        memcpy(name, s.name, sizeof s.name);
        t->name = name;
        t->dtype = s.is_norm ? (uint32_t)EHAL_DTYPE_F32 : dtype;
        t->n_dims = s.n_dims;
        memcpy(t->ne, s.ne, sizeof t->ne);
        t->size = bytes_of(t->dtype, s.ne[0], s.ne[1]);
        total += (t->size + 63) & ~(uint64_t)63;
    }
    uint32_t da, db;
    if ((st = ehal_model_index_build(m, &da, &db)) != EHAL_STATUS_OK) {
        ehal_model_free(m);
        ehal_model_errf(err, err_size, "out of memory for the tensor index");
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    if (!lazy) {
        void *mem = NULL;
        float *scratch =
            ehal_model_malloc((size_t)(hp.dim > hp.ffn_dim ? hp.dim : hp.ffn_dim) * sizeof(float));
        if ((uint64_t)(size_t)total != total || !scratch ||
            posix_memalign(&mem, 64, (size_t)total) != 0) {
            ehal_model_mfree(scratch);
            ehal_model_free(m);
            ehal_model_errf(err, err_size, "out of memory for %llu bytes of weights",
                            (unsigned long long)total);
            return EHAL_STATUS_OUT_OF_MEMORY;
        }
        m->data = mem;
        uint64_t off = 0;
        for (uint32_t i = 0; i < n; i++) {
            ehal_model_generate_tensor(m, i, (uint8_t *)mem + off, scratch);
            m->tensors[i].data = (uint8_t *)mem + off;
            off += (m->tensors[i].size + 63) & ~(uint64_t)63;
        }
        m->lazy = 0;
        ehal_model_mfree(scratch);
    }
    *out = m;
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_model_generate(const ehal_model_hparams *hp, uint32_t dtype, uint64_t seed,
                                  ehal_model **out, char *err, size_t err_size) {
    return build(hp, dtype, seed, 0, out, err, err_size);
}

ehal_status_t ehal_model_generate_lazy(const ehal_model_hparams *hp, uint32_t dtype, uint64_t seed,
                                       ehal_model **out, char *err, size_t err_size) {
    return build(hp, dtype, seed, 1, out, err, err_size);
}
