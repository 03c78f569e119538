/*
 * Every catalog op on the Vulkan plugin against the ehal_ops reference
 * kernels (the shared cases of tests/plugin_harness/op_cases.c: decode and
 * prefill shapes, odd sizes, GQA 4:1, window+sink eviction), plus the
 * device's report, storage-range limits, query_op honesty and wait. Runs under VK_LAYER_KHRONOS_validation
 * (EHAL_VULKAN_VALIDATION=1, set by CMake) and fails on any validation
 * message. CMake also registers a run with EHAL_VULKAN_DISABLE=all (the
 * fallback shader variants).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "op_cases.h"
#include "vk_validation.h"

static uint64_t g_max_storage; /* device_info max_buffer_bytes */

static void no_validation_message(void) {
    assert_int_equal(vk_validation_messages, 0);
}

static int group_setup(void **state) {
    (void)state;
    ph_case_after_run = no_validation_message;
    if (vk_open(&ph_case_backend) != 0) {
        printf("SKIP vulkan tests: %s\n", ph_case_backend.skip_reason);
        return 0;
    }
    ehal_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    ph_case_backend.iface->device_info(ph_case_backend.be, &info);
    g_max_storage = info.max_buffer_bytes;
    const char *v = getenv("EHAL_VULKAN_VALIDATION");
    if (v && strcmp(v, "1") == 0 && !vk_validation_enabled) {
        printf("EHAL_VULKAN_VALIDATION=1 but VK_LAYER_KHRONOS_validation did not load "
               "(install vulkan-validationlayers)\n");
        return -1;
    }
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    ph_close(&ph_case_backend);
    return 0;
}



static void test_device_info_reports_a_gpu_with_limits(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    ehal_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    assert_int_equal(ph_case_backend.iface->device_info(ph_case_backend.be, &info), EHAL_STATUS_OK);
    assert_int_equal(info.kind, EHAL_DEVICE_GPU);
    assert_true(info.name[0] != '\0');
    assert_true(info.driver[0] != '\0');
    assert_true(info.max_buffer_bytes >= 1u << 20);
    assert_true(info.flags & EHAL_DEVICE_ASYNC);
    printf("device: %s / %s, memory %llu, max buffer %llu, flags 0x%x\n", info.name, info.driver,
           (unsigned long long)info.memory_bytes, (unsigned long long)info.max_buffer_bytes,
           info.flags);
    const char *dis = getenv("EHAL_VULKAN_DISABLE");
    int masked = dis && (strstr(dis, "all") || strstr(dis, "hostshared"));
    if (strstr(info.name, "llvmpipe")) { /* lavapipe is UMA unless masked */
        assert_int_equal((info.flags & EHAL_DEVICE_HOST_SHARED) != 0, !masked);
    }
}

static void test_buffer_over_max_storage_range_is_refused(void **state) {
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

/* Capability honesty: instances the plugin cannot run are UNSUPPORTED
 * (not errors), with no buffers needed; runnable ones are SUPPORTED. */
static void test_query_op_refuses_what_it_cannot_run(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    struct {
        int64_t K, N, D;
        uint32_t wdt;
    } cases[3] = {
        {4096, 4096, 64, EHAL_DTYPE_F32},    /* both runnable */
        {16384, 16384, 64, EHAL_DTYPE_Q4_0}, /* 144 MiB weight > 128 MiB maxStorageBufferRange */
        {64, 64, 1024, EHAL_DTYPE_F32},      /* attention head dim > 512 */
    };
    for (int c = 0; c < 3; c++) {
        ph_graph g;
        ph_graph_init(&g);
        uint32_t w = ph_tensor(&g, cases[c].wdt, cases[c].K, cases[c].N, 1);
        uint32_t x = ph_tensor(&g, EHAL_DTYPE_F32, cases[c].K, 1, 1);
        uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, cases[c].N, 1, 1);
        int64_t D = cases[c].D;
        uint32_t q = ph_tensor(&g, EHAL_DTYPE_F32, D, 4, 1);
        uint32_t k = ph_tensor(&g, EHAL_DTYPE_F16, D, 8, 1);
        uint32_t v = ph_tensor(&g, EHAL_DTYPE_F16, D, 8, 1);
        uint32_t pos = ph_tensor(&g, EHAL_DTYPE_I32, 1, 1, 1);
        uint32_t o = ph_tensor(&g, EHAL_DTYPE_F32, D, 4, 1);
        ehal_params_attention pa = {0.0f, 0, 0, 0};
        ph_node(&g, EHAL_OP_MATMUL, (uint32_t[]){w, x}, 2, y, NULL, 0);
        ph_node(&g, EHAL_OP_ATTENTION, (uint32_t[]){q, k, v, pos}, 4, o, &pa, sizeof pa);
        ehal_op_support s0 = {sizeof s0, 9, 0, 0}, s1 = {sizeof s1, 9, 0, 0};
        assert_int_equal(ph_case_backend.iface->query_op(ph_case_backend.be, &g.sg, 0, &s0), EHAL_STATUS_OK);
        assert_int_equal(ph_case_backend.iface->query_op(ph_case_backend.be, &g.sg, 1, &s1), EHAL_STATUS_OK);
        /* the limit is the device's: lavapipe's is 128 MiB */
        uint32_t want_mm = c == 1 && g_max_storage < 150000000u ? EHAL_SUPPORT_UNSUPPORTED
                                                                : EHAL_SUPPORT_SUPPORTED;
        uint32_t want_at = c == 2 ? EHAL_SUPPORT_UNSUPPORTED : EHAL_SUPPORT_SUPPORTED;
        assert_int_equal(s0.level, want_mm);
        assert_int_equal(s1.level, want_at);
        if (s0.level == EHAL_SUPPORT_SUPPORTED) {
            assert_true(s0.cost_ns > 0);
        }
        ph_graph_free(&g);
    }
}

/* wait with a zero timeout answers OK or TIMEOUT, never an error; a later
 * unbounded wait completes and the result is right. */
static void test_wait_with_zero_timeout_then_unbounded(void **state) {
    (void)state;
    PH_REQUIRE_DEVICE();
    const ehal_backend_iface *f = ph_case_backend.iface;
    ph_graph g;
    ph_graph_init(&g);
    uint32_t w = ph_tensor(&g, EHAL_DTYPE_Q8_0, 1024, 512, 1);
    uint32_t x = ph_tensor(&g, EHAL_DTYPE_F32, 1024, 1, 1);
    uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, 512, 1, 1);
    ph_fill(&g, w, 600, 1.0f);
    ph_fill(&g, x, 601, 1.0f);
    ph_node(&g, EHAL_OP_MATMUL, (uint32_t[]){w, x}, 2, y, NULL, 0);
    assert_int_equal(ph_run_ref(&g, 1), 0);
    ehal_buffer_impl *bufs[3];
    ph_graph dg = g;
    for (uint32_t i = 0; i < 3; i++) {
        uint64_t nb = ehal_tensor_nbytes(&g.td[i]);
        assert_int_equal(f->buffer_alloc(ph_case_backend.be, nb, 0, &bufs[i]), EHAL_STATUS_OK);
        assert_int_equal(f->buffer_write(ph_case_backend.be, bufs[i], 0, g.host[i], nb), EHAL_STATUS_OK);
        dg.tp[i] = &dg.td[i];
        dg.td[i].buffer = bufs[i];
        dg.td[i].offset = 0;
    }
    dg.np[0] = &dg.nd[0];
    dg.sg.tensors = dg.tp;
    dg.sg.nodes = dg.np;
    ehal_executable_impl *exe = NULL;
    assert_int_equal(f->prepare(ph_case_backend.be, &dg.sg, &exe), EHAL_STATUS_OK);
    assert_int_equal(f->execute(ph_case_backend.be, exe, NULL), EHAL_STATUS_OK);
    ehal_status_t st = f->wait(ph_case_backend.be, exe, 0);
    printf("wait(0) right after execute: %s\n", st == EHAL_STATUS_OK ? "OK" : "TIMEOUT");
    assert_true(st == EHAL_STATUS_OK || st == EHAL_STATUS_TIMEOUT);
    assert_int_equal(f->wait(ph_case_backend.be, exe, UINT64_MAX), EHAL_STATUS_OK);
    assert_int_equal(f->wait(ph_case_backend.be, exe, 0), EHAL_STATUS_OK); /* nothing pending */
    assert_int_equal(f->buffer_read(ph_case_backend.be, bufs[y], 0, g.dev[y], ehal_tensor_nbytes(&g.td[y])),
                     EHAL_STATUS_OK);
    ph_case_check_int8_act(&g, w, x, y, "matmul after wait");
    f->release(ph_case_backend.be, exe);
    for (uint32_t i = 0; i < 3; i++) {
        f->buffer_free(ph_case_backend.be, bufs[i]);
    }
    assert_int_equal(vk_validation_messages, 0);
    ph_graph_free(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_info_reports_a_gpu_with_limits),
        cmocka_unit_test(test_buffer_over_max_storage_range_is_refused),
        PH_OP_CASE_TESTS,
        cmocka_unit_test(test_query_op_refuses_what_it_cannot_run),
        cmocka_unit_test(test_wait_with_zero_timeout_then_unbounded),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
