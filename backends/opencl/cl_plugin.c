/*
 * The OpenCL plugin's function table and its one exported symbol (R7).
 */
#include "cl_internal.h"

static const ehal_backend_iface ocl_iface = {
    .struct_size = sizeof(ehal_backend_iface),
    .name = CL_NAME,
    .init = ocl_init,
    .destroy = ocl_destroy,
    .device_info = ocl_device_info,
    .query_op = ocl_query_op,
    .buffer_alloc = ocl_buffer_alloc,
    .buffer_free = ocl_buffer_free,
    .buffer_write = ocl_buffer_write,
    .buffer_read = ocl_buffer_read,
    .buffer_map = ocl_buffer_map,
    .buffer_unmap = ocl_buffer_unmap,
    .buffer_import_host = NULL, /* CL_MEM_USE_HOST_PTR import: not done */
    .prepack = NULL,
    .prepare = ocl_prepare,
    .execute = ocl_execute,
    .wait = ocl_wait,
    .release = ocl_release,
};

EHAL_PLUGIN_EXPORT ehal_status_t ehal_backend_entry(ehal_entry_args *args);

ehal_status_t ehal_backend_entry(ehal_entry_args *args) {
    return ehal_sdk_negotiate(args, &ocl_iface);
}
