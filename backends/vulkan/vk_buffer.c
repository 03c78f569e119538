/*
 * Buffers. Host-shared devices (UMA, lavapipe): host-visible coherent
 * memory, persistently mapped, read/write are memcpy. Discrete devices:
 * device-local memory; read/write go through a temporary host-visible
 * staging buffer and a one-time copy command. Every buffer is a storage
 * buffer no larger than maxStorageBufferRange (larger ones are refused).
 */
#include <string.h>

#include "vk_internal.h"

static uint32_t pick_type(ehal_backend_impl *be, uint32_t bits, VkMemoryPropertyFlags want,
                          uint32_t preferred) {
    if (preferred != UINT32_MAX && (bits & (1u << preferred))) {
        return preferred;
    }
    for (uint32_t i = 0; i < be->mem.memoryTypeCount; i++) {
        if ((bits & (1u << i)) && (be->mem.memoryTypes[i].propertyFlags & want) == want) {
            return i;
        }
    }
    return UINT32_MAX;
}

/* Creates buffer + memory; host_visible selects a mapped host type. */
static ehal_status_t create(ehal_backend_impl *be, uint64_t size, int host_visible,
                            ehal_buffer_impl **out) {
    ehal_buffer_impl *b = ehal_sdk_calloc(be->host, 1, sizeof *b);
    if (!b) {
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    b->size = size;
    b->alloc_size = (size + 15u) & ~(uint64_t)15u;
    if (b->alloc_size == 0) {
        b->alloc_size = 16;
    }
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                              .size = b->alloc_size,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = be->fn.vkCreateBuffer(be->dev, &bci, NULL, &b->buf);
    if (r != VK_SUCCESS) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "vkCreateBuffer(%llu bytes) failed: %s",
                     (unsigned long long)size, ehal_vk_result_name(r));
        ehal_sdk_free(be->host, b);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    VkMemoryRequirements req;
    be->fn.vkGetBufferMemoryRequirements(be->dev, b->buf, &req);
    const VkMemoryPropertyFlags hv =
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    uint32_t type = host_visible ? pick_type(be, req.memoryTypeBits, hv, be->host_type)
                                 : pick_type(be, req.memoryTypeBits,
                                             VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, be->device_type);
    if (type == UINT32_MAX) {
        type = pick_type(be, req.memoryTypeBits, 0, UINT32_MAX);
    }
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                               .allocationSize = req.size,
                               .memoryTypeIndex = type};
    r = type == UINT32_MAX ? VK_ERROR_OUT_OF_DEVICE_MEMORY
                           : be->fn.vkAllocateMemory(be->dev, &ai, NULL, &b->mem);
    if (r != VK_SUCCESS) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "vkAllocateMemory(%llu bytes) failed: %s",
                     (unsigned long long)req.size, ehal_vk_result_name(r));
        be->fn.vkDestroyBuffer(be->dev, b->buf, NULL);
        ehal_sdk_free(be->host, b);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    be->fn.vkBindBufferMemory(be->dev, b->buf, b->mem, 0);
    VkMemoryPropertyFlags f = be->mem.memoryTypes[type].propertyFlags;
    /* Device buffers of a non-shared device are never mapped, even when the
     * type happens to be host visible: read/write then use staging. */
    if ((f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) && (host_visible || be->host_shared)) {
        b->coherent = (f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) != 0;
        if (be->fn.vkMapMemory(be->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->mapped) != VK_SUCCESS) {
            b->mapped = NULL;
        }
    }
    *out = b;
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_vk_buffer_alloc(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                                   ehal_buffer_impl **out) {
    (void)flags;
    uint64_t limit = be->props.limits.maxStorageBufferRange;
    if (size > limit) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "buffer of %llu bytes exceeds the device's maxStorageBufferRange "
                     "of %llu bytes; split the tensor or use another backend",
                     (unsigned long long)size, (unsigned long long)limit);
        return EHAL_STATUS_UNSUPPORTED;
    }
    ehal_status_t st = create(be, size, be->host_shared, out);
    if (st == EHAL_STATUS_OK && (*out)->mapped) {
        memset((*out)->mapped, 0, (size_t)(*out)->alloc_size);
    }
    return st;
}

void ehal_vk_buffer_free(ehal_backend_impl *be, ehal_buffer_impl *b) {
    if (!b) {
        return;
    }
    ehal_vk_wait_all(be);
    if (b->mapped) {
        be->fn.vkUnmapMemory(be->dev, b->mem);
    }
    be->fn.vkDestroyBuffer(be->dev, b->buf, NULL);
    be->fn.vkFreeMemory(be->dev, b->mem, NULL);
    ehal_sdk_free(be->host, b);
}

static ehal_status_t check_range(ehal_backend_impl *be, ehal_buffer_impl *b, uint64_t off,
                                 uint64_t size, const char *what) {
    if (!b || off > b->size || size > b->size - off) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "%s of %llu bytes at offset %llu is outside the buffer of %llu bytes",
                     what, (unsigned long long)size, (unsigned long long)off,
                     (unsigned long long)(b ? b->size : 0));
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

typedef struct copy_job {
    VkBuffer src, dst;
    VkBufferCopy region;
} copy_job;

static void record_copy(ehal_backend_impl *be, VkCommandBuffer cb, void *user) {
    copy_job *j = user;
    be->fn.vkCmdCopyBuffer(cb, j->src, j->dst, 1, &j->region);
}

/* Copies between host memory and a non-mapped buffer through staging. */
static ehal_status_t staged(ehal_backend_impl *be, ehal_buffer_impl *b, uint64_t off, void *host,
                            uint64_t size, int to_device) {
    ehal_buffer_impl *st = NULL;
    ehal_status_t s = create(be, size, 1, &st);
    if (s != EHAL_STATUS_OK) {
        return s;
    }
    if (!st->mapped) {
        ehal_vk_buffer_free(be, st);
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "staging buffer is not host visible");
        return EHAL_STATUS_INTERNAL;
    }
    copy_job j = {.src = to_device ? st->buf : b->buf,
                  .dst = to_device ? b->buf : st->buf,
                  .region = {.srcOffset = to_device ? 0 : off, .dstOffset = to_device ? off : 0, .size = size}};
    if (to_device) {
        memcpy(st->mapped, host, (size_t)size);
    }
    s = ehal_vk_run_once(be, record_copy, &j);
    if (s == EHAL_STATUS_OK && !to_device) {
        memcpy(host, st->mapped, (size_t)size);
    }
    ehal_vk_buffer_free(be, st);
    return s;
}

static void sync_mapped(ehal_backend_impl *be, ehal_buffer_impl *b, int flush) {
    if (b->coherent) {
        return;
    }
    VkMappedMemoryRange r = {.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, .memory = b->mem,
                             .offset = 0, .size = VK_WHOLE_SIZE};
    if (flush) {
        be->fn.vkFlushMappedMemoryRanges(be->dev, 1, &r);
    } else {
        be->fn.vkInvalidateMappedMemoryRanges(be->dev, 1, &r);
    }
}

ehal_status_t ehal_vk_buffer_write(ehal_backend_impl *be, ehal_buffer_impl *b, uint64_t off,
                                   const void *src, uint64_t size) {
    ehal_status_t s = check_range(be, b, off, size, "buffer_write");
    if (s != EHAL_STATUS_OK || size == 0) {
        return s;
    }
    if ((s = ehal_vk_wait_all(be)) != EHAL_STATUS_OK) {
        return s;
    }
    if (b->mapped) {
        memcpy((char *)b->mapped + off, src, (size_t)size);
        sync_mapped(be, b, 1);
        return EHAL_STATUS_OK;
    }
    return staged(be, b, off, (void *)(uintptr_t)src, size, 1);
}

ehal_status_t ehal_vk_buffer_read(ehal_backend_impl *be, ehal_buffer_impl *b, uint64_t off,
                                  void *dst, uint64_t size) {
    ehal_status_t s = check_range(be, b, off, size, "buffer_read");
    if (s != EHAL_STATUS_OK || size == 0) {
        return s;
    }
    if ((s = ehal_vk_wait_all(be)) != EHAL_STATUS_OK) {
        return s;
    }
    if (b->mapped) {
        sync_mapped(be, b, 0);
        memcpy(dst, (const char *)b->mapped + off, (size_t)size);
        return EHAL_STATUS_OK;
    }
    return staged(be, b, off, dst, size, 0);
}

ehal_status_t ehal_vk_buffer_map(ehal_backend_impl *be, ehal_buffer_impl *b, void **ptr) {
    if (!b || !b->mapped) {
        ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "buffer_map: buffer is not host visible");
        return EHAL_STATUS_UNSUPPORTED;
    }
    ehal_status_t s = ehal_vk_wait_all(be);
    if (s != EHAL_STATUS_OK) {
        return s;
    }
    sync_mapped(be, b, 0);
    *ptr = b->mapped;
    return EHAL_STATUS_OK;
}

void ehal_vk_buffer_unmap(ehal_backend_impl *be, ehal_buffer_impl *b) {
    if (b && b->mapped) {
        sync_mapped(be, b, 1); /* the mapping itself stays: it is persistent */
    }
}
