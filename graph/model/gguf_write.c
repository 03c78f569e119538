/*
 * GGUF v3 writer. The file is written to "<path>.tmp-<pid>" in the same
 * directory and renamed over path only when every byte is written and
 * flushed, so a failure leaves no partial file. Lazy (generated) models are
 * generated one tensor at a time while writing, so memory stays at the size
 * of the largest tensor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model_internal.h"

#include "edgehal/model_tools.h"

#define ALIGNMENT 32u
#define N_SPECIAL 3u /* <unk> <s> </s> */
#define N_BYTE 256u  /* <0x00>..<0xFF> */

/* Token types of GGUF's tokenizer.ggml.token_type. */
#define TOK_NORMAL 1
#define TOK_UNKNOWN 2
#define TOK_CONTROL 3
#define TOK_BYTE 6

typedef struct writer {
    FILE *f;
    uint64_t pos;
    int err_no; /* first write error, 0 if none */
} writer;

static void w_bytes(writer *w, const void *p, size_t n) {
    if (w->err_no || n == 0)
        return;
    if (fwrite(p, 1, n, w->f) != n)
        w->err_no = errno ? errno : EIO;
    w->pos += n;
}

static void w_le(writer *w, uint64_t v, int n) {
    uint8_t b[8];
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    w_bytes(w, b, (size_t)n);
}

static void w_u32(writer *w, uint32_t v) {
    w_le(w, v, 4);
}
static void w_u64(writer *w, uint64_t v) {
    w_le(w, v, 8);
}

static void w_f32(writer *w, float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    w_u32(w, u);
}

static void w_str(writer *w, const char *s) {
    size_t n = strlen(s);
    w_u64(w, n);
    w_bytes(w, s, n);
}

static void w_pad(writer *w) {
    static const uint8_t zeros[ALIGNMENT];
    w_bytes(w, zeros, (size_t)((ALIGNMENT - w->pos % ALIGNMENT) % ALIGNMENT));
}

static void kv_str(writer *w, const char *key, const char *v) {
    w_str(w, key);
    w_u32(w, EHAL_GGUF_STRING);
    w_str(w, v);
}

static void kv_u32(writer *w, const char *key, uint32_t v) {
    w_str(w, key);
    w_u32(w, EHAL_GGUF_UINT32);
    w_u32(w, v);
}

static void kv_f32(writer *w, const char *key, float v) {
    w_str(w, key);
    w_u32(w, EHAL_GGUF_FLOAT32);
    w_f32(w, v);
}

static void token_text(uint32_t i, char *buf, size_t n) {
    static const char *const special[N_SPECIAL] = {"<unk>", "<s>", "</s>"};
    if (i < N_SPECIAL)
        snprintf(buf, n, "%s", special[i]);
    else if (i < N_SPECIAL + N_BYTE)
        snprintf(buf, n, "<0x%02X>", i - N_SPECIAL);
    else
        snprintf(buf, n, "tok_%u", i);
}

static int token_type(uint32_t i) {
    return i == 0                   ? TOK_UNKNOWN
           : i < N_SPECIAL          ? TOK_CONTROL
           : i < N_SPECIAL + N_BYTE ? TOK_BYTE
                                    : TOK_NORMAL;
}

/* The tokenizer.* section: a placeholder SentencePiece-style vocabulary with
 * the model's vocab size, so tools that expect one can load the file. */
static void write_tokenizer(writer *w, uint32_t vocab) {
    char text[32];
    kv_str(w, "tokenizer.ggml.model", "llama");
    w_str(w, "tokenizer.ggml.tokens");
    w_u32(w, EHAL_GGUF_ARRAY);
    w_u32(w, EHAL_GGUF_STRING);
    w_u64(w, vocab);
    for (uint32_t i = 0; i < vocab; i++) {
        token_text(i, text, sizeof text);
        w_str(w, text);
    }
    w_str(w, "tokenizer.ggml.scores");
    w_u32(w, EHAL_GGUF_ARRAY);
    w_u32(w, EHAL_GGUF_FLOAT32);
    w_u64(w, vocab);
    for (uint32_t i = 0; i < vocab; i++)
        w_f32(w, token_type(i) == TOK_NORMAL ? -(float)(i - N_SPECIAL - N_BYTE) : 0.0f);
    w_str(w, "tokenizer.ggml.token_type");
    w_u32(w, EHAL_GGUF_ARRAY);
    w_u32(w, EHAL_GGUF_INT32);
    w_u64(w, vocab);
    for (uint32_t i = 0; i < vocab; i++)
        w_u32(w, (uint32_t)token_type(i));
    kv_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    kv_u32(w, "tokenizer.ggml.bos_token_id", vocab > 1 ? 1u : 0u);
    kv_u32(w, "tokenizer.ggml.eos_token_id", vocab > 2 ? 2u : 0u);
}

#define N_KV 22u /* the pairs write_header emits */

static uint32_t file_type_of(const ehal_model *m) {
    if (m->file_type != UINT32_MAX && m->file_type != 0u)
        return m->file_type;
    const ehal_model_tensor *t = ehal_model_tensor_find(m, "blk.0.attn_q.weight");
    uint32_t d = t ? t->dtype : EHAL_DTYPE_F32;
    return d == EHAL_DTYPE_F16 ? 1u : d == EHAL_DTYPE_Q4_0 ? 2u : d == EHAL_DTYPE_Q8_0 ? 7u : 0u;
}

static void write_header(writer *w, const ehal_model *m, const char *name) {
    const ehal_model_hparams *hp = &m->hp;
    w_bytes(w, "GGUF", 4);
    w_u32(w, 3);
    w_u64(w, m->n_tensors);
    w_u64(w, N_KV);
    kv_str(w, "general.architecture", "llama");
    kv_str(w, "general.name", name);
    kv_u32(w, "general.alignment", ALIGNMENT);
    kv_u32(w, "general.file_type", file_type_of(m));
    kv_u32(w, "general.quantization_version", 2);
    kv_u32(w, "llama.context_length", hp->context);
    kv_u32(w, "llama.embedding_length", hp->dim);
    kv_u32(w, "llama.block_count", hp->n_layers);
    kv_u32(w, "llama.feed_forward_length", hp->ffn_dim);
    kv_u32(w, "llama.attention.head_count", hp->n_heads);
    kv_u32(w, "llama.attention.head_count_kv", hp->n_kv_heads);
    kv_f32(w, "llama.rope.freq_base", hp->rope_base);
    kv_f32(w, "llama.attention.layer_norm_rms_epsilon", hp->rms_eps);
    kv_u32(w, "llama.vocab_size", hp->vocab);
    kv_u32(w, "llama.rope.dimension_count", hp->dim / hp->n_heads);
    write_tokenizer(w, hp->vocab); /* 7 pairs */
}

static ehal_status_t check_model(const ehal_model *m, char *err, size_t err_size) {
    ehal_status_t st = ehal_llama_check_hparams(&m->hp, err, err_size);
    if (st != EHAL_STATUS_OK)
        return EHAL_STATUS_INVALID_ARGUMENT;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const ehal_model_tensor *t = &m->tensors[i];
        if (!t->data && !m->lazy) {
            ehal_model_errf(err, err_size, "tensor %u '%s': no data", i, t->name);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
        if (strlen(t->name) > EHAL_MODEL_NAME_MAX || t->n_dims < 1 || t->n_dims > EHAL_MAX_DIMS) {
            ehal_model_errf(err, err_size, "tensor %u '%s': name or n_dims %u out of range", i,
                            t->name, t->n_dims);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
    }
    return EHAL_STATUS_OK;
}

static ehal_status_t write_all(writer *w, const ehal_model *m, const char *name,
                               const ehal_model_write_opts *opts, char *err, size_t err_size) {
    write_header(w, m, name);
    uint64_t off = 0, max_size = 0, total = ehal_model_data_bytes(m), done = 0;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const ehal_model_tensor *t = &m->tensors[i];
        w_str(w, t->name);
        w_u32(w, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            w_u64(w, (uint64_t)t->ne[d]);
        w_u32(w, t->dtype);
        w_u64(w, off);
        off += (t->size + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        if (t->size > max_size)
            max_size = t->size;
    }
    w_pad(w);
    uint8_t *buf = NULL;
    float *scratch = NULL;
    if (m->lazy) {
        size_t row = (size_t)(m->hp.dim > m->hp.ffn_dim ? m->hp.dim : m->hp.ffn_dim);
        buf = (uint64_t)(size_t)max_size == max_size ? ehal_model_malloc((size_t)max_size) : NULL;
        scratch = ehal_model_malloc(row * sizeof *scratch);
        if (!buf || !scratch) {
            ehal_model_mfree(buf);
            ehal_model_mfree(scratch);
            ehal_model_errf(err, err_size, "out of memory for a %llu-byte tensor buffer",
                            (unsigned long long)max_size);
            return EHAL_STATUS_OUT_OF_MEMORY;
        }
    }
    for (uint32_t i = 0; i < m->n_tensors && !w->err_no; i++) {
        const ehal_model_tensor *t = &m->tensors[i];
        const void *data = t->data;
        if (m->lazy) {
            ehal_model_generate_tensor(m, i, buf, scratch);
            data = buf;
        }
        w_bytes(w, data, (size_t)t->size);
        w_pad(w);
        done += t->size;
        if (opts && opts->progress)
            opts->progress(opts->progress_user, done, total);
    }
    ehal_model_mfree(buf);
    ehal_model_mfree(scratch);
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_model_write_gguf_ex(const ehal_model *m, const char *path,
                                       const ehal_model_write_opts *opts, char *err,
                                       size_t err_size) {
    if (!m || !path) {
        ehal_model_errf(err, err_size, "ehal_model_write_gguf: model and path must not be NULL");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_status_t st = check_model(m, err, err_size);
    if (st != EHAL_STATUS_OK)
        return st;
    const char *name = opts && opts->name ? opts->name : m->name[0] ? m->name : "edgehal";
    size_t tlen = strlen(path) + 32;
    char *tmp = ehal_model_malloc(tlen);
    if (!tmp) {
        ehal_model_errf(err, err_size, "out of memory writing %s", path);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    snprintf(tmp, tlen, "%s.tmp-%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        ehal_model_errf(err, err_size, "cannot create %s: %s", tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        ehal_model_mfree(tmp);
        return EHAL_STATUS_IO;
    }
    setvbuf(f, NULL, _IOFBF, 1u << 20);
    writer w = {f, 0, 0};
    st = write_all(&w, m, name, opts, err, err_size);
    if (fflush(f) != 0 && !w.err_no)
        w.err_no = errno ? errno : EIO;
    if (fsync(fileno(f)) != 0 && !w.err_no)
        w.err_no = errno ? errno : EIO;
    if (fclose(f) != 0 && !w.err_no)
        w.err_no = errno ? errno : EIO;
    if (st == EHAL_STATUS_OK && w.err_no) {
        ehal_model_errf(err, err_size, "cannot write %s: %s", path, strerror(w.err_no));
        st = EHAL_STATUS_IO;
    }
    if (st == EHAL_STATUS_OK && rename(tmp, path) != 0) {
        ehal_model_errf(err, err_size, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        st = EHAL_STATUS_IO;
    }
    if (st != EHAL_STATUS_OK)
        unlink(tmp);
    ehal_model_mfree(tmp);
    return st;
}

ehal_status_t ehal_model_write_gguf(const ehal_model *m, const char *path, char *err,
                                    size_t err_size) {
    return ehal_model_write_gguf_ex(m, path, NULL, err, err_size);
}
