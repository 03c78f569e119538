/*
 * The npu_sim function table and its one exported symbol (R7). No map and
 * no import: the simulated device has its own memory, reached only by
 * copies over the link (buffer_write / buffer_read). No prepack: weights
 * are used in the standard GGUF layout.
 */
#include "npu_sim_internal.h"

static const ehal_backend_iface npu_sim_iface = {
    .struct_size = sizeof(ehal_backend_iface),
    .name = NPU_SIM_NAME,
    .init = npu_sim_init,
    .destroy = npu_sim_destroy,
    .device_info = npu_sim_device_info,
    .query_op = npu_sim_query_op,
    .buffer_alloc = npu_sim_buffer_alloc,
    .buffer_free = npu_sim_buffer_free,
    .buffer_write = npu_sim_buffer_write,
    .buffer_read = npu_sim_buffer_read,
    .buffer_map = NULL,
    .buffer_unmap = NULL,
    .buffer_import_host = NULL,
    .prepack = NULL,
    .prepare = npu_sim_prepare,
    .execute = npu_sim_execute,
    .wait = npu_sim_wait,
    .release = npu_sim_release,
};

EHAL_PLUGIN_EXPORT ehal_status_t ehal_backend_entry(ehal_entry_args *args);

ehal_status_t ehal_backend_entry(ehal_entry_args *args) {
    return ehal_sdk_negotiate(args, &npu_sim_iface);
}
