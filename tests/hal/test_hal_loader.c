/*
 * The plugin loader: broken plugins are skipped with one line each naming
 * the file and the reason while good ones load; search order, duplicates,
 * missing directories, the debug trace, options passed to init.
 */

#include "hal_test.h"

#include <unistd.h>

static const char *skip_reason_for(const ehal_context *ctx, const char *path) {
    for (uint32_t i = 0; i < ehal_skipped_count(ctx); i++)
        if (strcmp(ehal_skipped_path(ctx, i), path) == 0)
            return ehal_skipped_reason(ctx, i);
    return NULL;
}

static void broken_plugins_are_skipped_and_good_ones_still_load(void **state) {
    (void)state;
    log_capture cap;
    ehal_context *ctx = open_ctx(HAL_PLUGINS, &cap);
    /* Sorted by file name: frozen1, future, mock are the good ones. */
    assert_int_equal(ehal_backend_count(ctx), 3);
    ehal_backend_props p = {.struct_size = sizeof p};
    const char *names[3] = {"frozen1", "future", "mock"};
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(ehal_backend_props_get(ehal_backend_get(ctx, i), &p), EHAL_STATUS_OK);
        assert_string_equal(p.name, names[i]);
    }
    assert_int_equal(ehal_skipped_count(ctx), 5);
    assert_string_equal(skip_reason_for(ctx, HAL_PLUGINS "/libedgehal-badver.so"),
                        "ABI version 7 outside the supported range 1..1");
    assert_string_equal(skip_reason_for(ctx, HAL_PLUGINS "/libedgehal-nosym.so"),
                        "no symbol ehal_backend_entry (not an edgehal plugin)");
    /* 144 = 2 x uint32 + name pointer + 16 entries on LP64. */
    assert_int_equal(EHAL_BACKEND_IFACE_MIN_SIZE, 8 + 8 + 16 * sizeof(void *));
    char expect[200];
    snprintf(expect, sizeof expect,
             "function table is 64 bytes, smaller than the %u-byte revision-1 minimum",
             (unsigned)(8 + 8 + 16 * sizeof(void *)));
    assert_string_equal(skip_reason_for(ctx, HAL_PLUGINS "/libedgehal-short.so"), expect);
    assert_string_equal(skip_reason_for(ctx, HAL_PLUGINS "/libedgehal-initfail.so"),
                        "init failed: out of memory (cannot reserve the device arena of 1 GiB)");
    const char *junk = skip_reason_for(ctx, HAL_PLUGINS "/libedgehal-junk.so");
    assert_non_null(junk);
    assert_memory_equal(junk, "cannot load: ", 13);
    assert_non_null(strstr(junk, "libedgehal-junk.so"));
    /* One WARN line per skipped file, naming it. */
    assert_int_equal(log_count(&cap, EHAL_LOG_WARN, "skipping "), 5);
    assert_int_equal(log_count(&cap, EHAL_LOG_WARN,
                               "skipping " HAL_PLUGINS "/libedgehal-badver.so: ABI version 7 "
                               "outside the supported range 1..1"),
                     1);
    ehal_context_destroy(ctx);
}

static void a_real_library_without_the_entry_symbol_is_not_a_plugin(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(HAL_PLUGINS_OTHER "/libnotaplugin.so:" MOCK_SO, NULL);
    assert_int_equal(ehal_backend_count(ctx), 1);
    assert_int_equal(ehal_skipped_count(ctx), 1);
    assert_string_equal(ehal_skipped_path(ctx, 0), HAL_PLUGINS_OTHER "/libnotaplugin.so");
    assert_string_equal(ehal_skipped_reason(ctx, 0),
                        "no symbol ehal_backend_entry (not an edgehal plugin)");
    ehal_context_destroy(ctx);
}

static void missing_directories_are_ignored_silently(void **state) {
    (void)state;
    log_capture cap;
    ehal_context *ctx = open_ctx("/nonexistent/edgehal-dir::" MOCK_SO, &cap);
    assert_int_equal(ehal_backend_count(ctx), 1);
    assert_int_equal(ehal_skipped_count(ctx), 0);
    assert_int_equal(cap.n, 0);
    ehal_context_destroy(ctx);
}

static void a_missing_plugin_file_is_reported(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(HAL_PLUGINS "/libedgehal-absent.so", NULL);
    assert_int_equal(ehal_backend_count(ctx), 0);
    assert_int_equal(ehal_skipped_count(ctx), 1);
    assert_string_equal(ehal_skipped_reason(ctx, 0), "cannot load: No such file or directory");
    ehal_context_destroy(ctx);
}

static void the_same_backend_name_twice_keeps_the_first(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(MOCK_SO ":" HAL_PLUGINS_DUP, NULL);
    assert_int_equal(ehal_backend_count(ctx), 1);
    ehal_backend_props p = {.struct_size = sizeof p};
    assert_int_equal(ehal_backend_props_get(ehal_backend_find(ctx, "mock"), &p), EHAL_STATUS_OK);
    assert_string_equal(p.device.name, "mock device");
    assert_int_equal(ehal_skipped_count(ctx), 1);
    assert_string_equal(ehal_skipped_path(ctx, 0), HAL_PLUGINS_DUP "/libedgehal-mock.so");
    assert_string_equal(ehal_skipped_reason(ctx, 0), "duplicate of " MOCK_SO);
    ehal_context_destroy(ctx);

    /* Reversed order: the second copy wins. */
    ctx = open_ctx(HAL_PLUGINS_DUP ":" MOCK_SO, NULL);
    assert_int_equal(ehal_backend_props_get(ehal_backend_find(ctx, "mock"), &p), EHAL_STATUS_OK);
    assert_string_equal(p.device.name, "mock second copy");
    assert_string_equal(ehal_skipped_reason(ctx, 0),
                        "duplicate of " HAL_PLUGINS_DUP "/libedgehal-mock.so");
    ehal_context_destroy(ctx);
}

static void the_same_file_twice_is_loaded_once_without_complaint(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(MOCK_SO ":" HAL_PLUGINS "/../plugins/libedgehal-mock.so", NULL);
    assert_int_equal(ehal_backend_count(ctx), 1);
    assert_int_equal(ehal_skipped_count(ctx), 0);
    ehal_context_destroy(ctx);
}

static void option_path_is_searched_before_the_environment(void **state) {
    (void)state;
    setenv("EHAL_BACKEND_PATH", HAL_PLUGINS_DUP, 1);
    ehal_context_options o = test_options(MOCK_SO, NULL, EHAL_LOG_ERROR);
    o.flags = EHAL_CONTEXT_NO_DEFAULT_PATHS; /* environment on */
    ehal_context *ctx = NULL;
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    ehal_backend_props p = {.struct_size = sizeof p};
    assert_int_equal(ehal_backend_props_get(ehal_backend_find(ctx, "mock"), &p), EHAL_STATUS_OK);
    assert_string_equal(p.path, MOCK_SO);
    assert_string_equal(ehal_skipped_reason(ctx, 0), "duplicate of " MOCK_SO);
    ehal_context_destroy(ctx);

    /* Only the environment: the second copy is found there. */
    o.backend_path = NULL;
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    assert_int_equal(ehal_backend_props_get(ehal_backend_find(ctx, "mock"), &p), EHAL_STATUS_OK);
    assert_string_equal(p.path, HAL_PLUGINS_DUP "/libedgehal-mock.so");
    ehal_context_destroy(ctx);

    /* EHAL_CONTEXT_NO_ENV: the variable is ignored. */
    o.flags |= EHAL_CONTEXT_NO_ENV;
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    assert_int_equal(ehal_backend_count(ctx), 0);
    ehal_context_destroy(ctx);
    unsetenv("EHAL_BACKEND_PATH");
}

static void debug_log_prints_every_file_and_its_verdict(void **state) {
    (void)state;
    log_capture cap;
    ehal_context_options o = test_options(HAL_PLUGINS, &cap, EHAL_LOG_DEBUG);
    ehal_context *ctx = NULL;
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    static const char *const files[] = {"badver", "frozen1", "future", "initfail",
                                        "junk",   "mock",    "nosym",  "short"};
    for (size_t i = 0; i < 8; i++) {
        char tried[300];
        snprintf(tried, sizeof tried, "trying " HAL_PLUGINS "/libedgehal-%s.so", files[i]);
        assert_int_equal(log_count(&cap, EHAL_LOG_DEBUG, tried), 1);
    }
    assert_int_equal(log_count(&cap, EHAL_LOG_DEBUG, ": loaded backend "), 3);
    assert_int_equal(log_count(&cap, EHAL_LOG_DEBUG,
                               HAL_PLUGINS "/libedgehal-mock.so: loaded backend mock (ABI 1"),
                     1);
    assert_int_equal(log_count(&cap, EHAL_LOG_WARN, "skipping "), 5);
    ehal_context_destroy(ctx);
}

static void backend_options_reach_init_without_their_prefix(void **state) {
    (void)state;
    const ehal_option opts[] = {{"mock.tag", "abc"}, {"other.tag", "zzz"}, {"mock.speed", "9"}};
    ehal_context_options o = test_options(MOCK_SO, NULL, EHAL_LOG_ERROR);
    o.backend_options = opts;
    o.n_backend_options = 3;
    ehal_context *ctx = NULL;
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    ehal_backend_props p = {.struct_size = sizeof p};
    assert_int_equal(ehal_backend_props_get(ehal_backend_get(ctx, 0), &p), EHAL_STATUS_OK);
    assert_string_equal(p.device.driver, "mock tag=abc");
    ehal_context_destroy(ctx);
}

static void props_describe_the_loaded_plugin(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(MOCK_SO, NULL);
    ehal_backend *be = ehal_backend_find(ctx, "mock");
    assert_ptr_equal(be, ehal_backend_get(ctx, 0));
    assert_null(ehal_backend_find(ctx, "cpu"));
    assert_null(ehal_backend_get(ctx, 1));
    ehal_backend_props p = {.struct_size = sizeof p};
    assert_int_equal(ehal_backend_props_get(be, &p), EHAL_STATUS_OK);
    assert_int_equal(p.abi_version, 1);
    assert_string_equal(p.path, MOCK_SO);
    assert_int_equal(p.device.kind, EHAL_DEVICE_CPU);
    assert_int_equal(p.device.flags, EHAL_DEVICE_HOST_SHARED);
    assert_int_equal(p.device.memory_bytes, 1u << 30);
    assert_string_equal(ehal_last_error(ctx), "");
    ehal_context_destroy(ctx);
}

static void context_create_rejects_bad_arguments(void **state) {
    (void)state;
    ehal_context_options o = test_options(MOCK_SO, NULL, EHAL_LOG_ERROR);
    o.struct_size = 4;
    ehal_context *ctx = (ehal_context *)&o;
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_INVALID_ARGUMENT);
    assert_null(ctx);
    o.struct_size = sizeof o;
    assert_int_equal(ehal_context_create(&o, NULL), EHAL_STATUS_INVALID_ARGUMENT);
}

static void ehal_log_sets_the_level_when_options_do_not(void **state) {
    (void)state;
    log_capture cap;
    ehal_context_options o = test_options(HAL_PLUGINS "/libedgehal-badver.so", &cap, -1);
    o.flags = EHAL_CONTEXT_NO_DEFAULT_PATHS; /* environment on */
    ehal_context *ctx = NULL;
    setenv("EHAL_LOG", "debug", 1);
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    assert_int_equal(log_count(&cap, EHAL_LOG_DEBUG, "trying " HAL_PLUGINS "/libedgehal-badver.so"),
                     1);
    assert_int_equal(log_count(&cap, EHAL_LOG_WARN, "skipping "), 1);
    ehal_context_destroy(ctx);

    setenv("EHAL_LOG", "error", 1);
    cap.n = 0;
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    assert_int_equal(cap.n, 0); /* the WARN skip line is below the level */
    assert_int_equal(ehal_skipped_count(ctx), 1);
    ehal_context_destroy(ctx);

    /* Unset: warn. With NO_ENV the variable is ignored: warn as well. */
    unsetenv("EHAL_LOG");
    cap.n = 0;
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    assert_int_equal(cap.n, 1);
    assert_int_equal(cap.level[0], EHAL_LOG_WARN);
    ehal_context_destroy(ctx);
    setenv("EHAL_LOG", "debug", 1);
    o.flags |= EHAL_CONTEXT_NO_ENV;
    cap.n = 0;
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    assert_int_equal(cap.n, 1);
    ehal_context_destroy(ctx);
    unsetenv("EHAL_LOG");
}

/* Index of the first captured line containing needle, or -1. */
static int first_line(const log_capture *c, const char *needle) {
    for (int i = 0; i < c->n; i++)
        if (strstr(c->line[i], needle))
            return i;
    return -1;
}

static void default_dirs_are_searched_first_in_order(void **state) {
    (void)state;
    log_capture cap;
    ehal_context_options o = test_options(HAL_PLUGINS_DUP, &cap, EHAL_LOG_DEBUG);
    o.flags = EHAL_CONTEXT_NO_ENV;
    o.backends = "mock"; /* whatever real plugins are installed, keep only the test one */
    ehal_context *ctx = NULL;
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    /* The test binary lives in <build>/tests, so <exe dir>/../lib/edgehal is
     * <build>/lib/edgehal. */
    int exe_dir = first_line(&cap, HAL_BUILD_DIR "/lib/edgehal");
    int installed = first_line(&cap, HAL_INSTALLED_PLUGIN_DIR);
    int path = first_line(&cap, HAL_PLUGINS_DUP);
    assert_true(exe_dir >= 0);
    assert_true(installed > exe_dir);
    assert_true(path > installed);
    ehal_backend_props p = {.struct_size = sizeof p};
    assert_int_equal(ehal_backend_props_get(ehal_backend_find(ctx, "mock"), &p), EHAL_STATUS_OK);
    assert_string_equal(p.path, HAL_PLUGINS_DUP "/libedgehal-mock.so");
    ehal_context_destroy(ctx);
}

static void a_bare_file_name_is_taken_relative_to_the_working_dir(void **state) {
    (void)state;
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(HAL_PLUGINS), 0);
    ehal_context *ctx = open_ctx("libedgehal-mock.so", NULL);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(ehal_backend_count(ctx), 1);
    ehal_backend_props p = {.struct_size = sizeof p};
    assert_int_equal(ehal_backend_props_get(ehal_backend_get(ctx, 0), &p), EHAL_STATUS_OK);
    assert_string_equal(p.name, "mock");
    assert_string_equal(p.path, "libedgehal-mock.so");
    ehal_context_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(broken_plugins_are_skipped_and_good_ones_still_load),
        cmocka_unit_test(a_real_library_without_the_entry_symbol_is_not_a_plugin),
        cmocka_unit_test(missing_directories_are_ignored_silently),
        cmocka_unit_test(a_missing_plugin_file_is_reported),
        cmocka_unit_test(the_same_backend_name_twice_keeps_the_first),
        cmocka_unit_test(the_same_file_twice_is_loaded_once_without_complaint),
        cmocka_unit_test(option_path_is_searched_before_the_environment),
        cmocka_unit_test(debug_log_prints_every_file_and_its_verdict),
        cmocka_unit_test(backend_options_reach_init_without_their_prefix),
        cmocka_unit_test(props_describe_the_loaded_plugin),
        cmocka_unit_test(context_create_rejects_bad_arguments),
        cmocka_unit_test(ehal_log_sets_the_level_when_options_do_not),
        cmocka_unit_test(default_dirs_are_searched_first_in_order),
        cmocka_unit_test(a_bare_file_name_is_taken_relative_to_the_working_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
