/*
 * PoCL fails device enumeration (CL_DEVICE_NPH_FOUND) when it cannot
 * create its kernel cache dir. CMake runs this test with HOME=/dev/null and
 * XDG_CACHE_HOME and POCL_CACHE_DIR unset, so PoCL's default
 * (~/.cache/pocl) cannot be created; the plugin must notice, set
 * POCL_CACHE_DIR to $TMPDIR/edgehal-pocl-<uid> before the first
 * clGetPlatformIDs, and open the device.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin_harness.h"

/* 1 if some OpenCL platform is PoCL, judged by the ICD registry. */
static int pocl_installed(void) {
    struct stat st;
    return stat("/etc/OpenCL/vendors/pocl.icd", &st) == 0;
}

static void test_unwritable_pocl_cache_dir_is_redirected(void **state) {
    (void)state;
    if (!pocl_installed()) {
        printf("SKIP: PoCL is not installed (/etc/OpenCL/vendors/pocl.icd absent)\n");
        skip();
    }
    const char *home = getenv("HOME");
    if (!home || strcmp(home, "/dev/null") != 0 || getenv("XDG_CACHE_HOME") ||
        getenv("POCL_CACHE_DIR")) {
        printf("SKIP: run through ctest (needs HOME=/dev/null, XDG_CACHE_HOME and "
               "POCL_CACHE_DIR unset)\n");
        skip();
    }
    ph_backend b;
    ph_log_reset();
    int rc = ph_open(&b, "opencl", NULL, 0);
    if (rc != 0) {
        printf("open failed: %s\n", b.skip_reason);
    }
    assert_int_equal(rc, 0);
    const char *dir = getenv("POCL_CACHE_DIR");
    assert_non_null(dir);
    const char *tmp = getenv("TMPDIR");
    char want[512];
    snprintf(want, sizeof want, "%s/edgehal-pocl-%lu", tmp && tmp[0] ? tmp : "/tmp",
             (unsigned long)getuid());
    assert_string_equal(dir, want);
    assert_int_equal(ph_log_count("set POCL_CACHE_DIR="), 1);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* and the device computes: 3 + 4 */
    ph_graph g;
    ph_graph_init(&g);
    uint32_t a = ph_tensor(&g, EHAL_DTYPE_F32, 40, 1, 1);
    uint32_t c = ph_tensor(&g, EHAL_DTYPE_F32, 40, 1, 1);
    uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, 40, 1, 1);
    for (int i = 0; i < 40; i++) {
        ((float *)g.host[a])[i] = 3.0f;
        ((float *)g.host[c])[i] = 4.0f * (float)i;
    }
    ph_node(&g, EHAL_OP_ADD, (uint32_t[]){a, c}, 2, y, NULL, 0);
    assert_int_equal(ph_run(&b, &g), 0);
    for (int i = 0; i < 40; i++) {
        assert_true(((float *)g.dev[y])[i] == 3.0f + 4.0f * (float)i);
    }
    ph_graph_free(&g);
    ph_close(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unwritable_pocl_cache_dir_is_redirected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
