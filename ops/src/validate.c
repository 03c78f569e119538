/*
 * ehal_op_validate: the checks every node gets (subgraph, node, arity,
 * params pointer, tensor indices and descs), then the op's own check from a
 * table built from EHAL_OP_LIST. Never dereferences anything it has not
 * checked; thread-safe.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "validate_internal.h"

#define X_VCHECK_ENTRY(N, id, s, ni, no, P) [id] = ehal_vcheck_##N,
static const ehal_vcheck_fn vchecks[EHAL_OP_ID_LIMIT_] = {EHAL_OP_LIST(X_VCHECK_ENTRY)};
#undef X_VCHECK_ENTRY

static void vwrite(char *msg, size_t msg_size, const char *prefix, const char *fmt,
                   va_list ap) {
    if (!msg || msg_size == 0) {
        return;
    }
    int n = snprintf(msg, msg_size, "%s", prefix);
    if (n < 0 || (size_t)n >= msg_size) {
        return;
    }
    vsnprintf(msg + n, msg_size - (size_t)n, fmt, ap);
}

ehal_status_t ehal_vfail(const ehal_vctx *c, ehal_status_t st, const char *fmt, ...) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "node %" PRIu32 " (%s): ", c->node_index, c->op_name);
    va_list ap;
    va_start(ap, fmt);
    vwrite(c->msg, c->msg_size, prefix, fmt, ap);
    va_end(ap);
    return st;
}

/* A failure before the op is known: "node <i>: ..." */
static ehal_status_t early_fail(char *msg, size_t msg_size, uint32_t node, ehal_status_t st,
                                const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static ehal_status_t early_fail(char *msg, size_t msg_size, uint32_t node, ehal_status_t st,
                                const char *fmt, ...) {
    char prefix[32];
    snprintf(prefix, sizeof prefix, "node %" PRIu32 ": ", node);
    va_list ap;
    va_start(ap, fmt);
    vwrite(msg, msg_size, prefix, fmt, ap);
    va_end(ap);
    return st;
}

const char *ehal_vlabel(uint32_t slot) {
    static const char *const labels[] = {"input 0", "input 1", "input 2", "input 3",
                                         "output 0"};
    return slot <= EHAL_VOUT ? labels[slot] : "tensor ?";
}

const ehal_tensor_desc *ehal_vtensor(const ehal_vctx *c, uint32_t slot) {
    return slot == EHAL_VOUT ? c->out : c->in[slot];
}

/* "f32, f16 or q8_0" */
static void dtype_set_str(uint64_t allowed, char *buf, size_t size) {
    const uint32_t *ids;
    uint32_t n = ehal_dtype_list(&ids);
    uint32_t count = 0, total = 0;
    for (uint32_t i = 0; i < n; i++) {
        total += (allowed >> ids[i]) & 1u;
    }
    buf[0] = '\0';
    size_t len = 0;
    for (uint32_t i = 0; i < n && len < size; i++) {
        if (!((allowed >> ids[i]) & 1u)) {
            continue;
        }
        const char *sep = count == 0 ? "" : (count + 1 == total ? " or " : ", ");
        int w = snprintf(buf + len, size - len, "%s%s", sep, ehal_dtype_name(ids[i]));
        if (w < 0) {
            break;
        }
        len += (size_t)w;
        count++;
    }
}

ehal_status_t ehal_vdtype(const ehal_vctx *c, uint32_t slot, uint64_t allowed) {
    uint32_t dt = ehal_vtensor(c, slot)->dtype;
    if (dt < 64 && ((allowed >> dt) & 1u)) {
        return EHAL_STATUS_OK;
    }
    char want[64];
    dtype_set_str(allowed, want, sizeof want);
    return ehal_vfail(c, EHAL_STATUS_UNSUPPORTED, "%s dtype %s is not supported (want %s)",
                      ehal_vlabel(slot), ehal_dtype_name(dt), want);
}

ehal_status_t ehal_vrank(const ehal_vctx *c, uint32_t slot, uint32_t n_dims) {
    const ehal_tensor_desc *t = ehal_vtensor(c, slot);
    for (uint32_t d = n_dims; d < EHAL_MAX_DIMS; d++) {
        if (t->ne[d] != 1) {
            return ehal_vfail(c, EHAL_STATUS_INVALID_ARGUMENT,
                              "%s ne[%" PRIu32 "]=%" PRId64 ", want 1 (%" PRIu32
                              "-D tensor expected)",
                              ehal_vlabel(slot), d, t->ne[d], n_dims);
        }
    }
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_vsame_dim(const ehal_vctx *c, uint32_t a, uint32_t da, uint32_t b,
                             uint32_t db) {
    const ehal_tensor_desc *ta = ehal_vtensor(c, a);
    const ehal_tensor_desc *tb = ehal_vtensor(c, b);
    if (ta->ne[da] == tb->ne[db]) {
        return EHAL_STATUS_OK;
    }
    return ehal_vfail(c, EHAL_STATUS_INVALID_ARGUMENT,
                      "%s ne[%" PRIu32 "]=%" PRId64 " does not match %s ne[%" PRIu32
                      "]=%" PRId64,
                      ehal_vlabel(a), da, ta->ne[da], ehal_vlabel(b), db, tb->ne[db]);
}

ehal_status_t ehal_vsame_shape(const ehal_vctx *c, uint32_t a, uint32_t b) {
    for (uint32_t d = 0; d < EHAL_MAX_DIMS; d++) {
        ehal_status_t st = ehal_vsame_dim(c, a, d, b, d);
        if (st != EHAL_STATUS_OK) {
            return st;
        }
    }
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_vwindow(const ehal_vctx *c, uint32_t window, uint32_t n_sink, int64_t C,
                           int64_t T) {
    if (window == 0) {
        return EHAL_STATUS_OK;
    }
    if ((int64_t)n_sink >= C) {
        return ehal_vfail(c, EHAL_STATUS_INVALID_ARGUMENT,
                          "n_sink=%" PRIu32 " leaves no ring slots in cache capacity %" PRId64,
                          n_sink, C);
    }
    if (C - (int64_t)n_sink < (int64_t)window + T - 1) {
        return ehal_vfail(c, EHAL_STATUS_INVALID_ARGUMENT,
                          "window=%" PRIu32 " with %" PRId64 " tokens needs %" PRId64
                          " ring slots, cache capacity %" PRId64 " minus n_sink=%" PRIu32
                          " leaves %" PRId64,
                          window, T, (int64_t)window + T - 1, C, n_sink, C - (int64_t)n_sink);
    }
    return EHAL_STATUS_OK;
}

/* Index, pointer, struct_size, dtype and shape of one tensor of the node. */
static ehal_status_t check_tensor(ehal_vctx *c, uint32_t slot, uint32_t index) {
    const char *label = ehal_vlabel(slot);
    const ehal_subgraph *sg = c->sg;
    if (index >= sg->n_tensors) {
        return ehal_vfail(c, EHAL_STATUS_INVALID_ARGUMENT,
                          "%s tensor index %" PRIu32 " is out of range (n_tensors=%" PRIu32 ")",
                          label, index, sg->n_tensors);
    }
    const ehal_tensor_desc *t = sg->tensors ? sg->tensors[index] : NULL;
    if (!t) {
        return ehal_vfail(c, EHAL_STATUS_INVALID_ARGUMENT, "%s tensor %" PRIu32 " is NULL",
                          label, index);
    }
    if (t->struct_size < offsetof(ehal_tensor_desc, buffer)) {
        return ehal_vfail(c, EHAL_STATUS_INVALID_ARGUMENT,
                          "%s tensor %" PRIu32 " struct_size=%" PRIu32 " is below %zu", label,
                          index, t->struct_size, offsetof(ehal_tensor_desc, buffer));
    }
    if (!ehal_dtype_valid(t->dtype)) {
        return ehal_vfail(c, EHAL_STATUS_INVALID_ARGUMENT, "%s dtype id %" PRIu32 " is unknown",
                          label, t->dtype);
    }
    for (uint32_t d = 0; d < EHAL_MAX_DIMS; d++) {
        if (t->ne[d] < 1) {
            return ehal_vfail(c, EHAL_STATUS_INVALID_ARGUMENT,
                              "%s ne[%" PRIu32 "]=%" PRId64 " is not >= 1", label, d, t->ne[d]);
        }
    }
    uint32_t bv = ehal_dtype_block_values(t->dtype);
    if (t->ne[0] % bv != 0) {
        return ehal_vfail(c, EHAL_STATUS_INVALID_ARGUMENT,
                          "%s ne[0]=%" PRId64 " is not a multiple of %" PRIu32 " (%s blocks)",
                          label, t->ne[0], bv, ehal_dtype_name(t->dtype));
    }
    if (ehal_tensor_nbytes(t) == 0) {
        return ehal_vfail(c, EHAL_STATUS_INVALID_ARGUMENT,
                          "%s shape [%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
                          "] overflows its byte size",
                          label, t->ne[0], t->ne[1], t->ne[2], t->ne[3]);
    }
    if (slot == EHAL_VOUT) {
        c->out = t;
    } else {
        c->in[slot] = t;
    }
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_op_validate(const ehal_subgraph *sg, uint32_t node, char *msg,
                               size_t msg_size) {
    if (msg && msg_size > 0) {
        msg[0] = '\0';
    }
    if (!sg) {
        return early_fail(msg, msg_size, node, EHAL_STATUS_INVALID_ARGUMENT, "subgraph is NULL");
    }
    if (sg->struct_size < sizeof(ehal_subgraph)) {
        return early_fail(msg, msg_size, node, EHAL_STATUS_INVALID_ARGUMENT,
                          "subgraph struct_size=%" PRIu32 " is below %zu", sg->struct_size,
                          sizeof(ehal_subgraph));
    }
    if (node >= sg->n_nodes || !sg->nodes) {
        return early_fail(msg, msg_size, node, EHAL_STATUS_INVALID_ARGUMENT,
                          "index is out of range (n_nodes=%" PRIu32 ")", sg->n_nodes);
    }
    const ehal_node_desc *n = sg->nodes[node];
    if (!n) {
        return early_fail(msg, msg_size, node, EHAL_STATUS_INVALID_ARGUMENT, "node is NULL");
    }
    if (n->struct_size < EHAL_OPS_NODE_MIN_SIZE) {
        return early_fail(msg, msg_size, node, EHAL_STATUS_INVALID_ARGUMENT,
                          "node struct_size=%" PRIu32 " is below %zu", n->struct_size,
                          (size_t)EHAL_OPS_NODE_MIN_SIZE);
    }
    const ehal_op_info *info = ehal_op_info_get(n->op);
    if (!info) {
        return early_fail(msg, msg_size, node, EHAL_STATUS_UNSUPPORTED,
                          "op id %" PRIu32 " is not in the catalog", n->op);
    }

    ehal_vctx c;
    memset(&c, 0, sizeof c);
    c.sg = sg;
    c.node_index = node;
    c.node = n;
    c.op_name = info->name;
    c.msg = msg;
    c.msg_size = msg_size;

    if (n->n_inputs != info->n_inputs) {
        return ehal_vfail(&c, EHAL_STATUS_INVALID_ARGUMENT,
                          "n_inputs=%" PRIu32 ", the op takes %" PRIu32, n->n_inputs,
                          info->n_inputs);
    }
    if (n->n_outputs != info->n_outputs) {
        return ehal_vfail(&c, EHAL_STATUS_INVALID_ARGUMENT,
                          "n_outputs=%" PRIu32 ", the op makes %" PRIu32, n->n_outputs,
                          info->n_outputs);
    }
    uint32_t psize;
    if (!ehal_ops_node_params(n, &psize) && psize > 0) {
        return ehal_vfail(&c, EHAL_STATUS_INVALID_ARGUMENT,
                          "params is NULL with params_size=%" PRIu32, psize);
    }
    if (sg->n_tensors > 0 && !sg->tensors) {
        return ehal_vfail(&c, EHAL_STATUS_INVALID_ARGUMENT,
                          "subgraph tensors is NULL with n_tensors=%" PRIu32, sg->n_tensors);
    }
    for (uint32_t i = 0; i < n->n_inputs; i++) {
        ehal_status_t st = check_tensor(&c, i, n->inputs[i]);
        if (st != EHAL_STATUS_OK) {
            return st;
        }
    }
    for (uint32_t i = 0; i < n->n_outputs; i++) {
        ehal_status_t st = check_tensor(&c, EHAL_VOUT + i, n->outputs[i]);
        if (st != EHAL_STATUS_OK) {
            return st;
        }
    }
    return vchecks[info->id](&c);
}
