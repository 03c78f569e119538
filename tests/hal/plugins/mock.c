/*
 * A minimal, well-behaved test backend: host-memory buffers and one
 * elementwise F32 op (MOCK_OP: ADD by default) computed by its own loop.
 * Built several times by tests/hal/CMakeLists.txt:
 *   MOCK_NAME         backend name ("mock")
 *   MOCK_DEVICE_NAME  device name (tells two copies apart)
 *   MOCK_FUTURE       simulate a newer plugin: a function table larger than
 *                     the core knows (extra appended entries) and a device
 *                     info struct shorter than the core's.
 * It keeps no global mutable state, so several instances may coexist.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "edgehal/backend_abi.h"

#ifndef MOCK_NAME
#define MOCK_NAME "mock"
#endif
#ifndef MOCK_DEVICE_NAME
#define MOCK_DEVICE_NAME "mock device"
#endif
#ifndef MOCK_OP
#define MOCK_OP EHAL_OP_ADD
#endif

struct ehal_backend_impl {
    const ehal_host_services *host;
    char tag[32];
    int claim_all; /* option claim_all=1: query_op says SUPPORTED to every node */
};

struct ehal_buffer_impl {
    uint64_t size;
    unsigned char *data;
    int owned; /* 0 for imported host memory */
};

typedef struct step {
    const float *a, *b;
    float *out;
    uint64_t n;
} step;

struct ehal_executable_impl {
    uint32_t n_steps;
    step steps[];
};

static void logf_(const ehal_host_services *h, int32_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#include <stdarg.h>
static void logf_(const ehal_host_services *h, int32_t level, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    h->log(h->user, level, msg);
}

static ehal_status_t m_init(const ehal_host_services *host, const ehal_option *opts,
                            uint32_t n_opts, ehal_backend_impl **out) {
    ehal_backend_impl *be = host->alloc(host->user, sizeof *be, 0);
    if (!be) {
        host->log(host->user, EHAL_LOG_ERROR, "out of memory for the backend object");
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    memset(be, 0, sizeof *be);
    be->host = host;
    for (uint32_t i = 0; i < n_opts; i++) {
        if (strcmp(opts[i].key, "tag") == 0)
            snprintf(be->tag, sizeof be->tag, "%s", opts[i].value);
        else if (strcmp(opts[i].key, "claim_all") == 0)
            be->claim_all = strcmp(opts[i].value, "1") == 0;
        else
            logf_(host, EHAL_LOG_DEBUG, "ignoring unknown option %s", opts[i].key);
    }
    *out = be;
    return EHAL_STATUS_OK;
}

static void m_destroy(ehal_backend_impl *be) {
    be->host->free(be->host->user, be);
}

static ehal_status_t m_device_info(ehal_backend_impl *be, ehal_device_info *info) {
    ehal_device_info d;
    memset(&d, 0, sizeof d);
    d.kind = EHAL_DEVICE_CPU;
    d.flags = EHAL_DEVICE_HOST_SHARED;
    snprintf(d.name, sizeof d.name, "%s", MOCK_DEVICE_NAME);
    snprintf(d.driver, sizeof d.driver, "%s tag=%s", MOCK_NAME, be->tag);
    d.memory_bytes = 1u << 30;
    d.link_bytes_per_s = 1000000000u;
#ifdef MOCK_FUTURE
    /* An implementation whose device info ends after `driver`. */
    uint32_t mine = (uint32_t)offsetof(ehal_device_info, memory_bytes);
#else
    uint32_t mine = (uint32_t)sizeof d;
#endif
    uint32_t n = info->struct_size < mine ? info->struct_size : mine;
    d.struct_size = n;
    memcpy(info, &d, n);
    return EHAL_STATUS_OK;
}

static int is_f32_elementwise(const ehal_subgraph *sg, const ehal_node_desc *n) {
    if (n->op != MOCK_OP || n->n_inputs != 2 || n->n_outputs != 1)
        return 0;
    const ehal_tensor_desc *t[3] = {sg->tensors[n->inputs[0]], sg->tensors[n->inputs[1]],
                                    sg->tensors[n->outputs[0]]};
    for (int i = 0; i < 3; i++)
        if (t[i]->dtype != EHAL_DTYPE_F32)
            return 0;
    return 1;
}

static uint64_t nelem(const ehal_tensor_desc *t) {
    return (uint64_t)t->ne[0] * (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
}

static ehal_status_t m_query_op(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                                ehal_op_support *out) {
    const ehal_node_desc *n = sg->nodes[node];
    out->level = is_f32_elementwise(sg, n) || be->claim_all ? EHAL_SUPPORT_SUPPORTED
                                                            : EHAL_SUPPORT_UNSUPPORTED;
    out->cost_ns = is_f32_elementwise(sg, n) ? nelem(sg->tensors[n->outputs[0]]) : 0;
    return EHAL_STATUS_OK;
}

static ehal_status_t m_buffer_alloc(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                                    ehal_buffer_impl **out) {
    (void)flags;
    const ehal_host_services *h = be->host;
    ehal_buffer_impl *b = h->alloc(h->user, sizeof *b, 0);
    void *data = b ? h->alloc(h->user, (size_t)size, 64) : NULL;
    if (!data) {
        h->free(h->user, b);
        logf_(h, EHAL_LOG_ERROR, "cannot allocate a buffer of %llu bytes",
              (unsigned long long)size);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    memset(data, 0, (size_t)size);
    b->size = size;
    b->data = data;
    b->owned = 1;
    *out = b;
    return EHAL_STATUS_OK;
}

static void m_buffer_free(ehal_backend_impl *be, ehal_buffer_impl *b) {
    if (!b)
        return;
    if (b->owned)
        be->host->free(be->host->user, b->data);
    be->host->free(be->host->user, b);
}

static ehal_status_t m_buffer_write(ehal_backend_impl *be, ehal_buffer_impl *b, uint64_t off,
                                    const void *src, uint64_t size) {
    (void)be;
    memcpy(b->data + off, src, (size_t)size);
    return EHAL_STATUS_OK;
}

static ehal_status_t m_buffer_read(ehal_backend_impl *be, ehal_buffer_impl *b, uint64_t off,
                                   void *dst, uint64_t size) {
    (void)be;
    memcpy(dst, b->data + off, (size_t)size);
    return EHAL_STATUS_OK;
}

static ehal_status_t m_buffer_map(ehal_backend_impl *be, ehal_buffer_impl *b, void **ptr) {
    (void)be;
    *ptr = b->data;
    return EHAL_STATUS_OK;
}

static void m_buffer_unmap(ehal_backend_impl *be, ehal_buffer_impl *b) {
    (void)be, (void)b;
}

static ehal_status_t m_import_host(ehal_backend_impl *be, void *ptr, uint64_t size, uint32_t flags,
                                   ehal_buffer_impl **out) {
    (void)flags;
    ehal_buffer_impl *b = be->host->alloc(be->host->user, sizeof *b, 0);
    if (!b)
        return EHAL_STATUS_OUT_OF_MEMORY;
    b->size = size;
    b->data = ptr;
    b->owned = 0;
    *out = b;
    return EHAL_STATUS_OK;
}

/* "Private layout": the standard bytes, stored as they are. */
static ehal_status_t m_prepack(ehal_backend_impl *be, const ehal_tensor_desc *w,
                               const void *host_data, ehal_buffer_impl **out) {
    if (w->dtype != EHAL_DTYPE_F32)
        return EHAL_STATUS_UNSUPPORTED;
    uint64_t size = nelem(w) * 4;
    ehal_status_t s = m_buffer_alloc(be, size, 0, out);
    if (s == EHAL_STATUS_OK)
        memcpy((*out)->data, host_data, (size_t)size);
    return s;
}

static ehal_status_t m_prepare(ehal_backend_impl *be, const ehal_subgraph *sg,
                               ehal_executable_impl **out) {
    const ehal_host_services *h = be->host;
    for (uint32_t i = 0; i < sg->n_nodes; i++) {
        if (!is_f32_elementwise(sg, sg->nodes[i])) {
            logf_(h, EHAL_LOG_ERROR, "node %u: op %u is not supported by " MOCK_NAME, (unsigned)i,
                  (unsigned)sg->nodes[i]->op);
            return EHAL_STATUS_UNSUPPORTED;
        }
    }
    ehal_executable_impl *e = h->alloc(h->user, sizeof *e + sizeof(step) * sg->n_nodes, 0);
    if (!e) {
        h->log(h->user, EHAL_LOG_ERROR, "out of memory for an executable");
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    e->n_steps = sg->n_nodes;
    for (uint32_t i = 0; i < sg->n_nodes; i++) {
        const ehal_node_desc *n = sg->nodes[i];
        const ehal_tensor_desc *a = sg->tensors[n->inputs[0]], *b = sg->tensors[n->inputs[1]],
                               *o = sg->tensors[n->outputs[0]];
        e->steps[i].a = (const float *)(a->buffer->data + a->offset);
        e->steps[i].b = (const float *)(b->buffer->data + b->offset);
        e->steps[i].out = (float *)(o->buffer->data + o->offset);
        e->steps[i].n = nelem(o);
    }
    *out = e;
    return EHAL_STATUS_OK;
}

static ehal_status_t m_execute(ehal_backend_impl *be, ehal_executable_impl *e,
                               const ehal_execute_args *args) {
    (void)be, (void)args;
    for (uint32_t s = 0; s < e->n_steps; s++) {
        const step *st = &e->steps[s];
        for (uint64_t i = 0; i < st->n; i++)
            st->out[i] = MOCK_OP == EHAL_OP_ADD ? st->a[i] + st->b[i] : st->a[i] * st->b[i];
    }
    return EHAL_STATUS_OK;
}

static ehal_status_t m_wait(ehal_backend_impl *be, ehal_executable_impl *e, uint64_t t) {
    (void)be, (void)e, (void)t;
    return EHAL_STATUS_OK;
}

static void m_release(ehal_backend_impl *be, ehal_executable_impl *e) {
    be->host->free(be->host->user, e);
}

#define MOCK_TABLE(size)                                                                           \
    (uint32_t)(size), 0, MOCK_NAME, m_init, m_destroy, m_device_info, m_query_op, m_buffer_alloc,  \
        m_buffer_free, m_buffer_write, m_buffer_read, m_buffer_map, m_buffer_unmap, m_import_host, \
        m_prepack, m_prepare, m_execute, m_wait, m_release

#ifdef MOCK_FUTURE
/* Entries a later revision might append; the current core must not call them. */
static void future_entry(void) {}
static const struct future_iface {
    ehal_backend_iface base;
    void (*later_a)(void);
    void (*later_b)(void);
} table = {{MOCK_TABLE(sizeof(struct future_iface))}, future_entry, future_entry};
#define IFACE (&table.base)
#else
static const ehal_backend_iface table = {MOCK_TABLE(sizeof(ehal_backend_iface))};
#define IFACE (&table)
#endif

EHAL_PLUGIN_EXPORT ehal_status_t ehal_backend_entry(ehal_entry_args *args) {
    args->plugin_version = EHAL_ABI_VERSION;
    if (args->loader_min_version > EHAL_ABI_VERSION || args->loader_max_version < EHAL_ABI_VERSION)
        return EHAL_STATUS_INCOMPATIBLE;
    args->iface = IFACE;
    return EHAL_STATUS_OK;
}
