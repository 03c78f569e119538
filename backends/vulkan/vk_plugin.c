/*
 * The plugin's interface table and entry point (the only exported symbol).
 * init returns UNSUPPORTED with a one-line logged reason when there is no
 * Vulkan loader or device; the core then skips the backend.
 */
#include <string.h>

#include "vk_internal.h"

static void vk_destroy(ehal_backend_impl *be) {
    if (!be) {
        return;
    }
    if (be->dev) {
        ehal_vk_wait_all(be);
        be->fn.vkDeviceWaitIdle(be->dev);
        ehal_vk_buffer_free(be, be->dummy);
        ehal_vk_pipelines_destroy(be);
        if (be->cmd_pool) {
            be->fn.vkDestroyCommandPool(be->dev, be->cmd_pool, NULL);
        }
    }
    if (be->validation_messages) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, EHAL_VK_VALIDATION_PREFIX "%u message(s) in total",
                     be->validation_messages);
    }
    ehal_vk_device_close(be);
    ehal_sdk_free(be->host, be);
}

static ehal_status_t vk_init(const ehal_host_services *host, const ehal_option *opts,
                             uint32_t n_opts, ehal_backend_impl **out) {
    ehal_backend_impl *be = ehal_sdk_calloc(host, 1, sizeof *be);
    if (!be) {
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    be->host = host;
    for (uint32_t i = 0; i < n_opts; i++) {
        if (opts[i].key && strcmp(opts[i].key, "device") != 0) {
            ehal_sdk_log(host, EHAL_LOG_DEBUG, "ignoring unknown option %s", opts[i].key);
        }
    }
    ehal_status_t st = ehal_vk_device_open(be, opts, n_opts);
    if (st == EHAL_STATUS_OK) {
        VkCommandPoolCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                      .queueFamilyIndex = be->queue_family};
        if (be->fn.vkCreateCommandPool(be->dev, &ci, NULL, &be->cmd_pool) != VK_SUCCESS) {
            st = EHAL_STATUS_INTERNAL;
        }
    }
    if (st == EHAL_STATUS_OK) {
        st = ehal_vk_pipelines_init(be);
    }
    if (st == EHAL_STATUS_OK) {
        st = ehal_vk_buffer_alloc(be, 16, 0, &be->dummy);
    }
    if (st != EHAL_STATUS_OK) {
        vk_destroy(be);
        return st;
    }
    *out = be;
    return EHAL_STATUS_OK;
}

static const ehal_backend_iface vk_iface = {
    .struct_size = sizeof(ehal_backend_iface),
    .name = "vulkan",
    .init = vk_init,
    .destroy = vk_destroy,
    .device_info = ehal_vk_device_info,
    .query_op = ehal_vk_query_op,
    .buffer_alloc = ehal_vk_buffer_alloc,
    .buffer_free = ehal_vk_buffer_free,
    .buffer_write = ehal_vk_buffer_write,
    .buffer_read = ehal_vk_buffer_read,
    .buffer_map = ehal_vk_buffer_map,
    .buffer_unmap = ehal_vk_buffer_unmap,
    .buffer_import_host = NULL,
    .prepack = NULL,
    .prepare = ehal_vk_prepare,
    .execute = ehal_vk_execute,
    .wait = ehal_vk_wait,
    .release = ehal_vk_release,
};

EHAL_PLUGIN_EXPORT ehal_status_t ehal_backend_entry(ehal_entry_args *args) {
    return ehal_sdk_negotiate(args, &vk_iface);
}

const char *ehal_vk_result_name(VkResult r) {
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    default: return "VkResult error";
    }
}
