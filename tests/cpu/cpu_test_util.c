/*
 * Shared by the CPU plugin tests: host services that record the last log
 * line and count (and optionally fail) allocations, loading the plugin with
 * dlopen, a per-test opened backend, and a small subgraph builder.
 */
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

#include "cpu_test_util.h"

/* ---- host services that record the last log line and count allocations -- */

char last_log[1024];
long live_allocs;
/* When > 0, the fail_at-th allocation from now fails (a failure sweep). */
long fail_at;

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

const ehal_host_services host = {
    .struct_size = sizeof(ehal_host_services),
    .host_abi_version = EHAL_ABI_VERSION,
    .user = NULL,
    .log = host_log,
    .alloc = host_alloc,
    .free = host_free,
};

/* ---- plugin loading ------------------------------------------------------ */

static void *plugin;
ehal_backend_entry_fn entry;

int load_plugin(void **state)
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

int unload_plugin(void **state)
{
    (void)state;
    if (plugin != NULL)
        dlclose(plugin);
    return 0;
}

const ehal_backend_iface *negotiate(uint32_t lo, uint32_t hi, ehal_status_t *st,
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
fixture fx;

int open_backend(void **state)
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
int close_backend(void **state)
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

/* ---- subgraphs -------------------------------------------------------------------------
 * A small builder: tensors laid out back to back (64-byte aligned) in one
 * buffer; nodes referencing them by index. */

/* Bytes per block and values per block, from the GGUF layouts: Q8_0 is an
 * fp16 scale and 32 int8, Q4_0 an fp16 scale and 16 bytes of nibbles. */
static void block_of(uint32_t dtype, uint64_t *bytes, uint64_t *values)
{
    *values = 1;
    switch (dtype) {
    case EHAL_DTYPE_F16:
        *bytes = 2;
        break;
    case EHAL_DTYPE_Q8_0:
        *bytes = 34;
        *values = 32;
        break;
    case EHAL_DTYPE_Q4_0:
        *bytes = 18;
        *values = 32;
        break;
    default: /* F32, I32 */
        *bytes = 4;
        break;
    }
}

uint64_t nbytes(const ehal_tensor_desc *t)
{
    uint64_t bytes, values;
    block_of(t->dtype, &bytes, &values);
    return (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]) / values * bytes;
}

void g_init(graph *g)
{
    memset(g, 0, sizeof *g);
    g->sg.struct_size = sizeof g->sg;
    g->sg.tensors = g->tp;
    g->sg.nodes = g->np;
}

uint32_t g_tensor(graph *g, uint32_t dtype, int64_t ne0, int64_t ne1, int64_t ne2)
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

void g_node(graph *g, uint32_t op, uint32_t n_in, const uint32_t *in, uint32_t out,
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
void g_bind(graph *g)
{
    assert_int_equal(fx.iface->buffer_alloc(fx.be, g->size, 0, &g->buf), EHAL_STATUS_OK);
    for (uint32_t i = 0; i < g->sg.n_tensors; i++)
        g->t[i].buffer = g->buf;
}

void g_set(graph *g, uint32_t ti, const void *data)
{
    assert_int_equal(fx.iface->buffer_write(fx.be, g->buf, g->t[ti].offset, data, nbytes(&g->t[ti])),
                     EHAL_STATUS_OK);
}

void g_get(graph *g, uint32_t ti, void *data)
{
    assert_int_equal(fx.iface->buffer_read(fx.be, g->buf, g->t[ti].offset, data, nbytes(&g->t[ti])),
                     EHAL_STATUS_OK);
}

void g_run(graph *g)
{
    assert_int_equal(fx.iface->prepare(fx.be, &g->sg, &g->exe), EHAL_STATUS_OK);
    ehal_execute_args args = {sizeof args, 0};
    assert_int_equal(fx.iface->execute(fx.be, g->exe, &args), EHAL_STATUS_OK);
    assert_int_equal(fx.iface->wait(fx.be, g->exe, UINT64_MAX), EHAL_STATUS_OK);
}

void g_free(graph *g)
{
    fx.iface->release(fx.be, g->exe);
    fx.iface->buffer_free(fx.be, g->buf);
}

void assert_floats(const float *got, const double *want, int n, double tol)
{
    for (int i = 0; i < n; i++) {
        if (fabs((double)got[i] - want[i]) > tol) {
            fail_msg("element %d: got %.9g, want %.9g", i, (double)got[i], want[i]);
        }
    }
}
