/* Bounds-checked little-endian reads; see gguf_cursor.h. */
#include "gguf_cursor.h"

#include <stdarg.h>
#include <stdio.h>

void gguf_cursor_init(gguf_cursor *c, const void *base, uint64_t size, char *err, size_t err_size) {
    c->base = base;
    c->size = size;
    c->pos = 0;
    c->ctx[0] = '\0';
    c->err = err;
    c->err_size = err_size;
}

void gguf_cursor_ctx(gguf_cursor *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->ctx, sizeof c->ctx, fmt, ap);
    va_end(ap);
}

int gguf_cursor_fail(gguf_cursor *c, const char *fmt, ...) {
    if (!c->err || c->err_size == 0)
        return -1;
    int k = c->ctx[0] ? snprintf(c->err, c->err_size, "%s: ", c->ctx) : 0;
    if (k < 0 || (size_t)k >= c->err_size)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + k, c->err_size - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

const char *gguf_printable(const char *s, uint64_t n, char *out, size_t out_size) {
    size_t k = 0;
    for (; k < n && k + 1 < out_size; k++)
        out[k] = s[k] >= 32 && s[k] < 127 ? s[k] : '?';
    if (out_size)
        out[k] = '\0';
    return out;
}

uint64_t gguf_cursor_remaining(const gguf_cursor *c) {
    return c->size - c->pos; /* pos <= size always holds */
}

static int need(gguf_cursor *c, const char *field, uint64_t n) {
    if (n <= gguf_cursor_remaining(c))
        return 0;
    return gguf_cursor_fail(c, "%s: needs %llu bytes at offset %llu, file size is %llu", field,
                            (unsigned long long)n, (unsigned long long)c->pos,
                            (unsigned long long)c->size);
}

static uint64_t le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

int gguf_read_u8(gguf_cursor *c, const char *field, uint8_t *v) {
    if (need(c, field, 1))
        return -1;
    *v = c->base[c->pos++];
    return 0;
}

int gguf_read_u16(gguf_cursor *c, const char *field, uint16_t *v) {
    if (need(c, field, 2))
        return -1;
    *v = (uint16_t)le(c->base + c->pos, 2);
    c->pos += 2;
    return 0;
}

int gguf_read_u32(gguf_cursor *c, const char *field, uint32_t *v) {
    if (need(c, field, 4))
        return -1;
    *v = (uint32_t)le(c->base + c->pos, 4);
    c->pos += 4;
    return 0;
}

int gguf_read_u64(gguf_cursor *c, const char *field, uint64_t *v) {
    if (need(c, field, 8))
        return -1;
    *v = le(c->base + c->pos, 8);
    c->pos += 8;
    return 0;
}

int gguf_read_bytes(gguf_cursor *c, const char *field, uint64_t n, const uint8_t **p) {
    if (need(c, field, n))
        return -1;
    *p = c->base + c->pos;
    c->pos += n;
    return 0;
}

int gguf_read_string(gguf_cursor *c, const char *field, const char **s, uint64_t *len) {
    uint64_t save = c->pos, n;
    if (gguf_read_u64(c, field, &n))
        return -1;
    if (n > gguf_cursor_remaining(c)) {
        gguf_cursor_fail(c,
                         "%s: string length %llu at offset %llu runs past the end of the "
                         "file (size %llu)",
                         field, (unsigned long long)n, (unsigned long long)save,
                         (unsigned long long)c->size);
        c->pos = save;
        return -1;
    }
    *s = (const char *)(c->base + c->pos);
    *len = n;
    c->pos += n;
    return 0;
}
