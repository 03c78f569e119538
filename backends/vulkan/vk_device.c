/*
 * Instance, validation messenger, physical-device selection, feature
 * detection (with EHAL_VULKAN_DISABLE masking), logical device and queue.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

static VKAPI_ATTR VkBool32 VKAPI_CALL debug_cb(VkDebugUtilsMessageSeverityFlagBitsEXT sev,
                                               VkDebugUtilsMessageTypeFlagsEXT type,
                                               const VkDebugUtilsMessengerCallbackDataEXT *data,
                                               void *user) {
    ehal_backend_impl *be = user;
    (void)type;
    if (sev & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
               VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)) {
        be->validation_messages++;
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, EHAL_VK_VALIDATION_PREFIX "%s",
                     data && data->pMessage ? data->pMessage : "(no message)");
    }
    return VK_FALSE;
}

static int env_true(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

static int has_word(const char *list, const char *word) {
    size_t n = strlen(word);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if ((len == n && strncmp(p, word, n) == 0) || (len == 3 && strncmp(p, "all", 3) == 0)) {
            return 1;
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static int layer_available(ehal_backend_impl *be, const char *name) {
    uint32_t n = 0;
    if (be->fn.vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0) {
        return 0;
    }
    VkLayerProperties *props = ehal_sdk_calloc(be->host, n, sizeof *props);
    if (!props) {
        return 0;
    }
    int found = 0;
    if (be->fn.vkEnumerateInstanceLayerProperties(&n, props) == VK_SUCCESS) {
        for (uint32_t i = 0; i < n; i++) {
            found |= strcmp(props[i].layerName, name) == 0;
        }
    }
    ehal_sdk_free(be->host, props);
    return found;
}

static ehal_status_t create_instance(ehal_backend_impl *be) {
    int validate = env_true("EHAL_VULKAN_VALIDATION");
    const char *layers[1] = {VALIDATION_LAYER};
    const char *exts[1] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    if (validate && !layer_available(be, VALIDATION_LAYER)) {
        ehal_sdk_log(be->host, EHAL_LOG_WARN,
                     "EHAL_VULKAN_VALIDATION set but %s is not installed; running without it",
                     VALIDATION_LAYER);
        validate = 0;
    }
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "edgehal",
                             .pEngineName = "edgehal",
                             .apiVersion = VK_API_VERSION_1_2};
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                               .pApplicationInfo = &app,
                               .enabledLayerCount = validate ? 1u : 0u,
                               .ppEnabledLayerNames = layers,
                               .enabledExtensionCount = validate ? 1u : 0u,
                               .ppEnabledExtensionNames = exts};
    VkResult r = be->fn.vkCreateInstance(&ci, NULL, &be->instance);
    if (r != VK_SUCCESS) {
        ehal_sdk_log(be->host, EHAL_LOG_INFO, "no usable Vulkan driver: vkCreateInstance failed: %s",
                     ehal_vk_result_name(r));
        return EHAL_STATUS_UNSUPPORTED;
    }
    char why[160];
    if (ehal_vk_load_instance_fns(&be->fn, be->instance, why, sizeof why) != 0) {
        ehal_sdk_log(be->host, EHAL_LOG_INFO, "%s", why);
        return EHAL_STATUS_UNSUPPORTED;
    }
    if (validate && be->fn.vkCreateDebugUtilsMessengerEXT) {
        VkDebugUtilsMessengerCreateInfoEXT mi = {
            .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
            .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
            .pfnUserCallback = debug_cb,
            .pUserData = be};
        if (be->fn.vkCreateDebugUtilsMessengerEXT(be->instance, &mi, NULL, &be->messenger) !=
            VK_SUCCESS) {
            be->messenger = VK_NULL_HANDLE;
        }
        ehal_sdk_log(be->host, EHAL_LOG_INFO, "validation layer enabled");
    }
    return EHAL_STATUS_OK;
}

static int ci_contains(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) {
            i++;
        }
        if (i == n) {
            return 1;
        }
    }
    return n == 0;
}

static ehal_status_t pick_device(ehal_backend_impl *be, const char *sel) {
    uint32_t n = 0;
    VkResult r = be->fn.vkEnumeratePhysicalDevices(be->instance, &n, NULL);
    if (r != VK_SUCCESS || n == 0) {
        ehal_sdk_log(be->host, EHAL_LOG_INFO, "no Vulkan physical device found");
        return EHAL_STATUS_UNSUPPORTED;
    }
    VkPhysicalDevice *devs = ehal_sdk_calloc(be->host, n, sizeof *devs);
    if (!devs) {
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    be->fn.vkEnumeratePhysicalDevices(be->instance, &n, devs);
    int pick = -1;
    if (sel && *sel) {
        char *end = NULL;
        unsigned long idx = strtoul(sel, &end, 10);
        int numeric = end && *end == '\0';
        for (uint32_t i = 0; i < n && pick < 0; i++) {
            VkPhysicalDeviceProperties p;
            be->fn.vkGetPhysicalDeviceProperties(devs[i], &p);
            if (numeric ? idx == i : ci_contains(p.deviceName, sel)) {
                pick = (int)i;
            }
        }
        if (pick < 0) {
            ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                         "device \"%s\" matches none of the %u Vulkan devices", sel, n);
            ehal_sdk_free(be->host, devs);
            return EHAL_STATUS_NOT_FOUND;
        }
    } else {
        for (uint32_t i = 0; i < n && pick < 0; i++) {
            VkPhysicalDeviceProperties p;
            be->fn.vkGetPhysicalDeviceProperties(devs[i], &p);
            if (p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ||
                p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU) {
                pick = (int)i;
            }
        }
        if (pick < 0) {
            pick = 0;
        }
    }
    be->pdev = devs[pick];
    ehal_sdk_free(be->host, devs);
    be->fn.vkGetPhysicalDeviceProperties(be->pdev, &be->props);
    be->fn.vkGetPhysicalDeviceMemoryProperties(be->pdev, &be->mem);
    return EHAL_STATUS_OK;
}

static void detect_memory(ehal_backend_impl *be) {
    const VkPhysicalDeviceMemoryProperties *m = &be->mem;
    uint32_t best_heap = 0;
    for (uint32_t h = 0; h < m->memoryHeapCount; h++) {
        if ((m->memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            m->memoryHeaps[h].size > be->device_heap_bytes) {
            be->device_heap_bytes = m->memoryHeaps[h].size;
            best_heap = h;
        }
    }
    const VkMemoryPropertyFlags dl = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    const VkMemoryPropertyFlags hv =
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    be->host_type = be->device_type = UINT32_MAX;
    for (uint32_t i = 0; i < m->memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = m->memoryTypes[i].propertyFlags;
        if ((f & (dl | hv)) == (dl | hv) && m->memoryTypes[i].heapIndex == best_heap &&
            !be->host_shared) {
            be->host_shared = 1;
            be->host_type = i;
        }
        if ((f & dl) && be->device_type == UINT32_MAX) {
            be->device_type = i;
        }
    }
    for (uint32_t i = 0; i < m->memoryTypeCount && be->host_type == UINT32_MAX; i++) {
        if ((m->memoryTypes[i].propertyFlags & hv) == hv) {
            be->host_type = i;
        }
    }
}

static int has_device_ext(ehal_backend_impl *be, const char *name) {
    uint32_t n = 0;
    if (be->fn.vkEnumerateDeviceExtensionProperties(be->pdev, NULL, &n, NULL) != VK_SUCCESS || n == 0) {
        return 0;
    }
    VkExtensionProperties *e = ehal_sdk_calloc(be->host, n, sizeof *e);
    int found = 0;
    if (e && be->fn.vkEnumerateDeviceExtensionProperties(be->pdev, NULL, &n, e) == VK_SUCCESS) {
        for (uint32_t i = 0; i < n && !found; i++) {
            found = strcmp(e[i].extensionName, name) == 0;
        }
    }
    ehal_sdk_free(be->host, e);
    return found;
}

static void detect_features(ehal_backend_impl *be) {
    ehal_vk_features *a = &be->avail;
    VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg};
    be->fn.vkGetPhysicalDeviceProperties2(be->pdev, &p2);
    a->subgroup_size = sg.subgroupSize;
    a->subgroup = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                  (sg.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT) &&
                  (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
    if (be->props.apiVersion >= VK_API_VERSION_1_2) {
        /* Integer dot products through VK_KHR_shader_integer_dot_product
         * (core in 1.3, but the instance asks for 1.2, so the extension is
         * what is enabled). */
        VkPhysicalDeviceShaderIntegerDotProductFeatures fdot = {
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
        VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
        VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                                .pNext = &f12};
        int dot_ext = has_device_ext(be, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
        if (dot_ext) {
            f12.pNext = &fdot;
        }
        VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f11};
        be->fn.vkGetPhysicalDeviceFeatures2(be->pdev, &f2);
        a->storage16 = f11.storageBuffer16BitAccess;
        a->storage8 = f12.storageBuffer8BitAccess;
        a->int8 = f12.shaderInt8;
        a->fp16 = f12.shaderFloat16;
        a->int_dot = dot_ext && fdot.shaderIntegerDotProduct;
    }
    be->feat = *a;
    const char *dis = getenv("EHAL_VULKAN_DISABLE");
    if (dis && *dis) {
        be->feat.storage8 &= !has_word(dis, "storage8");
        be->feat.storage16 &= !has_word(dis, "storage16");
        be->feat.int8 &= !has_word(dis, "int8");
        be->feat.fp16 &= !has_word(dis, "fp16");
        be->feat.subgroup &= !has_word(dis, "subgroup");
        be->feat.int_dot &= !has_word(dis, "int8");
        /* exercises the discrete-GPU path (device-local + staging) on UMA */
        if (has_word(dis, "hostshared")) {
            be->host_shared = 0;
        }
        ehal_sdk_log(be->host, EHAL_LOG_INFO, "EHAL_VULKAN_DISABLE=%s", dis);
    }
}

static ehal_status_t create_device(ehal_backend_impl *be) {
    uint32_t nq = 0;
    be->fn.vkGetPhysicalDeviceQueueFamilyProperties(be->pdev, &nq, NULL);
    VkQueueFamilyProperties qf[16];
    if (nq > 16) {
        nq = 16;
    }
    be->fn.vkGetPhysicalDeviceQueueFamilyProperties(be->pdev, &nq, qf);
    be->queue_family = UINT32_MAX;
    for (uint32_t i = 0; i < nq && be->queue_family == UINT32_MAX; i++) {
        if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            be->queue_family = i;
        }
    }
    if (be->queue_family == UINT32_MAX) {
        ehal_sdk_log(be->host, EHAL_LOG_INFO, "device \"%s\" has no compute queue",
                     be->props.deviceName);
        return EHAL_STATUS_UNSUPPORTED;
    }
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = be->queue_family,
                                   .queueCount = 1,
                                   .pQueuePriorities = &prio};
    /* Only what the chosen shader variants use is enabled. */
    VkPhysicalDeviceShaderIntegerDotProductFeatures fdot = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES,
        .shaderIntegerDotProduct = VK_TRUE};
    const char *dot_ext = VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME;
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                            .pNext = be->feat.int_dot ? &fdot : NULL,
                                            .storageBuffer8BitAccess = (VkBool32)be->feat.storage8,
                                            .shaderInt8 = (VkBool32)be->feat.int8,
                                            .shaderFloat16 = (VkBool32)be->feat.fp16};
    VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                            .pNext = &f12,
                                            .storageBuffer16BitAccess = (VkBool32)be->feat.storage16};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                              .pNext = be->props.apiVersion >= VK_API_VERSION_1_2 ? &f11 : NULL,
                              .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci,
                              .enabledExtensionCount = be->feat.int_dot ? 1u : 0u,
                              .ppEnabledExtensionNames = be->feat.int_dot ? &dot_ext : NULL};
    VkResult r = be->fn.vkCreateDevice(be->pdev, &dci, NULL, &be->dev);
    if (r != VK_SUCCESS) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "vkCreateDevice on \"%s\" failed: %s",
                     be->props.deviceName, ehal_vk_result_name(r));
        return EHAL_STATUS_UNSUPPORTED;
    }
    char why[160];
    if (ehal_vk_load_device_fns(&be->fn, be->dev, why, sizeof why) != 0) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "%s", why);
        return EHAL_STATUS_UNSUPPORTED;
    }
    be->fn.vkGetDeviceQueue(be->dev, be->queue_family, 0, &be->queue);
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_vk_device_open(ehal_backend_impl *be, const ehal_option *opts, uint32_t n_opts) {
    char why[256];
    if (ehal_vk_load_library(&be->fn, why, sizeof why) != 0) {
        ehal_sdk_log(be->host, EHAL_LOG_INFO, "Vulkan unavailable: %s", why);
        return EHAL_STATUS_UNSUPPORTED;
    }
    ehal_status_t st = create_instance(be);
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    const char *sel = ehal_sdk_option(opts, n_opts, "device");
    if (!sel) {
        sel = getenv("EHAL_VULKAN_DEVICE");
    }
    if ((st = pick_device(be, sel)) != EHAL_STATUS_OK) {
        return st;
    }
    if (be->props.apiVersion < VK_API_VERSION_1_2) {
        /* the embedded SPIR-V targets Vulkan 1.2 */
        ehal_sdk_log(be->host, EHAL_LOG_INFO, "Vulkan device \"%s\" implements Vulkan %u.%u; 1.2 is needed",
                     be->props.deviceName, VK_API_VERSION_MAJOR(be->props.apiVersion),
                     VK_API_VERSION_MINOR(be->props.apiVersion));
        return EHAL_STATUS_UNSUPPORTED;
    }
    detect_memory(be);
    detect_features(be);
    if ((st = create_device(be)) != EHAL_STATUS_OK) {
        return st;
    }
    const ehal_vk_features *a = &be->avail;
    ehal_sdk_log(be->host, EHAL_LOG_INFO,
                 "device \"%s\" (api %u.%u.%u): subgroup size %u (arithmetic %s), "
                 "int8 %s, fp16 %s, storage8 %s, storage16 %s, integer dot product %s, "
                 "host-shared memory %s, max storage buffer %u bytes",
                 be->props.deviceName, VK_API_VERSION_MAJOR(be->props.apiVersion),
                 VK_API_VERSION_MINOR(be->props.apiVersion), VK_API_VERSION_PATCH(be->props.apiVersion),
                 a->subgroup_size, a->subgroup ? "yes" : "no", a->int8 ? "yes" : "no",
                 a->fp16 ? "yes" : "no", a->storage8 ? "yes" : "no", a->storage16 ? "yes" : "no",
                 a->int_dot ? "yes" : "no", be->host_shared ? "yes" : "no",
                 be->props.limits.maxStorageBufferRange);
    return EHAL_STATUS_OK;
}

void ehal_vk_device_close(ehal_backend_impl *be) {
    if (be->dev) {
        be->fn.vkDestroyDevice(be->dev, NULL);
    }
    if (be->messenger && be->fn.vkDestroyDebugUtilsMessengerEXT) {
        be->fn.vkDestroyDebugUtilsMessengerEXT(be->instance, be->messenger, NULL);
    }
    if (be->instance) {
        be->fn.vkDestroyInstance(be->instance, NULL);
    }
    ehal_vk_unload_library(&be->fn);
}

ehal_status_t ehal_vk_device_info(ehal_backend_impl *be, ehal_device_info *info) {
    ehal_device_info d;
    memset(&d, 0, sizeof d);
    uint32_t size = info->struct_size < sizeof d ? info->struct_size : (uint32_t)sizeof d;
    d.struct_size = size;
    d.kind = EHAL_DEVICE_GPU;
    d.flags = EHAL_DEVICE_ASYNC | (be->host_shared ? EHAL_DEVICE_HOST_SHARED : 0u);
    snprintf(d.name, sizeof d.name, "%.63s", be->props.deviceName);
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &drv};
    if (be->props.apiVersion >= VK_API_VERSION_1_2) {
        be->fn.vkGetPhysicalDeviceProperties2(be->pdev, &p2);
    }
    snprintf(d.driver, sizeof d.driver, "%.40s (Vulkan %u.%u.%u)",
             drv.driverInfo[0] ? drv.driverInfo : "unknown driver",
             VK_API_VERSION_MAJOR(be->props.apiVersion), VK_API_VERSION_MINOR(be->props.apiVersion),
             VK_API_VERSION_PATCH(be->props.apiVersion));
    d.memory_bytes = be->device_heap_bytes;
    d.max_buffer_bytes = be->props.limits.maxStorageBufferRange;
    d.link_bytes_per_s = be->host_shared ? 0 : 8000000000ull;
    d.dispatch_overhead_ns = be->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? 50000u : 20000u;
    memcpy(info, &d, size);
    return EHAL_STATUS_OK;
}
