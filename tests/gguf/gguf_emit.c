/* Test-only GGUF emitter; see gguf_emit.h. */
#include "gguf_emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ge_init(gguf_emit *e) {
    memset(e, 0, sizeof *e);
}

void ge_free(gguf_emit *e) {
    free(e->buf);
    memset(e, 0, sizeof *e);
}

void ge_raw(gguf_emit *e, const void *p, size_t n) {
    if (e->len + n > e->cap) {
        size_t cap = e->cap ? e->cap : 4096;
        while (cap < e->len + n)
            cap *= 2;
        uint8_t *b = realloc(e->buf, cap);
        if (!b) {
            fprintf(stderr, "gguf_emit: out of memory\n");
            exit(1); /* test harness only */
        }
        e->buf = b;
        e->cap = cap;
    }
    memcpy(e->buf + e->len, p, n);
    e->len += n;
}

static void le(gguf_emit *e, uint64_t v, int n) {
    uint8_t b[8];
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    ge_raw(e, b, (size_t)n);
}

void ge_u8(gguf_emit *e, uint8_t v) {
    le(e, v, 1);
}
void ge_u16(gguf_emit *e, uint16_t v) {
    le(e, v, 2);
}
void ge_u32(gguf_emit *e, uint32_t v) {
    le(e, v, 4);
}
void ge_u64(gguf_emit *e, uint64_t v) {
    le(e, v, 8);
}

void ge_f32(gguf_emit *e, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    ge_u32(e, u);
}

void ge_f64(gguf_emit *e, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    ge_u64(e, u);
}

void ge_str(gguf_emit *e, const char *s) {
    ge_u64(e, strlen(s));
    ge_raw(e, s, strlen(s));
}

void ge_pad(gguf_emit *e, size_t align) {
    while (e->len % align)
        ge_u8(e, 0);
}

void ge_kv_u32(gguf_emit *e, const char *key, uint32_t v) {
    ge_str(e, key);
    ge_u32(e, 4);
    ge_u32(e, v);
}

void ge_kv_f32(gguf_emit *e, const char *key, float v) {
    ge_str(e, key);
    ge_u32(e, 6);
    ge_f32(e, v);
}

void ge_kv_str(gguf_emit *e, const char *key, const char *v) {
    ge_str(e, key);
    ge_u32(e, 8);
    ge_str(e, v);
}

void ge_patch(gguf_emit *e, size_t pos, uint64_t v, int n) {
    for (int i = 0; i < n; i++)
        e->buf[pos + (size_t)i] = (uint8_t)(v >> (8 * i));
}

int ge_write_file(const gguf_emit *e, size_t len, const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = len ? fwrite(e->buf, 1, len, f) : 0;
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

void ge_default_opts(ge_opts *o) {
    memset(o, 0, sizeof *o);
    o->version = 3;
    o->arch = "llama";
    o->alignment = 32;
    o->output_type = 0;
}

uint8_t ge_data_byte(size_t t, uint64_t k) {
    return (uint8_t)((t * 31u + k * 7u) & 255u);
}

/* Every GGUF value type, arrays of several, nested arrays and a
 * 32000-string vocabulary: the model never uses any of them. Returns the
 * number of pairs emitted. */
static uint64_t extra_kvs(gguf_emit *e, ge_layout *lay) {
    ge_str(e, "x.u8"), ge_u32(e, 0), ge_u8(e, 200);
    ge_str(e, "x.i8"), ge_u32(e, 1), ge_u8(e, 0x80);
    ge_str(e, "x.u16"), ge_u32(e, 2), ge_u16(e, 65535);
    ge_str(e, "x.i16"), ge_u32(e, 3), ge_u16(e, 0x8000);
    ge_str(e, "x.u32"), ge_u32(e, 4), ge_u32(e, 123456789);
    ge_str(e, "x.i32"), ge_u32(e, 5), ge_u32(e, 0xffffffffu);
    ge_str(e, "x.f32"), ge_u32(e, 6), ge_f32(e, 1.5f);
    ge_str(e, "x.bool"), ge_u32(e, 7), ge_u8(e, 1);
    ge_str(e, "x.string"), ge_u32(e, 8), ge_str(e, "hello, gguf");
    ge_str(e, "x.u64"), ge_u32(e, 10), ge_u64(e, UINT64_MAX);
    ge_str(e, "x.i64"), ge_u32(e, 11), ge_u64(e, (uint64_t)-5);
    ge_str(e, "x.f64"), ge_u32(e, 12), ge_f64(e, -2.25);
    /* arrays of fixed-size types */
    ge_str(e, "x.arr_u8"), ge_u32(e, 9), ge_u32(e, 0), ge_u64(e, 3);
    ge_u8(e, 1), ge_u8(e, 2), ge_u8(e, 3);
    ge_str(e, "x.arr_i32"), ge_u32(e, 9), ge_u32(e, 5), ge_u64(e, 2);
    ge_u32(e, 7), ge_u32(e, 0xfffffff9u);
    ge_str(e, "x.arr_f64"), ge_u32(e, 9), ge_u32(e, 12), ge_u64(e, 1), ge_f64(e, 3.0);
    ge_str(e, "x.arr_bool"), ge_u32(e, 9), ge_u32(e, 7), ge_u64(e, 2), ge_u8(e, 0), ge_u8(e, 1);
    ge_str(e, "x.arr_u16"), ge_u32(e, 9), ge_u32(e, 2), ge_u64(e, 1), ge_u16(e, 9);
    ge_str(e, "x.arr_i16"), ge_u32(e, 9), ge_u32(e, 3), ge_u64(e, 1), ge_u16(e, 9);
    ge_str(e, "x.arr_u64"), ge_u32(e, 9), ge_u32(e, 10), ge_u64(e, 1), ge_u64(e, 9);
    ge_str(e, "x.arr_i64"), ge_u32(e, 9), ge_u32(e, 11), ge_u64(e, 1), ge_u64(e, 9);
    ge_str(e, "x.arr_i8"), ge_u32(e, 9), ge_u32(e, 1), ge_u64(e, 1), ge_u8(e, 9);
    ge_str(e, "x.arr_u32"), ge_u32(e, 9), ge_u32(e, 4), ge_u64(e, 1), ge_u32(e, 9);
    ge_str(e, "x.arr_f32"), ge_u32(e, 9), ge_u32(e, 6), ge_u64(e, 1), ge_f32(e, 9.0f);
    ge_str(e, "x.arr_empty"), ge_u32(e, 9), ge_u32(e, 8), ge_u64(e, 0);
    /* nested: array of 2 arrays: [u16 x2], [string x2], then [[i8]] */
    ge_str(e, "x.nested"), ge_u32(e, 9), ge_u32(e, 9);
    lay->nested_count_pos = e->len;
    ge_u64(e, 3);
    ge_u32(e, 2), ge_u64(e, 2), ge_u16(e, 1), ge_u16(e, 2);
    ge_u32(e, 8), ge_u64(e, 2), ge_str(e, "a"), ge_str(e, "bc");
    ge_u32(e, 9), ge_u64(e, 1), ge_u32(e, 1), ge_u64(e, 1), ge_u8(e, 4);
    /* a 32,000-token vocabulary, as real llama files carry */
    ge_str(e, "tokenizer.ggml.tokens"), ge_u32(e, 9), ge_u32(e, 8);
    lay->tokens_count_pos = e->len;
    ge_u64(e, 32000);
    char tok[32];
    for (int i = 0; i < 32000; i++) {
        snprintf(tok, sizeof tok, "\xe2\x96\x81tok%d", i);
        ge_str(e, tok);
    }
    return 26;
}

static const char *const layer_names[9] = {
    "blk.0.attn_norm.weight", "blk.0.attn_q.weight",      "blk.0.attn_k.weight",
    "blk.0.attn_v.weight",    "blk.0.attn_output.weight", "blk.0.ffn_norm.weight",
    "blk.0.ffn_gate.weight",  "blk.0.ffn_up.weight",      "blk.0.ffn_down.weight",
};

static uint64_t tensor_bytes(uint32_t type, int64_t ne0, int64_t ne1) {
    uint64_t n = (uint64_t)ne0 * (uint64_t)ne1;
    switch (type) {
    case 1: return n * 2;
    case 2: return n / 32 * 18;
    case 8: return n / 32 * 34;
    default: return n * 4; /* f32, and a stand-in size for foreign types */
    }
}

void ge_build_model(gguf_emit *e, const ge_opts *o, ge_layout *lay) {
    memset(lay, 0, sizeof *lay);
    size_t n = 0;
#define T(nm, ty, a, b) \
    (lay->names[n] = (nm), lay->types[n] = (ty), lay->ne[n][0] = (a), lay->ne[n][1] = (b), n++)
    T("token_embd.weight", 8, GE_DIM, GE_VOCAB);            /* q8_0 */
    const uint32_t ltypes[9] = {0, 8, 1, 0, 2, 0, 2, 1, 0}; /* mixed */
    const int64_t lne[9][2] = {{GE_DIM, 1},      {GE_DIM, GE_DIM}, {GE_DIM, 32},
                               {GE_DIM, 32},     {GE_DIM, GE_DIM}, {GE_DIM, 1},
                               {GE_DIM, GE_FFN}, {GE_DIM, GE_FFN}, {GE_FFN, GE_DIM}};
    for (int k = 0; k < 9; k++)
        T(layer_names[k], ltypes[k], lne[k][0], lne[k][1]);
    T("output_norm.weight", 0, GE_DIM, 1);
    if (!o->tied)
        T("output.weight", o->output_type, GE_DIM, GE_VOCAB);
#undef T
    lay->n_tensors = n;

    ge_raw(e, "GGUF", 4);
    ge_u32(e, o->version);
    lay->tensor_count_pos = e->len;
    ge_u64(e, n);
    lay->kv_count_pos = e->len;
    ge_u64(e, 0); /* patched below */
    uint64_t kvs = 0;
    lay->first_key_len_pos = e->len;
    ge_kv_str(e, "general.architecture", o->arch), kvs++;
    if (o->extra_kvs)
        kvs += extra_kvs(e, lay);
    if (o->alignment) {
        ge_kv_u32(e, "general.alignment", o->alignment), kvs++;
        lay->alignment_value_pos = e->len - 4;
    }
    ge_kv_str(e, "general.name", "emit test model"), kvs++;
    ge_kv_u32(e, "llama.context_length", 128), kvs++;
    ge_kv_u32(e, "llama.embedding_length", GE_DIM), kvs++;
    ge_kv_u32(e, "llama.block_count", 1), kvs++;
    ge_kv_u32(e, "llama.feed_forward_length", GE_FFN), kvs++;
    ge_kv_u32(e, "llama.attention.head_count", 2), kvs++;
    ge_kv_u32(e, "llama.attention.head_count_kv", 1), kvs++;
    ge_kv_f32(e, "llama.rope.freq_base", 500000.0f), kvs++;
    ge_kv_f32(e, "llama.attention.layer_norm_rms_epsilon", 1e-6f), kvs++;
    ge_patch(e, lay->kv_count_pos, kvs, 8);

    const uint64_t align = o->alignment ? o->alignment : 32;
    uint64_t off = 0;
    for (size_t t = 0; t < n; t++) {
        lay->name_len_pos[t] = e->len;
        lay->name_pos[t] = e->len + 8;
        ge_str(e, lay->names[t]);
        lay->ndims_pos[t] = e->len;
        int nd = lay->ne[t][1] == 1 ? 1 : 2;
        ge_u32(e, (uint32_t)nd);
        for (int d = 0; d < nd; d++)
            ge_u64(e, (uint64_t)lay->ne[t][d]);
        lay->type_pos[t] = e->len;
        ge_u32(e, lay->types[t]);
        lay->offset_pos[t] = e->len;
        ge_u64(e, off);
        lay->offset[t] = off;
        lay->size[t] = tensor_bytes(lay->types[t], lay->ne[t][0], lay->ne[t][1]);
        off += (lay->size[t] + align - 1) / align * align;
    }
    ge_pad(e, align);
    lay->data_start = e->len;
    for (size_t t = 0; t < n; t++) {
        while (e->len - lay->data_start < lay->offset[t])
            ge_u8(e, 0);
        for (uint64_t k = 0; k < lay->size[t]; k++)
            ge_u8(e, ge_data_byte(t, k));
    }
}
