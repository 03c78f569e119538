/*
 * The OpenCL plugin as a backend: the on-disk program cache (miss, hit,
 * corrupt file, unwritable dir), device selection by option and
 * environment, capability answers, wait with a deadline, mapping, and
 * loading through the core (ehal_context_create with backend_path).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "edgehal/edgehal.h"
#include "plugin_harness.h"

static char g_skip[1200];

static int group_setup(void **state) {
    (void)state;
    ph_backend b;
    if (ph_open(&b, "opencl", NULL, 0) != 0) {
        snprintf(g_skip, sizeof g_skip, "%s", b.skip_reason);
        printf("SKIP opencl backend tests: %s\n", g_skip);
    } else {
        ph_close(&b);
    }
    return 0;
}

#define REQUIRE_DEVICE()                  \
    do {                                  \
        if (g_skip[0]) {                  \
            printf("SKIP: %s\n", g_skip); \
            skip();                       \
        }                                 \
    } while (0)

/* y = a + b over 100 floats on an opened backend; returns 0 if exact. */
static int add_works(ph_backend *b) {
    ph_graph g;
    ph_graph_init(&g);
    uint32_t a = ph_tensor(&g, EHAL_DTYPE_F32, 100, 1, 1);
    uint32_t c = ph_tensor(&g, EHAL_DTYPE_F32, 100, 1, 1);
    uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, 100, 1, 1);
    ph_fill(&g, a, 1, 1.0f);
    ph_fill(&g, c, 2, 1.0f);
    ph_node(&g, EHAL_OP_ADD, (uint32_t[]){a, c}, 2, y, NULL, 0);
    int rc = ph_run(b, &g) == 0 ? ph_check_close(&g, y, 0.0, "add") : -1;
    ph_graph_free(&g);
    return rc;
}

static int count_bin_files(const char *dir, char *one, size_t one_size) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) {
        return -1;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".bin") == 0) {
            n++;
            snprintf(one, one_size, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    return n;
}

static void test_program_cache_miss_then_hit_then_corrupt_file_rebuilt(void **state) {
    (void)state;
    REQUIRE_DEVICE();
    char dir[] = "/tmp/ehal-ocl-cache-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *old = getenv("EHAL_OPENCL_CACHE_DIR") ? strdup(getenv("EHAL_OPENCL_CACHE_DIR")) : NULL;
    setenv("EHAL_OPENCL_CACHE_DIR", dir, 1);
    ph_backend b;

    /* first start: miss, build, store one file */
    ph_log_reset();
    assert_int_equal(ph_open(&b, "opencl", NULL, 0), 0);
    assert_int_equal(ph_log_count("program cache miss"), 1);
    assert_int_equal(ph_log_count("program built from source"), 1);
    assert_int_equal(ph_log_count("program cache stored"), 1);
    ph_close(&b);
    char file[1100];
    assert_int_equal(count_bin_files(dir, file, sizeof file), 1);

    /* second start: hit, no build */
    ph_log_reset();
    assert_int_equal(ph_open(&b, "opencl", NULL, 0), 0);
    assert_int_equal(ph_log_count("program cache hit"), 1);
    assert_int_equal(ph_log_count("program built from source"), 0);
    assert_int_equal(add_works(&b), 0);
    ph_close(&b);

    /* corrupt file: ignored, rebuilt, replaced; results still right */
    FILE *f = fopen(file, "r+b");
    assert_non_null(f);
    fseek(f, 40, SEEK_SET);
    fputs("garbage garbage garbage", f);
    fclose(f);
    ph_log_reset();
    assert_int_equal(ph_open(&b, "opencl", NULL, 0), 0);
    assert_int_equal(ph_log_count("is corrupt; ignored"), 1);
    assert_int_equal(ph_log_count("program built from source"), 1);
    assert_int_equal(add_works(&b), 0);
    ph_close(&b);
    ph_log_reset();
    assert_int_equal(ph_open(&b, "opencl", NULL, 0), 0);
    assert_int_equal(ph_log_count("program cache hit"), 1);
    ph_close(&b);

    /* truncated file: same */
    f = fopen(file, "wb");
    assert_non_null(f);
    fputs("EHCLBIN1", f);
    fclose(f);
    ph_log_reset();
    assert_int_equal(ph_open(&b, "opencl", NULL, 0), 0);
    assert_int_equal(ph_log_count("is corrupt; ignored"), 1);
    assert_int_equal(ph_log_count("program built from source"), 1);
    ph_close(&b);

    remove(file);
    rmdir(dir);
    if (old) {
        setenv("EHAL_OPENCL_CACHE_DIR", old, 1);
        free(old);
    } else {
        unsetenv("EHAL_OPENCL_CACHE_DIR");
    }
}

static void test_unwritable_cache_dir_builds_every_time_without_error(void **state) {
    (void)state;
    REQUIRE_DEVICE();
    char *old = getenv("EHAL_OPENCL_CACHE_DIR") ? strdup(getenv("EHAL_OPENCL_CACHE_DIR")) : NULL;
    setenv("EHAL_OPENCL_CACHE_DIR", "/dev/null/edgehal", 1); /* mkdir fails, even for root */
    for (int i = 0; i < 2; i++) {
        ph_backend b;
        unsigned errs = ph_error_logs;
        ph_log_reset();
        assert_int_equal(ph_open(&b, "opencl", NULL, 0), 0);
        assert_int_equal(ph_log_count("program cache off"), 1);
        assert_int_equal(ph_log_count("program built from source"), 1);
        assert_int_equal(ph_error_logs, errs);
        assert_int_equal(add_works(&b), 0);
        ph_close(&b);
    }
    if (old) {
        setenv("EHAL_OPENCL_CACHE_DIR", old, 1);
        free(old);
    } else {
        unsetenv("EHAL_OPENCL_CACHE_DIR");
    }
}

static void test_device_option_and_env_select_or_refuse(void **state) {
    (void)state;
    REQUIRE_DEVICE();
    ph_backend b;
    ehal_device_info i0, i1;
    memset(&i0, 0, sizeof i0);
    i0.struct_size = sizeof i0;
    i1 = i0;
    ehal_option by_index = {"device", "0"};
    assert_int_equal(ph_open(&b, "opencl", &by_index, 1), 0);
    assert_int_equal(b.iface->device_info(b.be, &i0), EHAL_STATUS_OK);
    ph_close(&b);
    /* a case-insensitive substring of the device name picks the same one */
    char sub[8];
    snprintf(sub, sizeof sub, "%.4s", i0.name);
    for (char *p = sub; *p; p++) {
        *p = (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : (*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    }
    ehal_option by_name = {"device", sub};
    assert_int_equal(ph_open(&b, "opencl", &by_name, 1), 0);
    assert_int_equal(b.iface->device_info(b.be, &i1), EHAL_STATUS_OK);
    assert_string_equal(i0.name, i1.name);
    ph_close(&b);

    ehal_option none = {"device", "no-such-device-xyz"};
    assert_int_equal(ph_open(&b, "opencl", &none, 1), -1);
    ehal_option far = {"device", "999"};
    assert_int_equal(ph_open(&b, "opencl", &far, 1), -1);
    setenv("EHAL_OPENCL_DEVICE", "no-such-device-xyz", 1);
    assert_int_equal(ph_open(&b, "opencl", NULL, 0), -1);
    setenv("EHAL_OPENCL_DEVICE", "0", 1);
    assert_int_equal(ph_open(&b, "opencl", NULL, 0), 0);
    ph_close(&b);
    unsetenv("EHAL_OPENCL_DEVICE");
}

static void test_query_op_supports_what_runs_and_refuses_the_rest(void **state) {
    (void)state;
    REQUIRE_DEVICE();
    ph_backend b;
    assert_int_equal(ph_open(&b, "opencl", NULL, 0), 0);
    ph_graph g;
    ph_graph_init(&g);
    uint32_t w = ph_tensor(&g, EHAL_DTYPE_Q4_0, 64, 16, 1);
    uint32_t x = ph_tensor(&g, EHAL_DTYPE_F32, 64, 3, 1);
    uint32_t y = ph_tensor(&g, EHAL_DTYPE_F32, 16, 3, 1);
    uint32_t q = ph_tensor(&g, EHAL_DTYPE_F32, 512, 2, 1);
    uint32_t kc = ph_tensor(&g, EHAL_DTYPE_F16, 512, 8, 1);
    uint32_t vc = ph_tensor(&g, EHAL_DTYPE_F16, 512, 8, 1);
    uint32_t pos = ph_tensor(&g, EHAL_DTYPE_I32, 1, 1, 1);
    uint32_t o = ph_tensor(&g, EHAL_DTYPE_F32, 512, 2, 1);
    uint32_t i32 = ph_tensor(&g, EHAL_DTYPE_I32, 16, 3, 1);
    ph_node(&g, EHAL_OP_MATMUL, (uint32_t[]){w, x}, 2, y, NULL, 0);
    ph_node(&g, EHAL_OP_ATTENTION, (uint32_t[]){q, kc, vc, pos}, 4, o, NULL, 0); /* D=512 */
    ph_node(&g, EHAL_OP_COPY, (uint32_t[]){y}, 1, i32, NULL, 0);    /* f32 -> i32: not in catalog */
    ph_node(&g, EHAL_OP_MATMUL, (uint32_t[]){x, w}, 2, y, NULL, 0); /* shapes wrong */
    const uint32_t want[4] = {EHAL_SUPPORT_SUPPORTED, EHAL_SUPPORT_UNSUPPORTED,
                              EHAL_SUPPORT_UNSUPPORTED, EHAL_SUPPORT_UNSUPPORTED};
    for (uint32_t k = 0; k < 4; k++) {
        ehal_op_support s = {sizeof s, 99, 0, 0};
        assert_int_equal(b.iface->query_op(b.be, &g.sg, k, &s), EHAL_STATUS_OK);
        assert_int_equal(s.level, want[k]);
        if (s.level == EHAL_SUPPORT_SUPPORTED) {
            assert_true(s.cost_ns > 0);
        }
    }
    ph_graph_free(&g);
    ph_close(&b);
}

static void test_wait_with_deadline_times_out_or_completes_correctly(void **state) {
    (void)state;
    REQUIRE_DEVICE();
    ph_backend b;
    assert_int_equal(ph_open(&b, "opencl", NULL, 0), 0);
    const ehal_backend_iface *f = b.iface;
    const int64_t K = 1024, N = 512, T = 64;
    ehal_tensor_desc td[3];
    int64_t ne[3][2] = {{K, N}, {K, T}, {N, T}};
    ehal_buffer_impl *bufs[3];
    float *host[3];
    for (int i = 0; i < 3; i++) {
        ehal_tensor_desc_init(&td[i], EHAL_DTYPE_F32, 2, ne[i]);
        size_t nb = (size_t)ehal_tensor_nbytes(&td[i]);
        host[i] = malloc(nb);
        for (size_t j = 0; j < nb / 4; j++) {
            host[i][j] = (float)((j * 37u) % 17u) / 16.0f - 0.5f;
        }
        assert_int_equal(f->buffer_alloc(b.be, nb, 0, &bufs[i]), EHAL_STATUS_OK);
        assert_int_equal(f->buffer_write(b.be, bufs[i], 0, host[i], nb), EHAL_STATUS_OK);
        td[i].buffer = bufs[i];
    }
    const ehal_tensor_desc *tp[3] = {&td[0], &td[1], &td[2]};
    ehal_node_desc nd = {sizeof nd, EHAL_OP_MATMUL, 2, 1, {0, 1}, {2}, 0, NULL};
    const ehal_node_desc *np[1] = {&nd};
    ehal_subgraph sg = {sizeof sg, 3, 1, 0, tp, np};
    ehal_executable_impl *exe = NULL;
    assert_int_equal(f->prepare(b.be, &sg, &exe), EHAL_STATUS_OK);
    assert_int_equal(f->execute(b.be, exe, NULL), EHAL_STATUS_OK);
    ehal_status_t st = f->wait(b.be, exe, 0); /* 64 MFLOP: rarely done already */
    assert_true(st == EHAL_STATUS_TIMEOUT || st == EHAL_STATUS_OK);
    int polls = 0;
    while ((st = f->wait(b.be, exe, 1000000)) == EHAL_STATUS_TIMEOUT) {
        polls++;
    }
    assert_int_equal(st, EHAL_STATUS_OK);
    printf("matmul 1024x512x64 done after %d 1-ms polls\n", polls);
    float *y = malloc((size_t)(N * T) * 4);
    assert_int_equal(f->buffer_read(b.be, bufs[2], 0, y, (uint64_t)(N * T) * 4), EHAL_STATUS_OK);
    for (int64_t t = 0; t < T; t += 13) {
        for (int64_t n = 0; n < N; n += 31) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) {
                acc += (double)host[0][n * K + k] * (double)host[1][t * K + k];
            }
            assert_true(fabs(acc - (double)y[t * N + n]) < 1e-3);
        }
    }
    free(y);
    f->release(b.be, exe);
    for (int i = 0; i < 3; i++) {
        f->buffer_free(b.be, bufs[i]);
        free(host[i]);
    }
    ph_close(&b);
}

static void test_map_sees_writes_and_writes_through(void **state) {
    (void)state;
    REQUIRE_DEVICE();
    ph_backend b;
    assert_int_equal(ph_open(&b, "opencl", NULL, 0), 0);
    ehal_buffer_impl *buf = NULL;
    uint8_t in[256], out[256];
    for (int i = 0; i < 256; i++) {
        in[i] = (uint8_t)(i * 13 + 1);
    }
    assert_int_equal(b.iface->buffer_alloc(b.be, 256, 0, &buf), EHAL_STATUS_OK);
    assert_int_equal(b.iface->buffer_write(b.be, buf, 0, in, 256), EHAL_STATUS_OK);
    void *p = NULL;
    assert_int_equal(b.iface->buffer_map(b.be, buf, &p), EHAL_STATUS_OK);
    assert_memory_equal(p, in, 256);
    ((uint8_t *)p)[7] = 0xAB;
    b.iface->buffer_unmap(b.be, buf);
    assert_int_equal(b.iface->buffer_read(b.be, buf, 0, out, 256), EHAL_STATUS_OK);
    in[7] = 0xAB;
    assert_memory_equal(out, in, 256);
    /* out-of-range access is refused */
    assert_int_equal(b.iface->buffer_read(b.be, buf, 200, out, 57), EHAL_STATUS_INVALID_ARGUMENT);
    b.iface->buffer_free(b.be, buf);
    ph_close(&b);
}

static void test_core_loads_the_plugin_and_runs_a_node(void **state) {
    (void)state;
    REQUIRE_DEVICE();
    const char *dir = getenv("EHAL_TEST_PLUGIN_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/libedgehal-opencl.so", dir ? dir : ".");
    ehal_context_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.flags = EHAL_CONTEXT_NO_DEFAULT_PATHS | EHAL_CONTEXT_NO_ENV;
    o.backend_path = path;
    o.backends = "opencl";
    o.log_level = EHAL_LOG_WARN;
    ehal_context *ctx = NULL;
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    ehal_backend *be = ehal_backend_find(ctx, "opencl");
    assert_non_null(be);
    ehal_backend_props props;
    memset(&props, 0, sizeof props);
    props.struct_size = sizeof props;
    props.device.struct_size = sizeof props.device;
    assert_int_equal(ehal_backend_props_get(be, &props), EHAL_STATUS_OK);
    assert_string_equal(props.name, "opencl");
    assert_true(props.device.kind == EHAL_DEVICE_GPU || props.device.kind == EHAL_DEVICE_OTHER);
    assert_int_equal(ehal_backend_op_support(be, EHAL_OP_MATMUL, EHAL_DTYPE_Q4_0),
                     EHAL_SUPPORT_SUPPORTED);

    /* y = swiglu(g, u) over 64 values through the runtime API */
    ehal_buffer *buf = NULL;
    assert_int_equal(ehal_buffer_alloc(be, 3 * 256, 0, &buf), EHAL_STATUS_OK);
    float gv[64], uv[64], yv[64];
    for (int i = 0; i < 64; i++) {
        gv[i] = (float)(i - 32) / 8.0f;
        uv[i] = 1.0f + (float)i / 64.0f;
    }
    assert_int_equal(ehal_buffer_write(buf, 0, gv, 256), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_write(buf, 256, uv, 256), EHAL_STATUS_OK);
    ehal_tensor_desc td[3];
    const int64_t ne[1] = {64};
    for (int i = 0; i < 3; i++) {
        ehal_tensor_desc_init(&td[i], EHAL_DTYPE_F32, 1, ne);
        td[i].buffer = ehal_buffer_handle(buf);
        td[i].offset = (uint64_t)i * 256u;
    }
    const ehal_tensor_desc *tp[3] = {&td[0], &td[1], &td[2]};
    ehal_node_desc nd = {sizeof nd, EHAL_OP_SWIGLU, 2, 1, {0, 1}, {2}, 0, NULL};
    const ehal_node_desc *np[1] = {&nd};
    ehal_subgraph sg = {sizeof sg, 3, 1, 0, tp, np};
    ehal_executable *exe = NULL;
    assert_int_equal(ehal_prepare(be, &sg, &exe), EHAL_STATUS_OK);
    assert_int_equal(ehal_execute(exe), EHAL_STATUS_OK);
    assert_int_equal(ehal_wait(exe, UINT64_MAX), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_read(buf, 512, yv, 256), EHAL_STATUS_OK);
    for (int i = 0; i < 64; i++) {
        double g = gv[i], want = g / (1.0 + exp(-g)) * uv[i];
        assert_true(fabs(want - yv[i]) <= 1e-6 * fmax(1.0, fabs(want)));
    }
    ehal_executable_release(exe);
    ehal_buffer_free(buf);
    ehal_context_destroy(ctx);
}

/* A feature the driver cannot compile costs a rebuild, not the backend:
 * EHAL_OPENCL_FORCE=subgroups claims subgroups on a device without them,
 * the first build fails, the plugin retries without features (one WARN)
 * and computes correctly. */
static void test_failed_feature_build_falls_back_to_portable_kernels(void **state) {
    (void)state;
    REQUIRE_DEVICE();
    ph_backend b;
    ph_log_reset();
    assert_int_equal(ph_open(&b, "opencl", NULL, 0), 0);
    int native = ph_log_count("subgroups yes") == 1;
    ph_close(&b);
    if (native) {
        printf("SKIP: the device has subgroups; the forced-feature fallback is not reachable\n");
        skip();
    }
    setenv("EHAL_OPENCL_FORCE", "subgroups", 1);
    ph_log_reset();
    unsigned errs = ph_error_logs;
    assert_int_equal(ph_open(&b, "opencl", NULL, 0), 0);
    unsetenv("EHAL_OPENCL_FORCE");
    assert_int_equal(ph_log_count("subgroups yes"), 1);
    assert_int_equal(ph_log_count("retrying without optional features"), 1);
    assert_int_equal(ph_log_count("program cache stored"), 0); /* not under the feature key */
    assert_int_equal(ph_error_logs, errs);
    assert_int_equal(add_works(&b), 0);
    ph_close(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_program_cache_miss_then_hit_then_corrupt_file_rebuilt),
        cmocka_unit_test(test_unwritable_cache_dir_builds_every_time_without_error),
        cmocka_unit_test(test_failed_feature_build_falls_back_to_portable_kernels),
        cmocka_unit_test(test_device_option_and_env_select_or_refuse),
        cmocka_unit_test(test_query_op_supports_what_runs_and_refuses_the_rest),
        cmocka_unit_test(test_wait_with_deadline_times_out_or_completes_correctly),
        cmocka_unit_test(test_map_sees_writes_and_writes_through),
        cmocka_unit_test(test_core_loads_the_plugin_and_runs_a_node),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
