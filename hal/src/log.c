/*
 * Logging and the context's last error. Messages go to the caller's log
 * function or to stderr prefixed "edgehal: ". The level comes from the
 * options or EHAL_LOG (error|warn|info|debug; default warn).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int32_t ehal_i_log_level_from_env(void) {
    static const char *const names[] = {"error", "warn", "info", "debug"};
    const char *v = getenv("EHAL_LOG");
    if (!v || !*v)
        return EHAL_LOG_WARN;
    for (int32_t i = 0; i < 4; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    if (v[0] >= '0' && v[0] <= '3' && v[1] == '\0')
        return v[0] - '0';
    fprintf(stderr, "edgehal: EHAL_LOG=%s is not one of error|warn|info|debug; using warn\n", v);
    return EHAL_LOG_WARN;
}

void ehal_i_vlog(const ehal_context *ctx, int32_t level, const char *fmt, va_list ap) {
    if (ctx && level > ctx->log_level)
        return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (ctx && ctx->log)
        ctx->log(ctx->log_user, level, msg);
    else
        fprintf(stderr, "edgehal: %s\n", msg);
}

void ehal_i_log(const ehal_context *ctx, int32_t level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ehal_i_vlog(ctx, level, fmt, ap);
    va_end(ap);
}

ehal_status_t ehal_i_fail(ehal_context *ctx, ehal_status_t status, const char *fmt, ...) {
    if (!ctx)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->last_error, sizeof ctx->last_error, fmt, ap);
    va_end(ap);
    ehal_i_log(ctx, EHAL_LOG_DEBUG, "%s", ctx->last_error);
    return status;
}

ehal_status_t ehal_i_plugin_fail(ehal_backend *be, ehal_status_t status, const char *what) {
    char perr[EHAL_ERROR_MAX];
    ehal_i_plugin_error_copy(be, perr, sizeof perr);
    if (perr[0])
        return ehal_i_fail(be->ctx, status, "%s: %s failed: %s: %s", be->name, what,
                           ehal_status_string(status), perr);
    return ehal_i_fail(be->ctx, status, "%s: %s failed: %s", be->name, what,
                       ehal_status_string(status));
}

EHAL_API const char *ehal_last_error(const ehal_context *ctx) {
    return ctx ? ctx->last_error : "no context";
}
