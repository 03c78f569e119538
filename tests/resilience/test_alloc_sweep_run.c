/*
 * N-th allocation failure over a whole run of the built-in model (prompt of
 * 4 tokens, 3 greedy decode steps) on the cpu backend, for every N:
 *  - allocations routed through the context's allocator (the core, and the
 *    plugin through host services): a counting ehal_allocator;
 *  - the executor's own allocations (graph/exec, partition, IR: plain
 *    malloc/calloc/realloc, not routed through any hook): intercepted at
 *    link time with -Wl,--wrap (see CMakeLists.txt), only in this test;
 *  - the model generator's allocations: ehal_model_test_fail_alloc.
 * Each run must either fail with a status and a non-empty one-line error,
 * or succeed with exactly the tokens of the undisturbed run; every
 * context-routed allocation must be freed (live count 0), and leaks of the
 * others are caught by the ASan stage. No crash at any N.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edgehal/edgehal.h"
#include "edgehal/graph.h"
#include "edgehal/model.h"

/* graph/model/model_internal.h: fail the n-th allocation and all after. */
void ehal_model_test_fail_alloc(long n);

/* ---- the executor's malloc, wrapped (-Wl,--wrap=malloc,...) ------------ */
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
static long wrap_calls, wrap_fail_at; /* 0: never fail */
static int wrap_on;

static int wrap_should_fail(void) {
    if (!wrap_on)
        return 0;
    return ++wrap_calls == wrap_fail_at;
}
void *__wrap_malloc(size_t size) {
    return wrap_should_fail() ? NULL : __real_malloc(size);
}
void *__wrap_calloc(size_t n, size_t size) {
    return wrap_should_fail() ? NULL : __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t size) {
    return wrap_should_fail() ? NULL : __real_realloc(p, size);
}

/* ---- the context's allocator ------------------------------------------ */
typedef struct counting {
    long calls, fail_at, live;
} counting;

static void *c_alloc(void *user, size_t size, size_t align) {
    counting *c = user;
    if (++c->calls == c->fail_at)
        return NULL;
    void *p = NULL;
    if (align < sizeof(void *))
        align = sizeof(void *);
    if (posix_memalign(&p, align, size ? size : 1) != 0)
        return NULL;
    c->live++;
    return p;
}

static void c_free(void *user, void *p) {
    counting *c = user;
    if (p) {
        c->live--;
        free(p);
    }
}

/* ---- one run ---------------------------------------------------------- */
#define N_PROMPT 4
#define N_DECODE 3

typedef struct run_result {
    ehal_status_t st;
    char err[512];
    int32_t tokens[N_DECODE];
    long ctx_allocs, ctx_live, exec_allocs;
} run_result;

static ehal_model *model;
static uint32_t vocab;
static char plugin[4096];

static void one_line(run_result *r, const char *what, const char *msg) {
    snprintf(r->err, sizeof r->err, "%s: %s", what, msg ? msg : "");
}

static void run(long ctx_fail_at, long exec_fail_at, run_result *r) {
    memset(r, 0, sizeof *r);
    counting c = {0, ctx_fail_at, 0};
    ehal_allocator a = {.user = &c, .alloc = c_alloc, .free = c_free};
    static const ehal_option opt = {.key = "cpu.threads", .value = "1"};
    ehal_context_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.flags = EHAL_CONTEXT_NO_DEFAULT_PATHS | EHAL_CONTEXT_NO_ENV;
    o.allocator = &a;
    o.backend_path = plugin;
    o.log_level = EHAL_LOG_ERROR - 1; /* silent: failures are expected */
    o.backend_options = &opt;
    o.n_backend_options = 1;
    ehal_context *ctx = NULL;
    ehal_session *s = NULL;
    float *logits = malloc(sizeof *logits * vocab);
    assert_non_null(logits);
    wrap_calls = 0;
    wrap_fail_at = exec_fail_at;
    wrap_on = 1;
    r->st = ehal_context_create(&o, &ctx);
    if (r->st != EHAL_STATUS_OK) {
        one_line(r, "context", "creation failed");
    } else if (ehal_backend_count(ctx) != 1) {
        r->st = EHAL_STATUS_NOT_FOUND; /* the plugin was skipped: its init failed */
        one_line(r, "context", ehal_skipped_count(ctx) ? ehal_skipped_reason(ctx, 0) : "no cpu");
    } else {
        ehal_session_options so = {.struct_size = sizeof so, .kv_capacity = 16};
        char err[400] = "";
        r->st = ehal_session_create(ctx, model, &so, &s, err, sizeof err);
        if (r->st != EHAL_STATUS_OK)
            one_line(r, "session create", err);
        const int32_t prompt[N_PROMPT] = {1, 15, 27, 42};
        if (r->st == EHAL_STATUS_OK)
            r->st = ehal_session_eval(s, prompt, N_PROMPT, logits);
        for (int i = 0; r->st == EHAL_STATUS_OK && i < N_DECODE; i++) {
            int32_t best = 0;
            for (uint32_t v = 1; v < vocab; v++)
                if (logits[v] > logits[best])
                    best = (int32_t)v;
            r->tokens[i] = best;
            r->st = ehal_session_eval(s, &best, 1, logits);
        }
        if (r->st != EHAL_STATUS_OK && s)
            one_line(r, "session", ehal_session_last_error(s));
    }
    ehal_session_free(s);
    ehal_context_destroy(ctx);
    wrap_on = 0;
    free(logits);
    r->ctx_allocs = c.calls;
    r->ctx_live = c.live;
    r->exec_allocs = wrap_calls;
}

static run_result healthy;

static int setup(void **state) {
    (void)state;
    const char *dir = getenv("EHAL_TEST_PLUGIN_DIR");
    if (!dir)
        return -1;
    snprintf(plugin, sizeof plugin, "%s/libedgehal-cpu.so", dir);
    ehal_model_hparams hp;
    char err[256];
    if (ehal_model_preset_hparams("builtin", &hp) != EHAL_STATUS_OK ||
        ehal_model_generate(&hp, EHAL_DTYPE_Q8_0, 1, &model, err, sizeof err) != EHAL_STATUS_OK)
        return -1;
    vocab = ehal_model_get_hparams(model)->vocab;
    run(0, 0, &healthy);
    if (healthy.st != EHAL_STATUS_OK) {
        fprintf(stderr, "healthy run failed: %s\n", healthy.err);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ehal_model_free(model);
    return 0;
}

static void check(const run_result *r, const char *which, long n, long *n_failed) {
    if (r->ctx_live != 0)
        fail_msg("%s allocation %ld failed: %ld context allocations not freed", which, n,
                 r->ctx_live);
    if (r->st == EHAL_STATUS_OK) {
        if (memcmp(r->tokens, healthy.tokens, sizeof r->tokens) != 0)
            fail_msg("%s allocation %ld failed: run succeeded with other tokens", which, n);
    } else {
        const char *colon = strchr(r->err, ':');
        int silent = !colon || !colon[1] || !colon[2];
        /* Every failure names what could not be allocated: strict for the
         * executor too, now that graph/exec writes a message on each path. */
        if (silent || strchr(r->err, '\n'))
            fail_msg("%s allocation %ld failed: status %d without a one-line error ('%s')",
                     which, n, r->st, r->err);
        (*n_failed)++;
    }
}

static void every_context_allocation_failure_is_clean(void **state) {
    (void)state;
    assert_true(healthy.ctx_allocs > 0);
    long failed = 0;
    for (long n = 1; n <= healthy.ctx_allocs; n++) {
        run_result r;
        run(n, 0, &r);
        check(&r, "context", n, &failed);
    }
    print_message("context allocations: %ld per run, %ld failures ended with an error, "
                  "the rest recovered with the same tokens\n",
                  healthy.ctx_allocs, failed);
    assert_true(failed > 0);
}

static void every_executor_allocation_failure_is_clean(void **state) {
    (void)state;
    assert_true(healthy.exec_allocs > 0);
    long failed = 0;
    for (long n = 1; n <= healthy.exec_allocs; n++) {
        run_result r;
        run(0, n, &r);
        check(&r, "executor", n, &failed);
    }
    print_message("executor allocations (malloc/calloc/realloc): %ld per run, %ld failures "
                  "ended with a one-line error, the rest recovered with the same tokens\n",
                  healthy.exec_allocs, failed);
    assert_true(failed > 0);
}

static void every_generator_allocation_failure_is_clean(void **state) {
    (void)state;
    ehal_model_hparams hp;
    assert_int_equal(ehal_model_preset_hparams("builtin", &hp), EHAL_STATUS_OK);
    long failed = 0, n = 1;
    for (;; n++) {
        ehal_model *m = NULL;
        char err[256] = "";
        ehal_model_test_fail_alloc(n);
        ehal_status_t st = ehal_model_generate(&hp, EHAL_DTYPE_Q8_0, 1, &m, err, sizeof err);
        ehal_model_test_fail_alloc(0);
        if (st == EHAL_STATUS_OK) {
            assert_non_null(m);
            assert_int_equal(ehal_model_tensor_count(m), ehal_model_tensor_count(model));
            ehal_model_free(m);
            break;
        }
        if (m || !err[0] || strchr(err, '\n'))
            fail_msg("generator allocation %ld: status %d, message '%s'", n, st, err);
        failed++;
        assert_true(n < 100000);
    }
    print_message("generator allocations: %ld failures ended with an error\n", failed);
    assert_true(failed > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_context_allocation_failure_is_clean),
        cmocka_unit_test(every_executor_allocation_failure_is_clean),
        cmocka_unit_test(every_generator_allocation_failure_is_clean),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
