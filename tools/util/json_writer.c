/* Streaming JSON writer; the contract is in json_writer.h. */
#include "json_writer.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int file_sink(void *user, const char *data, size_t n) {
    return fwrite(data, 1, n, (FILE *)user) == n ? 0 : -1;
}

void ehal_json_init_sink(ehal_json_writer *w, ehal_json_sink sink, void *user, uint32_t flags) {
    memset(w, 0, sizeof(*w));
    w->sink = sink;
    w->user = user;
    w->flags = flags;
    if (!sink)
        w->error = 1;
}

void ehal_json_init_file(ehal_json_writer *w, FILE *out, uint32_t flags) {
    ehal_json_init_sink(w, out ? file_sink : NULL, out, flags);
}

static void put(ehal_json_writer *w, const char *data, size_t n) {
    if (w->error || n == 0)
        return;
    if (w->sink(w->user, data, n) != 0)
        w->error = 1;
}

static void puts_(ehal_json_writer *w, const char *s) {
    put(w, s, strlen(s));
}

static void newline_indent(ehal_json_writer *w, int depth) {
    static const char spaces[] = "                                ";
    if (!(w->flags & EHAL_JSON_PRETTY))
        return;
    put(w, "\n", 1);
    for (int i = 0; i < depth; i++)
        put(w, spaces, 2);
}

/* Separator and indentation before a value; 0 if a value may go here. */
static int before_value(ehal_json_writer *w) {
    if (w->error)
        return -1;
    if (w->depth == 0) {
        if (w->done) {
            w->error = 1; /* a second top-level value */
            return -1;
        }
        return 0;
    }
    if (w->stack[w->depth - 1] == '{') {
        if (!w->after_key) {
            w->error = 1; /* an object member needs a key first */
            return -1;
        }
        w->after_key = 0;
        return 0;
    }
    if (w->count[w->depth - 1]++ > 0)
        put(w, ",", 1);
    newline_indent(w, w->depth);
    return w->error ? -1 : 0;
}

static void after_value(ehal_json_writer *w) {
    if (w->depth == 0)
        w->done = 1;
}

static void begin(ehal_json_writer *w, char open) {
    if (before_value(w) != 0)
        return;
    if (w->depth >= EHAL_JSON_MAX_DEPTH) {
        w->error = 1;
        return;
    }
    w->stack[w->depth] = open;
    w->count[w->depth] = 0;
    w->depth++;
    put(w, &open, 1);
}

static void end(ehal_json_writer *w, char open, char close) {
    if (w->error)
        return;
    if (w->depth == 0 || w->stack[w->depth - 1] != open || w->after_key) {
        w->error = 1;
        return;
    }
    w->depth--;
    if (w->count[w->depth] > 0)
        newline_indent(w, w->depth);
    put(w, &close, 1);
    after_value(w);
}

void ehal_json_begin_object(ehal_json_writer *w) {
    begin(w, '{');
}
void ehal_json_end_object(ehal_json_writer *w) {
    end(w, '{', '}');
}
void ehal_json_begin_array(ehal_json_writer *w) {
    begin(w, '[');
}
void ehal_json_end_array(ehal_json_writer *w) {
    end(w, '[', ']');
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t avail) {
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

static void write_string(ehal_json_writer *w, const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    size_t i = 0;
    put(w, "\"", 1);
    while (i < len) {
        unsigned char c = s[i];
        const char *esc = NULL;
        char buf[8];
        size_t n = utf8_len(s + i, len - i);
        if (n > 1 || (n == 1 && c >= 0x20 && c != '"' && c != '\\')) {
            i += n;
            continue;
        }
        put(w, str + run, i - run);
        switch (n == 0 ? 0x100 : c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case 0x100: esc = "\\ufffd"; break; /* not UTF-8 */
        default:
            snprintf(buf, sizeof(buf), "\\u%04x", (unsigned)c);
            esc = buf;
            break;
        }
        puts_(w, esc);
        i++;
        run = i;
    }
    put(w, str + run, len - run);
    put(w, "\"", 1);
}

void ehal_json_key(ehal_json_writer *w, const char *key) {
    if (w->error)
        return;
    if (w->depth == 0 || w->stack[w->depth - 1] != '{' || w->after_key || !key) {
        w->error = 1;
        return;
    }
    if (w->count[w->depth - 1]++ > 0)
        put(w, ",", 1);
    newline_indent(w, w->depth);
    write_string(w, key, strlen(key));
    puts_(w, (w->flags & EHAL_JSON_PRETTY) ? ": " : ":");
    w->after_key = 1;
}

void ehal_json_string_n(ehal_json_writer *w, const char *s, size_t len) {
    if (before_value(w) != 0)
        return;
    if (s)
        write_string(w, s, len);
    else
        puts_(w, "null");
    after_value(w);
}

void ehal_json_string(ehal_json_writer *w, const char *s) {
    ehal_json_string_n(w, s, s ? strlen(s) : 0);
}

static void raw_value(ehal_json_writer *w, const char *text) {
    if (before_value(w) != 0)
        return;
    puts_(w, text);
    after_value(w);
}

void ehal_json_int(ehal_json_writer *w, int64_t v) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    raw_value(w, buf);
}

void ehal_json_uint(ehal_json_writer *w, uint64_t v) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    raw_value(w, buf);
}

void ehal_json_double(ehal_json_writer *w, double v) {
    char buf[40];
    if (isnan(v) || isinf(v)) {
        if (!(w->flags & EHAL_JSON_NONFINITE_STRINGS)) {
            raw_value(w, "null");
            return;
        }
        if (before_value(w) != 0)
            return;
        puts_(w, isnan(v) ? "\"NaN\"" : (v > 0 ? "\"Infinity\"" : "\"-Infinity\""));
        after_value(w);
        return;
    }
    /* %.15g is exact for most values; 17 digits always round-trip. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    raw_value(w, buf);
}

void ehal_json_bool(ehal_json_writer *w, int v) {
    raw_value(w, v ? "true" : "false");
}
void ehal_json_null(ehal_json_writer *w) {
    raw_value(w, "null");
}

void ehal_json_kv_string(ehal_json_writer *w, const char *key, const char *s) {
    ehal_json_key(w, key);
    ehal_json_string(w, s);
}

void ehal_json_kv_int(ehal_json_writer *w, const char *key, int64_t v) {
    ehal_json_key(w, key);
    ehal_json_int(w, v);
}

void ehal_json_kv_uint(ehal_json_writer *w, const char *key, uint64_t v) {
    ehal_json_key(w, key);
    ehal_json_uint(w, v);
}

void ehal_json_kv_double(ehal_json_writer *w, const char *key, double v) {
    ehal_json_key(w, key);
    ehal_json_double(w, v);
}

void ehal_json_kv_bool(ehal_json_writer *w, const char *key, int v) {
    ehal_json_key(w, key);
    ehal_json_bool(w, v);
}

int ehal_json_finish(ehal_json_writer *w) {
    if (w->error || w->depth != 0 || !w->done)
        return -1;
    if (w->flags & EHAL_JSON_PRETTY)
        put(w, "\n", 1);
    return w->error ? -1 : 0;
}
