/* Expected-failure lists: one case id or glob per line; '#' starts a
 * comment; blank lines are ignored. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int conf_xfail_load(const char *path, conf_xfail *x, char *msg, size_t msg_size) {
    memset(x, 0, sizeof *x);
    FILE *f = fopen(path, "r");
    if (!f) {
        conf_set_msg(msg, msg_size, "cannot open xfail list %s: %s", path, strerror(errno));
        return -1;
    }
    char line[512];
    uint32_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        char *h = strchr(line, '#');
        if (h)
            *h = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t n = strlen(s);
        while (n > 0 &&
               (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
            s[--n] = '\0';
        if (n == 0)
            continue;
        if (x->n == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(x->pat, cap * sizeof *p);
            if (!p)
                goto oom;
            x->pat = p;
        }
        x->pat[x->n] = malloc(n + 1);
        if (!x->pat[x->n])
            goto oom;
        memcpy(x->pat[x->n++], s, n + 1);
    }
    fclose(f);
    return 0;
oom:
    fclose(f);
    conf_xfail_free(x);
    conf_set_msg(msg, msg_size, "out of memory reading xfail list %s", path);
    return -1;
}

int conf_xfail_match(const conf_xfail *x, const char *id) {
    for (uint32_t i = 0; i < x->n; i++)
        if (ehal_conf_glob_match(x->pat[i], id))
            return 1;
    return 0;
}

void conf_xfail_free(conf_xfail *x) {
    for (uint32_t i = 0; i < x->n; i++)
        free(x->pat[i]);
    free(x->pat);
    memset(x, 0, sizeof *x);
}
