/* The ehal_model object: tensor table, name index, accessors, teardown. */
#define _DEFAULT_SOURCE /* madvise */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model_internal.h"

#include "edgehal/model_tools.h"

static long fail_countdown; /* 0: off; else allocations left before failing */

void ehal_model_test_fail_alloc(long n) {
    fail_countdown = n;
}

static int alloc_should_fail(void) {
    if (fail_countdown <= 0)
        return 0;
    if (fail_countdown == 1)
        return 1; /* stays at 1: every later allocation fails too */
    fail_countdown--;
    return 0;
}

void *ehal_model_malloc(size_t size) {
    return alloc_should_fail() ? NULL : malloc(size ? size : 1);
}

void *ehal_model_calloc(size_t n, size_t size) {
    return alloc_should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void ehal_model_mfree(void *p) {
    free(p);
}

void ehal_model_errf(char *err, size_t err_size, const char *fmt, ...) {
    if (!err || err_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

ehal_model *ehal_model_new(uint32_t n_tensors, size_t names_bytes) {
    ehal_model *m = ehal_model_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->n_tensors = n_tensors;
    m->tensors = ehal_model_calloc(n_tensors, sizeof *m->tensors);
    m->names = ehal_model_calloc(names_bytes, 1);
    if (!m->tensors || !m->names) {
        ehal_model_free(m);
        return NULL;
    }
    return m;
}

static uint32_t name_hash(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

ehal_status_t ehal_model_index_build(ehal_model *m, uint32_t *dup_a, uint32_t *dup_b) {
    uint32_t slots = 16;
    while (slots <= 2u * m->n_tensors)
        slots *= 2; /* n_tensors < 2^30 is checked by the callers */
    ehal_model_mfree(m->index);
    m->index = ehal_model_malloc((size_t)slots * sizeof *m->index);
    if (!m->index)
        return EHAL_STATUS_OUT_OF_MEMORY;
    memset(m->index, 0xff, (size_t)slots * sizeof *m->index);
    m->n_slots = slots;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        uint32_t s = name_hash(m->tensors[i].name) & (slots - 1);
        while (m->index[s] != UINT32_MAX) {
            if (strcmp(m->tensors[m->index[s]].name, m->tensors[i].name) == 0) {
                *dup_a = m->index[s];
                *dup_b = i;
                return EHAL_STATUS_FORMAT;
            }
            s = (s + 1) & (slots - 1);
        }
        m->index[s] = i;
    }
    return EHAL_STATUS_OK;
}

const ehal_model_hparams *ehal_model_get_hparams(const ehal_model *m) {
    return m ? &m->hp : NULL;
}

uint32_t ehal_model_tensor_count(const ehal_model *m) {
    return m ? m->n_tensors : 0;
}

const ehal_model_tensor *ehal_model_tensor_at(const ehal_model *m, uint32_t i) {
    return m && i < m->n_tensors ? &m->tensors[i] : NULL;
}

const ehal_model_tensor *ehal_model_tensor_find(const ehal_model *m, const char *name) {
    if (!m || !name || !m->index)
        return NULL;
    uint32_t s = name_hash(name) & (m->n_slots - 1);
    while (m->index[s] != UINT32_MAX) {
        if (strcmp(m->tensors[m->index[s]].name, name) == 0)
            return &m->tensors[m->index[s]];
        s = (s + 1) & (m->n_slots - 1);
    }
    return NULL;
}

uint64_t ehal_model_data_bytes(const ehal_model *m) {
    uint64_t n = 0;
    for (uint32_t i = 0; m && i < m->n_tensors; i++)
        n += m->tensors[i].size;
    return n;
}

uint64_t ehal_model_release_tensor_pages(const ehal_model *m, uint32_t i) {
    if (!m || !m->map || i >= m->n_tensors)
        return 0;
    const long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        return 0;
    const uintptr_t base = (uintptr_t)m->tensors[i].data;
    const uintptr_t lo = (base + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    const uintptr_t hi = (base + (uintptr_t)m->tensors[i].size) / (uintptr_t)page * (uintptr_t)page;
    if (hi <= lo || madvise((void *)lo, (size_t)(hi - lo), MADV_DONTNEED) != 0)
        return 0;
    return (uint64_t)(hi - lo);
}

void ehal_model_free(ehal_model *m) {
    if (!m)
        return;
    if (m->map)
        munmap(m->map, m->map_size);
    free(m->data); /* posix_memalign memory */
    ehal_model_mfree(m->index);
    ehal_model_mfree(m->names);
    ehal_model_mfree(m->tensors);
    ehal_model_mfree(m);
}
