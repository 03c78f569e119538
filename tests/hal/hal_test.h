/*
 * Helpers shared by the hal tests: a log that records every line, and a
 * context that searches only the given path (no default dirs, no EHAL_*
 * environment unless asked).
 */
#ifndef EDGEHAL_TESTS_HAL_TEST_H
#define EDGEHAL_TESTS_HAL_TEST_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* setenv */
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edgehal/edgehal.h"

#define MOCK_SO HAL_PLUGINS "/libedgehal-mock.so"
#define FROZEN_SO HAL_PLUGINS "/libedgehal-frozen1.so"
#define FUTURE_SO HAL_PLUGINS "/libedgehal-future.so"

typedef struct log_capture {
    int n;
    int level[128];
    char line[128][600];
} log_capture;

static inline void capture_log(void *user, int32_t level, const char *msg) {
    log_capture *c = user;
    if (c->n < 128) {
        c->level[c->n] = level;
        snprintf(c->line[c->n], sizeof c->line[c->n], "%s", msg);
        c->n++;
    }
}

/* Number of captured lines at `level` that contain `needle`. */
static inline int log_count(const log_capture *c, int level, const char *needle) {
    int k = 0;
    for (int i = 0; i < c->n; i++)
        if ((level < 0 || c->level[i] == level) && strstr(c->line[i], needle))
            k++;
    return k;
}

static inline ehal_context_options test_options(const char *path, log_capture *cap, int32_t level) {
    ehal_context_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.flags = EHAL_CONTEXT_NO_DEFAULT_PATHS | EHAL_CONTEXT_NO_ENV;
    o.backend_path = path;
    o.log_level = level;
    if (cap) {
        memset(cap, 0, sizeof *cap);
        o.log = capture_log;
        o.log_user = cap;
    }
    return o;
}

static inline ehal_context *open_ctx(const char *path, log_capture *cap) {
    ehal_context_options o = test_options(path, cap, EHAL_LOG_WARN);
    ehal_context *ctx = NULL;
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    assert_non_null(ctx);
    return ctx;
}

/* A dense F32 tensor desc of shape [n0, n1] on buf at offset. */
static inline ehal_tensor_desc f32_tensor(int64_t n0, int64_t n1, const ehal_buffer *buf,
                                          uint64_t offset) {
    ehal_tensor_desc t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    t.dtype = EHAL_DTYPE_F32;
    t.ne[0] = n0;
    t.ne[1] = n1;
    t.ne[2] = t.ne[3] = 1;
    t.buffer = buf ? ehal_buffer_handle(buf) : NULL;
    t.offset = offset;
    return t;
}

static inline ehal_node_desc binary_node(uint32_t op, uint32_t a, uint32_t b, uint32_t out) {
    ehal_node_desc n;
    memset(&n, 0, sizeof n);
    n.struct_size = sizeof n;
    n.op = op;
    n.n_inputs = 2;
    n.n_outputs = 1;
    n.inputs[0] = a;
    n.inputs[1] = b;
    n.outputs[0] = out;
    return n;
}

#endif
