/*
 * Without any OpenCL platform the plugin still loads, and init answers
 * UNSUPPORTED with a one-line reason instead of failing hard. CMake runs
 * this with OCL_ICD_VENDORS pointing at an empty directory, so the ICD
 * loader (ocl-icd) finds no driver.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plugin_harness.h"

static void test_no_platform_means_unsupported_with_one_reason(void **state) {
    (void)state;
    const char *v = getenv("OCL_ICD_VENDORS");
    if (!v || strstr(v, "empty") == NULL) {
        printf("SKIP: run through ctest (needs OCL_ICD_VENDORS=<an empty dir>)\n");
        skip();
    }
    ph_backend b;
    ph_log_reset();
    unsigned errs = ph_error_logs;
    assert_int_equal(ph_open(&b, "opencl", NULL, 0), -1);
    assert_null(b.be);
    assert_non_null(strstr(b.skip_reason, "init returned 2")); /* EHAL_STATUS_UNSUPPORTED */
    assert_int_equal(ph_log_count("opencl: no OpenCL platform"), 1);
    assert_int_equal(ph_error_logs, errs); /* a WARN, not an error */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_platform_means_unsupported_with_one_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
