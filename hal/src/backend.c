/*
 * Backend properties and capability queries (R10, R13). Queries are
 * validated against the op catalog before the plugin sees them, so a plugin
 * only ever answers for well-formed nodes.
 */
#include <stdio.h>
#include <string.h>

#include "edgehal/ops.h"
#include "internal.h"

EHAL_API ehal_status_t ehal_backend_props_get(const ehal_backend *be, ehal_backend_props *out) {
    if (!be || !out)
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (out->struct_size < offsetof(ehal_backend_props, abi_version) + sizeof(uint32_t))
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "backend props struct_size %u is too small", (unsigned)out->struct_size);
    ehal_backend_props p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.abi_version = be->abi_version;
    p.name = be->name;
    p.path = be->path ? be->path : "(static)";
    p.device = be->info;
    uint32_t n = out->struct_size < sizeof p ? out->struct_size : (uint32_t)sizeof p;
    memcpy(out, &p, n);
    out->struct_size = n;
    return EHAL_STATUS_OK;
}

/* Validates node `node` of an already normalized graph with the catalog. */
static ehal_status_t validate_node(ehal_backend *be, const ehal_subgraph *sg, uint32_t node) {
    char msg[EHAL_ERROR_MAX - 32];
    msg[0] = '\0';
    ehal_status_t s = ehal_op_validate(sg, node, msg, sizeof msg);
    if (s != EHAL_STATUS_OK)
        return ehal_i_fail(be->ctx, s, "%s", msg[0] ? msg : "node failed validation");
    return EHAL_STATUS_OK;
}

static ehal_status_t query_normalized(ehal_backend *be, const ehal_subgraph *sg, uint32_t node,
                                      ehal_op_support *res) {
    memset(res, 0, sizeof *res);
    res->struct_size = sizeof *res;
    res->level = EHAL_SUPPORT_UNSUPPORTED;
    ehal_status_t s = validate_node(be, sg, node);
    if (s != EHAL_STATUS_OK)
        return s;
    ehal_i_plugin_error_clear(be);
    s = be->iface.query_op(be->impl, sg, node, res);
    if (s != EHAL_STATUS_OK) {
        memset(res, 0, sizeof *res);
        res->struct_size = sizeof *res;
        return ehal_i_plugin_fail(be, s, "query_op");
    }
    if (res->level > EHAL_SUPPORT_PREFERRED)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INTERNAL,
                           "%s: query_op answered support level %u, not one of 0..2", be->name,
                           (unsigned)res->level);
    return EHAL_STATUS_OK;
}

EHAL_API ehal_status_t ehal_backend_query_op(ehal_backend *be, const ehal_subgraph *sg,
                                             uint32_t node, ehal_op_support *out) {
    if (!be)
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (!out)
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT, "query_op: out is NULL");
    if (out->struct_size < offsetof(ehal_op_support, level) + sizeof(uint32_t))
        return ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT,
                           "query_op: out struct_size %u is too small", (unsigned)out->struct_size);
    ehal_i_graph g;
    ehal_status_t s = ehal_i_graph_normalize(be->ctx, sg, &g);
    if (s != EHAL_STATUS_OK)
        return s;
    ehal_op_support res;
    if (node >= g.sg.n_nodes)
        s = ehal_i_fail(be->ctx, EHAL_STATUS_INVALID_ARGUMENT,
                        "query_op: node %u out of range (subgraph has %u nodes)", (unsigned)node,
                        (unsigned)g.sg.n_nodes);
    else
        s = query_normalized(be, &g.sg, node, &res);
    ehal_i_graph_free(be->ctx, &g);
    if (s != EHAL_STATUS_OK && s != EHAL_STATUS_UNSUPPORTED)
        return s;
    if (s == EHAL_STATUS_UNSUPPORTED) {
        memset(&res, 0, sizeof res);
        res.level = EHAL_SUPPORT_UNSUPPORTED;
    }
    uint32_t n = out->struct_size < sizeof res ? out->struct_size : (uint32_t)sizeof res;
    res.struct_size = n;
    memcpy(out, &res, n);
    return s;
}

/* ---- the op x dtype matrix ------------------------------------------------ */

EHAL_API int ehal_op_dtype_defined(uint32_t op, uint32_t dtype) {
    switch (op) {
    case EHAL_OP_MATMUL:
    case EHAL_OP_GET_ROWS:
    case EHAL_OP_KV_WRITE:
    case EHAL_OP_ATTENTION:
    case EHAL_OP_COPY:
        return dtype == EHAL_DTYPE_F32 || dtype == EHAL_DTYPE_F16 || dtype == EHAL_DTYPE_Q8_0 ||
               dtype == EHAL_DTYPE_Q4_0;
    default: return ehal_op_info_get(op) != NULL && dtype == EHAL_DTYPE_F32;
    }
}

/* A representative instance: small decode-sized shapes (D = 64). */
typedef struct rep {
    ehal_tensor_desc t[5];
    const ehal_tensor_desc *tp[5];
    ehal_node_desc n;
    const ehal_node_desc *np[1];
    ehal_subgraph sg;
    union {
        ehal_params_rms_norm rms;
        ehal_params_rope rope;
        ehal_params_softmax softmax;
        ehal_params_kv kv;
        ehal_params_attention attn;
    } params;
} rep;

static void rep_tensor(rep *r, uint32_t i, uint32_t dtype, int64_t n0, int64_t n1, int64_t n2) {
    ehal_tensor_desc *t = &r->t[i];
    memset(t, 0, sizeof *t);
    t->struct_size = sizeof *t;
    t->dtype = dtype;
    t->ne[0] = n0;
    t->ne[1] = n1;
    t->ne[2] = n2;
    t->ne[3] = 1;
    r->tp[i] = t;
}

static void rep_build(rep *r, uint32_t op, uint32_t dtype) {
    const uint32_t F = EHAL_DTYPE_F32, I = EHAL_DTYPE_I32;
    memset(r, 0, sizeof *r);
    ehal_node_desc *n = &r->n;
    n->struct_size = sizeof *n;
    n->op = op;
    n->n_outputs = 1;
    uint32_t nt = 0;
    switch (op) {
    case EHAL_OP_MATMUL:
        rep_tensor(r, 0, dtype, 64, 32, 1);
        rep_tensor(r, 1, F, 64, 1, 1);
        rep_tensor(r, 2, F, 32, 1, 1);
        nt = 3;
        break;
    case EHAL_OP_GET_ROWS:
        rep_tensor(r, 0, dtype, 64, 16, 1);
        rep_tensor(r, 1, I, 1, 1, 1);
        rep_tensor(r, 2, F, 64, 1, 1);
        nt = 3;
        break;
    case EHAL_OP_KV_WRITE:
        rep_tensor(r, 0, F, 64, 1, 1);
        rep_tensor(r, 1, I, 1, 1, 1);
        rep_tensor(r, 2, dtype, 64, 16, 1);
        r->t[2].role = EHAL_ROLE_KV;
        n->n_inputs = 3;
        n->inputs[0] = 0, n->inputs[1] = 1, n->inputs[2] = 2;
        n->outputs[0] = 2;
        n->params = &r->params.kv;
        n->params_size = sizeof r->params.kv;
        nt = 3;
        break;
    case EHAL_OP_ATTENTION:
        rep_tensor(r, 0, F, 64, 1, 1);
        rep_tensor(r, 1, dtype, 64, 16, 1);
        rep_tensor(r, 2, dtype, 64, 16, 1);
        rep_tensor(r, 3, I, 1, 1, 1);
        rep_tensor(r, 4, F, 64, 1, 1);
        r->t[1].role = r->t[2].role = EHAL_ROLE_KV;
        n->n_inputs = 4;
        for (uint32_t i = 0; i < 4; i++)
            n->inputs[i] = i;
        n->outputs[0] = 4;
        n->params = &r->params.attn;
        n->params_size = sizeof r->params.attn;
        nt = 5;
        break;
    case EHAL_OP_COPY:
        rep_tensor(r, 0, F, 64, 1, 1);
        rep_tensor(r, 1, dtype, 64, 1, 1);
        nt = 2;
        break;
    case EHAL_OP_RMS_NORM:
        rep_tensor(r, 0, F, 64, 2, 1);
        rep_tensor(r, 1, F, 64, 1, 1);
        rep_tensor(r, 2, F, 64, 2, 1);
        r->params.rms.eps = 1e-5f;
        n->params = &r->params.rms;
        n->params_size = sizeof r->params.rms;
        nt = 3;
        break;
    case EHAL_OP_ROPE:
        rep_tensor(r, 0, F, 64, 2, 1);
        rep_tensor(r, 1, I, 1, 1, 1);
        rep_tensor(r, 2, F, 64, 2, 1);
        r->params.rope.mode = EHAL_ROPE_NORMAL;
        r->params.rope.freq_base = 10000.0f;
        n->params = &r->params.rope;
        n->params_size = sizeof r->params.rope;
        nt = 3;
        break;
    case EHAL_OP_SOFTMAX:
        rep_tensor(r, 0, F, 64, 2, 1);
        rep_tensor(r, 1, F, 64, 2, 1);
        n->params = &r->params.softmax;
        n->params_size = sizeof r->params.softmax;
        nt = 2;
        break;
    default: /* ADD, MUL, SWIGLU and any other two-input elementwise op */
        rep_tensor(r, 0, F, 64, 2, 1);
        rep_tensor(r, 1, F, 64, 2, 1);
        rep_tensor(r, 2, F, 64, 2, 1);
        nt = 3;
        break;
    }
    if (op != EHAL_OP_KV_WRITE && op != EHAL_OP_ATTENTION) {
        const ehal_op_info *info = ehal_op_info_get(op);
        n->n_inputs = info ? info->n_inputs : nt - 1;
        for (uint32_t i = 0; i < n->n_inputs; i++)
            n->inputs[i] = i;
        n->outputs[0] = nt - 1;
    }
    r->np[0] = n;
    r->sg.struct_size = sizeof r->sg;
    r->sg.n_tensors = nt;
    r->sg.n_nodes = 1;
    r->sg.tensors = r->tp;
    r->sg.nodes = r->np;
}

EHAL_API uint32_t ehal_backend_op_support(ehal_backend *be, uint32_t op, uint32_t dtype) {
    if (!be || !ehal_op_dtype_defined(op, dtype))
        return EHAL_SUPPORT_UNSUPPORTED;
    rep r;
    rep_build(&r, op, dtype);
    ehal_op_support res;
    if (query_normalized(be, &r.sg, 0, &res) != EHAL_STATUS_OK)
        return EHAL_SUPPORT_UNSUPPORTED;
    return res.level;
}
