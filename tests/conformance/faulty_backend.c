/*
 * A deliberately faulty host-memory backend for the conformance suite's
 * self-test. It runs the ops/ reference kernels, except for one planted
 * fault chosen at compile time (FAULT_<NAME>, with FAULT_NAME the string);
 * the build makes one plugin per fault, each with its own iface->name
 * "faulty-<name>", into <build>/tests/faulty (never the plugin directory).
 *
 *   none     no fault: the control, must meet llm-core
 *   wrong    matmul off by 2% when N % 7 == 3 (slightly wrong on some shapes)
 *   oob      mul writes one float past the end of its output
 *   crash    rms_norm dies with SIGSEGV
 *   heap     add writes one float past the end of a heap block of its own:
 *            only when built with AddressSanitizer, which halts the child
 *            (without ASan that is plain heap corruption, so add is correct)
 *   hang     swiglu spins forever
 *   lie      query_op says softmax is supported, execute returns UNIMPLEMENTED
 *   evict    kv_write ignores the ring-buffer slot rule past capacity (p % C)
 *   missing  honestly unsupported: attention on Q8_0 caches (query and prepare)
 *   approx   no fault, but the approximations the tolerance table allows
 *            (docs/conformance.md): matmul quantizes activations to Q8_0 for
 *            quantized weights and rounds them to f16 for f16 weights;
 *            attention rounds Q the same way for its cache dtype. It must
 *            pass, which checks that the tolerances are not too tight.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "edgehal/backend_abi.h"
#include "edgehal/backend_sdk.h"
#include "edgehal/ops.h"

#ifndef FAULT_NAME
#error "define FAULT_NAME and FAULT_<NAME>"
#endif

struct ehal_backend_impl {
    const ehal_host_services *host;
};

struct ehal_buffer_impl {
    uint64_t size;
    unsigned char *data;
};

struct ehal_executable_impl {
    ehal_sdk_graph *g;
    ehal_status_t last;
};

/* ---- planted faults ----------------------------------------------------- */

#if defined(FAULT_WRONG)
static ehal_status_t k_matmul(const ehal_kernel_args *a) {
    ehal_status_t st = ehal_ref_MATMUL(a);
    int64_t N = a->out->ne[0];
    if (st == EHAL_STATUS_OK && N % 7 == 3) {
        float *y = a->out_data;
        int64_t n = ehal_tensor_nelements(a->out);
        for (int64_t i = 0; i < n; i++)
            y[i] *= 1.02f;
    }
    return st;
}
#endif

#if defined(FAULT_OOB)
static ehal_status_t k_mul(const ehal_kernel_args *a) {
    ehal_status_t st = ehal_ref_MUL(a);
    float *y = a->out_data;
    y[ehal_tensor_nelements(a->out)] = 1234.5f; /* one float past the end */
    return st;
}
#endif

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

#if defined(FAULT_HEAP) && defined(HAVE_ASAN)
static ehal_status_t k_add(const ehal_kernel_args *a) {
    ehal_status_t st = ehal_ref_ADD(a);
    int64_t n = ehal_tensor_nelements(a->out);
    float *scratch = malloc((size_t)n * sizeof *scratch);
    if (!scratch)
        return EHAL_STATUS_OUT_OF_MEMORY;
    memcpy(scratch, a->out_data, (size_t)n * sizeof *scratch);
    volatile float *v = scratch;
    v[n] = 1234.5f; /* one float past the end: ASan halts here */
    free(scratch);
    return st;
}
#endif

#if defined(FAULT_CRASH)
static ehal_status_t k_rms_norm(const ehal_kernel_args *a) {
    (void)a;
    raise(SIGSEGV); /* what a wild pointer does, deterministically */
    return EHAL_STATUS_INTERNAL;
}
#endif

#if defined(FAULT_HANG)
static ehal_status_t k_swiglu(const ehal_kernel_args *a) {
    volatile int spin = 1;
    while (spin) {
    }
    return ehal_ref_SWIGLU(a);
}
#endif

#if defined(FAULT_LIE)
static ehal_status_t k_softmax(const ehal_kernel_args *a) {
    (void)a;
    return EHAL_STATUS_UNIMPLEMENTED;
}
#endif

#if defined(FAULT_EVICT)
/* Slot p % C: right until the cache is full, wrong (sinks overwritten, ring
 * base ignored) after. */
static ehal_status_t k_kv_write(const ehal_kernel_args *a) {
    const ehal_tensor_desc *src = a->in[0], *cache = a->in[2];
    const int32_t *pos = a->in_data[1];
    int64_t D = src->ne[0], H = src->ne[1], T = src->ne[2], C = cache->ne[1];
    uint64_t rb = ehal_row_bytes(cache->dtype, D);
    for (int64_t t = 0; t < T; t++) {
        int64_t slot = pos[t] % C;
        for (int64_t h = 0; h < H; h++) {
            const float *row = (const float *)a->in_data[0] + (t * H + h) * D;
            unsigned char *dst = (unsigned char *)a->out_data + (uint64_t)(h * C + slot) * rb;
            ehal_status_t st = ehal_convert_row(EHAL_DTYPE_F32, row, cache->dtype, dst, D);
            if (st != EHAL_STATUS_OK)
                return st;
        }
    }
    return EHAL_STATUS_OK;
}
#endif

#if defined(FAULT_APPROX)
/* Rounds n values as a fast backend would before a dot with dtype data. */
static void round_like(uint32_t dtype, float *x, int64_t n) {
    if (dtype == EHAL_DTYPE_F16) {
        for (int64_t i = 0; i < n; i++)
            x[i] = ehal_fp16_to_fp32(ehal_fp32_to_fp16(x[i]));
    } else if ((dtype == EHAL_DTYPE_Q8_0 || dtype == EHAL_DTYPE_Q4_0) && n % EHAL_QK == 0) {
        ehal_block_q8_0 *b = malloc((size_t)(n / EHAL_QK) * sizeof *b);
        if (!b)
            return;
        ehal_quantize_row_q8_0(x, b, n);
        ehal_dequantize_row_q8_0(b, x, n);
        free(b);
    }
}

/* Runs the reference with input `which` rounded row by row (rows of ne0). */
static ehal_status_t with_rounded_input(const ehal_kernel_args *a, uint32_t which, uint32_t dtype,
                                        ehal_kernel_fn ref) {
    const ehal_tensor_desc *t = a->in[which];
    int64_t n = ehal_tensor_nelements(t), ne0 = t->ne[0];
    float *x = malloc((size_t)n * sizeof(float) + 1);
    if (!x)
        return EHAL_STATUS_OUT_OF_MEMORY;
    memcpy(x, a->in_data[which], (size_t)n * sizeof(float));
    for (int64_t r = 0; r < n / ne0; r++)
        round_like(dtype, x + r * ne0, ne0);
    ehal_kernel_args b = *a;
    b.in_data[which] = x;
    ehal_status_t st = ref(&b);
    free(x);
    return st;
}

static ehal_status_t k_matmul_approx(const ehal_kernel_args *a) {
    return with_rounded_input(a, 1, a->in[0]->dtype, ehal_ref_MATMUL);
}

static ehal_status_t k_attention_approx(const ehal_kernel_args *a) {
    return with_rounded_input(a, 0, a->in[1]->dtype, ehal_ref_ATTENTION);
}
#endif

static ehal_kernel_fn kernels[EHAL_OP_ID_LIMIT_];

static void init_kernels(void) {
    const uint32_t *ops;
    uint32_t n = ehal_op_list(&ops);
    for (uint32_t i = 0; i < n; i++)
        kernels[ops[i]] = ehal_ref_kernel(ops[i]);
#if defined(FAULT_WRONG)
    kernels[EHAL_OP_MATMUL] = k_matmul;
#elif defined(FAULT_OOB)
    kernels[EHAL_OP_MUL] = k_mul;
#elif defined(FAULT_CRASH)
    kernels[EHAL_OP_RMS_NORM] = k_rms_norm;
#elif defined(FAULT_HEAP) && defined(HAVE_ASAN)
    kernels[EHAL_OP_ADD] = k_add;
#elif defined(FAULT_HANG)
    kernels[EHAL_OP_SWIGLU] = k_swiglu;
#elif defined(FAULT_LIE)
    kernels[EHAL_OP_SOFTMAX] = k_softmax;
#elif defined(FAULT_EVICT)
    kernels[EHAL_OP_KV_WRITE] = k_kv_write;
#elif defined(FAULT_APPROX)
    kernels[EHAL_OP_MATMUL] = k_matmul_approx;
    kernels[EHAL_OP_ATTENTION] = k_attention_approx;
#endif
}

/* The honest refusal of the "missing" plugin; the "lie" plugin claims
 * softmax regardless. */
static int refuses(const ehal_subgraph *sg, uint32_t node) {
#if defined(FAULT_MISSING)
    const ehal_node_desc *n = sg->nodes[node];
    return n->op == EHAL_OP_ATTENTION && sg->tensors[n->inputs[1]]->dtype == EHAL_DTYPE_Q8_0;
#else
    (void)sg;
    (void)node;
    return 0;
#endif
}

/* ---- the plugin ------------------------------------------------------------- */

static ehal_status_t f_init(const ehal_host_services *host, const ehal_option *opts,
                            uint32_t n_opts, ehal_backend_impl **out) {
    (void)opts;
    (void)n_opts;
    ehal_backend_impl *be = ehal_sdk_calloc(host, 1, sizeof *be);
    if (!be)
        return EHAL_STATUS_OUT_OF_MEMORY;
    be->host = host;
    init_kernels();
    *out = be;
    return EHAL_STATUS_OK;
}

static void f_destroy(ehal_backend_impl *be) {
    if (be)
        ehal_sdk_free(be->host, be);
}

static ehal_status_t f_device_info(ehal_backend_impl *be, ehal_device_info *info) {
    (void)be;
    ehal_device_info d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.kind = EHAL_DEVICE_CPU;
    d.flags = EHAL_DEVICE_HOST_SHARED;
    strcpy(d.name, "faulty-" FAULT_NAME);
    strcpy(d.driver, "conformance self-test");
    uint32_t n = info->struct_size < sizeof d ? info->struct_size : (uint32_t)sizeof d;
    memcpy(info, &d, n);
    info->struct_size = n;
    return EHAL_STATUS_OK;
}

static ehal_status_t f_query_op(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                                ehal_op_support *out) {
    (void)be;
    uint32_t op = sg->nodes[node]->op;
    int ok = op < EHAL_OP_ID_LIMIT_ && kernels[op] && !refuses(sg, node) &&
             ehal_op_validate(sg, node, NULL, 0) == EHAL_STATUS_OK;
    out->level = ok ? EHAL_SUPPORT_SUPPORTED : EHAL_SUPPORT_UNSUPPORTED;
    return EHAL_STATUS_OK;
}

static ehal_status_t f_buffer_alloc(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                                    ehal_buffer_impl **out) {
    (void)flags;
    ehal_buffer_impl *b = ehal_sdk_calloc(be->host, 1, sizeof *b);
    if (!b)
        return EHAL_STATUS_OUT_OF_MEMORY;
    b->data = ehal_sdk_calloc(be->host, 1, size ? size : 1);
    if (!b->data) {
        ehal_sdk_free(be->host, b);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    b->size = size;
    *out = b;
    return EHAL_STATUS_OK;
}

static void f_buffer_free(ehal_backend_impl *be, ehal_buffer_impl *b) {
    if (!b)
        return;
    ehal_sdk_free(be->host, b->data);
    ehal_sdk_free(be->host, b);
}

static ehal_status_t f_buffer_write(ehal_backend_impl *be, ehal_buffer_impl *b, uint64_t off,
                                    const void *src, uint64_t size) {
    (void)be;
    if (off > b->size || size > b->size - off)
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (size)
        memcpy(b->data + off, src, size);
    return EHAL_STATUS_OK;
}

static ehal_status_t f_buffer_read(ehal_backend_impl *be, ehal_buffer_impl *b, uint64_t off,
                                   void *dst, uint64_t size) {
    (void)be;
    if (off > b->size || size > b->size - off)
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (size)
        memcpy(dst, b->data + off, size);
    return EHAL_STATUS_OK;
}

static ehal_status_t f_prepare(ehal_backend_impl *be, const ehal_subgraph *sg,
                               ehal_executable_impl **out) {
    for (uint32_t i = 0; i < sg->n_nodes; i++) {
        if (refuses(sg, i)) {
            ehal_sdk_log(be->host, EHAL_LOG_ERROR, "faulty-%s: node %u (%s) is unsupported",
                         FAULT_NAME, i, ehal_op_name(sg->nodes[i]->op));
            return EHAL_STATUS_UNSUPPORTED;
        }
    }
    ehal_status_t st = ehal_sdk_check_subgraph(be->host, sg, kernels, EHAL_OP_ID_LIMIT_);
    if (st != EHAL_STATUS_OK)
        return st;
    ehal_executable_impl *e = ehal_sdk_calloc(be->host, 1, sizeof *e);
    if (!e)
        return EHAL_STATUS_OUT_OF_MEMORY;
    st = ehal_sdk_graph_copy(be->host, sg, &e->g);
    if (st != EHAL_STATUS_OK) {
        ehal_sdk_free(be->host, e);
        return st;
    }
    *out = e;
    return EHAL_STATUS_OK;
}

static void *resolve(void *user, const ehal_tensor_desc *t) {
    (void)user;
    return t->buffer ? t->buffer->data + t->offset : NULL;
}

static ehal_status_t f_execute(ehal_backend_impl *be, ehal_executable_impl *e,
                               const ehal_execute_args *args) {
    (void)args;
    e->last = ehal_sdk_run_nodes(be->host, ehal_sdk_graph_view(e->g), kernels, EHAL_OP_ID_LIMIT_,
                                 resolve, NULL);
    return e->last;
}

static ehal_status_t f_wait(ehal_backend_impl *be, ehal_executable_impl *e, uint64_t timeout_ns) {
    (void)be;
    (void)timeout_ns;
    return e->last;
}

static void f_release(ehal_backend_impl *be, ehal_executable_impl *e) {
    if (!e)
        return;
    ehal_sdk_graph_free(be->host, e->g);
    ehal_sdk_free(be->host, e);
}

static const ehal_backend_iface iface = {
    .struct_size = sizeof(ehal_backend_iface),
    .name = "faulty-" FAULT_NAME,
    .init = f_init,
    .destroy = f_destroy,
    .device_info = f_device_info,
    .query_op = f_query_op,
    .buffer_alloc = f_buffer_alloc,
    .buffer_free = f_buffer_free,
    .buffer_write = f_buffer_write,
    .buffer_read = f_buffer_read,
    .prepare = f_prepare,
    .execute = f_execute,
    .wait = f_wait,
    .release = f_release,
};

EHAL_PLUGIN_EXPORT ehal_status_t ehal_backend_entry(ehal_entry_args *args);

ehal_status_t ehal_backend_entry(ehal_entry_args *args) {
    return ehal_sdk_negotiate(args, &iface);
}
