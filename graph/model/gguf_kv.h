/*
 * GGUF metadata: walks every key/value pair (any value type, arrays of
 * anything, nested to a fixed depth), keeps the few keys the llama model
 * uses and skips the rest, and reads those keys with type and range checks.
 */
#ifndef EHAL_GGUF_KV_H
#define EHAL_GGUF_KV_H

#include <stddef.h>
#include <stdint.h>

#include "gguf_cursor.h"

#define GGUF_MAX_ARRAY_DEPTH 8 /* nested arrays deeper than this are refused */

enum gguf_key {
    KV_ARCH,
    KV_NAME,
    KV_ALIGNMENT,
    KV_FILE_TYPE,
    KV_DIM,
    KV_LAYERS,
    KV_HEADS,
    KV_KV_HEADS,
    KV_FFN,
    KV_CONTEXT,
    KV_ROPE_BASE,
    KV_RMS_EPS,
    KV_VOCAB,
    KV_ROPE_DIM,
    KV_EXPERTS,
    KV_COUNT_
};

typedef struct gguf_kv_value {
    int present;
    uint32_t type; /* GGUF value type */
    uint64_t u;    /* unsigned integers and bool */
    int64_t i;     /* signed integers */
    double f;      /* float32 / float64 */
    const char *s; /* string bytes in the file, not NUL-terminated */
    uint64_t slen;
} gguf_kv_value;

typedef struct gguf_kvs {
    gguf_kv_value v[KV_COUNT_];
} gguf_kvs;

extern const char *const gguf_key_names[KV_COUNT_];

/* Reads kv_count pairs at the cursor into out. Returns 0, -1 on a format
 * error (message in the cursor's buffer) or -2 when out of memory. */
int gguf_parse_kvs(gguf_cursor *c, uint64_t kv_count, gguf_kvs *out);

/* Reads an integer key as uint32. Absent: *v = dflt, or an error when
 * required. Returns 0, or -1 with a message naming the key and value. */
int gguf_kv_u32(const gguf_kvs *kv, enum gguf_key k, int required, uint32_t dflt, uint32_t *v,
                char *err, size_t err_size);
/* Reads a float32/float64 key. */
int gguf_kv_f32(const gguf_kvs *kv, enum gguf_key k, float dflt, float *v, char *err,
                size_t err_size);

#endif
