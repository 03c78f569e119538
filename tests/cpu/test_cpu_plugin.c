/*
 * The CPU plugin loaded directly with dlopen, without the core: negotiation,
 * init options, device info, buffers and subgraphs through the ABI table.
 * Every expected value is computed by hand (or by a closed formula written
 * here), never by the reference kernels the plugin runs.
 */
#define _GNU_SOURCE /* setenv */
#include <dlfcn.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edgehal/backend_abi.h"

/* ---- host services that record the last log line and count allocations -- */

static char last_log[1024];
static long live_allocs;
/* When > 0, the fail_at-th allocation from now fails (a failure sweep). */
static long fail_at;

static void host_log(void *user, int32_t level, const char *msg)
{
    (void)user;
    if (level <= EHAL_LOG_WARN) {
        snprintf(last_log, sizeof last_log, "%s", msg);
        fprintf(stderr, "  [plugin] %s\n", msg);
    }
}

static void *host_alloc(void *user, size_t size, size_t align)
{
    (void)user;
    if (fail_at > 0 && --fail_at == 0)
        return NULL;
    if (align == 0)
        align = 16;
    size_t rounded = (size + align - 1) / align * align;
    void *p = aligned_alloc(align, rounded == 0 ? align : rounded);
    if (p != NULL)
        live_allocs++;
    return p;
}

static void host_free(void *user, void *p)
{
    (void)user;
    if (p != NULL)
        live_allocs--;
    free(p);
}

static const ehal_host_services host = {
    .struct_size = sizeof(ehal_host_services),
    .host_abi_version = EHAL_ABI_VERSION,
    .user = NULL,
    .log = host_log,
    .alloc = host_alloc,
    .free = host_free,
};

/* ---- plugin loading ------------------------------------------------------ */

static void *plugin;
static ehal_backend_entry_fn entry;

static int load_plugin(void **state)
{
    (void)state;
    const char *dir = getenv("EHAL_TEST_PLUGIN_DIR");
    if (dir == NULL) {
        fprintf(stderr, "EHAL_TEST_PLUGIN_DIR is not set (run through ctest)\n");
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/libedgehal-cpu.so", dir);
    plugin = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (plugin == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return -1;
    }
    void *sym = dlsym(plugin, EHAL_BACKEND_ENTRY_SYMBOL);
    if (sym == NULL) {
        fprintf(stderr, "%s: no %s\n", path, EHAL_BACKEND_ENTRY_SYMBOL);
        return -1;
    }
    memcpy(&entry, &sym, sizeof entry); /* object -> function pointer */
    return 0;
}

static int unload_plugin(void **state)
{
    (void)state;
    if (plugin != NULL)
        dlclose(plugin);
    return 0;
}

static const ehal_backend_iface *negotiate(uint32_t lo, uint32_t hi, ehal_status_t *st,
                                           uint32_t *plugin_version)
{
    ehal_entry_args args;
    memset(&args, 0, sizeof args);
    args.struct_size = sizeof args;
    args.loader_min_version = lo;
    args.loader_max_version = hi;
    args.host = &host;
    args.plugin_version = 0xdeadu;
    *st = entry(&args);
    *plugin_version = args.plugin_version;
    return args.iface;
}

/* Per-test state: the table and an opened backend. */
typedef struct fixture {
    const ehal_backend_iface *iface;
    ehal_backend_impl *be;
} fixture;

static fixture fx;

static int open_backend(void **state)
{
    (void)state;
    live_allocs = 0;
    last_log[0] = '\0';
    ehal_status_t st;
    uint32_t ver;
    fx.iface = negotiate(1, 1, &st, &ver);
    if (st != EHAL_STATUS_OK || fx.iface == NULL)
        return -1;
    fx.be = NULL;
    return fx.iface->init(&host, NULL, 0, &fx.be) == EHAL_STATUS_OK ? 0 : -1;
}

/* Also the leak check: every host allocation was given back. */
static int close_backend(void **state)
{
    (void)state;
    fx.iface->destroy(fx.be);
    fx.be = NULL;
    if (live_allocs != 0) {
        fprintf(stderr, "%ld host allocations leaked\n", live_allocs);
        return -1;
    }
    return 0;
}

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

/* ---- subgraphs -------------------------------------------------------------------------
 * A small builder: tensors laid out back to back (64-byte aligned) in one
 * buffer; nodes referencing them by index. */

#define MAX_T 12
#define MAX_N 6

typedef struct graph {
    ehal_tensor_desc t[MAX_T];
    const ehal_tensor_desc *tp[MAX_T];
    ehal_node_desc n[MAX_N];
    const ehal_node_desc *np[MAX_N];
    ehal_subgraph sg;
    uint64_t size;
    ehal_buffer_impl *buf;
    ehal_executable_impl *exe;
} graph;

static uint64_t elem_bytes(uint32_t dtype)
{
    return dtype == EHAL_DTYPE_F16 ? 2 : 4; /* the tests use F32, F16, I32 */
}

static uint64_t nbytes(const ehal_tensor_desc *t)
{
    return (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]) * elem_bytes(t->dtype);
}

static void g_init(graph *g)
{
    memset(g, 0, sizeof *g);
    g->sg.struct_size = sizeof g->sg;
    g->sg.tensors = g->tp;
    g->sg.nodes = g->np;
}

static uint32_t g_tensor(graph *g, uint32_t dtype, int64_t ne0, int64_t ne1, int64_t ne2)
{
    uint32_t i = g->sg.n_tensors++;
    ehal_tensor_desc *t = &g->t[i];
    t->struct_size = sizeof *t;
    t->dtype = dtype;
    t->role = EHAL_ROLE_ACTIVATION;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = ne2;
    t->ne[3] = 1;
    t->offset = g->size;
    g->size += (nbytes(t) + 63) / 64 * 64;
    g->tp[i] = t;
    return i;
}

static void g_node(graph *g, uint32_t op, uint32_t n_in, const uint32_t *in, uint32_t out,
                   const void *params, uint32_t params_size)
{
    uint32_t i = g->sg.n_nodes++;
    ehal_node_desc *n = &g->n[i];
    n->struct_size = sizeof *n;
    n->op = op;
    n->n_inputs = n_in;
    n->n_outputs = 1;
    memcpy(n->inputs, in, n_in * sizeof *in);
    n->outputs[0] = out;
    n->params = params;
    n->params_size = params_size;
    g->np[i] = n;
}

/* Allocates the buffer and binds every tensor to it. */
static void g_bind(graph *g)
{
    assert_int_equal(fx.iface->buffer_alloc(fx.be, g->size, 0, &g->buf), EHAL_STATUS_OK);
    for (uint32_t i = 0; i < g->sg.n_tensors; i++)
        g->t[i].buffer = g->buf;
}

static void g_set(graph *g, uint32_t ti, const void *data)
{
    assert_int_equal(fx.iface->buffer_write(fx.be, g->buf, g->t[ti].offset, data, nbytes(&g->t[ti])),
                     EHAL_STATUS_OK);
}

static void g_get(graph *g, uint32_t ti, void *data)
{
    assert_int_equal(fx.iface->buffer_read(fx.be, g->buf, g->t[ti].offset, data, nbytes(&g->t[ti])),
                     EHAL_STATUS_OK);
}

static void g_run(graph *g)
{
    assert_int_equal(fx.iface->prepare(fx.be, &g->sg, &g->exe), EHAL_STATUS_OK);
    ehal_execute_args args = {sizeof args, 0};
    assert_int_equal(fx.iface->execute(fx.be, g->exe, &args), EHAL_STATUS_OK);
    assert_int_equal(fx.iface->wait(fx.be, g->exe, UINT64_MAX), EHAL_STATUS_OK);
}

static void g_free(graph *g)
{
    fx.iface->release(fx.be, g->exe);
    fx.iface->buffer_free(fx.be, g->buf);
}

static void assert_floats(const float *got, const double *want, int n, double tol)
{
    for (int i = 0; i < n; i++) {
        if (fabs((double)got[i] - want[i]) > tol) {
            fail_msg("element %d: got %.9g, want %.9g", i, (double)got[i], want[i]);
        }
    }
}

static void test_add_sums_elementwise(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t a = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1), b = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    g_node(&g, EHAL_OP_ADD, 2, (uint32_t[]){a, b}, y, NULL, 0);
    g_bind(&g);
    g_set(&g, a, (float[]){1, 2, 3, 4});
    g_set(&g, b, (float[]){10, 20, 30, -40});
    g_run(&g);
    float out[4];
    g_get(&g, y, out);
    assert_floats(out, (double[]){11, 22, 33, -36}, 4, 0);
    g_free(&g);
}

static void test_mul_multiplies_elementwise(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t a = g_tensor(&g, EHAL_DTYPE_F32, 3, 1, 1), b = g_tensor(&g, EHAL_DTYPE_F32, 3, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 3, 1, 1);
    g_node(&g, EHAL_OP_MUL, 2, (uint32_t[]){a, b}, y, NULL, 0);
    g_bind(&g);
    g_set(&g, a, (float[]){1.5f, -2, 0});
    g_set(&g, b, (float[]){2, 3, 9});
    g_run(&g);
    float out[3];
    g_get(&g, y, out);
    assert_floats(out, (double[]){3, -6, 0}, 3, 0);
    g_free(&g);
}

/* W[K=3,N=2] rows (1,2,3), (4,5,6); X[K=3,T=2] rows (1,0,-1), (2,1,0).
 * Y[t][n] = W[n].X[t]: t0: -2, -2; t1: 4, 13. */
static void test_matmul_f32_2x3(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t w = g_tensor(&g, EHAL_DTYPE_F32, 3, 2, 1), x = g_tensor(&g, EHAL_DTYPE_F32, 3, 2, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 2, 2, 1);
    g_node(&g, EHAL_OP_MATMUL, 2, (uint32_t[]){w, x}, y, NULL, 0);
    g_bind(&g);
    g_set(&g, w, (float[]){1, 2, 3, 4, 5, 6});
    g_set(&g, x, (float[]){1, 0, -1, 2, 1, 0});
    g_run(&g);
    float out[4];
    g_get(&g, y, out);
    assert_floats(out, (double[]){-2, -2, 4, 13}, 4, 0);
    g_free(&g);
}

/* X[D=4,T=3], w = (1,2,0.5,-1), eps 0:
 *  (1,1,1,1):   rms 1            -> w
 *  (3,4,0,0):   rms sqrt(25/4)=2.5 -> (1.2,1.6,0,0)*w
 *  (2,-2,2,-2): rms 2            -> (1,-1,1,-1)*w */
static void test_rms_norm_scales_rows_by_their_rms(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t x = g_tensor(&g, EHAL_DTYPE_F32, 4, 3, 1), w = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 4, 3, 1);
    ehal_params_rms_norm p = {0.0f};
    g_node(&g, EHAL_OP_RMS_NORM, 2, (uint32_t[]){x, w}, y, &p, sizeof p);
    g_bind(&g);
    g_set(&g, x, (float[]){1, 1, 1, 1, 3, 4, 0, 0, 2, -2, 2, -2});
    g_set(&g, w, (float[]){1, 2, 0.5f, -1});
    g_run(&g);
    float out[12];
    g_get(&g, y, out);
    assert_floats(out, (double[]){1, 2, 0.5, -1, 1.2, 3.2, 0, 0, 1, -2, 0.5, 1}, 12, 1e-6);
    g_free(&g);
}

/* silu(g) * u with silu(g) = g / (1 + e^-g). */
static void test_swiglu_gates_with_silu(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t gate = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1), up = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    g_node(&g, EHAL_OP_SWIGLU, 2, (uint32_t[]){gate, up}, y, NULL, 0);
    g_bind(&g);
    g_set(&g, gate, (float[]){0, 1, -1, 2});
    g_set(&g, up, (float[]){5, 2, 3, 4});
    g_run(&g);
    float out[4];
    g_get(&g, y, out);
    double want[4] = {0.0, 1.0 / (1.0 + exp(-1.0)) * 2.0, -1.0 / (1.0 + exp(1.0)) * 3.0,
                      2.0 / (1.0 + exp(-2.0)) * 4.0};
    assert_floats(out, want, 4, 1e-6);
    g_free(&g);
}

/* Scale 2: row (3,3) -> (1/2, 1/2); row (0,1) -> (1, e^2) / (1 + e^2). */
static void test_softmax_normalizes_scaled_rows(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t x = g_tensor(&g, EHAL_DTYPE_F32, 2, 2, 1), y = g_tensor(&g, EHAL_DTYPE_F32, 2, 2, 1);
    ehal_params_softmax p = {2.0f};
    g_node(&g, EHAL_OP_SOFTMAX, 1, (uint32_t[]){x}, y, &p, sizeof p);
    g_bind(&g);
    g_set(&g, x, (float[]){3, 3, 0, 1});
    g_run(&g);
    float out[4];
    g_get(&g, y, out);
    double e2 = exp(2.0);
    assert_floats(out, (double[]){0.5, 0.5, 1.0 / (1.0 + e2), e2 / (1.0 + e2)}, 4, 1e-6);
    g_free(&g);
}

/* Normal mode, one pair, pos 1, theta = 1 rad: (1, 0) -> (cos 1, sin 1);
 * pos 0 leaves (0.5, 2) unchanged. */
static void test_rope_rotates_pairs_by_position(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t x = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 2), pos = g_tensor(&g, EHAL_DTYPE_I32, 2, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 2);
    ehal_params_rope p = {EHAL_ROPE_NORMAL, 2, 10000.0f, 1.0f};
    g_node(&g, EHAL_OP_ROPE, 2, (uint32_t[]){x, pos}, y, &p, sizeof p);
    g_bind(&g);
    g_set(&g, x, (float[]){1, 0, 0.5f, 2});
    g_set(&g, pos, (int32_t[]){1, 0});
    g_run(&g);
    float out[4];
    g_get(&g, y, out);
    assert_floats(out, (double[]){cos(1.0), sin(1.0), 0.5, 2}, 4, 1e-6);
    g_free(&g);
}

/* table rows (1,2), (3,4), (5,6); ids (2, 0) -> (5,6), (1,2). */
static void test_get_rows_gathers_rows_by_id(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t tab = g_tensor(&g, EHAL_DTYPE_F32, 2, 3, 1), ids = g_tensor(&g, EHAL_DTYPE_I32, 2, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 2, 2, 1);
    g_node(&g, EHAL_OP_GET_ROWS, 2, (uint32_t[]){tab, ids}, y, NULL, 0);
    g_bind(&g);
    g_set(&g, tab, (float[]){1, 2, 3, 4, 5, 6});
    g_set(&g, ids, (int32_t[]){2, 0});
    g_run(&g);
    float out[4];
    g_get(&g, y, out);
    assert_floats(out, (double[]){5, 6, 1, 2}, 4, 0);
    g_free(&g);
}

/* F32 -> F16: 1 = 0x3c00, 0.5 = 0x3800, -2 = 0xc000, 65504 = 0x7bff. */
static void test_copy_converts_f32_to_f16(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t x = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1), y = g_tensor(&g, EHAL_DTYPE_F16, 4, 1, 1);
    g_node(&g, EHAL_OP_COPY, 1, (uint32_t[]){x}, y, NULL, 0);
    g_bind(&g);
    g_set(&g, x, (float[]){1, 0.5f, -2, 65504});
    g_run(&g);
    uint16_t out[4];
    g_get(&g, y, out);
    assert_int_equal(out[0], 0x3c00);
    assert_int_equal(out[1], 0x3800);
    assert_int_equal(out[2], 0xc000);
    assert_int_equal(out[3], 0x7bff);
    g_free(&g);
}

/* D=2, one kv head, F16 caches of capacity 4. Positions 0 and 1 write
 * k = (1,0), (0,1) and v = (1,2), (3,4). Queries, scale 1:
 *  q0 = (2,0) at pos 0 sees key 0 only            -> v0 = (1,2)
 *  q1 = (1,2) at pos 1: scores (1, 2), weights (1, e)/(1+e)
 *                                               -> ((1+3e), (2+4e))/(1+e) */
static void test_kv_write_then_attention_over_two_positions(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t ks = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 2), vs = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 2);
    uint32_t pos = g_tensor(&g, EHAL_DTYPE_I32, 2, 1, 1);
    uint32_t kc = g_tensor(&g, EHAL_DTYPE_F16, 2, 4, 1), vc = g_tensor(&g, EHAL_DTYPE_F16, 2, 4, 1);
    uint32_t q = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 2), o = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 2);
    g.t[kc].role = g.t[vc].role = EHAL_ROLE_KV;
    ehal_params_kv kv = {0, 0};
    ehal_params_attention at = {1.0f, 0, 0, 0};
    g_node(&g, EHAL_OP_KV_WRITE, 3, (uint32_t[]){ks, pos, kc}, kc, &kv, sizeof kv);
    g_node(&g, EHAL_OP_KV_WRITE, 3, (uint32_t[]){vs, pos, vc}, vc, &kv, sizeof kv);
    g_node(&g, EHAL_OP_ATTENTION, 4, (uint32_t[]){q, kc, vc, pos}, o, &at, sizeof at);
    g_bind(&g);
    g_set(&g, ks, (float[]){1, 0, 0, 1});
    g_set(&g, vs, (float[]){1, 2, 3, 4});
    g_set(&g, pos, (int32_t[]){0, 1});
    g_set(&g, q, (float[]){2, 0, 1, 2});
    g_run(&g);

    uint16_t kbits[8], vbits[8];
    g_get(&g, kc, kbits);
    g_get(&g, vc, vbits);
    const uint16_t kwant[8] = {0x3c00, 0, 0, 0x3c00, 0, 0, 0, 0};
    const uint16_t vwant[8] = {0x3c00, 0x4000, 0x4200, 0x4400, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(kbits[i], kwant[i]);
        assert_int_equal(vbits[i], vwant[i]);
    }
    float out[4];
    g_get(&g, o, out);
    double e = exp(1.0);
    assert_floats(out, (double[]){1, 2, (1 + 3 * e) / (1 + e), (2 + 4 * e) / (1 + e)}, 4, 1e-6);
    g_free(&g);
}

/* MATMUL -> ADD -> RMS_NORM; the intermediates stay readable in the buffer.
 * W[K=2,N=4] rows (1,0), (0,1), (1,1), (1,-1); x = (3,1) -> (3,1,4,2);
 * + (1,1,-2,2) -> (4,2,2,4); rms sqrt(10), w = 1 -> (4,2,2,4)/sqrt(10). */
static void test_chained_subgraph_passes_activations_between_nodes(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t w = g_tensor(&g, EHAL_DTYPE_F32, 2, 4, 1), x = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 1);
    uint32_t h = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1), b = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    uint32_t s = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1), nw = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    ehal_params_rms_norm p = {0.0f};
    g_node(&g, EHAL_OP_MATMUL, 2, (uint32_t[]){w, x}, h, NULL, 0);
    g_node(&g, EHAL_OP_ADD, 2, (uint32_t[]){h, b}, s, NULL, 0);
    g_node(&g, EHAL_OP_RMS_NORM, 2, (uint32_t[]){s, nw}, y, &p, sizeof p);
    g_bind(&g);
    g_set(&g, w, (float[]){1, 0, 0, 1, 1, 1, 1, -1});
    g_set(&g, x, (float[]){3, 1});
    g_set(&g, b, (float[]){1, 1, -2, 2});
    g_set(&g, nw, (float[]){1, 1, 1, 1});
    g_run(&g);
    float hv[4], sv[4], yv[4];
    g_get(&g, h, hv);
    g_get(&g, s, sv);
    g_get(&g, y, yv);
    assert_floats(hv, (double[]){3, 1, 4, 2}, 4, 0);
    assert_floats(sv, (double[]){4, 2, 2, 4}, 4, 0);
    double r = sqrt(10.0);
    assert_floats(yv, (double[]){4 / r, 2 / r, 2 / r, 4 / r}, 4, 1e-6);

    /* a second run over changed inputs reuses the prepared executable */
    g_set(&g, x, (float[]){1, 1});
    assert_int_equal(fx.iface->execute(fx.be, g.exe, NULL), EHAL_STATUS_OK);
    g_get(&g, h, hv);
    assert_floats(hv, (double[]){1, 1, 2, 0}, 4, 0);
    g_free(&g);
}

/* A kernel failure (position beyond a full cache) is the execute's status,
 * and wait reports it too. */
static void test_execute_failure_is_reported_by_wait(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t ks = g_tensor(&g, EHAL_DTYPE_F32, 2, 1, 1), pos = g_tensor(&g, EHAL_DTYPE_I32, 1, 1, 1);
    uint32_t kc = g_tensor(&g, EHAL_DTYPE_F16, 2, 4, 1);
    ehal_params_kv kv = {0, 0};
    g_node(&g, EHAL_OP_KV_WRITE, 3, (uint32_t[]){ks, pos, kc}, kc, &kv, sizeof kv);
    g_bind(&g);
    g_set(&g, pos, (int32_t[]){9});
    assert_int_equal(fx.iface->prepare(fx.be, &g.sg, &g.exe), EHAL_STATUS_OK);
    last_log[0] = '\0';
    ehal_status_t st = fx.iface->execute(fx.be, g.exe, NULL);
    assert_int_equal(st, EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(fx.iface->wait(fx.be, g.exe, 0), st);
    assert_non_null(strstr(last_log, "kv_write"));
    g_free(&g);
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

/* ---- capability query ---------------------------------------------------------------------- */

static void query(graph *g, ehal_op_support *s)
{
    memset(s, 0, sizeof *s);
    s->struct_size = sizeof *s;
    assert_int_equal(fx.iface->query_op(fx.be, &g->sg, 0, s), EHAL_STATUS_OK);
}

static void test_query_supports_valid_nodes_with_a_cost_growing_with_size(void **state)
{
    (void)state;
    graph small, big;
    g_init(&small);
    g_init(&big);
    uint32_t w = g_tensor(&small, EHAL_DTYPE_F32, 64, 64, 1), x = g_tensor(&small, EHAL_DTYPE_F32, 64, 1, 1);
    uint32_t y = g_tensor(&small, EHAL_DTYPE_F32, 64, 1, 1);
    g_node(&small, EHAL_OP_MATMUL, 2, (uint32_t[]){w, x}, y, NULL, 0);
    w = g_tensor(&big, EHAL_DTYPE_F32, 1024, 1024, 1);
    x = g_tensor(&big, EHAL_DTYPE_F32, 1024, 1, 1);
    y = g_tensor(&big, EHAL_DTYPE_F32, 1024, 1, 1);
    g_node(&big, EHAL_OP_MATMUL, 2, (uint32_t[]){w, x}, y, NULL, 0);
    ehal_op_support s1, s2;
    query(&small, &s1);
    query(&big, &s2);
    assert_int_equal(s1.level, EHAL_SUPPORT_SUPPORTED);
    assert_int_equal(s2.level, EHAL_SUPPORT_SUPPORTED);
    assert_true(s1.cost_ns > 0);
    /* 2*1024*1024 flops at 2 GFLOP/s ~ 1 ms, plus 4 MiB at 10 GB/s ~ 0.4 ms */
    assert_true(s2.cost_ns > 1000000ull && s2.cost_ns < 3000000ull);
    assert_true(s2.cost_ns > 100 * s1.cost_ns);
}

static void test_query_answers_unsupported_for_invalid_nodes(void **state)
{
    (void)state;
    graph g;
    g_init(&g);
    uint32_t a = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1), b = g_tensor(&g, EHAL_DTYPE_F16, 4, 1, 1);
    uint32_t y = g_tensor(&g, EHAL_DTYPE_F32, 4, 1, 1);
    g_node(&g, EHAL_OP_ADD, 2, (uint32_t[]){a, b}, y, NULL, 0);
    ehal_op_support s;
    query(&g, &s);
    assert_int_equal(s.level, EHAL_SUPPORT_UNSUPPORTED); /* F16 operand */
    g.n[0].op = 60;
    query(&g, &s);
    assert_int_equal(s.level, EHAL_SUPPORT_UNSUPPORTED); /* unknown op */
    /* out of range node index is a caller error, not an answer */
    s.struct_size = sizeof s;
    assert_int_equal(fx.iface->query_op(fx.be, &g.sg, 1, &s), EHAL_STATUS_INVALID_ARGUMENT);
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
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiation_accepts_a_range_containing_revision_1),
        cmocka_unit_test(test_negotiation_refuses_a_range_excluding_revision_1),
        cmocka_unit_test(test_negotiation_refuses_short_entry_args),
        cmocka_unit_test_setup_teardown(test_init_accepts_a_thread_count, open_backend,
                                        close_backend),
        cmocka_unit_test_setup_teardown(test_init_rejects_malformed_thread_counts_naming_the_value,
                                        open_backend, close_backend),
        cmocka_unit_test_setup_teardown(test_init_reads_threads_from_the_environment, open_backend,
                                        close_backend),
#define T(name) cmocka_unit_test_setup_teardown(name, open_backend, close_backend)
        T(test_device_info_describes_a_host_shared_cpu),
        T(test_device_info_fills_no_more_than_a_short_struct),
        T(test_buffer_write_then_read_ranges),
        T(test_buffer_refuses_out_of_range_access),
        T(test_buffer_map_gives_64_byte_aligned_memory),
        T(test_import_host_shares_the_callers_memory),
        T(test_add_sums_elementwise),
        T(test_mul_multiplies_elementwise),
        T(test_matmul_f32_2x3),
        T(test_rms_norm_scales_rows_by_their_rms),
        T(test_swiglu_gates_with_silu),
        T(test_softmax_normalizes_scaled_rows),
        T(test_rope_rotates_pairs_by_position),
        T(test_get_rows_gathers_rows_by_id),
        T(test_copy_converts_f32_to_f16),
        T(test_kv_write_then_attention_over_two_positions),
        T(test_chained_subgraph_passes_activations_between_nodes),
        T(test_execute_failure_is_reported_by_wait),
        T(test_prepare_refuses_invalid_nodes_and_unbound_tensors),
        T(test_prepare_keeps_its_own_copy_of_the_subgraph),
        T(test_query_supports_valid_nodes_with_a_cost_growing_with_size),
        T(test_query_answers_unsupported_for_invalid_nodes),
        T(test_entries_refuse_null_and_foreign_handles),
#undef T
        cmocka_unit_test(test_every_allocation_failure_is_reported_without_leaks),
    };
    return cmocka_run_group_tests_name("cpu plugin", tests, load_plugin, unload_plugin);
}
