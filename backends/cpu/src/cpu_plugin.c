/*
 * The CPU plugin's function table and its one exported symbol (R7).
 * Every entry lives in the file for its concern; this file only wires them.
 */
#include "cpu_internal.h"

static const ehal_backend_iface cpu_iface = {
    .struct_size = sizeof(ehal_backend_iface),
    .name = CPU_NAME,
    .init = cpu_init,
    .destroy = cpu_destroy,
    .device_info = cpu_device_info,
    .query_op = cpu_query_op,
    .buffer_alloc = cpu_buffer_alloc,
    .buffer_free = cpu_buffer_free,
    .buffer_write = cpu_buffer_write,
    .buffer_read = cpu_buffer_read,
    .buffer_map = cpu_buffer_map,
    .buffer_unmap = cpu_buffer_unmap,
    .buffer_import_host = cpu_buffer_import_host,
    /* No private weight layout yet: the core uploads weights as plain
     * buffers. Issue #4 may add repacked layouts for its SIMD kernels. */
    .prepack = NULL,
    .prepare = cpu_prepare,
    .execute = cpu_execute,
    .wait = cpu_wait,
    .release = cpu_release,
};

EHAL_PLUGIN_EXPORT ehal_status_t ehal_backend_entry(ehal_entry_args *args);

ehal_status_t ehal_backend_entry(ehal_entry_args *args)
{
    return ehal_sdk_negotiate(args, &cpu_iface);
}
