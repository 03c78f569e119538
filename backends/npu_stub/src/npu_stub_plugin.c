/*
 * The npu_stub function table and the plugin's one exported symbol (R7).
 * Each entry lives in the file for its concern; this file only wires them.
 */
#include "npu_stub_internal.h"

static const ehal_backend_iface npu_stub_iface = {
    .struct_size = sizeof(ehal_backend_iface),
    .name = NPU_STUB_NAME,
    .init = npu_stub_init,
    .destroy = npu_stub_destroy,
    .device_info = npu_stub_device_info,
    .query_op = npu_stub_query_op,
    .buffer_alloc = npu_stub_buffer_alloc,
    .buffer_free = npu_stub_buffer_free,
    .buffer_write = npu_stub_buffer_write,
    .buffer_read = npu_stub_buffer_read,
    /* Optional entries (R16, R17). NULL tells the core "not offered": it
     * answers UNSUPPORTED to the runtime and falls back to write/read and
     * plain weight buffers.
     * VENDOR: set buffer_map/buffer_unmap if your memory is host-visible,
     * buffer_import_host if the device can use host pages without a copy,
     * prepack if your weights need a private layout. */
    .buffer_map = NULL,
    .buffer_unmap = NULL,
    .buffer_import_host = NULL,
    .prepack = NULL,
    .prepare = npu_stub_prepare,
    .execute = npu_stub_execute,
    .wait = npu_stub_wait,
    .release = npu_stub_release,
};

EHAL_PLUGIN_EXPORT ehal_status_t ehal_backend_entry(ehal_entry_args *args);

/* Version negotiation (R5, R6): the SDK answers revision EHAL_ABI_VERSION
 * or refuses with INCOMPATIBLE naming both ranges. */
ehal_status_t ehal_backend_entry(ehal_entry_args *args) {
    return ehal_sdk_negotiate(args, &npu_stub_iface);
}
