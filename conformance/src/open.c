/* Opening the backend under test: by name from the default search path, or
 * exactly one plugin given by path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_BOPTS 16

static int is_path(const char *s) {
    size_t n = strlen(s);
    return strchr(s, '/') != NULL || (n > 3 && strcmp(s + n - 3, ".so") == 0);
}

/* Plugin log messages are not printed: the suite provokes errors on
 * purpose (API checks), and failures carry ehal_last_error instead. */
static void quiet_log(void *user, int32_t level, const char *msg) {
    (void)user;
    (void)level;
    (void)msg;
}

int conf_open(const ehal_conf_options *o, conf_ctx *x, char *msg, size_t msg_size) {
    memset(x, 0, sizeof *x);
    const char *name = o->backend && *o->backend ? o->backend : "cpu";
    static char kv[MAX_BOPTS][2][96];
    static ehal_option bo[MAX_BOPTS];
    uint32_t n_bo = 0;
    if (o->backend_options) {
        const char *s = o->backend_options;
        while (*s && n_bo < MAX_BOPTS) {
            const char *e = strchr(s, ',');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            const char *eq = memchr(s, '=', len);
            if (!eq) {
                conf_set_msg(msg, msg_size, "backend option '%.*s' is not key=value", (int)len, s);
                return -1;
            }
            snprintf(kv[n_bo][0], sizeof kv[n_bo][0], "%.*s", (int)(eq - s), s);
            snprintf(kv[n_bo][1], sizeof kv[n_bo][1], "%.*s", (int)(len - (size_t)(eq - s) - 1),
                     eq + 1);
            bo[n_bo].key = kv[n_bo][0];
            bo[n_bo].value = kv[n_bo][1];
            n_bo++;
            s += len;
            if (*s == ',')
                s++;
        }
    }
    ehal_context_options co;
    memset(&co, 0, sizeof co);
    co.struct_size = sizeof co;
    co.log_level = EHAL_LOG_ERROR;
    co.log = quiet_log;
    co.backend_options = n_bo ? bo : NULL;
    co.n_backend_options = n_bo;
    int by_path = is_path(name);
    if (by_path) {
        co.flags = EHAL_CONTEXT_NO_DEFAULT_PATHS | EHAL_CONTEXT_NO_ENV;
        co.backend_path = name;
    } else {
        co.backends = name;
    }
    ehal_status_t st = ehal_context_create(&co, &x->ctx);
    if (st != EHAL_STATUS_OK) {
        conf_set_msg(msg, msg_size, "cannot create a context for backend %s: %s", name,
                     ehal_status_string(st));
        return -1;
    }
    x->be = by_path ? (ehal_backend_count(x->ctx) == 1 ? ehal_backend_get(x->ctx, 0) : NULL)
                    : ehal_backend_find(x->ctx, name);
    if (!x->be) {
        const char *why = "not found";
        if (ehal_skipped_count(x->ctx) > 0)
            why = ehal_skipped_reason(x->ctx, 0);
        else if (by_path && ehal_backend_count(x->ctx) > 1)
            why = "more than one backend loaded from that path";
        conf_set_msg(msg, msg_size, "backend %s could not be opened: %s", name, why);
        conf_close(x);
        return -1;
    }
    return 0;
}

void conf_close(conf_ctx *x) {
    if (x->ctx)
        ehal_context_destroy(x->ctx);
    memset(x, 0, sizeof *x);
}
