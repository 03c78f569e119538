/*
 * Allocation-failure sweep: for N = 1, 2, ... the N-th allocation made
 * through the context's allocator fails (once, or from then on), while a
 * context is created over good and broken plugins and a subgraph is run.
 * Every N must end in a clean status naming the failure, and nothing the
 * allocator handed out may still be live after ehal_context_destroy.
 *
 * Only allocator-routed memory is swept: the core's own objects and what
 * plugins allocate through host services. dlopen, opendir and realpath
 * allocate with libc's malloc and are not covered here (ASan checks those
 * for leaks when this test runs in the sanitizer build).
 */
#include <stdalign.h>

#include "hal_test.h"

typedef struct sweep_alloc {
    long fail_at;   /* the allocation number that fails (1-based) */
    int persistent; /* 1: every allocation from fail_at on fails */
    long count;     /* allocations attempted */
    long live;      /* handed out and not yet freed */
    long failed;    /* allocations refused */
} sweep_alloc;

static void *s_alloc(void *user, size_t size, size_t align) {
    sweep_alloc *a = user;
    a->count++;
    if (a->count == a->fail_at || (a->persistent && a->count > a->fail_at)) {
        a->failed++;
        return NULL;
    }
    void *p = NULL;
    if (align <= alignof(max_align_t))
        p = malloc(size);
    else if (posix_memalign(&p, align, size) != 0)
        p = NULL;
    if (p)
        a->live++;
    return p;
}

static void s_free(void *user, void *ptr) {
    sweep_alloc *a = user;
    if (ptr) {
        a->live--;
        free(ptr);
    }
}

static int is_oom(ehal_status_t s) {
    return s == EHAL_STATUS_OUT_OF_MEMORY;
}

/* One run of the whole flow; returns 1 if everything succeeded. */
static int run_flow(sweep_alloc *a) {
    ehal_allocator al = {a, s_alloc, s_free};
    log_capture cap;
    ehal_context_options o = test_options(
        MOCK_SO ":" FROZEN_SO ":" HAL_PLUGINS "/libedgehal-badver.so", &cap, EHAL_LOG_ERROR);
    o.allocator = &al;
    ehal_context *ctx = NULL;
    ehal_status_t s = ehal_context_create(&o, &ctx);
    if (s != EHAL_STATUS_OK) {
        assert_true(is_oom(s));
        assert_null(ctx);
        assert_true(a->failed > 0);
        assert_int_equal(log_count(&cap, EHAL_LOG_ERROR, "cannot create context: out of memory"),
                         1);
        assert_int_equal(a->live, 0);
        return 0;
    }
    int ok = 1;
    /* A plugin whose init ran out of memory is skipped with that reason. */
    for (uint32_t i = 0; i < ehal_skipped_count(ctx); i++) {
        const char *r = ehal_skipped_reason(ctx, i);
        if (strstr(ehal_skipped_path(ctx, i), "badver"))
            assert_string_equal(r, "ABI version 7 outside the supported range 1..1");
        else {
            assert_non_null(strstr(r, "init failed: out of memory"));
            ok = 0;
        }
    }
    assert_int_equal(ehal_backend_count(ctx) + ehal_skipped_count(ctx), 3);
    ehal_backend *be = ehal_backend_find(ctx, "mock");
    ehal_buffer *in = NULL, *out = NULL;
    ehal_executable *exe = NULL;
    if (!be)
        goto done;
    const float v[8] = {1, 2, 3, 4, 10, 20, 30, 40};
    s = ehal_buffer_alloc(be, sizeof v, 0, &in);
    if (s == EHAL_STATUS_OK)
        s = ehal_buffer_alloc(be, 16, 0, &out);
    if (s == EHAL_STATUS_OK)
        s = ehal_buffer_write(in, 0, v, sizeof v);
    if (s == EHAL_STATUS_OK) {
        ehal_tensor_desc t[3] = {f32_tensor(4, 1, in, 0), f32_tensor(4, 1, in, 16),
                                 f32_tensor(4, 1, out, 0)};
        const ehal_tensor_desc *tp[3] = {&t[0], &t[1], &t[2]};
        ehal_node_desc n = binary_node(EHAL_OP_ADD, 0, 1, 2);
        const ehal_node_desc *np[1] = {&n};
        ehal_subgraph sg = {
            .struct_size = sizeof sg, .n_tensors = 3, .n_nodes = 1, .tensors = tp, .nodes = np};
        s = ehal_prepare(be, &sg, &exe);
    }
    if (s == EHAL_STATUS_OK)
        s = ehal_execute(exe);
    if (s == EHAL_STATUS_OK)
        s = ehal_wait(exe, UINT64_MAX);
    if (s == EHAL_STATUS_OK) {
        float r[4];
        assert_int_equal(ehal_buffer_read(out, 0, r, sizeof r), EHAL_STATUS_OK);
        const float e[4] = {11, 22, 33, 44};
        assert_memory_equal(r, e, sizeof e);
    } else {
        assert_true(is_oom(s));
        assert_non_null(strstr(ehal_last_error(ctx), "out of memory"));
        ok = 0;
    }
done:
    if (!be)
        ok = 0;
    /* Objects the caller still holds are reclaimed by destroy on failure
     * paths; on success release them the normal way. */
    if (ok) {
        ehal_executable_release(exe);
        ehal_buffer_free(in);
        ehal_buffer_free(out);
    }
    ehal_context_destroy(ctx);
    assert_int_equal(a->live, 0);
    return ok && a->failed == 0;
}

static void sweep(int persistent) {
    long n;
    for (n = 1; n < 100000; n++) {
        sweep_alloc a = {.fail_at = n, .persistent = persistent};
        if (run_flow(&a))
            break;
    }
    /* The flow makes a few dozen allocations; all were swept. */
    print_message("%s sweep: success first at N = %ld\n", persistent ? "persistent" : "single", n);
    assert_true(n > 10 && n < 100000);
    sweep_alloc clean = {.fail_at = 0};
    assert_int_equal(run_flow(&clean), 1);
    assert_int_equal(clean.count, n - 1); /* N-1 allocations in a full run */
}

static void failing_one_allocation_at_every_point_is_clean(void **state) {
    (void)state;
    sweep(0);
}

static void failing_every_allocation_from_a_point_on_is_clean(void **state) {
    (void)state;
    sweep(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failing_one_allocation_at_every_point_is_clean),
        cmocka_unit_test(failing_every_allocation_from_a_point_on_is_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
