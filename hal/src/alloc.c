/*
 * Host allocation. Every allocation the core makes, and every one a plugin
 * makes through host services, goes through the context's allocator and is
 * counted, so that a test can fail the N-th one and check nothing leaks.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void *default_alloc(void *user, size_t size, size_t align) {
    (void)user;
    if (align <= alignof(max_align_t))
        return malloc(size ? size : 1);
    void *p = NULL;
    if (posix_memalign(&p, align, size ? size : 1) != 0)
        return NULL;
    return p;
}

static void default_free(void *user, void *ptr) {
    (void)user;
    free(ptr);
}

void ehal_i_allocator_init(ehal_context *ctx, const ehal_allocator *a) {
    if (a && a->alloc && a->free) {
        ctx->allocator = *a;
    } else {
        ctx->allocator.user = NULL;
        ctx->allocator.alloc = default_alloc;
        ctx->allocator.free = default_free;
    }
    ctx->live_allocs = 0;
}

void *ehal_i_alloc(ehal_context *ctx, size_t size, size_t align) {
    if (align == 0)
        align = 16;
    if (align & (align - 1))
        return NULL;
    void *p = ctx->allocator.alloc(ctx->allocator.user, size ? size : 1, align);
    if (p)
        ctx->live_allocs++;
    return p;
}

void *ehal_i_calloc(ehal_context *ctx, size_t n, size_t size) {
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = ehal_i_alloc(ctx, n * size, 0);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void ehal_i_free(ehal_context *ctx, void *ptr) {
    if (!ptr)
        return;
    ctx->allocator.free(ctx->allocator.user, ptr);
    ctx->live_allocs--;
}

char *ehal_i_strdup(ehal_context *ctx, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = ehal_i_alloc(ctx, n, 1);
    if (d)
        memcpy(d, s, n);
    return d;
}

ehal_status_t ehal_i_grow(ehal_context *ctx, void **arr, uint32_t *cap, uint32_t need,
                          size_t elem) {
    if (need <= *cap)
        return EHAL_STATUS_OK;
    uint32_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    void *n = ehal_i_calloc(ctx, ncap, elem);
    if (!n)
        return EHAL_STATUS_OUT_OF_MEMORY;
    if (*arr)
        memcpy(n, *arr, (size_t)*cap * elem);
    ehal_i_free(ctx, *arr);
    *arr = n;
    *cap = ncap;
    return EHAL_STATUS_OK;
}
