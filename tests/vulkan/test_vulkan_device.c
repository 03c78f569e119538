/*
 * Device selection and the no-device path of the Vulkan plugin:
 * the "device" option and EHAL_VULKAN_DEVICE (index or case-insensitive
 * name substring), a selection matching nothing, and init with no Vulkan
 * driver at all (UNSUPPORTED with a logged reason, never a crash).
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edgehal/backend_abi.h"

static const ehal_backend_iface *g_iface;
static char g_last_log[512];
static int g_logs;
static char g_skip[300];

static void host_log(void *user, int32_t level, const char *msg) {
    (void)user;
    (void)level;
    snprintf(g_last_log, sizeof g_last_log, "%s", msg);
    g_logs++;
}
static void *host_alloc(void *user, size_t size, size_t align) {
    (void)user;
    void *p = NULL;
    return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1) == 0 ? p : NULL;
}
static void host_free(void *user, void *p) {
    (void)user;
    free(p);
}
static ehal_host_services g_host = {sizeof(ehal_host_services), EHAL_ABI_VERSION, NULL, host_log,
                                    host_alloc, host_free};

static int setup(void **state) {
    (void)state;
    const char *dir = getenv("EHAL_TEST_PLUGIN_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/libedgehal-vulkan.so", dir ? dir : ".");
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    void *sym = lib ? dlsym(lib, EHAL_BACKEND_ENTRY_SYMBOL) : NULL;
    ehal_backend_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    ehal_entry_args args = {sizeof args, EHAL_ABI_VERSION_MIN, EHAL_ABI_VERSION, 0, &g_host, NULL};
    if (!sym || entry(&args) != EHAL_STATUS_OK) {
        snprintf(g_skip, sizeof g_skip, "cannot load the plugin from %.200s", path);
        return 0;
    }
    g_iface = args.iface;
    ehal_backend_impl *be = NULL;
    if (g_iface->init(&g_host, NULL, 0, &be) != EHAL_STATUS_OK) {
        snprintf(g_skip, sizeof g_skip, "no Vulkan device: %.250s", g_last_log);
        g_iface = NULL;
        return 0;
    }
    g_iface->destroy(be);
    return 0;
}

static void device_name(const ehal_option *opts, uint32_t n, ehal_status_t want, char *name) {
    ehal_backend_impl *be = NULL;
    assert_int_equal(g_iface->init(&g_host, opts, n, &be), want);
    if (want == EHAL_STATUS_OK) {
        ehal_device_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        assert_int_equal(g_iface->device_info(be, &info), EHAL_STATUS_OK);
        snprintf(name, 64, "%s", info.name);
        g_iface->destroy(be);
    }
}

static void test_device_selected_by_index_and_by_name_substring(void **state) {
    (void)state;
    if (!g_iface) {
        printf("SKIP: %s\n", g_skip);
        skip();
    }
    char by_default[64], by_index[64], by_name[64], by_env[64];
    device_name(NULL, 0, EHAL_STATUS_OK, by_default);
    ehal_option o = {"device", "0"};
    device_name(&o, 1, EHAL_STATUS_OK, by_index);
    /* a case-flipped piece of the name selects the same device */
    char piece[8];
    snprintf(piece, sizeof piece, "%.4s", by_index);
    for (char *p = piece; *p; p++) {
        *p = (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : (*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    }
    o.value = piece;
    device_name(&o, 1, EHAL_STATUS_OK, by_name);
    assert_string_equal(by_name, by_index);
    setenv("EHAL_VULKAN_DEVICE", "0", 1);
    device_name(NULL, 0, EHAL_STATUS_OK, by_env);
    unsetenv("EHAL_VULKAN_DEVICE");
    assert_string_equal(by_env, by_index);
    assert_true(by_default[0] != '\0');
}

static void test_device_matching_nothing_is_not_found_with_a_message(void **state) {
    (void)state;
    if (!g_iface) {
        printf("SKIP: %s\n", g_skip);
        skip();
    }
    char name[64];
    ehal_option o = {"device", "no-such-gpu-xyz"};
    device_name(&o, 1, EHAL_STATUS_NOT_FOUND, name);
    assert_non_null(strstr(g_last_log, "no-such-gpu-xyz"));
}

/* Last: points the loader at no driver at all. */
static void test_no_vulkan_driver_makes_init_unsupported(void **state) {
    (void)state;
    if (!g_iface) {
        printf("SKIP: %s\n", g_skip);
        skip();
    }
    setenv("VK_ICD_FILENAMES", "/nonexistent/edgehal_no_icd.json", 1);
    setenv("VK_DRIVER_FILES", "/nonexistent/edgehal_no_icd.json", 1);
    ehal_backend_impl *be = NULL;
    int before = g_logs;
    assert_int_equal(g_iface->init(&g_host, NULL, 0, &be), EHAL_STATUS_UNSUPPORTED);
    assert_true(g_logs > before);
    printf("logged: %s\n", g_last_log);
    assert_non_null(strstr(g_last_log, "Vulkan"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_selected_by_index_and_by_name_substring),
        cmocka_unit_test(test_device_matching_nothing_is_not_found_with_a_message),
        cmocka_unit_test(test_no_vulkan_driver_makes_init_unsupported),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
