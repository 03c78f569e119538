/*
 * Checking a subgraph against the catalog and a kernel table, and running it
 * node by node. The table is indexed by op id (table[op] NULL: the backend
 * has no kernel for that op), so a backend never writes a switch over ops.
 */
#include "edgehal/backend_sdk.h"

/* The plugin cannot link the core's ehal_status_string; this is the same
 * wording for log lines. */
static const char *status_name(ehal_status_t st)
{
    static const char *const names[EHAL_STATUS_COUNT_] = {
        "ok",           "invalid argument", "unsupported",  "unimplemented",
        "out of memory", "incompatible",    "device lost",  "timeout",
        "internal error", "not found",      "i/o error",    "format error",
    };
    if (st < 0 || st >= EHAL_STATUS_COUNT_)
        return "unknown status";
    return names[st];
}

static ehal_status_t check_args(const ehal_host_services *host, const char *what,
                                const ehal_subgraph *sg, const ehal_kernel_fn *table)
{
    if (sg == NULL || table == NULL) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "%s: %s is NULL", what,
                     sg == NULL ? "subgraph" : "kernel table");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    if (sg->struct_size < offsetof(ehal_subgraph, nodes) + sizeof sg->nodes) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "%s: subgraph struct_size %u is too small", what,
                     sg->struct_size);
        return EHAL_STATUS_INCOMPATIBLE;
    }
    if (sg->n_nodes != 0 && sg->nodes == NULL) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "%s: subgraph nodes array is NULL with %u nodes",
                     what, sg->n_nodes);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

static ehal_kernel_fn kernel_for(const ehal_kernel_fn *table, uint32_t table_len, uint32_t op)
{
    return op < table_len ? table[op] : NULL;
}

ehal_status_t ehal_sdk_check_subgraph(const ehal_host_services *host, const ehal_subgraph *sg,
                                      const ehal_kernel_fn *table, uint32_t table_len)
{
    ehal_status_t st = check_args(host, "check subgraph", sg, table);
    if (st != EHAL_STATUS_OK)
        return st;
    for (uint32_t i = 0; i < sg->n_nodes; i++) {
        char msg[256] = "";
        st = ehal_op_validate(sg, i, msg, sizeof msg);
        if (st != EHAL_STATUS_OK) {
            /* The catalog's message already names the node and op. */
            if (msg[0] != '\0')
                ehal_sdk_log(host, EHAL_LOG_ERROR, "%s", msg);
            else
                ehal_sdk_log(host, EHAL_LOG_ERROR, "node %u: %s", i, status_name(st));
            return st;
        }
        uint32_t op = sg->nodes[i]->op;
        if (kernel_for(table, table_len, op) == NULL) {
            ehal_sdk_log(host, EHAL_LOG_ERROR, "node %u: op %s (id %u) has no kernel", i,
                         ehal_op_name(op), op);
            return EHAL_STATUS_UNSUPPORTED;
        }
    }
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_sdk_run_nodes(const ehal_host_services *host, const ehal_subgraph *sg,
                                 const ehal_kernel_fn *table, uint32_t table_len,
                                 ehal_resolve_fn resolve, void *user)
{
    ehal_status_t st = check_args(host, "run", sg, table);
    if (st != EHAL_STATUS_OK)
        return st;
    if (resolve == NULL) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "run: resolve function is NULL");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    for (uint32_t i = 0; i < sg->n_nodes; i++) {
        const ehal_node_desc *node = sg->nodes[i];
        ehal_kernel_fn fn = kernel_for(table, table_len, node->op);
        if (fn == NULL) {
            ehal_sdk_log(host, EHAL_LOG_ERROR, "node %u: op %s (id %u) has no kernel", i,
                         ehal_op_name(node->op), node->op);
            return EHAL_STATUS_UNSUPPORTED;
        }
        if (node->n_inputs > EHAL_MAX_INPUTS || node->n_outputs > EHAL_MAX_OUTPUTS) {
            ehal_sdk_log(host, EHAL_LOG_ERROR, "node %u (%s): %u inputs, %u outputs exceed %u/%u",
                         i, ehal_op_name(node->op), node->n_inputs, node->n_outputs,
                         EHAL_MAX_INPUTS, EHAL_MAX_OUTPUTS);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
        ehal_kernel_args a;
        ehal_kernel_args_fill(&a, sg, i, resolve, user);
        for (uint32_t j = 0; j < node->n_inputs; j++) {
            if (a.in_data[j] == NULL) {
                ehal_sdk_log(host, EHAL_LOG_ERROR,
                             "node %u (%s): input %u (tensor %u) has no host data", i,
                             ehal_op_name(node->op), j, node->inputs[j]);
                return EHAL_STATUS_INVALID_ARGUMENT;
            }
        }
        if (node->n_outputs != 0 && a.out_data == NULL) {
            ehal_sdk_log(host, EHAL_LOG_ERROR, "node %u (%s): output (tensor %u) has no host data",
                         i, ehal_op_name(node->op), node->outputs[0]);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
        st = fn(&a);
        if (st != EHAL_STATUS_OK) {
            ehal_sdk_log(host, EHAL_LOG_ERROR, "node %u (%s) failed: %s", i,
                         ehal_op_name(node->op), status_name(st));
            return st;
        }
    }
    return EHAL_STATUS_OK;
}
