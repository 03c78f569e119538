/*
 * Test-only GGUF emitter, written independently of graph/model's writer:
 * builds GGUF bytes field by field in memory so tests can make files the
 * writer never would (every value type, nested arrays, foreign tensor types,
 * corrupted fields at known positions).
 */
#ifndef GGUF_EMIT_H
#define GGUF_EMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct gguf_emit {
    uint8_t *buf;
    size_t len, cap;
} gguf_emit;

void ge_init(gguf_emit *e);
void ge_free(gguf_emit *e);
void ge_raw(gguf_emit *e, const void *p, size_t n);
void ge_u8(gguf_emit *e, uint8_t v);
void ge_u16(gguf_emit *e, uint16_t v);
void ge_u32(gguf_emit *e, uint32_t v);
void ge_u64(gguf_emit *e, uint64_t v);
void ge_f32(gguf_emit *e, float v);
void ge_f64(gguf_emit *e, double v);
void ge_str(gguf_emit *e, const char *s);
void ge_pad(gguf_emit *e, size_t align);
void ge_kv_u32(gguf_emit *e, const char *key, uint32_t v);
void ge_kv_f32(gguf_emit *e, const char *key, float v);
void ge_kv_str(gguf_emit *e, const char *key, const char *v);
/* Patches a little-endian value of n bytes at pos. */
void ge_patch(gguf_emit *e, size_t pos, uint64_t v, int n);
/* Writes buf[0..len) to path; 0 on success. */
int ge_write_file(const gguf_emit *e, size_t len, const char *path);

/* The small llama model the read tests use: dim 64, 1 layer, 2 heads,
 * 1 KV head, FFN 96, vocab 40, context 128. Matrices mix f32, f16, q8_0
 * and q4_0; data bytes are (tensor * 31 + byte * 7) & 255. */
#define GE_DIM 64
#define GE_FFN 96
#define GE_VOCAB 40
#define GE_MAX_TENSORS 16

typedef struct ge_opts {
    uint32_t version;     /* 3 */
    const char *arch;     /* "llama" */
    uint32_t alignment;   /* 0: omit the key (default 32) */
    int extra_kvs;        /* every value type, nested arrays, 32000 strings */
    int tied;             /* omit output.weight */
    uint32_t output_type; /* ggml type id of output.weight */
} ge_opts;

typedef struct ge_layout {
    size_t tensor_count_pos, kv_count_pos, first_key_len_pos, alignment_value_pos;
    size_t tokens_count_pos; /* count of the 32000-string array (extra_kvs) */
    size_t nested_count_pos; /* count of the outer nested array (extra_kvs) */
    size_t n_tensors;
    const char *names[GE_MAX_TENSORS];
    uint32_t types[GE_MAX_TENSORS];
    int64_t ne[GE_MAX_TENSORS][2];
    size_t name_len_pos[GE_MAX_TENSORS], name_pos[GE_MAX_TENSORS];
    size_t ndims_pos[GE_MAX_TENSORS], type_pos[GE_MAX_TENSORS], offset_pos[GE_MAX_TENSORS];
    uint64_t offset[GE_MAX_TENSORS], size[GE_MAX_TENSORS];
    size_t data_start;
} ge_layout;

void ge_default_opts(ge_opts *o);
/* Emits the whole model file into e (which must be empty). */
void ge_build_model(gguf_emit *e, const ge_opts *o, ge_layout *lay);
/* Data byte k of tensor t, as ge_build_model writes it. */
uint8_t ge_data_byte(size_t t, uint64_t k);

#endif
