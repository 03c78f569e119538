/*
 * A bounds-checked little-endian reader over a byte range (the mapped
 * GGUF file). Every read checks the remaining length first; on failure it
 * writes "<ctx>: <field>: ..." into the cursor's error buffer and returns -1,
 * and the cursor stays where it was. Nothing here reads past base + size.
 */
#ifndef EHAL_GGUF_CURSOR_H
#define EHAL_GGUF_CURSOR_H

#include <stddef.h>
#include <stdint.h>

typedef struct gguf_cursor {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;
    char ctx[160]; /* what is being read, e.g. "kv 3 'general.name'" */
    char *err;
    size_t err_size;
} gguf_cursor;

void gguf_cursor_init(gguf_cursor *c, const void *base, uint64_t size, char *err, size_t err_size);
/* Sets the context prefix of later messages (printf-style). */
void gguf_cursor_ctx(gguf_cursor *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Writes "<ctx>: <message>" into the error buffer; returns -1. */
int gguf_cursor_fail(gguf_cursor *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Copies at most out_size - 1 bytes of s[0..n) into out for a message,
 * replacing bytes outside printable ASCII with '?'; returns out. */
const char *gguf_printable(const char *s, uint64_t n, char *out, size_t out_size);

uint64_t gguf_cursor_remaining(const gguf_cursor *c);
int gguf_read_u8(gguf_cursor *c, const char *field, uint8_t *v);
int gguf_read_u16(gguf_cursor *c, const char *field, uint16_t *v);
int gguf_read_u32(gguf_cursor *c, const char *field, uint32_t *v);
int gguf_read_u64(gguf_cursor *c, const char *field, uint64_t *v);
/* Returns a pointer to the next n bytes and advances past them. */
int gguf_read_bytes(gguf_cursor *c, const char *field, uint64_t n, const uint8_t **p);
/* A GGUF string: uint64 length, then that many bytes (not NUL-terminated). */
int gguf_read_string(gguf_cursor *c, const char *field, const char **s, uint64_t *len);

#endif
