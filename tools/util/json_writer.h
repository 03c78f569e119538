/*
 * A streaming JSON writer: values go straight to a FILE or a callback, with
 * no document held in memory. Used by `edgehal info --json` and the reports
 * of conformance, run and bench.
 *
 * Output is always valid JSON (RFC 8259) as long as the calls nest properly:
 *  - strings are escaped ("\\", "\"", control characters as \n, \t, ... or
 *    \u00XX) and bytes that are not valid UTF-8 are written as \ufffd, so a
 *    plugin path or a driver message can never break the document;
 *  - NaN and +/-Inf have no JSON form: by default they are written as null;
 *    with EHAL_JSON_NONFINITE_STRINGS as the strings "NaN", "Infinity" and
 *    "-Infinity" (what Python's json module reads back as floats);
 *  - doubles are written with the fewest digits (up to 17) that read back
 *    to the same value.
 * A misuse (a value where a key is required, a key outside an object, an end
 * that does not match, nesting deeper than EHAL_JSON_MAX_DEPTH) latches an
 * error: nothing more is written and ehal_json_finish() returns -1. So does a
 * failed write.
 *
 * Thread-safety: a writer is used by one thread at a time.
 */
#ifndef EHAL_JSON_WRITER_H
#define EHAL_JSON_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EHAL_JSON_MAX_DEPTH 32

#define EHAL_JSON_PRETTY 1u            /* newlines and 2-space indentation */
#define EHAL_JSON_NONFINITE_STRINGS 2u /* NaN/Inf as strings, not null */

/* Receives n bytes of output; returns 0 on success, non-zero to fail the
 * writer. */
typedef int (*ehal_json_sink)(void *user, const char *data, size_t n);

typedef struct ehal_json_writer {
    ehal_json_sink sink;
    void *user;
    uint32_t flags;
    int error;                           /* latched: 1 after a misuse or a failed write */
    int depth;                           /* open containers */
    int after_key;                       /* a key was written; its value comes next */
    int done;                            /* the top-level value is complete */
    char stack[EHAL_JSON_MAX_DEPTH];     /* '{' or '[' per open level */
    uint32_t count[EHAL_JSON_MAX_DEPTH]; /* members written per level */
} ehal_json_writer;

/* Writes to `out` (not closed by the writer). */
void ehal_json_init_file(ehal_json_writer *w, FILE *out, uint32_t flags);
void ehal_json_init_sink(ehal_json_writer *w, ehal_json_sink sink, void *user, uint32_t flags);

void ehal_json_begin_object(ehal_json_writer *w);
void ehal_json_end_object(ehal_json_writer *w);
void ehal_json_begin_array(ehal_json_writer *w);
void ehal_json_end_array(ehal_json_writer *w);

/* The member name inside an object; the next call writes its value. */
void ehal_json_key(ehal_json_writer *w, const char *key);

/* s NULL writes null. */
void ehal_json_string(ehal_json_writer *w, const char *s);
void ehal_json_string_n(ehal_json_writer *w, const char *s, size_t len);
void ehal_json_int(ehal_json_writer *w, int64_t v);
void ehal_json_uint(ehal_json_writer *w, uint64_t v);
void ehal_json_double(ehal_json_writer *w, double v); /* NaN/Inf: see above */
void ehal_json_bool(ehal_json_writer *w, int v);
void ehal_json_null(ehal_json_writer *w);

/* key + value in one call. */
void ehal_json_kv_string(ehal_json_writer *w, const char *key, const char *s);
void ehal_json_kv_int(ehal_json_writer *w, const char *key, int64_t v);
void ehal_json_kv_uint(ehal_json_writer *w, const char *key, uint64_t v);
void ehal_json_kv_double(ehal_json_writer *w, const char *key, double v);
void ehal_json_kv_bool(ehal_json_writer *w, const char *key, int v);

/* Ends the document (a newline when pretty). Returns 0 if exactly one
 * complete top-level value was written without error, else -1. */
int ehal_json_finish(ehal_json_writer *w);

#ifdef __cplusplus
}
#endif
#endif /* EHAL_JSON_WRITER_H */
