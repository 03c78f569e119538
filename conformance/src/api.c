/*
 * "api" cases: runtime API behaviour on the backend under test (buffer
 * ranges, zero sizes, bad arguments refused with INVALID_ARGUMENT rather
 * than a crash), repeated execute/wait, and ABI facts (negotiated revision,
 * device description). A crash here is caught by the isolation like any
 * other case.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define BUF 1000u

#define EXPECT(cond, ...)                                             \
    do {                                                              \
        if (!(cond)) {                                                \
            conf_set_msg(r->message, sizeof r->message, __VA_ARGS__); \
            goto out;                                                 \
        }                                                             \
    } while (0)

#define S(st) ehal_status_string(st)

static void api_buffers(conf_ctx *x, ehal_conf_result *r) {
    unsigned char a[BUF], b[BUF], z[8] = {0};
    ehal_buffer *buf = NULL;
    ehal_status_t st = ehal_buffer_alloc(x->be, BUF, 0, &buf);
    EXPECT(st == EHAL_STATUS_OK && buf, "buffer_alloc(%u) returned %s", BUF, S(st));
    EXPECT(ehal_buffer_size(buf) == BUF, "buffer size is %llu, want %u",
           (unsigned long long)ehal_buffer_size(buf), BUF);
    for (unsigned i = 0; i < BUF; i++)
        a[i] = (unsigned char)(i * 7 + 3);
    st = ehal_buffer_write(buf, 0, a, BUF);
    EXPECT(st == EHAL_STATUS_OK, "write of the whole buffer returned %s", S(st));
    memset(b, 0, BUF);
    st = ehal_buffer_read(buf, 0, b, BUF);
    EXPECT(st == EHAL_STATUS_OK && memcmp(a, b, BUF) == 0, "whole-buffer read back differs (%s)",
           S(st));
    unsigned char mid[100];
    memset(mid, 0x5A, sizeof mid);
    st = ehal_buffer_write(buf, 100, mid, sizeof mid);
    EXPECT(st == EHAL_STATUS_OK, "write of 100 bytes at offset 100 returned %s", S(st));
    memset(a + 100, 0x5A, 100);
    st = ehal_buffer_read(buf, 0, b, BUF);
    EXPECT(st == EHAL_STATUS_OK && memcmp(a, b, BUF) == 0,
           "a write of [100,200) changed bytes outside it or did not land");
    unsigned char tail[5];
    st = ehal_buffer_read(buf, BUF - 5, tail, 5);
    EXPECT(st == EHAL_STATUS_OK && memcmp(tail, a + BUF - 5, 5) == 0,
           "read of the last 5 bytes differs (%s)", S(st));
    st = ehal_buffer_write(buf, 10, z, 0);
    EXPECT(st == EHAL_STATUS_OK, "zero-size write returned %s, want ok", S(st));
    st = ehal_buffer_read(buf, BUF, b, 0);
    EXPECT(st == EHAL_STATUS_OK, "zero-size read at the end returned %s, want ok", S(st));
    st = ehal_buffer_write(buf, BUF - 10, a, 20);
    EXPECT(st == EHAL_STATUS_INVALID_ARGUMENT,
           "write of 20 bytes at offset %u of a %u-byte buffer returned %s, want invalid argument",
           BUF - 10, BUF, S(st));
    st = ehal_buffer_read(buf, BUF + 1, b, 0);
    EXPECT(st == EHAL_STATUS_INVALID_ARGUMENT,
           "zero-size read at offset %u past the end returned %s, want invalid argument", BUF + 1,
           S(st));
    st = ehal_buffer_write(buf, UINT64_MAX - 4, a, 8);
    EXPECT(st == EHAL_STATUS_INVALID_ARGUMENT,
           "write at offset 2^64-5 (overflowing) returned %s, want invalid argument", S(st));
    st = ehal_buffer_read(buf, 0, b, BUF);
    EXPECT(st == EHAL_STATUS_OK && memcmp(a, b, BUF) == 0,
           "a refused write changed the buffer contents");
    r->status = EHAL_CONF_PASS;
out:
    ehal_buffer_free(buf);
}

static void api_invalid(conf_ctx *x, ehal_conf_result *r) {
    ehal_buffer *buf = NULL;
    unsigned char tmp[16] = {0};
    ehal_status_t st = ehal_buffer_alloc(x->be, 64, 0, &buf);
    EXPECT(st == EHAL_STATUS_OK, "buffer_alloc(64) returned %s", S(st));
    st = ehal_buffer_alloc(x->be, 16, 0, NULL);
    EXPECT(st == EHAL_STATUS_INVALID_ARGUMENT, "buffer_alloc with out=NULL returned %s", S(st));
    st = ehal_buffer_write(buf, 0, NULL, 8);
    EXPECT(st == EHAL_STATUS_INVALID_ARGUMENT, "buffer_write with src=NULL returned %s", S(st));
    st = ehal_buffer_read(buf, 0, NULL, 8);
    EXPECT(st == EHAL_STATUS_INVALID_ARGUMENT, "buffer_read with dst=NULL returned %s", S(st));
    st = ehal_buffer_write(NULL, 0, tmp, 8);
    EXPECT(st == EHAL_STATUS_INVALID_ARGUMENT, "buffer_write on a NULL buffer returned %s", S(st));
    ehal_executable *exe = NULL;
    st = ehal_prepare(x->be, NULL, &exe);
    EXPECT(st == EHAL_STATUS_INVALID_ARGUMENT, "prepare(NULL subgraph) returned %s", S(st));

    /* add over 16 floats, with one tensor index out of range / too big a range. */
    ehal_tensor_desc t[3];
    int64_t ne[1] = {16};
    for (int i = 0; i < 3; i++) {
        ehal_tensor_desc_init(&t[i], EHAL_DTYPE_F32, 1, ne);
        t[i].buffer = ehal_buffer_handle(buf);
    }
    const ehal_tensor_desc *tp[3] = {&t[0], &t[1], &t[2]};
    ehal_node_desc nd;
    memset(&nd, 0, sizeof nd);
    nd.struct_size = sizeof nd;
    nd.op = EHAL_OP_ADD;
    nd.n_inputs = 2;
    nd.n_outputs = 1;
    nd.inputs[0] = 0;
    nd.inputs[1] = 7; /* out of range */
    nd.outputs[0] = 2;
    const ehal_node_desc *np[1] = {&nd};
    ehal_subgraph sg = {sizeof sg, 3, 1, 0, tp, np};
    ehal_op_support sup = {sizeof sup, 0, 0, 0};
    st = ehal_backend_query_op(x->be, &sg, 0, &sup);
    EXPECT(st == EHAL_STATUS_INVALID_ARGUMENT,
           "query_op on a node with input index 7 of 3 "
           "tensors returned %s",
           S(st));
    st = ehal_prepare(x->be, &sg, &exe);
    EXPECT(st == EHAL_STATUS_INVALID_ARGUMENT,
           "prepare of a node with input index 7 of 3 tensors returned %s", S(st));
    nd.inputs[1] = 1;
    st = ehal_backend_query_op(x->be, &sg, 3, &sup);
    EXPECT(st == EHAL_STATUS_INVALID_ARGUMENT,
           "query_op of node 3 in a 1-node subgraph returned %s", S(st));
    t[2].offset = 8; /* 64 bytes at offset 8 in a 64-byte buffer */
    st = ehal_prepare(x->be, &sg, &exe);
    EXPECT(st == EHAL_STATUS_INVALID_ARGUMENT,
           "prepare with a tensor of 64 bytes at offset 8 in a 64-byte buffer returned %s", S(st));
    r->status = EHAL_CONF_PASS;
out:
    ehal_buffer_free(buf);
}

/* execute twice then wait; wait again after completion; result is checked. */
static void api_events(conf_ctx *x, ehal_conf_result *r) {
    ehal_buffer *buf = NULL;
    ehal_executable *exe = NULL;
    float in[64], outv[32];
    for (int i = 0; i < 64; i++)
        in[i] = (float)i * 0.5f;
    ehal_status_t st = ehal_buffer_alloc(x->be, 96 * sizeof(float), 0, &buf);
    EXPECT(st == EHAL_STATUS_OK, "buffer_alloc returned %s", S(st));
    st = ehal_buffer_write(buf, 0, in, sizeof in);
    EXPECT(st == EHAL_STATUS_OK, "buffer_write returned %s", S(st));
    ehal_tensor_desc t[3];
    int64_t ne[1] = {32};
    for (int i = 0; i < 3; i++) {
        ehal_tensor_desc_init(&t[i], EHAL_DTYPE_F32, 1, ne);
        t[i].buffer = ehal_buffer_handle(buf);
        t[i].offset = (uint64_t)i * 32 * sizeof(float);
    }
    const ehal_tensor_desc *tp[3] = {&t[0], &t[1], &t[2]};
    ehal_node_desc nd;
    memset(&nd, 0, sizeof nd);
    nd.struct_size = sizeof nd;
    nd.op = EHAL_OP_ADD;
    nd.n_inputs = 2;
    nd.n_outputs = 1;
    nd.inputs[1] = 1;
    nd.outputs[0] = 2;
    const ehal_node_desc *np[1] = {&nd};
    ehal_subgraph sg = {sizeof sg, 3, 1, 0, tp, np};
    ehal_op_support sup = {sizeof sup, 0, 0, 0};
    st = ehal_backend_query_op(x->be, &sg, 0, &sup);
    if (st == EHAL_STATUS_OK && sup.level == EHAL_SUPPORT_UNSUPPORTED) {
        r->status = EHAL_CONF_UNSUPPORTED;
        conf_set_msg(r->message, sizeof r->message, "add f32 is unsupported; events not checked");
        goto out;
    }
    st = ehal_prepare(x->be, &sg, &exe);
    EXPECT(st == EHAL_STATUS_OK, "prepare of add f32 returned %s: %s", S(st),
           ehal_last_error(x->ctx));
    for (int rep = 0; rep < 2; rep++) {
        st = ehal_execute(exe);
        EXPECT(st == EHAL_STATUS_OK, "execute #%d returned %s", rep + 1, S(st));
    }
    st = ehal_wait(exe, UINT64_MAX);
    EXPECT(st == EHAL_STATUS_OK, "wait returned %s", S(st));
    st = ehal_wait(exe, 0);
    EXPECT(st == EHAL_STATUS_OK, "a second wait (timeout 0) after completion returned %s", S(st));
    st = ehal_buffer_read(buf, 64 * sizeof(float), outv, sizeof outv);
    EXPECT(st == EHAL_STATUS_OK, "buffer_read returned %s", S(st));
    for (int i = 0; i < 32; i++)
        EXPECT(outv[i] == in[i] + in[32 + i], "add output[%d] = %g, want %g", i, (double)outv[i],
               (double)(in[i] + in[32 + i]));
    r->status = EHAL_CONF_PASS;
out:
    ehal_executable_release(exe);
    ehal_buffer_free(buf);
}

static void api_abi(conf_ctx *x, ehal_conf_result *r) {
    ehal_backend_props pr;
    memset(&pr, 0, sizeof pr);
    pr.struct_size = sizeof pr;
    ehal_status_t st = ehal_backend_props_get(x->be, &pr);
    EXPECT(st == EHAL_STATUS_OK, "backend_props_get returned %s", S(st));
    EXPECT(pr.abi_version >= EHAL_ABI_VERSION_MIN && pr.abi_version <= EHAL_ABI_VERSION,
           "negotiated ABI revision %u is outside [%u, %u]", pr.abi_version, EHAL_ABI_VERSION_MIN,
           EHAL_ABI_VERSION);
    EXPECT(pr.name && pr.name[0], "backend name is empty");
    EXPECT(pr.device.struct_size >= offsetof(ehal_device_info, memory_bytes) &&
               pr.device.struct_size <= sizeof pr.device,
           "device_info struct_size %u is outside [%zu, %zu]", pr.device.struct_size,
           offsetof(ehal_device_info, memory_bytes), sizeof pr.device);
    EXPECT(pr.device.kind <= EHAL_DEVICE_OTHER, "device kind %u is not a EHAL_DEVICE_* value",
           pr.device.kind);
    EXPECT(memchr(pr.device.name, '\0', sizeof pr.device.name) != NULL,
           "device name is not NUL-terminated within 64 bytes");
    EXPECT(memchr(pr.device.driver, '\0', sizeof pr.device.driver) != NULL,
           "device driver is not NUL-terminated within 64 bytes");
    EXPECT(pr.device.name[0] != '\0', "device name is empty");
    r->status = EHAL_CONF_PASS;
out:
    return;
}

static const struct {
    const char *name;
    void (*fn)(conf_ctx *, ehal_conf_result *);
} checks[] = {{"buffers", api_buffers},
              {"invalid-args", api_invalid},
              {"events", api_events},
              {"abi", api_abi}};

static void api_enum(conf_caselist *l, uint32_t fam) {
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        conf_case *c = conf_case_add(l, fam, UINT32_MAX, checks[i].name, NULL);
        if (!c)
            return;
        c->p[0] = (int64_t)i;
        c->flags |= CONF_QUICK;
    }
}

static void api_run(const conf_case *c, conf_ctx *x, ehal_conf_result *r) {
    size_t i = (size_t)c->p[0];
    r->status = EHAL_CONF_FAIL;
    if (i < sizeof checks / sizeof checks[0]) {
        conf_where("api check %s", checks[i].name);
        checks[i].fn(x, r);
    }
}

const conf_family conf_fam_api = {"api", EHAL_OP_NONE, api_enum, NULL, api_run};
