/*
 * The CPU plugin loaded directly with dlopen, without the core: negotiation,
 * init options, device info, buffers, prepare's checks, argument checks of
 * every entry and an allocation-failure sweep, through the ABI table.
 * Kernel results are in test_cpu_ops.c.
 */
#define _GNU_SOURCE /* setenv */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu_test_util.h"

/* ---- negotiation ------------------------------------------------------------ */

static void test_negotiation_accepts_a_range_containing_revision_1(void **state)
{
    (void)state;
    ehal_status_t st;
    uint32_t ver;
    const ehal_backend_iface *it = negotiate(1, 7, &st, &ver);
    assert_int_equal(st, EHAL_STATUS_OK);
    assert_int_equal(ver, 1);
    assert_non_null(it);
    assert_true(it->struct_size >= EHAL_BACKEND_IFACE_MIN_SIZE);
    assert_string_equal(it->name, "cpu");
    assert_non_null(it->init);
    assert_non_null(it->destroy);
    assert_non_null(it->device_info);
    assert_non_null(it->query_op);
    assert_non_null(it->buffer_alloc);
    assert_non_null(it->buffer_free);
    assert_non_null(it->buffer_write);
    assert_non_null(it->buffer_read);
    assert_non_null(it->buffer_map);
    assert_non_null(it->buffer_import_host);
    assert_non_null(it->prepare);
    assert_non_null(it->execute);
    assert_non_null(it->wait);
    assert_non_null(it->release);
}

static void test_negotiation_refuses_a_range_excluding_revision_1(void **state)
{
    (void)state;
    ehal_status_t st;
    uint32_t ver;
    last_log[0] = '\0';
    const ehal_backend_iface *it = negotiate(2, 5, &st, &ver);
    assert_int_equal(st, EHAL_STATUS_INCOMPATIBLE);
    assert_int_equal(ver, 1); /* the plugin names its own revision */
    assert_null(it);
    assert_non_null(strstr(last_log, "2..5"));
}

static void test_negotiation_refuses_short_entry_args(void **state)
{
    (void)state;
    ehal_entry_args args;
    memset(&args, 0, sizeof args);
    args.struct_size = (uint32_t)offsetof(ehal_entry_args, host);
    args.loader_min_version = 1;
    args.loader_max_version = 1;
    assert_int_equal(entry(&args), EHAL_STATUS_INCOMPATIBLE);
    assert_null(args.iface);
}

/* ---- init options ------------------------------------------------------------- */

static ehal_status_t init_with_threads(const char *value, ehal_backend_impl **be)
{
    ehal_status_t st;
    uint32_t ver;
    const ehal_backend_iface *it = negotiate(1, 1, &st, &ver);
    ehal_option opts[] = {{"unknown.key", "whatever"}, {"threads", value}};
    *be = NULL;
    st = it->init(&host, opts, 2, be);
    return st;
}

static void test_init_accepts_a_thread_count(void **state)
{
    (void)state;
    ehal_backend_impl *be;
    assert_int_equal(init_with_threads("4", &be), EHAL_STATUS_OK);
    assert_non_null(be);
    fx.iface->destroy(be);
}

static void test_init_rejects_malformed_thread_counts_naming_the_value(void **state)
{
    (void)state;
    ehal_backend_impl *be;
    last_log[0] = '\0';
    assert_int_equal(init_with_threads("four", &be), EHAL_STATUS_INVALID_ARGUMENT);
    assert_null(be);
    assert_non_null(strstr(last_log, "four"));

    last_log[0] = '\0';
    assert_int_equal(init_with_threads("100000", &be), EHAL_STATUS_INVALID_ARGUMENT);
    assert_null(be);
    assert_non_null(strstr(last_log, "100000"));

    assert_int_equal(init_with_threads("-1", &be), EHAL_STATUS_INVALID_ARGUMENT);
    assert_null(be);
}

static void test_init_reads_threads_from_the_environment(void **state)
{
    (void)state;
    ehal_status_t st;
    uint32_t ver;
    const ehal_backend_iface *it = negotiate(1, 1, &st, &ver);
    ehal_backend_impl *be = NULL;
    setenv("EHAL_CPU_THREADS", "2x", 1);
    last_log[0] = '\0';
    assert_int_equal(it->init(&host, NULL, 0, &be), EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(last_log, "EHAL_CPU_THREADS"));
    assert_non_null(strstr(last_log, "2x"));
    /* A valid option does not rescue a malformed environment value; a valid
     * environment value is accepted. */
    setenv("EHAL_CPU_THREADS", "2", 1);
    assert_int_equal(it->init(&host, NULL, 0, &be), EHAL_STATUS_OK);
    it->destroy(be);
    unsetenv("EHAL_CPU_THREADS");
}

/* ---- device info ------------------------------------------------------------------ */

static void test_device_info_describes_a_host_shared_cpu(void **state)
{
    (void)state;
    ehal_device_info info;
    memset(&info, 0xab, sizeof info);
    info.struct_size = sizeof info;
    assert_int_equal(fx.iface->device_info(fx.be, &info), EHAL_STATUS_OK);
    assert_int_equal(info.struct_size, sizeof info);
    assert_int_equal(info.kind, EHAL_DEVICE_CPU);
    assert_true(info.flags & EHAL_DEVICE_HOST_SHARED);
    assert_false(info.flags & EHAL_DEVICE_ASYNC);
    assert_true(strlen(info.name) > 0 && strlen(info.name) < sizeof info.name);
    assert_true(strlen(info.driver) > 0 && strlen(info.driver) < sizeof info.driver);
    assert_true(info.memory_bytes >= (1ull << 20));
    assert_true(info.link_bytes_per_s >= 1000000000ull);
    assert_true(info.dispatch_overhead_ns > 0 && info.dispatch_overhead_ns < 1000000ull);
}

static void test_device_info_fills_no_more_than_a_short_struct(void **state)
{
    (void)state;
    ehal_device_info info;
    memset(&info, 0xab, sizeof info);
    info.struct_size = (uint32_t)offsetof(ehal_device_info, name);
    assert_int_equal(fx.iface->device_info(fx.be, &info), EHAL_STATUS_OK);
    assert_int_equal(info.struct_size, offsetof(ehal_device_info, name));
    assert_int_equal(info.kind, EHAL_DEVICE_CPU);
    assert_int_equal((unsigned char)info.name[0], 0xab); /* untouched */
    assert_int_equal(info.memory_bytes, 0xababababababababull);
}

/* ---- buffers ------------------------------------------------------------------------- */

static void test_buffer_write_then_read_ranges(void **state)
{
    (void)state;
    const ehal_backend_iface *it = fx.iface;
    ehal_buffer_impl *buf = NULL;
    assert_int_equal(it->buffer_alloc(fx.be, 64, 0, &buf), EHAL_STATUS_OK);
    unsigned char in[16], out[64];
    for (int i = 0; i < 16; i++)
        in[i] = (unsigned char)(i + 1);
    assert_int_equal(it->buffer_write(fx.be, buf, 8, in, 16), EHAL_STATUS_OK);
    assert_int_equal(it->buffer_read(fx.be, buf, 0, out, 64), EHAL_STATUS_OK);
    for (int i = 0; i < 64; i++) {
        unsigned char want = (i >= 8 && i < 24) ? (unsigned char)(i - 7) : 0;
        assert_int_equal(out[i], want);
    }
    /* the last byte is writable; one past it is not */
    assert_int_equal(it->buffer_write(fx.be, buf, 63, in, 1), EHAL_STATUS_OK);
    assert_int_equal(it->buffer_read(fx.be, buf, 63, out, 1), EHAL_STATUS_OK);
    assert_int_equal(out[0], 1);
    it->buffer_free(fx.be, buf);
}

static void test_buffer_refuses_out_of_range_access(void **state)
{
    (void)state;
    const ehal_backend_iface *it = fx.iface;
    ehal_buffer_impl *buf = NULL;
    unsigned char tmp[16] = {0};
    assert_int_equal(it->buffer_alloc(fx.be, 64, 0, &buf), EHAL_STATUS_OK);
    last_log[0] = '\0';
    assert_int_equal(it->buffer_write(fx.be, buf, 60, tmp, 8), EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(last_log, "60"));
    assert_int_equal(it->buffer_read(fx.be, buf, 65, tmp, 0), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(it->buffer_read(fx.be, buf, UINT64_MAX, tmp, 2),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(it->buffer_write(fx.be, buf, 8, NULL, 4), EHAL_STATUS_INVALID_ARGUMENT);
    ehal_buffer_impl *other = NULL;
    assert_int_equal(it->buffer_alloc(fx.be, 0, 0, &other), EHAL_STATUS_INVALID_ARGUMENT);
    assert_null(other);
    assert_int_equal(it->buffer_alloc(fx.be, 16, 0x100, &other), EHAL_STATUS_INVALID_ARGUMENT);
    assert_null(other);
    it->buffer_free(fx.be, buf);
}

static void test_buffer_map_gives_64_byte_aligned_memory(void **state)
{
    (void)state;
    const ehal_backend_iface *it = fx.iface;
    ehal_buffer_impl *buf = NULL;
    void *p = NULL;
    assert_int_equal(it->buffer_alloc(fx.be, 100, EHAL_BUFFER_WEIGHTS, &buf), EHAL_STATUS_OK);
    assert_int_equal(it->buffer_map(fx.be, buf, &p), EHAL_STATUS_OK);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    ((unsigned char *)p)[99] = 0x5a;
    it->buffer_unmap(fx.be, buf);
    unsigned char b = 0;
    assert_int_equal(it->buffer_read(fx.be, buf, 99, &b, 1), EHAL_STATUS_OK);
    assert_int_equal(b, 0x5a);
    it->buffer_free(fx.be, buf);
}

static void test_import_host_shares_the_callers_memory(void **state)
{
    (void)state;
    const ehal_backend_iface *it = fx.iface;
    float mem[4] = {0};
    ehal_buffer_impl *buf = NULL;
    assert_int_equal(it->buffer_import_host(fx.be, mem, sizeof mem, 0, &buf), EHAL_STATUS_OK);
    mem[2] = 7.5f; /* through the pointer ... */
    float got = 0;
    assert_int_equal(it->buffer_read(fx.be, buf, 2 * sizeof(float), &got, sizeof got),
                     EHAL_STATUS_OK);
    assert_true(got == 7.5f); /* ... visible through the API */
    float v = -3.0f;
    assert_int_equal(it->buffer_write(fx.be, buf, 0, &v, sizeof v), EHAL_STATUS_OK);
    assert_true(mem[0] == -3.0f);
    void *p = NULL;
    assert_int_equal(it->buffer_map(fx.be, buf, &p), EHAL_STATUS_OK);
    assert_ptr_equal(p, mem);
    assert_int_equal(it->buffer_write(fx.be, buf, 12, &v, sizeof v), EHAL_STATUS_OK);
    assert_int_equal(it->buffer_write(fx.be, buf, 13, &v, sizeof v), EHAL_STATUS_INVALID_ARGUMENT);
    /* freeing the wrapper leaves the (stack) memory to us: no crash, and the
     * values are still ours */
    it->buffer_free(fx.be, buf);
    assert_true(mem[3] == -3.0f);
    assert_int_equal(it->buffer_import_host(fx.be, NULL, 16, 0, &buf),
                     EHAL_STATUS_INVALID_ARGUMENT);
}

static void test_prepare_refuses_invalid_nodes_and_unbound_tensors(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t a = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1), b = g_tensor(&g, EHAL_DTYPE_F32, 3, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    g_node(&g, EHAL_OP_ADD, 2, (uint32_t[]){a, b}, y, NULL, 0);
    g_bind(&g);
    ehal_executable_impl *exe = NULL;
    last_log[0] = '\0';
    assert_int_equal(fx.iface->prepare(fx.be, &g.sg, &exe), EHAL_STATUS_INVALID_ARGUMENT);
    assert_null(exe);
    assert_non_null(strstr(last_log, "node 0"));

    g.t[b].ne[0] = 4; /* now valid, but tensor y lies past the buffer */
    g.t[y].offset = g.size - 8;
    last_log[0] = '\0';
    assert_int_equal(fx.iface->prepare(fx.be, &g.sg, &exe), EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(last_log, "tensor 2"));

    g.t[y].offset = g.t[a].offset + 64;
    g.t[a].buffer = NULL;
    assert_int_equal(fx.iface->prepare(fx.be, &g.sg, &exe), EHAL_STATUS_INVALID_ARGUMENT);

    g.t[a].buffer = g.buf;
    g.n[0].op = 63; /* not in the catalog */
    assert_int_equal(fx.iface->prepare(fx.be, &g.sg, &exe), EHAL_STATUS_UNSUPPORTED);
    fx.iface->buffer_free(fx.be, g.buf);
}

/* Prepared subgraphs own a copy: the caller's descs may change afterwards. */
static void test_prepare_keeps_its_own_copy_of_the_subgraph(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t a = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 1), b = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 1);
    g_node(&g, EHAL_OP_MUL, 2, (uint32_t[]){a, b}, y, NULL, 0);
    g_bind(&g);
    g_set(&g, a, (float[]){2, 3});
    g_set(&g, b, (float[]){5, 7});
    assert_int_equal(fx.iface->prepare(fx.be, &g.sg, &g.exe), EHAL_STATUS_OK);
    memset(g.n, 0xee, sizeof g.n);
    memset(g.t, 0xee, sizeof g.t);
    assert_int_equal(fx.iface->execute(fx.be, g.exe, NULL), EHAL_STATUS_OK);
    float out[2];
    assert_int_equal(fx.iface->buffer_read(fx.be, g.buf, 128, out, sizeof out), EHAL_STATUS_OK);
    assert_floats(out, (double[]){10, 21}, 2, 0);
    g_free(&g);
}

/* ---- allocation failures ------------------------------------------------------------------ */

/* Fails the N-th host allocation for N = 1, 2, ... across init, buffer
 * allocation, import and prepare, until a run needs no failure: every
 * failure is OUT_OF_MEMORY, and nothing leaks. */
static void test_every_allocation_failure_is_reported_without_leaks(void **state)
{
    (void)state;
    ehal_status_t st;
    uint32_t ver;
    const ehal_backend_iface *it = negotiate(1, 1, &st, &ver);
    float mem[8] = {0};
    int completed = 0;
    for (long n = 1; n < 64 && !completed; n++) {
        live_allocs = 0;
        fail_at = n;
        ehal_backend_impl *be = NULL;
        ehal_buffer_impl *buf = NULL, *imp = NULL;
        ehal_executable_impl *exe = NULL;
        st = it->init(&host, NULL, 0, &be);
        if (st == EHAL_STATUS_OK)
            st = it->buffer_alloc(be, 256, 0, &buf);
        if (st == EHAL_STATUS_OK)
            st = it->buffer_import_host(be, mem, sizeof mem, 0, &imp);
        graph g;
        g_init(&g);
        uint32_t a = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1), b = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
        uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
        ehal_params_softmax p = {1.0f};
        g_node(&g, EHAL_OP_ADD, 2, (uint32_t[]){a, b}, y, NULL, 0);
        g_node(&g, EHAL_OP_SOFTMAX, 1, (uint32_t[]){y}, a, &p, sizeof p);
        for (uint32_t i = 0; i < 3; i++)
            g.t[i].buffer = buf;
        if (st == EHAL_STATUS_OK)
            st = it->prepare(be, &g.sg, &exe);
        if (st == EHAL_STATUS_OK)
            st = it->execute(be, exe, NULL);
        completed = st == EHAL_STATUS_OK;
        if (!completed)
            assert_int_equal(st, EHAL_STATUS_OUT_OF_MEMORY);
        fail_at = 0;
        if (be != NULL) {
            it->release(be, exe);
            it->buffer_free(be, imp);
            it->buffer_free(be, buf);
            it->destroy(be);
        }
        assert_int_equal(live_allocs, 0);
    }
    assert_true(completed); /* the sweep reached a run with no failure */
}

/* ---- robustness of every entry --------------------------------------------------------------- */

static void test_entries_refuse_null_and_foreign_handles(void **state)
{
    (void)state;
    const ehal_backend_iface *it = fx.iface;
    ehal_device_info info = {.struct_size = sizeof info};
    ehal_buffer_impl *buf = NULL;
    assert_int_equal(it->device_info(NULL, &info), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(it->device_info(fx.be, NULL), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(it->buffer_alloc(NULL, 16, 0, &buf), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(it->buffer_alloc(fx.be, 16, 0, NULL), EHAL_STATUS_INVALID_ARGUMENT);
    unsigned char junk[128] = {0};
    ehal_buffer_impl *fake = (ehal_buffer_impl *)(void *)junk;
    assert_int_equal(it->buffer_write(fx.be, fake, 0, junk, 1), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(it->buffer_write(fx.be, NULL, 0, junk, 1), EHAL_STATUS_INVALID_ARGUMENT);
    ehal_executable_impl *exe_fake = (ehal_executable_impl *)(void *)junk;
    assert_int_equal(it->execute(fx.be, exe_fake, NULL), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(it->wait(fx.be, NULL, 0), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(it->prepare(fx.be, NULL, NULL), EHAL_STATUS_INVALID_ARGUMENT);
    it->buffer_free(fx.be, NULL);
    it->release(fx.be, NULL);
    it->destroy(NULL);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, open_backend, close_backend)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiation_accepts_a_range_containing_revision_1),
        cmocka_unit_test(test_negotiation_refuses_a_range_excluding_revision_1),
        cmocka_unit_test(test_negotiation_refuses_short_entry_args),
        T(test_init_accepts_a_thread_count),
        T(test_init_rejects_malformed_thread_counts_naming_the_value),
        T(test_init_reads_threads_from_the_environment),
        T(test_device_info_describes_a_host_shared_cpu),
        T(test_device_info_fills_no_more_than_a_short_struct),
        T(test_buffer_write_then_read_ranges),
        T(test_buffer_refuses_out_of_range_access),
        T(test_buffer_map_gives_64_byte_aligned_memory),
        T(test_import_host_shares_the_callers_memory),
        T(test_prepare_refuses_invalid_nodes_and_unbound_tensors),
        T(test_prepare_keeps_its_own_copy_of_the_subgraph),
        T(test_entries_refuse_null_and_foreign_handles),
        /* counts allocations itself, so no per-test backend */
        cmocka_unit_test(test_every_allocation_failure_is_reported_without_leaks),
    };
#undef T
    return cmocka_run_group_tests_name("cpu plugin", tests, load_plugin, unload_plugin);
}
