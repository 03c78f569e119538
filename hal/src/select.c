/*
 * Backend selection (EHAL_BACKENDS or ehal_context_options.backends):
 * comma-separated names; a plain name selects, "-name" excludes. With at
 * least one plain name only the named backends load; exclusions always
 * apply. Unknown names are not an error (the backend may be absent on this
 * device). Whitespace around names is ignored.
 */
#include <string.h>

#include "internal.h"

static int token_is(const char *tok, size_t len, const char *name) {
    while (len && (*tok == ' ' || *tok == '\t'))
        tok++, len--;
    while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
        len--;
    return len == strlen(name) && strncmp(tok, name, len) == 0;
}

int ehal_i_backend_selected(const char *spec, const char *name) {
    if (!spec || !*spec)
        return 1;
    int any_plain = 0, plain_hit = 0;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *tok = p;
        size_t tlen = len;
        while (tlen && (*tok == ' ' || *tok == '\t'))
            tok++, tlen--;
        if (tlen && tok[0] == '-') {
            if (token_is(tok + 1, tlen - 1, name))
                return 0;
        } else if (tlen) {
            any_plain = 1;
            if (token_is(tok, tlen, name))
                plain_hit = 1;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return any_plain ? plain_hit : 1;
}
