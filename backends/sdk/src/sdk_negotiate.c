/*
 * ABI version negotiation for a plugin implementing exactly revision
 * EHAL_ABI_VERSION (R5-R7): the loader offers [min, max]; the plugin answers
 * its revision and its function table, or INCOMPATIBLE naming both.
 */
#include "edgehal/backend_sdk.h"

#define ARGS_HAS(a, field)                                                                  \
    ((a)->struct_size >= offsetof(ehal_entry_args, field) + sizeof((a)->field))

ehal_status_t ehal_sdk_negotiate(ehal_entry_args *args, const ehal_backend_iface *iface)
{
    if (args == NULL)
        return EHAL_STATUS_INVALID_ARGUMENT; /* no host to log through */
    /* host is read only when the args reach it; the log is best effort. */
    const ehal_host_services *host = ARGS_HAS(args, host) ? args->host : NULL;
    const char *name = (iface != NULL && iface->name != NULL) ? iface->name : "?";
    if (iface == NULL) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "%s: negotiate: plugin function table is NULL", name);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    if (!ARGS_HAS(args, iface)) {
        /* Too short to carry both answers: refuse, answering what fits. */
        if (ARGS_HAS(args, plugin_version))
            args->plugin_version = EHAL_ABI_VERSION;
        ehal_sdk_log(host, EHAL_LOG_ERROR,
                     "%s: entry args struct_size %u is smaller than the %u bytes of "
                     "ABI revision %u",
                     name, args->struct_size, (unsigned)sizeof(ehal_entry_args),
                     EHAL_ABI_VERSION);
        return EHAL_STATUS_INCOMPATIBLE;
    }
    args->plugin_version = EHAL_ABI_VERSION;
    if (args->loader_min_version > EHAL_ABI_VERSION ||
        args->loader_max_version < EHAL_ABI_VERSION) {
        args->iface = NULL;
        ehal_sdk_log(host, EHAL_LOG_ERROR,
                     "%s: plugin implements ABI revision %u; loader accepts %u..%u", name,
                     EHAL_ABI_VERSION, args->loader_min_version, args->loader_max_version);
        return EHAL_STATUS_INCOMPATIBLE;
    }
    args->iface = iface;
    return EHAL_STATUS_OK;
}
