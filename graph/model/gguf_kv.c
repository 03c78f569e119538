/* GGUF metadata walking; see gguf_kv.h. */
#include "gguf_kv.h"

#include <math.h>
#include <string.h>

#include "model_internal.h"

#include "edgehal/model_tools.h"

const char *const gguf_key_names[KV_COUNT_] = {
    [KV_ARCH] = "general.architecture",
    [KV_NAME] = "general.name",
    [KV_ALIGNMENT] = "general.alignment",
    [KV_FILE_TYPE] = "general.file_type",
    [KV_DIM] = "llama.embedding_length",
    [KV_LAYERS] = "llama.block_count",
    [KV_HEADS] = "llama.attention.head_count",
    [KV_KV_HEADS] = "llama.attention.head_count_kv",
    [KV_FFN] = "llama.feed_forward_length",
    [KV_CONTEXT] = "llama.context_length",
    [KV_ROPE_BASE] = "llama.rope.freq_base",
    [KV_RMS_EPS] = "llama.attention.layer_norm_rms_epsilon",
    [KV_VOCAB] = "llama.vocab_size",
    [KV_ROPE_DIM] = "llama.rope.dimension_count",
    [KV_EXPERTS] = "llama.expert_count",
};

/* Bytes of a fixed-size value type; 0 for string and array. */
static uint64_t fixed_size(uint32_t t) {
    switch (t) {
    case EHAL_GGUF_UINT8:
    case EHAL_GGUF_INT8:
    case EHAL_GGUF_BOOL: return 1;
    case EHAL_GGUF_UINT16:
    case EHAL_GGUF_INT16: return 2;
    case EHAL_GGUF_UINT32:
    case EHAL_GGUF_INT32:
    case EHAL_GGUF_FLOAT32: return 4;
    case EHAL_GGUF_UINT64:
    case EHAL_GGUF_INT64:
    case EHAL_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* The fewest bytes one element of this type can take in a file. */
static uint64_t min_size(uint32_t t) {
    if (t == EHAL_GGUF_STRING)
        return 8;
    if (t == EHAL_GGUF_ARRAY)
        return 12;
    return fixed_size(t);
}

static int check_type(gguf_cursor *c, const char *field, uint32_t t) {
    if (t < EHAL_GGUF_VALUE_TYPE_COUNT)
        return 0;
    return gguf_cursor_fail(c, "%s %u is unknown (0..12)", field, t);
}

static int skip_value(gguf_cursor *c, uint32_t t, int depth) {
    const uint8_t *p;
    if (t == EHAL_GGUF_STRING) {
        const char *s;
        uint64_t n;
        return gguf_read_string(c, "string value", &s, &n);
    }
    if (t != EHAL_GGUF_ARRAY)
        return gguf_read_bytes(c, "value", fixed_size(t), &p);
    uint32_t et;
    uint64_t count;
    if (gguf_read_u32(c, "array element type", &et) || check_type(c, "array element type", et) ||
        gguf_read_u64(c, "array count", &count))
        return -1;
    if (count > gguf_cursor_remaining(c) / min_size(et))
        return gguf_cursor_fail(c, "array count %llu of %s cannot fit in the remaining %llu bytes",
                                (unsigned long long)count, ehal_gguf_value_type_name(et),
                                (unsigned long long)gguf_cursor_remaining(c));
    if (et == EHAL_GGUF_ARRAY && depth + 1 >= GGUF_MAX_ARRAY_DEPTH)
        return gguf_cursor_fail(c, "arrays nested deeper than %d levels", GGUF_MAX_ARRAY_DEPTH);
    if (fixed_size(et))
        return gguf_read_bytes(c, "array data", count * fixed_size(et), &p);
    for (uint64_t k = 0; k < count; k++) {
        if (skip_value(c, et, depth + 1)) {
            /* Name the element: append it to the message already written. */
            if (c->err && c->err_size) {
                size_t len = strlen(c->err);
                ehal_model_errf(c->err + len, c->err_size - len, " (array element %llu)",
                                (unsigned long long)k);
            }
            return -1;
        }
    }
    return 0;
}

static int read_scalar(gguf_cursor *c, uint32_t t, gguf_kv_value *v) {
    uint8_t b;
    uint16_t h;
    uint32_t w;
    uint64_t q;
    v->type = t;
    switch (t) {
    case EHAL_GGUF_UINT8:
    case EHAL_GGUF_BOOL:
        if (gguf_read_u8(c, "value", &b))
            return -1;
        v->u = b, v->i = b;
        return 0;
    case EHAL_GGUF_INT8:
        if (gguf_read_u8(c, "value", &b))
            return -1;
        v->i = (int8_t)b;
        return 0;
    case EHAL_GGUF_UINT16:
        if (gguf_read_u16(c, "value", &h))
            return -1;
        v->u = h, v->i = h;
        return 0;
    case EHAL_GGUF_INT16:
        if (gguf_read_u16(c, "value", &h))
            return -1;
        v->i = (int16_t)h;
        return 0;
    case EHAL_GGUF_UINT32:
        if (gguf_read_u32(c, "value", &w))
            return -1;
        v->u = w, v->i = w;
        return 0;
    case EHAL_GGUF_INT32:
        if (gguf_read_u32(c, "value", &w))
            return -1;
        v->i = (int32_t)w;
        return 0;
    case EHAL_GGUF_FLOAT32: {
        if (gguf_read_u32(c, "value", &w))
            return -1;
        float f;
        memcpy(&f, &w, sizeof f);
        v->f = f;
        return 0;
    }
    case EHAL_GGUF_UINT64:
        if (gguf_read_u64(c, "value", &q))
            return -1;
        v->u = q;
        v->i = q > INT64_MAX ? -1 : (int64_t)q; /* -1 marks "too big" */
        return 0;
    case EHAL_GGUF_INT64:
        if (gguf_read_u64(c, "value", &q))
            return -1;
        memcpy(&v->i, &q, sizeof q);
        return 0;
    case EHAL_GGUF_FLOAT64:
        if (gguf_read_u64(c, "value", &q))
            return -1;
        memcpy(&v->f, &q, sizeof q);
        return 0;
    case EHAL_GGUF_STRING: return gguf_read_string(c, "value", &v->s, &v->slen);
    default: return skip_value(c, t, 0); /* arrays: kept as "present, type array" */
    }
}

static uint64_t key_hash(const char *s, uint64_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint64_t k = 0; k < n; k++)
        h = (h ^ (uint8_t)s[k]) * 0x100000001b3ull;
    return h;
}

int gguf_parse_kvs(gguf_cursor *c, uint64_t kv_count, gguf_kvs *out) {
    memset(out, 0, sizeof *out);
    /* Each pair takes at least 13 bytes (key length, type, one byte). */
    if (kv_count > gguf_cursor_remaining(c) / 13)
        return gguf_cursor_fail(c, "kv_count %llu cannot fit in the remaining %llu bytes",
                                (unsigned long long)kv_count,
                                (unsigned long long)gguf_cursor_remaining(c));
    uint64_t slots = 16;
    while (slots <= 2 * kv_count)
        slots *= 2;
    /* Key offsets + 1 in the file (0 = empty), to find duplicate keys. */
    uint64_t *seen = ehal_model_calloc((size_t)slots, sizeof *seen);
    if (!seen)
        return -2;
    int rc = 0;
    for (uint64_t k = 0; k < kv_count && rc == 0; k++) {
        const char *key;
        uint64_t klen;
        uint32_t t;
        gguf_cursor_ctx(c, "kv %llu", (unsigned long long)k);
        uint64_t key_pos = c->pos + 8;
        if (gguf_read_string(c, "key", &key, &klen)) {
            rc = -1;
            break;
        }
        char kp[104];
        gguf_cursor_ctx(c, "kv %llu '%s'", (unsigned long long)k,
                        gguf_printable(key, klen, kp, sizeof kp));
        uint64_t s = key_hash(key, klen) & (slots - 1);
        while (seen[s]) {
            /* seen[s] - 1 is a key already read: its 8-byte length precedes it. */
            const uint8_t *other = c->base + (seen[s] - 1);
            uint64_t olen = 0;
            for (int b = 7; b >= 0; b--)
                olen = (olen << 8) | other[b - 8];
            if (olen == klen && memcmp(other, key, klen) == 0) {
                rc = gguf_cursor_fail(c, "duplicate key");
                break;
            }
            s = (s + 1) & (slots - 1);
        }
        if (rc)
            break;
        seen[s] = key_pos + 1;
        if (gguf_read_u32(c, "value type", &t) || check_type(c, "value type", t)) {
            rc = -1;
            break;
        }
        int which = -1;
        for (int w = 0; w < KV_COUNT_; w++)
            if (strlen(gguf_key_names[w]) == klen && memcmp(gguf_key_names[w], key, klen) == 0)
                which = w;
        if (which >= 0) {
            out->v[which].present = 1;
            rc = read_scalar(c, t, &out->v[which]);
        } else {
            rc = skip_value(c, t, 0);
        }
    }
    ehal_model_mfree(seen);
    c->ctx[0] = '\0';
    return rc;
}

static int is_int_type(uint32_t t) {
    return t <= EHAL_GGUF_INT32 || t == EHAL_GGUF_UINT64 || t == EHAL_GGUF_INT64;
}

static int is_signed(uint32_t t) {
    return t == EHAL_GGUF_INT8 || t == EHAL_GGUF_INT16 || t == EHAL_GGUF_INT32 ||
           t == EHAL_GGUF_INT64;
}

int gguf_kv_u32(const gguf_kvs *kv, enum gguf_key k, int required, uint32_t dflt, uint32_t *v,
                char *err, size_t err_size) {
    const gguf_kv_value *x = &kv->v[k];
    if (!x->present) {
        if (required) {
            ehal_model_errf(err, err_size, "%s: key missing", gguf_key_names[k]);
            return -1;
        }
        *v = dflt;
        return 0;
    }
    if (!is_int_type(x->type)) {
        ehal_model_errf(err, err_size, "%s: value type %s, expected an integer", gguf_key_names[k],
                        ehal_gguf_value_type_name(x->type));
        return -1;
    }
    if (is_signed(x->type) ? (x->i < 0 || x->i > (int64_t)UINT32_MAX) : x->u > UINT32_MAX) {
        if (is_signed(x->type))
            ehal_model_errf(err, err_size, "%s: value %lld out of range", gguf_key_names[k],
                            (long long)x->i);
        else
            ehal_model_errf(err, err_size, "%s: value %llu out of range", gguf_key_names[k],
                            (unsigned long long)x->u);
        return -1;
    }
    *v = is_signed(x->type) ? (uint32_t)x->i : (uint32_t)x->u;
    return 0;
}

int gguf_kv_f32(const gguf_kvs *kv, enum gguf_key k, float dflt, float *v, char *err,
                size_t err_size) {
    const gguf_kv_value *x = &kv->v[k];
    if (!x->present) {
        *v = dflt;
        return 0;
    }
    if (x->type != EHAL_GGUF_FLOAT32 && x->type != EHAL_GGUF_FLOAT64) {
        ehal_model_errf(err, err_size, "%s: value type %s, expected float32", gguf_key_names[k],
                        ehal_gguf_value_type_name(x->type));
        return -1;
    }
    if (!isfinite(x->f) || x->f <= 0.0 || x->f > 3.0e38) {
        ehal_model_errf(err, err_size, "%s: value %g out of range (must be > 0 and finite)",
                        gguf_key_names[k], x->f);
        return -1;
    }
    *v = (float)x->f;
    return 0;
}
