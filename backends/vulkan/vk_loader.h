/* Vulkan entry points, fetched at run time from a dlopened libvulkan.so.1.
 * VK_NO_PROTOTYPES: the headers provide types only, nothing links the
 * loader. */
#ifndef EHAL_VK_LOADER_H
#define EHAL_VK_LOADER_H
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#define EHAL_VK_GLOBAL_FNS(X)                                                  \
    X(vkCreateInstance) X(vkEnumerateInstanceLayerProperties)                  \
    X(vkEnumerateInstanceExtensionProperties)

#define EHAL_VK_INSTANCE_FNS(X)                                                \
    X(vkDestroyInstance) X(vkEnumeratePhysicalDevices)                         \
    X(vkGetPhysicalDeviceProperties) X(vkGetPhysicalDeviceProperties2)         \
    X(vkGetPhysicalDeviceFeatures2) X(vkGetPhysicalDeviceMemoryProperties)     \
    X(vkGetPhysicalDeviceQueueFamilyProperties) X(vkCreateDevice)              \
    X(vkGetDeviceProcAddr) X(vkEnumerateDeviceExtensionProperties)

#define EHAL_VK_DEVICE_FNS(X)                                                  \
    X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkCreateBuffer) X(vkDestroyBuffer) \
    X(vkGetBufferMemoryRequirements) X(vkAllocateMemory) X(vkFreeMemory)       \
    X(vkBindBufferMemory) X(vkMapMemory) X(vkUnmapMemory)                      \
    X(vkFlushMappedMemoryRanges) X(vkInvalidateMappedMemoryRanges)             \
    X(vkCreateShaderModule) X(vkDestroyShaderModule)                           \
    X(vkCreateDescriptorSetLayout) X(vkDestroyDescriptorSetLayout)             \
    X(vkCreatePipelineLayout) X(vkDestroyPipelineLayout)                       \
    X(vkCreatePipelineCache) X(vkDestroyPipelineCache) X(vkGetPipelineCacheData) \
    X(vkCreateComputePipelines) X(vkDestroyPipeline)                           \
    X(vkCreateDescriptorPool) X(vkDestroyDescriptorPool)                       \
    X(vkAllocateDescriptorSets) X(vkUpdateDescriptorSets)                      \
    X(vkCreateCommandPool) X(vkDestroyCommandPool)                             \
    X(vkAllocateCommandBuffers) X(vkFreeCommandBuffers)                        \
    X(vkBeginCommandBuffer) X(vkEndCommandBuffer) X(vkCmdBindPipeline)         \
    X(vkCmdBindDescriptorSets) X(vkCmdPushConstants) X(vkCmdDispatch)          \
    X(vkCmdPipelineBarrier) X(vkCmdCopyBuffer) X(vkQueueSubmit)                \
    X(vkCreateFence) X(vkDestroyFence) X(vkWaitForFences) X(vkResetFences)     \
    X(vkDeviceWaitIdle)

typedef struct ehal_vk_fns {
    void *lib; /* dlopen handle */
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
#define EHAL_VK_FN_FIELD(name) PFN_##name name;
    EHAL_VK_GLOBAL_FNS(EHAL_VK_FN_FIELD)
    EHAL_VK_INSTANCE_FNS(EHAL_VK_FN_FIELD)
    EHAL_VK_DEVICE_FNS(EHAL_VK_FN_FIELD)
    PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT;   /* may be NULL */
    PFN_vkDestroyDebugUtilsMessengerEXT vkDestroyDebugUtilsMessengerEXT; /* may be NULL */
#undef EHAL_VK_FN_FIELD
} ehal_vk_fns;

/* Each returns 0 on success or writes a one-line reason into why. */
int ehal_vk_load_library(ehal_vk_fns *f, char *why, size_t why_size);
int ehal_vk_load_instance_fns(ehal_vk_fns *f, VkInstance inst, char *why, size_t why_size);
int ehal_vk_load_device_fns(ehal_vk_fns *f, VkDevice dev, char *why, size_t why_size);
void ehal_vk_unload_library(ehal_vk_fns *f);
#endif
