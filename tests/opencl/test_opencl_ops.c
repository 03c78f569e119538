/*
 * Every catalog op on the OpenCL plugin against the ehal_ops reference
 * kernels (the shared cases of tests/plugin_harness/op_cases.c: decode and
 * prefill shapes, odd sizes, GQA 4:1, window+sink eviction), plus the
 * device's report and buffer limit. CMake registers it twice: with the device's
 * optional features (fp16 arithmetic, subgroups) and with
 * EHAL_OPENCL_DISABLE=all (the portable OpenCL 1.2 path). Skipped with a
 * printed reason where no OpenCL device exists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "op_cases.h"


static int group_setup(void **state) {
    (void)state;
    if (ph_open(&ph_case_backend, "opencl", NULL, 0) != 0) {
        printf("SKIP opencl tests: %s\n", ph_case_backend.skip_reason);
    }
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    ph_close(&ph_case_backend);
    return 0;
}


static void test_device_info_reports_kind_limits_and_flags(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    ehal_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    assert_int_equal(ph_case_backend.iface->device_info(ph_case_backend.be, &info), EHAL_STATUS_OK);
    assert_true(info.kind == EHAL_DEVICE_GPU || info.kind == EHAL_DEVICE_OTHER);
    assert_true(info.name[0] != '\0');
    assert_true(info.driver[0] != '\0');
    assert_true(info.max_buffer_bytes >= 1u << 20);
    assert_true(info.memory_bytes >= info.max_buffer_bytes);
    assert_true(info.flags & EHAL_DEVICE_ASYNC);
    printf("device: %s / %s, kind %u, memory %llu, max buffer %llu, flags 0x%x\n", info.name,
           info.driver, info.kind, (unsigned long long)info.memory_bytes,
           (unsigned long long)info.max_buffer_bytes, info.flags);
    if (strstr(info.name, "pthread") || strstr(info.name, "cpu")) {
        /* PoCL's CPU device: OTHER (not the native CPU backend), host-unified */
        assert_int_equal(info.kind, EHAL_DEVICE_OTHER);
        assert_true(info.flags & EHAL_DEVICE_HOST_SHARED);
    }
}

static void test_buffer_over_max_alloc_size_is_refused(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    ehal_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    ph_case_backend.iface->device_info(ph_case_backend.be, &info);
    ehal_buffer_impl *buf = NULL;
    unsigned errs = ph_error_logs;
    assert_int_equal(ph_case_backend.iface->buffer_alloc(ph_case_backend.be, info.max_buffer_bytes + 1, 0, &buf),
                     EHAL_STATUS_UNSUPPORTED);
    assert_true(ph_error_logs == errs + 1); /* one clear message */
    /* and a buffer round-trips bytes */
    uint8_t in[100], out[100];
    for (int i = 0; i < 100; i++) {
        in[i] = (uint8_t)(i * 7 + 3);
    }
    assert_int_equal(ph_case_backend.iface->buffer_alloc(ph_case_backend.be, 100, 0, &buf), EHAL_STATUS_OK);
    assert_int_equal(ph_case_backend.iface->buffer_write(ph_case_backend.be, buf, 0, in, 100), EHAL_STATUS_OK);
    assert_int_equal(ph_case_backend.iface->buffer_read(ph_case_backend.be, buf, 3, out, 97), EHAL_STATUS_OK);
    assert_memory_equal(out, in + 3, 97);
    ph_case_backend.iface->buffer_free(ph_case_backend.be, buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_info_reports_kind_limits_and_flags),
        cmocka_unit_test(test_buffer_over_max_alloc_size_is_refused),
        PH_OP_CASE_TESTS,
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
