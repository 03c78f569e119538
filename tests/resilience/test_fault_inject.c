/*
 * EHAL_FAULT through the core: the grammar is refused with one line naming
 * the rule, and a wrapped backend (the hal tests' mock plugin) fails exactly
 * the calls a rule selects, with the chosen status, a last error naming the
 * rule and one WARN line, while results of the calls that pass are unchanged.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "edgehal/ops.h"
#include "hal_test.h"

static ehal_context *fault_ctx(const char *spec, log_capture *cap, ehal_status_t *st) {
    ehal_context_options o = test_options(MOCK_SO, cap, EHAL_LOG_WARN);
    o.flags = EHAL_CONTEXT_NO_DEFAULT_PATHS; /* read EHAL_FAULT */
    unsetenv("EHAL_BACKENDS");
    unsetenv("EHAL_BACKEND_PATH");
    setenv("EHAL_FAULT", spec, 1);
    ehal_context *ctx = NULL;
    *st = ehal_context_create(&o, &ctx);
    unsetenv("EHAL_FAULT");
    return ctx;
}

static ehal_context *open_fault_ctx(const char *spec, log_capture *cap) {
    ehal_status_t st;
    ehal_context *ctx = fault_ctx(spec, cap, &st);
    assert_int_equal(st, EHAL_STATUS_OK);
    assert_non_null(ctx);
    assert_non_null(ehal_backend_find(ctx, "mock"));
    return ctx;
}

typedef struct add_run {
    ehal_buffer *in, *out;
    ehal_tensor_desc t[3];
    const ehal_tensor_desc *tp[3];
    ehal_node_desc n;
    const ehal_node_desc *np[1];
    ehal_subgraph sg;
    ehal_executable *exe;
} add_run;

/* out = A + B with A = {1..6}, B = {10..60}: 11, 22, ... 66. */
static void add_setup(ehal_context *ctx, add_run *r) {
    ehal_backend *be = ehal_backend_find(ctx, "mock");
    memset(r, 0, sizeof *r);
    assert_int_equal(ehal_buffer_alloc(be, 48, 0, &r->in), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_alloc(be, 24, 0, &r->out), EHAL_STATUS_OK);
    const float v[12] = {1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60};
    assert_int_equal(ehal_buffer_write(r->in, 0, v, sizeof v), EHAL_STATUS_OK);
    r->t[0] = f32_tensor(3, 2, r->in, 0);
    r->t[1] = f32_tensor(3, 2, r->in, 24);
    r->t[2] = f32_tensor(3, 2, r->out, 0);
    for (int i = 0; i < 3; i++)
        r->tp[i] = &r->t[i];
    r->n = binary_node(EHAL_OP_ADD, 0, 1, 2);
    r->np[0] = &r->n;
    r->sg = (ehal_subgraph){.struct_size = sizeof r->sg,
                            .n_tensors = 3,
                            .n_nodes = 1,
                            .tensors = r->tp,
                            .nodes = r->np};
    assert_int_equal(ehal_prepare(be, &r->sg, &r->exe), EHAL_STATUS_OK);
}

static ehal_status_t add_once(add_run *r) {
    ehal_status_t st = ehal_execute(r->exe);
    if (st == EHAL_STATUS_OK)
        st = ehal_wait(r->exe, UINT64_MAX);
    return st;
}

static void assert_add_result(add_run *r) {
    float got[6] = {0};
    assert_int_equal(ehal_buffer_read(r->out, 0, got, sizeof got), EHAL_STATUS_OK);
    const float want[6] = {11, 22, 33, 44, 55, 66};
    assert_memory_equal(got, want, sizeof got);
}

static void add_teardown(add_run *r) {
    ehal_executable_release(r->exe);
    ehal_buffer_free(r->in);
    ehal_buffer_free(r->out);
}

static void malformed_rules_fail_context_creation_naming_the_rule(void **state) {
    (void)state;
    static const struct {
        const char *spec, *named;
    } bad[] = {
        {"mock:explode:at=1", "mock:explode:at=1"},
        {"mock:execute", "mock:execute"},
        {"mock:execute:at=0", "at=0"},
        {"mock:execute:after=x", "after=x"},
        {"mock:execute:after=-1", "after=-1"},
        {"mo ck:execute:at=1", "mo ck"},
        {"mock:execute:at=1:twice", "twice"},
        {"mock:execute:at=1:once:x", "mock:execute:at=1:once:x"},
        {"mock:wait:at=2;cpu:alloc:after", "cpu:alloc:after"},
        {":execute:at=1", ":execute:at=1"},
        {"mock:execute:after=1234567890123456789", "after=1234567890123456789"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        log_capture cap;
        ehal_status_t st;
        ehal_context *ctx = fault_ctx(bad[i].spec, &cap, &st);
        if (st != EHAL_STATUS_INVALID_ARGUMENT || ctx)
            fail_msg("EHAL_FAULT=%s: status %d, want INVALID_ARGUMENT", bad[i].spec, st);
        if (log_count(&cap, EHAL_LOG_ERROR, bad[i].named) != 1 ||
            log_count(&cap, EHAL_LOG_ERROR, "EHAL_FAULT") != 1)
            fail_msg("EHAL_FAULT=%s: no single error line naming '%s' (first: '%s')",
                     bad[i].spec, bad[i].named, cap.n ? cap.line[0] : "");
    }
}

static void well_formed_lists_are_accepted(void **state) {
    (void)state;
    const char *good[] = {"", " ; , ", "mock:execute:after=0", "*:lost:at=1",
                          "other:read:at=3:once; mock:map:after=2 ,mock:query:at=9",
                          "npu_sim:lost:at=50,cpu:alloc:after=3;vulkan:execute:after=100"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        log_capture cap;
        ehal_status_t st;
        ehal_context *ctx = fault_ctx(good[i], &cap, &st);
        if (st != EHAL_STATUS_OK)
            fail_msg("EHAL_FAULT=%s: status %d (%s)", good[i], st, cap.n ? cap.line[0] : "");
        assert_int_equal(ehal_backend_count(ctx), 1);
        ehal_context_destroy(ctx);
    }
}

static void execute_after_n_fails_every_later_call(void **state) {
    (void)state;
    log_capture cap;
    ehal_context *ctx = open_fault_ctx("mock:execute:after=2", &cap);
    add_run r;
    add_setup(ctx, &r);
    for (int i = 1; i <= 2; i++) {
        assert_int_equal(add_once(&r), EHAL_STATUS_OK);
        assert_add_result(&r);
    }
    for (int i = 3; i <= 5; i++)
        assert_int_equal(ehal_execute(r.exe), EHAL_STATUS_INTERNAL);
    assert_non_null(strstr(ehal_last_error(ctx), "EHAL_FAULT rule \"mock:execute:after=2\""));
    assert_non_null(strstr(ehal_last_error(ctx), "mock: execute failed"));
    /* One WARN line for the first injected failure, naming the call. */
    assert_int_equal(log_count(&cap, EHAL_LOG_WARN, "\"mock:execute:after=2\""), 1);
    assert_int_equal(log_count(&cap, EHAL_LOG_WARN, "execute call 3 returns"), 1);
    /* Other entries are untouched. */
    assert_add_result(&r);
    add_teardown(&r);
    ehal_context_destroy(ctx);
    assert_int_equal(log_count(&cap, -1, "leak"), 0);
}

static void at_n_once_fails_only_that_call(void **state) {
    (void)state;
    log_capture cap;
    ehal_context *ctx = open_fault_ctx("mock:execute:at=2:once", &cap);
    add_run r;
    add_setup(ctx, &r);
    assert_int_equal(add_once(&r), EHAL_STATUS_OK);
    assert_int_equal(ehal_execute(r.exe), EHAL_STATUS_INTERNAL);
    for (int i = 3; i <= 4; i++) {
        assert_int_equal(add_once(&r), EHAL_STATUS_OK);
        assert_add_result(&r);
    }
    add_teardown(&r);
    ehal_context_destroy(ctx);
}

static void alloc_after_n_is_out_of_memory(void **state) {
    (void)state;
    log_capture cap;
    ehal_context *ctx = open_fault_ctx("mock:alloc:after=3", &cap);
    ehal_backend *be = ehal_backend_find(ctx, "mock");
    ehal_buffer *b[5] = {0};
    for (int i = 0; i < 3; i++)
        assert_int_equal(ehal_buffer_alloc(be, 64, 0, &b[i]), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_alloc(be, 64, 0, &b[3]), EHAL_STATUS_OUT_OF_MEMORY);
    assert_null(b[3]);
    assert_non_null(strstr(ehal_last_error(ctx), "mock:alloc:after=3"));
    assert_int_equal(ehal_buffer_alloc(be, 64, 0, &b[4]), EHAL_STATUS_OUT_OF_MEMORY);
    /* The buffers that exist still work. */
    const uint8_t v[4] = {9, 8, 7, 6};
    uint8_t got[4] = {0};
    assert_int_equal(ehal_buffer_write(b[2], 60, v, 4), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_read(b[2], 60, got, 4), EHAL_STATUS_OK);
    assert_memory_equal(got, v, 4);
    for (int i = 0; i < 3; i++)
        ehal_buffer_free(b[i]);
    ehal_context_destroy(ctx);
    assert_int_equal(log_count(&cap, -1, "leak"), 0);
}

static void lost_makes_every_later_entry_device_lost(void **state) {
    (void)state;
    log_capture cap;
    ehal_context *ctx = open_fault_ctx("mock:lost:at=2", &cap);
    ehal_backend *be = ehal_backend_find(ctx, "mock");
    add_run r;
    add_setup(ctx, &r);
    /* Writes, allocations and prepares do not count towards "lost". */
    assert_int_equal(add_once(&r), EHAL_STATUS_OK);
    assert_add_result(&r);
    assert_int_equal(ehal_execute(r.exe), EHAL_STATUS_DEVICE_LOST);
    assert_non_null(strstr(ehal_last_error(ctx), "mock:lost:at=2"));
    assert_int_equal(ehal_wait(r.exe, UINT64_MAX), EHAL_STATUS_DEVICE_LOST);
    float f[6];
    assert_int_equal(ehal_buffer_read(r.out, 0, f, sizeof f), EHAL_STATUS_DEVICE_LOST);
    assert_int_equal(ehal_buffer_write(r.in, 0, f, sizeof f), EHAL_STATUS_DEVICE_LOST);
    ehal_buffer *b = NULL;
    assert_int_equal(ehal_buffer_alloc(be, 16, 0, &b), EHAL_STATUS_DEVICE_LOST);
    ehal_executable *e2 = NULL;
    assert_int_equal(ehal_prepare(be, &r.sg, &e2), EHAL_STATUS_DEVICE_LOST);
    assert_int_equal(log_count(&cap, EHAL_LOG_WARN, "EHAL_FAULT rule \"mock:lost:at=2\""), 1);
    /* Releasing and freeing still reach the plugin: nothing leaks. */
    add_teardown(&r);
    ehal_context_destroy(ctx);
    assert_int_equal(log_count(&cap, -1, "leak"), 0);
}

static void rules_select_backends_by_name_or_star(void **state) {
    (void)state;
    log_capture cap;
    ehal_context *ctx = open_fault_ctx("other:execute:at=1; *:write:at=3:once", &cap);
    add_run r;
    add_setup(ctx, &r); /* write #1 */
    assert_int_equal(add_once(&r), EHAL_STATUS_OK); /* "other" is not mock */
    const float z[1] = {0};
    assert_int_equal(ehal_buffer_write(r.out, 0, z, sizeof z), EHAL_STATUS_OK); /* #2 */
    assert_int_equal(ehal_buffer_write(r.out, 0, z, sizeof z), EHAL_STATUS_INTERNAL);
    assert_non_null(strstr(ehal_last_error(ctx), "*:write:at=3:once"));
    assert_int_equal(ehal_buffer_write(r.out, 0, z, sizeof z), EHAL_STATUS_OK); /* #4 */
    assert_int_equal(add_once(&r), EHAL_STATUS_OK);
    assert_add_result(&r);
    add_teardown(&r);
    ehal_context_destroy(ctx);
}

static void no_env_flag_ignores_ehal_fault(void **state) {
    (void)state;
    setenv("EHAL_FAULT", "mock:execute:at=1", 1);
    ehal_context *ctx = open_ctx(MOCK_SO, NULL); /* EHAL_CONTEXT_NO_ENV */
    unsetenv("EHAL_FAULT");
    add_run r;
    add_setup(ctx, &r);
    assert_int_equal(add_once(&r), EHAL_STATUS_OK);
    assert_add_result(&r);
    add_teardown(&r);
    ehal_context_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(malformed_rules_fail_context_creation_naming_the_rule),
        cmocka_unit_test(well_formed_lists_are_accepted),
        cmocka_unit_test(execute_after_n_fails_every_later_call),
        cmocka_unit_test(at_n_once_fails_only_that_call),
        cmocka_unit_test(alloc_after_n_is_out_of_memory),
        cmocka_unit_test(lost_makes_every_later_entry_device_lost),
        cmocka_unit_test(rules_select_backends_by_name_or_star),
        cmocka_unit_test(no_env_flag_ignores_ehal_fault),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
