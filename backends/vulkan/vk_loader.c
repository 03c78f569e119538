/* dlopen of the Vulkan loader and entry-point lookup. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "vk_loader.h"

int ehal_vk_load_library(ehal_vk_fns *f, char *why, size_t why_size) {
    const char *env = NULL;
    memset(f, 0, sizeof *f);
    f->lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!f->lib) {
        env = dlerror();
        snprintf(why, why_size, "cannot load libvulkan.so.1: %s", env ? env : "unknown error");
        return -1;
    }
    /* dlsym returns void *; copy it into the function pointer. */
    void *sym = dlsym(f->lib, "vkGetInstanceProcAddr");
    if (!sym) {
        snprintf(why, why_size, "libvulkan.so.1 has no vkGetInstanceProcAddr");
        dlclose(f->lib);
        f->lib = NULL;
        return -1;
    }
    memcpy(&f->vkGetInstanceProcAddr, &sym, sizeof sym);
#define EHAL_VK_LOAD_GLOBAL(name)                                              \
    f->name = (PFN_##name)f->vkGetInstanceProcAddr(VK_NULL_HANDLE, #name);     \
    if (!f->name) {                                                            \
        snprintf(why, why_size, "Vulkan loader lacks %s", #name);              \
        return -1;                                                             \
    }
    EHAL_VK_GLOBAL_FNS(EHAL_VK_LOAD_GLOBAL)
#undef EHAL_VK_LOAD_GLOBAL
    return 0;
}

int ehal_vk_load_instance_fns(ehal_vk_fns *f, VkInstance inst, char *why, size_t why_size) {
#define EHAL_VK_LOAD_INST(name)                                                \
    f->name = (PFN_##name)f->vkGetInstanceProcAddr(inst, #name);               \
    if (!f->name) {                                                            \
        snprintf(why, why_size, "Vulkan instance lacks %s", #name);            \
        return -1;                                                             \
    }
    EHAL_VK_INSTANCE_FNS(EHAL_VK_LOAD_INST)
#undef EHAL_VK_LOAD_INST
    f->vkCreateDebugUtilsMessengerEXT = (PFN_vkCreateDebugUtilsMessengerEXT)f->vkGetInstanceProcAddr(
        inst, "vkCreateDebugUtilsMessengerEXT");
    f->vkDestroyDebugUtilsMessengerEXT = (PFN_vkDestroyDebugUtilsMessengerEXT)f->vkGetInstanceProcAddr(
        inst, "vkDestroyDebugUtilsMessengerEXT");
    return 0;
}

int ehal_vk_load_device_fns(ehal_vk_fns *f, VkDevice dev, char *why, size_t why_size) {
#define EHAL_VK_LOAD_DEV(name)                                                 \
    f->name = (PFN_##name)f->vkGetDeviceProcAddr(dev, #name);                  \
    if (!f->name) {                                                            \
        snprintf(why, why_size, "Vulkan device lacks %s", #name);              \
        return -1;                                                             \
    }
    EHAL_VK_DEVICE_FNS(EHAL_VK_LOAD_DEV)
#undef EHAL_VK_LOAD_DEV
    return 0;
}

void ehal_vk_unload_library(ehal_vk_fns *f) {
    if (f->lib) {
        dlclose(f->lib);
    }
    f->lib = NULL;
}
