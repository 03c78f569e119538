/*
 * npu_stub, the vendor skeleton: loaded through the core it is one NPU
 * device that supports nothing; driven directly through its table, every
 * entry answers a clean status (never garbage, never a crash) and logs a
 * line naming what it refused. Expected values are written out by hand.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edgehal/backend_abi.h"
#include "edgehal/edgehal.h"

/* ---- host services recording the last line and live allocations --------- */

static char last_log[1024];
static int32_t last_level;
static long live_allocs;

static void host_log(void *user, int32_t level, const char *msg) {
    (void)user;
    snprintf(last_log, sizeof last_log, "%s", msg);
    last_level = level;
}

static void *host_alloc(void *user, size_t size, size_t align) {
    (void)user;
    if (align == 0)
        align = 16;
    size_t rounded = (size + align - 1) / align * align;
    void *p = aligned_alloc(align, rounded == 0 ? align : rounded);
    if (p != NULL)
        live_allocs++;
    return p;
}

static void host_free(void *user, void *p) {
    (void)user;
    if (p != NULL)
        live_allocs--;
    free(p);
}

static const ehal_host_services host = {
    .struct_size = sizeof(ehal_host_services),
    .host_abi_version = EHAL_ABI_VERSION,
    .log = host_log,
    .alloc = host_alloc,
    .free = host_free,
};

/* ---- the plugin, opened with dlopen --------------------------------------- */

static void *plugin;
static ehal_backend_entry_fn entry;
static const ehal_backend_iface *it;
static ehal_backend_impl *be;

static int load_plugin(void **state) {
    (void)state;
    const char *dir = getenv("EHAL_TEST_PLUGIN_DIR");
    if (dir == NULL) {
        fprintf(stderr, "EHAL_TEST_PLUGIN_DIR is not set (run through ctest)\n");
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/libedgehal-npu_stub.so", dir);
    plugin = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (plugin == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return -1;
    }
    void *sym = dlsym(plugin, EHAL_BACKEND_ENTRY_SYMBOL);
    if (sym == NULL)
        return -1;
    memcpy(&entry, &sym, sizeof entry);
    return 0;
}

static int unload_plugin(void **state) {
    (void)state;
    if (plugin != NULL)
        dlclose(plugin);
    return 0;
}

static const ehal_backend_iface *negotiate(uint32_t lo, uint32_t hi, ehal_status_t *st,
                                           uint32_t *ver) {
    ehal_entry_args a;
    memset(&a, 0, sizeof a);
    a.struct_size = sizeof a;
    a.loader_min_version = lo;
    a.loader_max_version = hi;
    a.host = &host;
    *st = entry(&a);
    *ver = a.plugin_version;
    return a.iface;
}

static int open_backend(void **state) {
    (void)state;
    live_allocs = 0;
    ehal_status_t st;
    uint32_t ver;
    it = negotiate(1, 1, &st, &ver);
    if (st != EHAL_STATUS_OK || it == NULL)
        return -1;
    be = NULL;
    return it->init(&host, NULL, 0, &be) == EHAL_STATUS_OK ? 0 : -1;
}

static int close_backend(void **state) {
    (void)state;
    it->destroy(be);
    be = NULL;
    if (live_allocs != 0) {
        fprintf(stderr, "%ld host allocations leaked\n", live_allocs);
        return -1;
    }
    return 0;
}

/* ---- a one-node ADD subgraph over stub buffers ---------------------------- */

typedef struct add_graph {
    ehal_tensor_desc t[3];
    const ehal_tensor_desc *tp[3];
    ehal_node_desc n;
    const ehal_node_desc *np[1];
    ehal_subgraph sg;
} add_graph;

static void add_graph_init(add_graph *g, ehal_buffer_impl *buf) {
    memset(g, 0, sizeof *g);
    for (int i = 0; i < 3; i++) {
        g->t[i].struct_size = sizeof g->t[i];
        g->t[i].dtype = EHAL_DTYPE_F32;
        g->t[i].ne[0] = 4;
        g->t[i].ne[1] = g->t[i].ne[2] = g->t[i].ne[3] = 1;
        g->t[i].buffer = buf;
        g->t[i].offset = (uint64_t)i * 16;
        g->tp[i] = &g->t[i];
    }
    g->n.struct_size = sizeof g->n;
    g->n.op = EHAL_OP_ADD;
    g->n.n_inputs = 2;
    g->n.n_outputs = 1;
    g->n.inputs[0] = 0;
    g->n.inputs[1] = 1;
    g->n.outputs[0] = 2;
    g->np[0] = &g->n;
    g->sg.struct_size = sizeof g->sg;
    g->sg.n_tensors = 3;
    g->sg.n_nodes = 1;
    g->sg.tensors = g->tp;
    g->sg.nodes = g->np;
}

/* ---- negotiation and the table -------------------------------------------- */

static void test_stub_negotiates_revision_1_and_refuses_a_range_without_it(void **state) {
    (void)state;
    ehal_status_t st;
    uint32_t ver;
    const ehal_backend_iface *t = negotiate(1, 9, &st, &ver);
    assert_int_equal(st, EHAL_STATUS_OK);
    assert_int_equal(ver, 1);
    assert_non_null(t);
    assert_string_equal(t->name, "npu_stub");
    assert_true(t->struct_size >= EHAL_BACKEND_IFACE_MIN_SIZE);
    last_log[0] = '\0';
    t = negotiate(2, 5, &st, &ver);
    assert_int_equal(st, EHAL_STATUS_INCOMPATIBLE);
    assert_int_equal(ver, 1);
    assert_null(t);
    assert_non_null(strstr(last_log, "2..5"));
}

static void test_stub_sets_every_required_entry_and_no_optional_one(void **state) {
    (void)state;
    assert_non_null(it->init);
    assert_non_null(it->destroy);
    assert_non_null(it->device_info);
    assert_non_null(it->query_op);
    assert_non_null(it->buffer_alloc);
    assert_non_null(it->buffer_free);
    assert_non_null(it->buffer_write);
    assert_non_null(it->buffer_read);
    assert_non_null(it->prepare);
    assert_non_null(it->execute);
    assert_non_null(it->wait);
    assert_non_null(it->release);
    /* optional: absent, so the core answers UNSUPPORTED / falls back */
    assert_null(it->buffer_map);
    assert_null(it->buffer_unmap);
    assert_null(it->buffer_import_host);
    assert_null(it->prepack);
}

/* ---- each entry, one by one ----------------------------------------------- */

static void test_stub_init_ignores_unknown_options(void **state) {
    (void)state;
    ehal_option o[2] = {{"memory", "64M"}, {"whatever", "1"}};
    ehal_backend_impl *b2 = NULL;
    assert_int_equal(it->init(&host, o, 2, &b2), EHAL_STATUS_OK);
    assert_non_null(b2);
    it->destroy(b2);
    b2 = (ehal_backend_impl *)0x1;
    assert_int_equal(it->init(&host, NULL, 3, &b2), EHAL_STATUS_INVALID_ARGUMENT);
    assert_null(b2);
    assert_non_null(strstr(last_log, "NULL with 3 entries"));
}

static void test_stub_device_is_an_npu_with_unknown_sizes(void **state) {
    (void)state;
    ehal_device_info d;
    memset(&d, 0x5a, sizeof d);
    d.struct_size = sizeof d;
    assert_int_equal(it->device_info(be, &d), EHAL_STATUS_OK);
    assert_int_equal(d.struct_size, sizeof d);
    assert_int_equal(d.kind, EHAL_DEVICE_NPU);
    assert_int_equal(d.flags, 0);
    assert_non_null(memchr(d.name, '\0', sizeof d.name));
    assert_non_null(strstr(d.name, "npu_stub"));
    assert_non_null(memchr(d.driver, '\0', sizeof d.driver));
    assert_int_equal(d.memory_bytes, 0);
    assert_int_equal(d.link_bytes_per_s, 0);

    /* an older caller's 8-byte struct: kind filled, nothing beyond */
    unsigned char raw[sizeof(ehal_device_info)];
    memset(raw, 0x5a, sizeof raw);
    ehal_device_info *small = (ehal_device_info *)raw;
    small->struct_size = 8;
    assert_int_equal(it->device_info(be, small), EHAL_STATUS_OK);
    assert_int_equal(small->kind, EHAL_DEVICE_NPU);
    assert_int_equal(raw[8], 0x5a);
    assert_int_equal(raw[sizeof raw - 1], 0x5a);

    small->struct_size = 4; /* does not even reach kind */
    assert_int_equal(it->device_info(be, small), EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(last_log, "struct_size 4"));
}

static void test_stub_query_answers_unsupported_for_a_valid_node(void **state) {
    (void)state;
    add_graph g;
    add_graph_init(&g, NULL);
    ehal_op_support s;
    memset(&s, 0x5a, sizeof s);
    s.struct_size = sizeof s;
    assert_int_equal(it->query_op(be, &g.sg, 0, &s), EHAL_STATUS_OK);
    assert_int_equal(s.level, EHAL_SUPPORT_UNSUPPORTED);
    assert_int_equal(s.cost_ns, 0);
    assert_int_equal(s.prepare_ns, 0);
    /* a node index past the end is an argument error, logged */
    last_log[0] = '\0';
    assert_int_equal(it->query_op(be, &g.sg, 1, &s), EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(last_log, "node 1"));
}

static void test_stub_buffers_hold_bytes_and_refuse_bad_ranges(void **state) {
    (void)state;
    ehal_buffer_impl *buf = NULL;
    assert_int_equal(it->buffer_alloc(be, 64, EHAL_BUFFER_WEIGHTS, &buf), EHAL_STATUS_OK);
    assert_non_null(buf);
    unsigned char in[64], out[64];
    for (int i = 0; i < 64; i++)
        in[i] = (unsigned char)(i * 7 + 3);
    assert_int_equal(it->buffer_write(be, buf, 0, in, 64), EHAL_STATUS_OK);
    memset(out, 0, sizeof out);
    assert_int_equal(it->buffer_read(be, buf, 16, out, 8), EHAL_STATUS_OK);
    assert_memory_equal(out, in + 16, 8);
    /* new buffers read as zeros */
    ehal_buffer_impl *b2 = NULL;
    assert_int_equal(it->buffer_alloc(be, 8, 0, &b2), EHAL_STATUS_OK);
    memset(out, 0xff, 8);
    assert_int_equal(it->buffer_read(be, b2, 0, out, 8), EHAL_STATUS_OK);
    assert_memory_equal(out, "\0\0\0\0\0\0\0\0", 8);
    it->buffer_free(be, b2);

    assert_int_equal(it->buffer_write(be, buf, 60, in, 8), EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(last_log, "8 bytes at offset 60"));
    assert_int_equal(it->buffer_read(be, buf, UINT64_MAX, out, 1), EHAL_STATUS_INVALID_ARGUMENT);
    ehal_buffer_impl *none = (ehal_buffer_impl *)0x1;
    assert_int_equal(it->buffer_alloc(be, 0, 0, &none), EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(last_log, "size is 0"));
    assert_int_equal(it->buffer_alloc(be, 8, 0x100, &none), EHAL_STATUS_INVALID_ARGUMENT);
    assert_null(none);
    assert_non_null(strstr(last_log, "unknown flags 0x100"));
    /* a pointer that is not a stub buffer */
    uint32_t fake[8] = {0};
    assert_int_equal(it->buffer_write(be, (ehal_buffer_impl *)fake, 0, in, 4),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(last_log, "not a live npu_stub buffer"));
    it->buffer_free(be, buf);
}

static void test_stub_prepare_refuses_naming_the_node_and_op(void **state) {
    (void)state;
    ehal_buffer_impl *buf = NULL;
    assert_int_equal(it->buffer_alloc(be, 48, 0, &buf), EHAL_STATUS_OK);
    add_graph g;
    add_graph_init(&g, buf);
    ehal_executable_impl *exe = (ehal_executable_impl *)0x1;
    last_log[0] = '\0';
    assert_int_equal(it->prepare(be, &g.sg, &exe), EHAL_STATUS_UNSUPPORTED);
    assert_null(exe);
    assert_int_equal(last_level, EHAL_LOG_ERROR);
    assert_non_null(strstr(last_log, "node 0: op add is not supported by npu_stub"));
    it->buffer_free(be, buf);
}

static void test_stub_execute_and_wait_are_unimplemented_and_say_so(void **state) {
    (void)state;
    ehal_execute_args a = {sizeof a, 0};
    last_log[0] = '\0';
    assert_int_equal(it->execute(be, NULL, &a), EHAL_STATUS_UNIMPLEMENTED);
    assert_non_null(strstr(last_log, "execute"));
    assert_non_null(strstr(last_log, "not implemented"));
    last_log[0] = '\0';
    assert_int_equal(it->wait(be, NULL, UINT64_MAX), EHAL_STATUS_UNIMPLEMENTED);
    assert_non_null(strstr(last_log, "wait"));
    it->release(be, NULL); /* nothing to free: no log, no crash */
}

/* A handle that is not a live stub backend: every entry refuses. */
static void test_stub_entries_refuse_a_foreign_backend_handle(void **state) {
    (void)state;
    uint32_t fake[16] = {0};
    ehal_backend_impl *bad = (ehal_backend_impl *)fake;
    ehal_device_info d;
    d.struct_size = sizeof d;
    ehal_op_support s;
    s.struct_size = sizeof s;
    ehal_buffer_impl *buf = NULL;
    ehal_executable_impl *exe = NULL;
    unsigned char bytes[4] = {0};
    add_graph g;
    add_graph_init(&g, NULL);
    assert_int_equal(it->device_info(bad, &d), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(it->query_op(bad, &g.sg, 0, &s), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(it->buffer_alloc(bad, 8, 0, &buf), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(it->buffer_write(bad, buf, 0, bytes, 4), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(it->buffer_read(bad, buf, 0, bytes, 4), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(it->prepare(bad, &g.sg, &exe), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(it->execute(bad, exe, NULL), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(it->wait(bad, exe, 0), EHAL_STATUS_INVALID_ARGUMENT);
    it->buffer_free(bad, buf);
    it->release(bad, exe);
    it->destroy(bad);
    assert_int_equal(fake[0], 0); /* untouched */
}

/* ---- through the core ------------------------------------------------------- */

static ehal_context *ctx;
static ehal_backend *stub;

static int open_context(void **state) {
    (void)state;
    ehal_context_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.flags = EHAL_CONTEXT_NO_DEFAULT_PATHS | EHAL_CONTEXT_NO_ENV;
    o.backend_path = getenv("EHAL_TEST_PLUGIN_DIR");
    o.backends = "npu_stub";
    o.log_level = EHAL_LOG_ERROR;
    if (o.backend_path == NULL || ehal_context_create(&o, &ctx) != EHAL_STATUS_OK)
        return -1;
    stub = ehal_backend_find(ctx, "npu_stub");
    return stub != NULL ? 0 : -1;
}

static int close_context(void **state) {
    (void)state;
    ehal_context_destroy(ctx);
    ctx = NULL;
    return 0;
}

static void test_core_lists_the_stub_as_one_npu(void **state) {
    (void)state;
    assert_int_equal(ehal_backend_count(ctx), 1);
    ehal_backend_props p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    assert_int_equal(ehal_backend_props_get(stub, &p), EHAL_STATUS_OK);
    assert_string_equal(p.name, "npu_stub");
    assert_int_equal(p.abi_version, 1);
    assert_int_equal(p.device.kind, EHAL_DEVICE_NPU);
    assert_non_null(strstr(p.path, "libedgehal-npu_stub.so"));
}

static void test_core_sees_no_supported_op_dtype_pair(void **state) {
    (void)state;
    static const uint32_t ops[] = {
#define X_OP_ID(N, id, s, ni, no, P) id,
        EHAL_OP_LIST(X_OP_ID)
#undef X_OP_ID
    };
    static const uint32_t dtypes[] = {
#define X_DT_ID(N, id, s, bv, bb) id,
        EHAL_DTYPE_LIST(X_DT_ID)
#undef X_DT_ID
    };
    uint32_t asked = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        for (size_t j = 0; j < sizeof dtypes / sizeof dtypes[0]; j++) {
            if (!ehal_op_dtype_defined(ops[i], dtypes[j]))
                continue;
            asked++;
            if (ehal_backend_op_support(stub, ops[i], dtypes[j]) != EHAL_SUPPORT_UNSUPPORTED)
                fail_msg("op %u dtype %u is not unsupported", ops[i], dtypes[j]);
        }
    assert_true(asked >= 24); /* the whole catalog was asked */
}

static void test_core_reports_stub_refusals_with_reasons(void **state) {
    (void)state;
    ehal_buffer *buf = NULL;
    assert_int_equal(ehal_buffer_alloc(stub, 48, 0, &buf), EHAL_STATUS_OK);
    void *p = NULL;
    assert_int_equal(ehal_buffer_map(buf, &p), EHAL_STATUS_UNSUPPORTED);
    assert_null(p);
    float host_mem[4] = {1, 2, 3, 4};
    ehal_buffer *imp = NULL;
    assert_int_equal(ehal_buffer_import_host(stub, host_mem, sizeof host_mem, 0, &imp),
                     EHAL_STATUS_UNSUPPORTED);
    assert_null(imp);

    add_graph g;
    add_graph_init(&g, ehal_buffer_handle(buf));
    ehal_executable *exe = NULL;
    assert_int_equal(ehal_prepare(stub, &g.sg, &exe), EHAL_STATUS_UNSUPPORTED);
    assert_null(exe);
    assert_non_null(strstr(ehal_last_error(ctx), "not supported by npu_stub"));
    ehal_buffer_free(buf);
}

int main(void) {
    const struct CMUnitTest direct[] = {
        cmocka_unit_test_setup_teardown(
            test_stub_negotiates_revision_1_and_refuses_a_range_without_it, open_backend,
            close_backend),
        cmocka_unit_test_setup_teardown(test_stub_sets_every_required_entry_and_no_optional_one,
                                        open_backend, close_backend),
        cmocka_unit_test_setup_teardown(test_stub_init_ignores_unknown_options, open_backend,
                                        close_backend),
        cmocka_unit_test_setup_teardown(test_stub_device_is_an_npu_with_unknown_sizes, open_backend,
                                        close_backend),
        cmocka_unit_test_setup_teardown(test_stub_query_answers_unsupported_for_a_valid_node,
                                        open_backend, close_backend),
        cmocka_unit_test_setup_teardown(test_stub_buffers_hold_bytes_and_refuse_bad_ranges,
                                        open_backend, close_backend),
        cmocka_unit_test_setup_teardown(test_stub_prepare_refuses_naming_the_node_and_op,
                                        open_backend, close_backend),
        cmocka_unit_test_setup_teardown(test_stub_execute_and_wait_are_unimplemented_and_say_so,
                                        open_backend, close_backend),
        cmocka_unit_test_setup_teardown(test_stub_entries_refuse_a_foreign_backend_handle,
                                        open_backend, close_backend),
    };
    const struct CMUnitTest core[] = {
        cmocka_unit_test(test_core_lists_the_stub_as_one_npu),
        cmocka_unit_test(test_core_sees_no_supported_op_dtype_pair),
        cmocka_unit_test(test_core_reports_stub_refusals_with_reasons),
    };
    int failed = cmocka_run_group_tests_name("npu_stub_direct", direct, load_plugin, unload_plugin);
    failed += cmocka_run_group_tests_name("npu_stub_via_core", core, open_context, close_context);
    return failed;
}
