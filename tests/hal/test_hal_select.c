/*
 * Backend selection (EHAL_BACKENDS / options.backends): plain names select,
 * "-name" excludes, unknown names are no error, and plugins not selected are
 * not even opened (so a broken one cannot get in the way).
 */
#include "hal_test.h"

/* Loads the whole test plugin dir under `sel`; returns the backend names
 * joined by ',' in load order. */
static void load_with(const char *sel, int use_env, char *names, size_t size, uint32_t *skipped) {
    ehal_context_options o = test_options(HAL_PLUGINS, NULL, EHAL_LOG_ERROR);
    if (use_env)
        o.flags = EHAL_CONTEXT_NO_DEFAULT_PATHS;
    else
        o.backends = sel;
    ehal_context *ctx = NULL;
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    names[0] = '\0';
    for (uint32_t i = 0; i < ehal_backend_count(ctx); i++) {
        ehal_backend_props p = {.struct_size = sizeof p};
        assert_int_equal(ehal_backend_props_get(ehal_backend_get(ctx, i), &p), EHAL_STATUS_OK);
        size_t len = strlen(names);
        snprintf(names + len, size - len, "%s%s", len ? "," : "", p.name);
    }
    *skipped = ehal_skipped_count(ctx);
    ehal_context_destroy(ctx);
}

static void plain_names_select_and_minus_excludes(void **state) {
    (void)state;
    char names[200];
    uint32_t skipped;
    load_with("mock", 0, names, sizeof names, &skipped);
    assert_string_equal(names, "mock");
    assert_int_equal(skipped, 0); /* the broken ones were never opened */
    load_with("mock,frozen1", 0, names, sizeof names, &skipped);
    assert_string_equal(names, "frozen1,mock");
    load_with(" mock , future ", 0, names, sizeof names, &skipped);
    assert_string_equal(names, "future,mock");
    load_with("-mock", 0, names, sizeof names, &skipped);
    assert_string_equal(names, "frozen1,future");
    assert_int_equal(skipped, 5);
    load_with("-mock,-future,-badver,-initfail,-junk,-nosym,-short", 0, names, sizeof names,
              &skipped);
    assert_string_equal(names, "frozen1");
    assert_int_equal(skipped, 0);
    load_with("mock,-mock", 0, names, sizeof names, &skipped);
    assert_string_equal(names, "");
}

static void unknown_names_are_not_an_error(void **state) {
    (void)state;
    char names[200];
    uint32_t skipped;
    load_with("vulkan", 0, names, sizeof names, &skipped);
    assert_string_equal(names, "");
    assert_int_equal(skipped, 0);
    load_with("-opencl", 0, names, sizeof names, &skipped);
    assert_string_equal(names, "frozen1,future,mock");
    load_with("vulkan,mock", 0, names, sizeof names, &skipped);
    assert_string_equal(names, "mock");
}

static void the_environment_selects_unless_options_do(void **state) {
    (void)state;
    char names[200];
    uint32_t skipped;
    setenv("EHAL_BACKENDS", "-future,-mock", 1);
    load_with(NULL, 1, names, sizeof names, &skipped);
    assert_string_equal(names, "frozen1");
    load_with("mock", 0, names, sizeof names, &skipped); /* NO_ENV and an explicit choice */
    assert_string_equal(names, "mock");
    unsetenv("EHAL_BACKENDS");
    load_with(NULL, 1, names, sizeof names, &skipped);
    assert_string_equal(names, "frozen1,future,mock");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_names_select_and_minus_excludes),
        cmocka_unit_test(unknown_names_are_not_an_error),
        cmocka_unit_test(the_environment_selects_unless_options_do),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
