/* Session resources: weights uploaded once per backend, KV caches
 * allocated once where their attention runs. */
#define _DEFAULT_SOURCE /* madvise */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "edgehal/ops.h"
#include "exec_internal.h"

static ehal_status_t fail(ehal_session *s, ehal_status_t st, const char *what, const char *name) {
    snprintf(s->err, sizeof s->err, "%s '%s': %s: %s", what, name, ehal_status_string(st),
             ehal_last_error(s->ctx));
    return st;
}

/* Asks the kernel to drop the resident pages of [p, p+n) now that a backend
 * holds its own copy. A hint that never loses data: clean file-backed pages
 * (a memory-mapped GGUF) are reread if touched again; anonymous memory
 * stays as it is without swap. */
static void release_pages(const void *p, uint64_t n) {
#ifdef MADV_PAGEOUT
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0)
        return;
    uintptr_t a = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    uintptr_t e = ((uintptr_t)p + n) & ~((uintptr_t)pg - 1);
    if (e > a)
        (void)madvise((void *)a, e - a, MADV_PAGEOUT);
#else
    (void)p, (void)n;
#endif
}

/* 1 if buf is an import of data (its mapping is data itself). */
static int imp_used(ehal_buffer *buf, const void *data) {
    void *ptr = NULL;
    if (ehal_buffer_map(buf, &ptr) != EHAL_STATUS_OK)
        return 0;
    ehal_buffer_unmap(buf);
    return ptr == data;
}

/* The buffer holding weight `name` on backend b (uploaded on first use).
 * MATMUL/GET_ROWS weights go through prepack; when that gives back a plain
 * (mappable) copy on a host-shared device, the model's memory is imported
 * instead and the copy dropped (zero copy); when it gives a private layout,
 * the source pages are released. Other weights are imported where the
 * device shares host memory, else copied. */
ehal_status_t ehal_weight_buffer_get(ehal_session *s, const ehal_graph_tensor *t, uint32_t b,
                                     int packed, ehal_buffer **out) {
    for (uint32_t i = 0; i < s->n_weights; i++) {
        ehal_weight_buf *w = &s->weights[i];
        if (w->backend == b && w->packed == (uint32_t)packed && !strcmp(w->name, t->name)) {
            *out = w->buf;
            return EHAL_STATUS_OK;
        }
    }
    const uint64_t nbytes = ehal_tensor_nbytes(&t->desc);
    const void *data = NULL;
    if (s->m) {
        const ehal_model_tensor *mt = ehal_model_tensor_find(s->m, t->name);
        data = mt && mt->size == nbytes ? mt->data : NULL;
    } else if (s->weight_fn) {
        data = s->weight_fn(s->weight_user, t->name, nbytes);
    }
    if (!data) {
        snprintf(s->err, sizeof s->err, "weight '%s' (%llu bytes): not provided by the %s", t->name,
                 (unsigned long long)nbytes, s->m ? "model" : "weight source");
        return EHAL_STATUS_NOT_FOUND;
    }
    size_t nl = strlen(t->name) + 1;
    char *name = malloc(nl);
    if (!name)
        return EHAL_STATUS_OUT_OF_MEMORY;
    memcpy(name, t->name, nl);
    if (s->n_weights == s->cap_weights) {
        uint32_t nc = s->cap_weights ? s->cap_weights * 2 : 64;
        ehal_weight_buf *nw = realloc(s->weights, nc * sizeof *nw);
        if (!nw) {
            free(name);
            return EHAL_STATUS_OUT_OF_MEMORY;
        }
        s->weights = nw;
        s->cap_weights = nc;
    }
    ehal_backend *be = ehal_backend_get(s->ctx, b);
    ehal_tensor_desc d = t->desc;
    ehal_buffer *buf = NULL;
    ehal_status_t st;
    ehal_backend_props pr = {.struct_size = sizeof pr};
    pr.device.struct_size = sizeof pr.device;
    ehal_backend_props_get(be, &pr);
    const int shared = (pr.device.flags & EHAL_DEVICE_HOST_SHARED) != 0;
    if (packed) {
        /* On a host-shared device, a tensor without a private layout is
         * imported: never copied, so the peak holds one copy of it. */
        st = EHAL_STATUS_UNSUPPORTED;
        if (shared) {
            st = ehal_buffer_prepack_private(be, &d, data, &buf);
            if (st == EHAL_STATUS_UNSUPPORTED)
                st = ehal_buffer_import_host(be, (void *)data, nbytes, EHAL_BUFFER_WEIGHTS, &buf);
        }
        if (st != EHAL_STATUS_OK)
            st = ehal_buffer_prepack(be, &d, data, &buf);
        if (st == EHAL_STATUS_OK && !imp_used(buf, data))
            release_pages(data, nbytes);
    } else {
        st = EHAL_STATUS_UNSUPPORTED;
        if (shared) /* zero copy of the mapping */
            st = ehal_buffer_import_host(be, (void *)data, nbytes, EHAL_BUFFER_WEIGHTS, &buf);
        if (st != EHAL_STATUS_OK) {
            st = ehal_buffer_alloc(be, nbytes, EHAL_BUFFER_WEIGHTS, &buf);
            if (st == EHAL_STATUS_OK) {
                st = ehal_buffer_write(buf, 0, data, nbytes);
                if (st != EHAL_STATUS_OK)
                    ehal_buffer_free(buf), buf = NULL;
            }
        }
    }
    if (st != EHAL_STATUS_OK) {
        free(name);
        s->failed_backend = b;
        return fail(s, st, "uploading weight", t->name);
    }
    s->weights[s->n_weights++] =
        (ehal_weight_buf){name, b, (uint32_t)packed, buf, ehal_buffer_size(buf)};
    s->stats.weight_bytes += ehal_buffer_size(buf);
    *out = buf;
    return EHAL_STATUS_OK;
}

ehal_kv_buf *ehal_kv_find(ehal_session *s, const char *name) {
    for (uint32_t i = 0; i < s->n_kv; i++)
        if (!strcmp(s->kv[i].name, name))
            return &s->kv[i];
    return NULL;
}

ehal_status_t ehal_kv_buf_get(ehal_session *s, const ehal_graph_tensor *t, uint32_t b,
                              ehal_buffer **out) {
    ehal_kv_buf *k = ehal_kv_find(s, t->name);
    if (k) {
        if (k->backend != b) {
            snprintf(s->err, sizeof s->err, "KV cache '%s' lives on backend %u, plan wants %u",
                     t->name, k->backend, b);
            return EHAL_STATUS_INTERNAL;
        }
        *out = k->buf;
        return EHAL_STATUS_OK;
    }
    if (s->n_kv == s->cap_kv) {
        uint32_t nc = s->cap_kv ? s->cap_kv * 2 : 64;
        ehal_kv_buf *nk = realloc(s->kv, nc * sizeof *nk);
        if (!nk)
            return EHAL_STATUS_OUT_OF_MEMORY;
        s->kv = nk;
        s->cap_kv = nc;
    }
    uint64_t n = ehal_tensor_nbytes(&t->desc);
    ehal_buffer *buf = NULL;
    ehal_status_t st = ehal_buffer_alloc(ehal_backend_get(s->ctx, b), n, 0, &buf);
    if (st != EHAL_STATUS_OK) {
        s->failed_backend = b;
        return fail(s, st, "allocating KV cache", t->name);
    }
    /* Zero it: attention never reads unwritten slots, but a NaN pattern
     * in memory must not be able to leak through a 0 weight. */
    static const uint8_t zero[65536];
    for (uint64_t o = 0; o < n && st == EHAL_STATUS_OK; o += sizeof zero)
        st = ehal_buffer_write(buf, o, zero, n - o < sizeof zero ? n - o : sizeof zero);
    if (st != EHAL_STATUS_OK) {
        ehal_buffer_free(buf);
        s->failed_backend = b;
        return fail(s, st, "clearing KV cache", t->name);
    }
    k = &s->kv[s->n_kv++];
    snprintf(k->name, sizeof k->name, "%s", t->name);
    k->backend = b;
    k->buf = buf;
    k->bytes = n;
    s->stats.kv_bytes += n;
    *out = buf;
    return EHAL_STATUS_OK;
}
