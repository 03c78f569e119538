/*
 * The context: the allocator, the log, the loaded backends and the list of
 * plugins that were skipped. Used by one thread at a time.
 */
#include <stddef.h>
#include <string.h>

#include "internal.h"

/* Fields up to and including flags must be present. */
#define OPTIONS_MIN_SIZE (offsetof(ehal_context_options, flags) + sizeof(uint32_t))

static void context_free(ehal_context *ctx) {
    for (uint32_t i = ctx->n_backends; i-- > 0;)
        ehal_i_backend_unload(ctx->backends[i]);
    ehal_i_free(ctx, ctx->backends);
    for (uint32_t i = 0; i < ctx->n_skipped; i++) {
        ehal_i_free(ctx, ctx->skipped[i].path);
        ehal_i_free(ctx, ctx->skipped[i].reason);
    }
    ehal_i_free(ctx, ctx->skipped);
    if (ctx->live_allocs != 1)
        ehal_i_log(ctx, EHAL_LOG_WARN,
                   "%zu host allocations still live when the context was destroyed "
                   "(a plugin or the core leaked them)",
                   ctx->live_allocs - 1);
    ehal_context tmp = *ctx; /* the allocator outlives the context object */
    ehal_i_free(&tmp, ctx);
}

EHAL_API ehal_status_t ehal_context_create(const ehal_context_options *opts, ehal_context **out) {
    ehal_context_options o;
    memset(&o, 0, sizeof o);
    o.log_level = -1;
    if (out)
        *out = NULL;
    if (opts) {
        size_t n = opts->struct_size < sizeof o ? opts->struct_size : sizeof o;
        if (opts->struct_size < OPTIONS_MIN_SIZE) {
            ehal_i_log(NULL, EHAL_LOG_ERROR,
                       "context options struct_size %u is smaller than the %zu-byte minimum",
                       (unsigned)opts->struct_size, (size_t)OPTIONS_MIN_SIZE);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
        memcpy(&o, opts, n);
        if (n < offsetof(ehal_context_options, log_level) + sizeof o.log_level)
            o.log_level = -1;
    }

    /* A temporary holds the allocator and log until the context exists. */
    ehal_context tmp;
    memset(&tmp, 0, sizeof tmp);
    ehal_i_allocator_init(&tmp, o.allocator);
    tmp.flags = o.flags;
    tmp.log = o.log;
    tmp.log_user = o.log_user;
    if (o.log_level >= 0)
        tmp.log_level = o.log_level > EHAL_LOG_DEBUG ? EHAL_LOG_DEBUG : o.log_level;
    else
        tmp.log_level =
            (o.flags & EHAL_CONTEXT_NO_ENV) ? EHAL_LOG_WARN : ehal_i_log_level_from_env();

    if (!out) {
        ehal_i_log(&tmp, EHAL_LOG_ERROR, "ehal_context_create: out is NULL");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_context *ctx = ehal_i_alloc(&tmp, sizeof *ctx, 0);
    if (!ctx) {
        ehal_i_log(&tmp, EHAL_LOG_ERROR, "cannot create context: out of memory");
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    *ctx = tmp;
    ehal_status_t s = ehal_i_load_all(ctx, &o);
    if (s != EHAL_STATUS_OK) {
        ehal_i_log(ctx, EHAL_LOG_ERROR, "cannot create context: %s while loading backends",
                   ehal_status_string(s));
        context_free(ctx);
        return s;
    }
    ehal_i_log(ctx, EHAL_LOG_INFO, "context: %u backend(s) loaded, %u plugin(s) skipped",
               (unsigned)ctx->n_backends, (unsigned)ctx->n_skipped);
    *out = ctx;
    return EHAL_STATUS_OK;
}

EHAL_API void ehal_context_destroy(ehal_context *ctx) {
    if (ctx)
        context_free(ctx);
}

EHAL_API uint32_t ehal_backend_count(const ehal_context *ctx) {
    return ctx ? ctx->n_backends : 0;
}

EHAL_API ehal_backend *ehal_backend_get(const ehal_context *ctx, uint32_t index) {
    return ctx && index < ctx->n_backends ? ctx->backends[index] : NULL;
}

EHAL_API ehal_backend *ehal_backend_find(const ehal_context *ctx, const char *name) {
    if (!ctx || !name)
        return NULL;
    for (uint32_t i = 0; i < ctx->n_backends; i++)
        if (strcmp(ctx->backends[i]->name, name) == 0)
            return ctx->backends[i];
    return NULL;
}

EHAL_API uint32_t ehal_skipped_count(const ehal_context *ctx) {
    return ctx ? ctx->n_skipped : 0;
}

EHAL_API const char *ehal_skipped_path(const ehal_context *ctx, uint32_t index) {
    return ctx && index < ctx->n_skipped ? ctx->skipped[index].path : NULL;
}

EHAL_API const char *ehal_skipped_reason(const ehal_context *ctx, uint32_t index) {
    return ctx && index < ctx->n_skipped ? ctx->skipped[index].reason : NULL;
}
