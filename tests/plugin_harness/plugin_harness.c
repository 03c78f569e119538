#define _POSIX_C_SOURCE 200809L
#include "plugin_harness.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgehal/quant.h"

unsigned ph_error_logs;

#define LOG_KEEP 256
static char *g_logs[LOG_KEEP];
static unsigned g_nlogs;
static ph_log_observer g_observer;

void ph_set_log_observer(ph_log_observer fn) {
    g_observer = fn;
}

void ph_log_reset(void) {
    for (unsigned i = 0; i < g_nlogs; i++) {
        free(g_logs[i]);
        g_logs[i] = NULL;
    }
    g_nlogs = 0;
}

unsigned ph_log_count(const char *s) {
    unsigned n = 0;
    for (unsigned i = 0; i < g_nlogs; i++) {
        n += g_logs[i] && strstr(g_logs[i], s) != NULL;
    }
    return n;
}

static void host_log(void *user, int32_t level, const char *msg) {
    (void)user;
    if (g_nlogs < LOG_KEEP) {
        g_logs[g_nlogs++] = strdup(msg);
    }
    if (level == EHAL_LOG_ERROR) {
        ph_error_logs++;
    }
    if (g_observer) {
        g_observer(level, msg);
    }
    if (level <= EHAL_LOG_INFO || getenv("EHAL_TEST_VERBOSE")) {
        fprintf(stderr, "[plugin %d] %s\n", level, msg);
    }
}

static void *host_alloc(void *user, size_t size, size_t align) {
    (void)user;
    void *p = NULL;
    if (align < sizeof(void *)) {
        align = sizeof(void *);
    }
    return posix_memalign(&p, align, size ? size : 1) == 0 ? p : NULL;
}

static void host_free(void *user, void *p) {
    (void)user;
    free(p);
}

static ehal_host_services g_host = {
    sizeof(ehal_host_services), EHAL_ABI_VERSION, NULL, host_log, host_alloc, host_free};

int ph_open(ph_backend *b, const char *name, const ehal_option *opts, uint32_t n_opts) {
    memset(b, 0, sizeof *b);
    const char *dir = getenv("EHAL_TEST_PLUGIN_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/libedgehal-%s.so", dir ? dir : ".", name);
    b->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!b->lib) {
        snprintf(b->skip_reason, sizeof b->skip_reason, "cannot load %s: %.150s", path, dlerror());
        return -1;
    }
    ehal_backend_entry_fn entry;
    void *sym = dlsym(b->lib, EHAL_BACKEND_ENTRY_SYMBOL);
    memcpy(&entry, &sym, sizeof entry);
    ehal_entry_args args = {sizeof args, EHAL_ABI_VERSION_MIN, EHAL_ABI_VERSION, 0, &g_host, NULL};
    if (!sym || entry(&args) != EHAL_STATUS_OK || !args.iface) {
        snprintf(b->skip_reason, sizeof b->skip_reason, "%s: plugin entry point failed", path);
        return -1;
    }
    b->iface = args.iface;
    ehal_status_t st = b->iface->init(&g_host, opts, n_opts, &b->be);
    if (st != EHAL_STATUS_OK) {
        snprintf(b->skip_reason, sizeof b->skip_reason,
                 "no usable %s device (init returned %d); see the plugin log above", name,
                 (int)st);
        b->be = NULL;
        return -1;
    }
    return 0;
}

void ph_close(ph_backend *b) {
    if (b->be) {
        b->iface->destroy(b->be);
    }
    b->be = NULL;
}

void ph_graph_init(ph_graph *g) {
    memset(g, 0, sizeof *g);
    g->sg.struct_size = sizeof g->sg;
    g->sg.tensors = g->tp;
    g->sg.nodes = g->np;
}

void ph_graph_free(ph_graph *g) {
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        free(g->host[i]);
        free(g->ref[i]);
        free(g->dev[i]);
    }
}

uint32_t ph_tensor(ph_graph *g, uint32_t dtype, int64_t ne0, int64_t ne1, int64_t ne2) {
    uint32_t i = g->n_tensors++;
    int64_t ne[3] = {ne0, ne1, ne2};
    ehal_tensor_desc_init(&g->td[i], dtype, 3, ne);
    g->tp[i] = &g->td[i];
    size_t n = (size_t)ehal_tensor_nbytes(&g->td[i]);
    g->host[i] = calloc(1, n + 4);
    g->ref[i] = calloc(1, n + 4);
    g->dev[i] = calloc(1, n + 4);
    g->sg.n_tensors = g->n_tensors;
    return i;
}

uint32_t ph_node(ph_graph *g, uint32_t op, const uint32_t *ins, uint32_t n_in, uint32_t out,
                 const void *params, uint32_t params_size) {
    uint32_t i = g->n_nodes++;
    ehal_node_desc *n = &g->nd[i];
    memset(n, 0, sizeof *n);
    n->struct_size = sizeof *n;
    n->op = op;
    n->n_inputs = n_in;
    n->n_outputs = 1;
    memcpy(n->inputs, ins, n_in * sizeof *ins);
    n->outputs[0] = out;
    if (params && params_size) {
        memcpy(g->params[i], params, params_size);
        n->params = g->params[i];
        n->params_size = params_size;
    }
    g->np[i] = n;
    g->sg.n_nodes = g->n_nodes;
    return i;
}

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

void ph_fill(ph_graph *g, uint32_t t, uint32_t seed, float scale) {
    int64_t n = ehal_tensor_nelements(&g->td[t]);
    float *tmp = malloc((size_t)n * sizeof *tmp);
    uint32_t s = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < n; i++) {
        tmp[i] = scale * ((float)lcg(&s) / 8388608.0f - 1.0f);
    }
    ehal_convert_row(EHAL_DTYPE_F32, tmp, g->td[t].dtype, g->host[t], n);
    free(tmp);
}

void ph_fill_i32(ph_graph *g, uint32_t t, const int32_t *v) {
    memcpy(g->host[t], v, (size_t)ehal_tensor_nbytes(&g->td[t]));
}

static void *resolve_ref(void *user, const ehal_tensor_desc *t) {
    ph_graph *g = user;
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        if (g->tp[i] == t) {
            return g->ref[i];
        }
    }
    return NULL;
}

int ph_run_ref(ph_graph *g, int reset) {
    for (uint32_t i = 0; reset && i < g->n_tensors; i++) {
        memcpy(g->ref[i], g->host[i], (size_t)ehal_tensor_nbytes(&g->td[i]));
    }
    for (uint32_t k = 0; k < g->n_nodes; k++) {
        char msg[256];
        if (ehal_op_validate(&g->sg, k, msg, sizeof msg) != EHAL_STATUS_OK) {
            printf("node %u invalid: %s\n", k, msg);
            return -1;
        }
        ehal_kernel_args a;
        ehal_kernel_args_fill(&a, &g->sg, k, resolve_ref, g);
        ehal_status_t st = ehal_ref_kernel(g->nd[k].op)(&a);
        if (st != EHAL_STATUS_OK) {
            printf("reference %s failed: %d\n", ehal_op_name(g->nd[k].op), (int)st);
            return -1;
        }
    }
    return 0;
}

int ph_run(ph_backend *b, ph_graph *g) { return ph_run_timed(b, g, 0, NULL, NULL); }

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int ph_run_timed(ph_backend *b, ph_graph *g, int iters, double *ms_per_run, double *ref_ms) {
    double r0 = now_ms();
    if (ph_run_ref(g, 1) != 0) {
        return -1;
    }
    if (ref_ms) {
        *ref_ms = now_ms() - r0;
    }
    const ehal_backend_iface *f = b->iface;
    /* Capability promise: every node must be supported. */
    for (uint32_t k = 0; k < g->n_nodes; k++) {
        ehal_op_support s = {sizeof s, 0, 0, 0};
        if (f->query_op(b->be, &g->sg, k, &s) != EHAL_STATUS_OK || s.level == EHAL_SUPPORT_UNSUPPORTED) {
            printf("query_op: node %u (%s) unsupported\n", k, ehal_op_name(g->nd[k].op));
            return -1;
        }
    }
    /* One buffer for all tensors at byte offsets deliberately aligned to
     * 4 bytes only (2 for F16/quantized data): no more than the ABI
     * promises, less than Vulkan's minStorageBufferOffsetAlignment or
     * OpenCL's CL_DEVICE_MEM_BASE_ADDR_ALIGN. */
    uint64_t off[PH_MAX_TENSORS], total = 0;
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        total = (total + 3u) & ~(uint64_t)3u;
        total += 20u + (g->td[i].dtype == EHAL_DTYPE_F32 || g->td[i].dtype == EHAL_DTYPE_I32 ? 0u : 2u);
        off[i] = total;
        total += ehal_tensor_nbytes(&g->td[i]);
    }
    ehal_buffer_impl *buf = NULL;
    if (f->buffer_alloc(b->be, total + 64, 0, &buf) != EHAL_STATUS_OK) {
        printf("buffer_alloc(%llu) failed\n", (unsigned long long)total);
        return -1;
    }
    ph_graph dg = *g; /* device view: same shapes, with buffers */
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        dg.tp[i] = &dg.td[i];
        dg.td[i].buffer = buf;
        dg.td[i].offset = off[i];
        f->buffer_write(b->be, buf, off[i], g->host[i], ehal_tensor_nbytes(&g->td[i]));
    }
    for (uint32_t k = 0; k < g->n_nodes; k++) {
        dg.np[k] = &dg.nd[k];
        if (dg.nd[k].params) {
            dg.nd[k].params = dg.params[k];
        }
    }
    dg.sg.tensors = dg.tp;
    dg.sg.nodes = dg.np;
    ehal_executable_impl *exe = NULL;
    int rc = -1;
    if (f->prepare(b->be, &dg.sg, &exe) != EHAL_STATUS_OK) {
        printf("prepare failed\n");
    } else if (f->execute(b->be, exe, NULL) != EHAL_STATUS_OK) {
        printf("execute failed\n");
    } else if (f->wait(b->be, exe, UINT64_MAX) != EHAL_STATUS_OK) {
        printf("wait failed\n");
    } else {
        rc = 0;
        double t0 = now_ms();
        for (int it = 0; it < iters && rc == 0; it++) {
            if (f->execute(b->be, exe, NULL) != EHAL_STATUS_OK ||
                f->wait(b->be, exe, UINT64_MAX) != EHAL_STATUS_OK) {
                rc = -1;
            }
        }
        if (ms_per_run && iters > 0) {
            *ms_per_run = (now_ms() - t0) / iters;
        }
        for (uint32_t i = 0; i < g->n_tensors; i++) {
            if (f->buffer_read(b->be, buf, off[i], g->dev[i], ehal_tensor_nbytes(&g->td[i])) != 0) {
                rc = -1;
            }
        }
    }
    if (exe) {
        f->release(b->be, exe);
    }
    f->buffer_free(b->be, buf);
    return rc;
}

int ph_check_close(const ph_graph *g, uint32_t t, double tol, const char *what) {
    int64_t n = ehal_tensor_nelements(&g->td[t]);
    const float *a = g->dev[t], *r = g->ref[t];
    double maxref = 1e-30, maxerr = 0.0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        maxref = fmax(maxref, fabs((double)r[i]));
        double e = fabs((double)a[i] - (double)r[i]);
        if (!(e <= maxerr)) { /* NaN counts as the largest error */
            maxerr = isnan(e) ? INFINITY : e;
            at = i;
        }
    }
    double rel = maxerr / maxref;
    if (!(rel <= tol)) {
        printf("%s: normalized max error %.3g > %.3g at element %lld (device %.9g, reference %.9g)\n",
               what, rel, tol, (long long)at, (double)a[at], (double)r[at]);
        return -1;
    }
    return 0;
}

int ph_check_bytes(const ph_graph *g, uint32_t t, const char *what) {
    uint64_t n = ehal_tensor_nbytes(&g->td[t]);
    const uint8_t *a = g->dev[t], *r = g->ref[t];
    for (uint64_t i = 0; i < n; i++) {
        if (a[i] != r[i]) {
            printf("%s: byte %llu differs: device 0x%02x, reference 0x%02x\n", what,
                   (unsigned long long)i, a[i], r[i]);
            return -1;
        }
    }
    return 0;
}
