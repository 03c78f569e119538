#define _POSIX_C_SOURCE 200809L
/*
 * The shared descriptor-set/pipeline layout, compute pipelines per shader
 * variant (created on first use, kept until destroy), and the
 * VkPipelineCache persisted under $XDG_CACHE_HOME/edgehal/vulkan (or
 * ~/.cache/edgehal/vulkan). Failing to read or write the cache file is
 * logged at DEBUG and otherwise ignored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vk_internal.h"

static void make_dirs(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    }
    mkdir(path, 0700);
}

static void cache_path(ehal_backend_impl *be) {
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    char dir[400];
    if (xdg && *xdg) {
        snprintf(dir, sizeof dir, "%s/edgehal/vulkan", xdg);
    } else if (home && *home) {
        snprintf(dir, sizeof dir, "%s/.cache/edgehal/vulkan", home);
    } else {
        be->cache_path[0] = '\0';
        return;
    }
    make_dirs(dir);
    char uuid[2 * VK_UUID_SIZE + 1];
    for (unsigned i = 0; i < VK_UUID_SIZE; i++) {
        snprintf(uuid + 2 * i, 3, "%02x", be->props.pipelineCacheUUID[i]);
    }
    snprintf(be->cache_path, sizeof be->cache_path, "%s/%04x-%04x-%s.bin", dir,
             be->props.vendorID & 0xffffu, be->props.deviceID & 0xffffu, uuid);
}

static void *read_cache(ehal_backend_impl *be, size_t *size) {
    *size = 0;
    if (!be->cache_path[0]) {
        return NULL;
    }
    FILE *f = fopen(be->cache_path, "rb");
    if (!f) {
        ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "no pipeline cache at %s", be->cache_path);
        return NULL;
    }
    void *data = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (data = ehal_sdk_alloc(be->host, (size_t)n))) {
            if (fread(data, 1, (size_t)n, f) == (size_t)n) {
                *size = (size_t)n;
            } else {
                ehal_sdk_free(be->host, data);
                data = NULL;
            }
        }
    }
    fclose(f);
    return data;
}

static void save_cache(ehal_backend_impl *be) {
    size_t n = 0;
    if (!be->pcache || !be->cache_path[0] ||
        be->fn.vkGetPipelineCacheData(be->dev, be->pcache, &n, NULL) != VK_SUCCESS || n == 0) {
        return;
    }
    void *data = ehal_sdk_alloc(be->host, n);
    if (!data) {
        return;
    }
    if (be->fn.vkGetPipelineCacheData(be->dev, be->pcache, &n, data) == VK_SUCCESS &&
        !(n == be->cache_loaded_size && memcmp(data, be->cache_loaded, n) == 0)) {
        char tmp[600];
        /* unique per process and instance: concurrent instances never
         * interleave writes; the rename is atomic */
        snprintf(tmp, sizeof tmp, "%s.%ld.%p.tmp", be->cache_path, (long)getpid(), (void *)be);
        FILE *f = fopen(tmp, "wb");
        int ok = f && fwrite(data, 1, n, f) == n;
        if (f && fclose(f) != 0) {
            ok = 0;
        }
        if (!ok || rename(tmp, be->cache_path) != 0) {
            ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "cannot write pipeline cache %s: %s",
                         be->cache_path, strerror(errno));
            remove(tmp);
        }
    }
    ehal_sdk_free(be->host, data);
}

ehal_status_t ehal_vk_pipelines_init(ehal_backend_impl *be) {
    VkDescriptorSetLayoutBinding b[EHAL_VK_BINDINGS];
    for (uint32_t i = 0; i < EHAL_VK_BINDINGS; i++) {
        b[i] = (VkDescriptorSetLayoutBinding){.binding = i,
                                              .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                              .descriptorCount = 1,
                                              .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    }
    VkDescriptorSetLayoutCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                           .bindingCount = EHAL_VK_BINDINGS,
                                           .pBindings = b};
    VkPushConstantRange pcr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = 128};
    if (be->fn.vkCreateDescriptorSetLayout(be->dev, &dci, NULL, &be->dsl) != VK_SUCCESS) {
        return EHAL_STATUS_INTERNAL;
    }
    VkPipelineLayoutCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                      .setLayoutCount = 1,
                                      .pSetLayouts = &be->dsl,
                                      .pushConstantRangeCount = 1,
                                      .pPushConstantRanges = &pcr};
    if (be->fn.vkCreatePipelineLayout(be->dev, &pci, NULL, &be->layout) != VK_SUCCESS) {
        return EHAL_STATUS_INTERNAL;
    }
    be->pipelines = ehal_sdk_calloc(be->host, ehal_vk_shader_count, sizeof *be->pipelines);
    if (!be->pipelines) {
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    cache_path(be);
    size_t n = 0;
    void *data = read_cache(be, &n);
    VkPipelineCacheCreateInfo cci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                     .initialDataSize = n,
                                     .pInitialData = data};
    VkResult r = be->fn.vkCreatePipelineCache(be->dev, &cci, NULL, &be->pcache);
    if (r != VK_SUCCESS && data) { /* a stale or corrupt file: start empty */
        cci.initialDataSize = 0;
        cci.pInitialData = NULL;
        r = be->fn.vkCreatePipelineCache(be->dev, &cci, NULL, &be->pcache);
    }
    be->cache_loaded = data; /* kept to skip rewriting an unchanged cache */
    be->cache_loaded_size = data ? n : 0;
    if (r != VK_SUCCESS) {
        be->pcache = VK_NULL_HANDLE;
    }
    return EHAL_STATUS_OK;
}

void ehal_vk_pipelines_destroy(ehal_backend_impl *be) {
    if (!be->dev) {
        return;
    }
    save_cache(be);
    ehal_sdk_free(be->host, be->cache_loaded);
    be->cache_loaded = NULL;
    for (uint32_t i = 0; be->pipelines && i < ehal_vk_shader_count; i++) {
        if (be->pipelines[i]) {
            be->fn.vkDestroyPipeline(be->dev, be->pipelines[i], NULL);
        }
    }
    ehal_sdk_free(be->host, be->pipelines);
    be->pipelines = NULL;
    if (be->pcache) {
        be->fn.vkDestroyPipelineCache(be->dev, be->pcache, NULL);
    }
    if (be->layout) {
        be->fn.vkDestroyPipelineLayout(be->dev, be->layout, NULL);
    }
    if (be->dsl) {
        be->fn.vkDestroyDescriptorSetLayout(be->dev, be->dsl, NULL);
    }
}

ehal_status_t ehal_vk_pipeline_get(ehal_backend_impl *be, const char *name, VkPipeline *out) {
    uint32_t i = 0;
    while (i < ehal_vk_shader_count && strcmp(ehal_vk_shaders[i].name, name) != 0) {
        i++;
    }
    if (i == ehal_vk_shader_count) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "no shader variant named %s", name);
        return EHAL_STATUS_INTERNAL;
    }
    if (be->pipelines[i]) {
        *out = be->pipelines[i];
        return EHAL_STATUS_OK;
    }
    VkShaderModuleCreateInfo mci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                    .codeSize = *ehal_vk_shaders[i].size,
                                    .pCode = ehal_vk_shaders[i].code};
    VkShaderModule mod;
    VkResult r = be->fn.vkCreateShaderModule(be->dev, &mci, NULL, &mod);
    if (r != VK_SUCCESS) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "shader module %s: %s", name,
                     ehal_vk_result_name(r));
        return EHAL_STATUS_INTERNAL;
    }
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = mod,
                  .pName = "main"},
        .layout = be->layout};
    r = be->fn.vkCreateComputePipelines(be->dev, be->pcache, 1, &ci, NULL, &be->pipelines[i]);
    be->fn.vkDestroyShaderModule(be->dev, mod, NULL);
    if (r != VK_SUCCESS) {
        be->pipelines[i] = VK_NULL_HANDLE;
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "pipeline %s: %s", name, ehal_vk_result_name(r));
        return EHAL_STATUS_INTERNAL;
    }
    *out = be->pipelines[i];
    return EHAL_STATUS_OK;
}
