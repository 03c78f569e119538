/*
 * Capability queries, prepare (validate, bind, record one command buffer
 * for the whole subgraph), execute (one vkQueueSubmit with a fence), wait.
 * Plugin calls on one backend are not concurrent (the core serializes
 * them); the in-flight list is therefore unsynchronized.
 */
#include <stdio.h>
#include <string.h>

#include "vk_internal.h"

struct ehal_executable_impl {
    ehal_sdk_graph *graph;
    VkDescriptorPool pool;
    VkCommandBuffer cb;
    VkFence fence;
    int pending; /* submitted, not yet waited for */
    ehal_buffer_impl **aux; /* constant buffers and pre-pass scratch, [2 * n_nodes], owned */
    uint32_t n_aux;
    ehal_executable_impl *next_inflight;
};

ehal_status_t ehal_vk_query_op(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                               ehal_op_support *out) {
    ehal_op_support s;
    memset(&s, 0, sizeof s);
    char why[256];
    if (ehal_op_validate(sg, node, why, sizeof why) == EHAL_STATUS_OK &&
        ehal_vk_op_check(be, sg, node, why, sizeof why) == 0) {
        s.level = EHAL_SUPPORT_SUPPORTED;
        s.cost_ns = ehal_vk_op_cost_ns(be, sg, node);
        s.prepare_ns = 2000000; /* pipeline compile, amortized by the cache */
    } else {
        s.level = EHAL_SUPPORT_UNSUPPORTED;
        ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "node %u unsupported: %s", node, why);
    }
    uint32_t size = out->struct_size < sizeof s ? out->struct_size : (uint32_t)sizeof s;
    s.struct_size = size;
    memcpy(out, &s, size);
    return EHAL_STATUS_OK;
}

/* ---- dependency tracking between dispatches ---------------------------- */

typedef struct range {
    const ehal_buffer_impl *buf;
    uint64_t lo, hi;
} range;

typedef struct range_set {
    range *r;
    uint32_t n;
} range_set;

static range tensor_range(const ehal_tensor_desc *t) {
    range r = {t->buffer, t->offset, t->offset + ehal_tensor_nbytes(t)};
    return r;
}

static int overlaps(const range_set *s, range x) {
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->r[i].buf == x.buf && s->r[i].lo < x.hi && x.lo < s->r[i].hi) {
            return 1;
        }
    }
    return 0;
}

static void barrier(ehal_backend_impl *be, VkCommandBuffer cb, VkPipelineStageFlags src,
                    VkAccessFlags src_access, VkPipelineStageFlags dst, VkAccessFlags dst_access) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = src_access,
                          .dstAccessMask = dst_access};
    be->fn.vkCmdPipelineBarrier(cb, src, dst, 0, 1, &mb, 0, NULL, 0, NULL);
}

/* ---- prepare ------------------------------------------------------------- */

static ehal_status_t check_tensor(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t ti) {
    const ehal_tensor_desc *t = sg->tensors[ti];
    uint64_t need = (t->dtype == EHAL_DTYPE_F32 || t->dtype == EHAL_DTYPE_I32) ? 4 : 2;
    if (!t->buffer) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "prepare: tensor %u has no buffer", ti);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    if (t->offset % need != 0) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "prepare: tensor %u (%s) offset %llu is not a multiple of %llu",
                     ti, ehal_dtype_name(t->dtype), (unsigned long long)t->offset,
                     (unsigned long long)need);
        return EHAL_STATUS_UNSUPPORTED;
    }
    uint64_t nb = ehal_tensor_nbytes(t);
    if (t->offset > t->buffer->size || nb > t->buffer->size - t->offset) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "prepare: tensor %u (%llu bytes at offset %llu) overruns its buffer "
                     "of %llu bytes", ti, (unsigned long long)nb, (unsigned long long)t->offset,
                     (unsigned long long)t->buffer->size);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

/* Fills the descriptor info of one binding and returns the tensor's byte
 * offset inside the bound range. t == NULL binds the dummy buffer. */
static uint32_t bind_info(ehal_backend_impl *be, const ehal_tensor_desc *t, VkDescriptorBufferInfo *bi) {
    if (!t) {
        *bi = (VkDescriptorBufferInfo){be->dummy->buf, 0, VK_WHOLE_SIZE};
        return 0;
    }
    uint64_t align = be->props.limits.minStorageBufferOffsetAlignment;
    if (align == 0) {
        align = 1;
    }
    uint64_t base = t->offset / align * align;
    uint64_t inner = t->offset - base;
    uint64_t range = (inner + ehal_tensor_nbytes(t) + 3u) & ~(uint64_t)3u;
    if (range > t->buffer->alloc_size - base) {
        range = t->buffer->alloc_size - base;
    }
    *bi = (VkDescriptorBufferInfo){t->buffer->buf, base, range};
    return (uint32_t)inner;
}

/* Writes set's five bindings from infos, then binds pipe and set, pushes pc
 * and dispatches a (gx, gy) grid. */
static void dispatch(ehal_backend_impl *be, VkCommandBuffer cb, VkPipeline pipe, VkDescriptorSet set,
                     const VkDescriptorBufferInfo *infos, const uint32_t *pc, uint32_t pc_bytes,
                     uint32_t gx, uint32_t gy) {
    VkWriteDescriptorSet w[EHAL_VK_BINDINGS];
    for (uint32_t b = 0; b < EHAL_VK_BINDINGS; b++) {
        w[b] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                      .dstSet = set,
                                      .dstBinding = b,
                                      .descriptorCount = 1,
                                      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                      .pBufferInfo = &infos[b]};
    }
    be->fn.vkUpdateDescriptorSets(be->dev, EHAL_VK_BINDINGS, w, 0, NULL);
    be->fn.vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
    be->fn.vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, be->layout, 0, 1, &set, 0,
                                   NULL);
    be->fn.vkCmdPushConstants(cb, be->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, pc_bytes, pc);
    be->fn.vkCmdDispatch(cb, gx, gy, 1);
}

/* Records the node's pre-pass (d->pre_shader): input 1 -> a new scratch
 * buffer the executable owns (returned in *scratch), then a barrier so the
 * node's dispatch reads it. */
static ehal_status_t record_pre(ehal_backend_impl *be, ehal_executable_impl *exe, VkCommandBuffer cb,
                                const ehal_tensor_desc *x, const ehal_vk_dispatch *d,
                                VkDescriptorSet set, ehal_buffer_impl **scratch) {
    VkPipeline pipe;
    ehal_status_t st = ehal_vk_pipeline_get(be, d->pre_shader, &pipe);
    if (st == EHAL_STATUS_OK) {
        st = ehal_vk_buffer_alloc(be, d->scratch_bytes, 0, scratch);
    }
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    exe->aux[exe->n_aux++] = *scratch;
    VkDescriptorBufferInfo infos[EHAL_VK_BINDINGS];
    uint32_t pc[32];
    memset(pc, 0, sizeof pc);
    for (uint32_t b = 0; b < EHAL_VK_BINDINGS; b++) {
        infos[b] = (VkDescriptorBufferInfo){be->dummy->buf, 0, VK_WHOLE_SIZE};
    }
    pc[0] = bind_info(be, x, &infos[0]);
    infos[EHAL_VK_OUT_BINDING] = (VkDescriptorBufferInfo){(*scratch)->buf, 0, VK_WHOLE_SIZE};
    pc[5] = d->pre_u0;
    uint32_t max_x = be->props.limits.maxComputeWorkGroupCount[0];
    uint32_t gx = d->pre_groups, gy = 1;
    if (gx > max_x) {
        gy = (gx + max_x - 1) / max_x;
        gx = max_x;
    }
    dispatch(be, cb, pipe, set, infos, pc, sizeof pc, gx, gy);
    barrier(be, cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT);
    return EHAL_STATUS_OK;
}

static ehal_status_t record(ehal_backend_impl *be, ehal_executable_impl *exe,
                            const ehal_subgraph *sg, VkDescriptorSet *sets) {
    VkCommandBuffer cb = exe->cb;
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    if (be->fn.vkBeginCommandBuffer(cb, &bi) != VK_SUCCESS) {
        return EHAL_STATUS_INTERNAL;
    }
    /* Earlier submits and host/transfer writes are visible to this run. */
    barrier(be, cb,
            VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_HOST_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    range_set rd = {NULL, 0}, wr = {NULL, 0};
    rd.r = ehal_sdk_calloc(be->host, (size_t)sg->n_nodes * EHAL_MAX_INPUTS + 1, sizeof(range));
    wr.r = ehal_sdk_calloc(be->host, (size_t)sg->n_nodes + 1, sizeof(range));
    if (!rd.r || !wr.r) {
        ehal_sdk_free(be->host, rd.r);
        ehal_sdk_free(be->host, wr.r);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    ehal_status_t st = EHAL_STATUS_OK;
    uint32_t max_x = be->props.limits.maxComputeWorkGroupCount[0];
    for (uint32_t i = 0; i < sg->n_nodes && st == EHAL_STATUS_OK; i++) {
        const ehal_node_desc *n = sg->nodes[i];
        ehal_vk_dispatch d;
        uint32_t pc[32];
        VkPipeline pipe;
        ehal_vk_op_setup(be, sg, i, &d);
        if ((st = ehal_vk_pipeline_get(be, d.shader, &pipe)) != EHAL_STATUS_OK) {
            break;
        }
        ehal_buffer_impl *aux = NULL;
        if (d.aux_count) {
            uint64_t nb = (uint64_t)d.aux_count * sizeof(float);
            if ((st = ehal_vk_buffer_alloc(be, nb, EHAL_BUFFER_WEIGHTS, &aux)) != EHAL_STATUS_OK) {
                break;
            }
            exe->aux[exe->n_aux++] = aux;
            if ((st = ehal_vk_buffer_write(be, aux, 0, d.aux, nb)) != EHAL_STATUS_OK) {
                break;
            }
        }
        /* RAW / WAW / WAR hazards against dispatches since the last barrier */
        range out = tensor_range(sg->tensors[n->outputs[0]]);
        int hazard = overlaps(&wr, out) || overlaps(&rd, out);
        for (uint32_t k = 0; k < n->n_inputs; k++) {
            hazard |= overlaps(&wr, tensor_range(sg->tensors[n->inputs[k]]));
        }
        if (hazard) {
            barrier(be, cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                    VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT,
                    VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                    VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
            rd.n = wr.n = 0;
        }
        for (uint32_t k = 0; k < n->n_inputs; k++) {
            rd.r[rd.n++] = tensor_range(sg->tensors[n->inputs[k]]);
        }
        wr.r[wr.n++] = out;

        ehal_buffer_impl *scratch = NULL;
        if (d.scratch_bytes && d.groups &&
            (st = record_pre(be, exe, cb, sg->tensors[n->inputs[1]], &d, sets[2 * i + 1],
                             &scratch)) != EHAL_STATUS_OK) {
            break;
        }
        memset(pc, 0, sizeof pc);
        VkDescriptorBufferInfo infos[EHAL_VK_BINDINGS];
        for (uint32_t b = 0; b < EHAL_VK_BINDINGS; b++) {
            const ehal_tensor_desc *t = NULL;
            if (b == EHAL_VK_OUT_BINDING) {
                t = sg->tensors[n->outputs[0]];
            } else if (b < n->n_inputs) {
                t = sg->tensors[n->inputs[b]];
            }
            pc[b] = bind_info(be, t, &infos[b]);
            if (aux && b == EHAL_VK_AUX_BINDING) {
                infos[b] = (VkDescriptorBufferInfo){aux->buf, 0, VK_WHOLE_SIZE};
                pc[b] = 0;
            }
            if (scratch && b == 1) {
                infos[b] = (VkDescriptorBufferInfo){scratch->buf, 0, VK_WHOLE_SIZE};
                pc[b] = 0;
            }
        }
        memcpy(pc + 5, d.pc_u, sizeof d.pc_u);
        memcpy(pc + 24, d.pc_f, sizeof d.pc_f);
        if (d.groups == 0) {
            continue;
        }
        uint32_t gx = d.groups, gy = d.groups_y ? d.groups_y : 1;
        if (!d.groups_y && gx > max_x) {
            gy = (gx + max_x - 1) / max_x;
            gx = max_x;
        }
        dispatch(be, cb, pipe, sets[2 * i], infos, pc, sizeof pc, gx, gy);
    }
    ehal_sdk_free(be->host, rd.r);
    ehal_sdk_free(be->host, wr.r);
    /* Results are visible to the host and to later transfers. */
    barrier(be, cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT);
    if (be->fn.vkEndCommandBuffer(cb) != VK_SUCCESS && st == EHAL_STATUS_OK) {
        st = EHAL_STATUS_INTERNAL;
    }
    return st;
}

ehal_status_t ehal_vk_prepare(ehal_backend_impl *be, const ehal_subgraph *in_sg,
                              ehal_executable_impl **out) {
    ehal_executable_impl *exe = ehal_sdk_calloc(be->host, 1, sizeof *exe);
    VkDescriptorSet *sets = NULL;
    if (!exe) {
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    ehal_status_t st = ehal_sdk_graph_copy(be->host, in_sg, &exe->graph);
    if (st != EHAL_STATUS_OK) {
        ehal_sdk_free(be->host, exe);
        return st;
    }
    const ehal_subgraph *sg = ehal_sdk_graph_view(exe->graph);
    char why[256];
    for (uint32_t i = 0; i < sg->n_nodes && st == EHAL_STATUS_OK; i++) {
        const ehal_node_desc *n = sg->nodes[i];
        if ((st = ehal_op_validate(sg, i, why, sizeof why)) != EHAL_STATUS_OK) {
            ehal_sdk_log(be->host, EHAL_LOG_ERROR, "prepare: %s", why);
            break;
        }
        if (ehal_vk_op_check(be, sg, i, why, sizeof why) != 0) {
            ehal_sdk_log(be->host, EHAL_LOG_ERROR, "prepare: node %u (%s): %s", i,
                         ehal_op_name(n->op), why);
            st = EHAL_STATUS_UNSUPPORTED;
            break;
        }
        for (uint32_t k = 0; k < n->n_inputs && st == EHAL_STATUS_OK; k++) {
            st = check_tensor(be, sg, n->inputs[k]);
        }
        if (st == EHAL_STATUS_OK) {
            st = check_tensor(be, sg, n->outputs[0]);
        }
    }
    if (st == EHAL_STATUS_OK) {
        /* two sets per node: its dispatch and an optional pre-pass */
        uint32_t nsets = 2u * (sg->n_nodes ? sg->n_nodes : 1);
        VkDescriptorPoolSize ps = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, nsets * EHAL_VK_BINDINGS};
        VkDescriptorPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                          .maxSets = nsets,
                                          .poolSizeCount = 1,
                                          .pPoolSizes = &ps};
        VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                           .commandPool = be->cmd_pool,
                                           .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                           .commandBufferCount = 1};
        VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        sets = ehal_sdk_calloc(be->host, nsets, sizeof *sets);
        exe->aux = ehal_sdk_calloc(be->host, nsets, sizeof *exe->aux);
        if (!sets || !exe->aux || be->fn.vkCreateDescriptorPool(be->dev, &pci, NULL, &exe->pool) != VK_SUCCESS ||
            be->fn.vkAllocateCommandBuffers(be->dev, &cai, &exe->cb) != VK_SUCCESS ||
            be->fn.vkCreateFence(be->dev, &fci, NULL, &exe->fence) != VK_SUCCESS) {
            ehal_sdk_log(be->host, EHAL_LOG_ERROR, "prepare: out of memory for %u nodes",
                         sg->n_nodes);
            st = EHAL_STATUS_OUT_OF_MEMORY;
        }
        for (uint32_t i = 0; i < 2u * sg->n_nodes && st == EHAL_STATUS_OK; i++) {
            VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                              .descriptorPool = exe->pool,
                                              .descriptorSetCount = 1,
                                              .pSetLayouts = &be->dsl};
            if (be->fn.vkAllocateDescriptorSets(be->dev, &ai, &sets[i]) != VK_SUCCESS) {
                st = EHAL_STATUS_OUT_OF_MEMORY;
            }
        }
    }
    if (st == EHAL_STATUS_OK) {
        st = record(be, exe, sg, sets);
    }
    ehal_sdk_free(be->host, sets);
    if (st != EHAL_STATUS_OK) {
        ehal_vk_release(be, exe);
        return st;
    }
    *out = exe;
    return EHAL_STATUS_OK;
}

/* ---- execute / wait ---------------------------------------------------------- */

static void unlink_inflight(ehal_backend_impl *be, ehal_executable_impl *exe) {
    for (ehal_executable_impl **p = &be->inflight; *p; p = &(*p)->next_inflight) {
        if (*p == exe) {
            *p = exe->next_inflight;
            break;
        }
    }
    exe->next_inflight = NULL;
}

ehal_status_t ehal_vk_wait(ehal_backend_impl *be, ehal_executable_impl *exe, uint64_t timeout_ns) {
    if (!exe || !exe->pending) {
        return EHAL_STATUS_OK;
    }
    VkResult r = be->fn.vkWaitForFences(be->dev, 1, &exe->fence, VK_TRUE, timeout_ns);
    if (r == VK_TIMEOUT) {
        return EHAL_STATUS_TIMEOUT;
    }
    exe->pending = 0;
    unlink_inflight(be, exe);
    if (r != VK_SUCCESS) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "vkWaitForFences: %s", ehal_vk_result_name(r));
        return r == VK_ERROR_DEVICE_LOST ? EHAL_STATUS_DEVICE_LOST : EHAL_STATUS_INTERNAL;
    }
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_vk_wait_all(ehal_backend_impl *be) {
    ehal_status_t st = EHAL_STATUS_OK;
    while (be->inflight) {
        ehal_status_t s = ehal_vk_wait(be, be->inflight, UINT64_MAX);
        if (s != EHAL_STATUS_OK) {
            st = s;
        }
    }
    return st;
}

ehal_status_t ehal_vk_execute(ehal_backend_impl *be, ehal_executable_impl *exe,
                              const ehal_execute_args *args) {
    (void)args;
    ehal_status_t st = ehal_vk_wait(be, exe, UINT64_MAX); /* one run in flight per exe */
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    be->fn.vkResetFences(be->dev, 1, &exe->fence);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                       .commandBufferCount = 1,
                       .pCommandBuffers = &exe->cb};
    VkResult r = be->fn.vkQueueSubmit(be->queue, 1, &si, exe->fence);
    if (r != VK_SUCCESS) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "vkQueueSubmit: %s", ehal_vk_result_name(r));
        return r == VK_ERROR_DEVICE_LOST ? EHAL_STATUS_DEVICE_LOST : EHAL_STATUS_INTERNAL;
    }
    exe->pending = 1;
    exe->next_inflight = be->inflight;
    be->inflight = exe;
    return EHAL_STATUS_OK;
}

void ehal_vk_release(ehal_backend_impl *be, ehal_executable_impl *exe) {
    if (!exe) {
        return;
    }
    ehal_vk_wait(be, exe, UINT64_MAX);
    if (exe->fence) {
        be->fn.vkDestroyFence(be->dev, exe->fence, NULL);
    }
    if (exe->cb) {
        be->fn.vkFreeCommandBuffers(be->dev, be->cmd_pool, 1, &exe->cb);
    }
    if (exe->pool) {
        be->fn.vkDestroyDescriptorPool(be->dev, exe->pool, NULL);
    }
    for (uint32_t i = 0; i < exe->n_aux; i++) {
        ehal_vk_buffer_free(be, exe->aux[i]);
    }
    ehal_sdk_free(be->host, exe->aux);
    ehal_sdk_graph_free(be->host, exe->graph);
    ehal_sdk_free(be->host, exe);
}

ehal_status_t ehal_vk_run_once(ehal_backend_impl *be,
                               void (*rec)(ehal_backend_impl *, VkCommandBuffer, void *), void *user) {
    ehal_status_t st = ehal_vk_wait_all(be);
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = be->cmd_pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
    VkCommandBuffer cb;
    VkFence fence;
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if (be->fn.vkAllocateCommandBuffers(be->dev, &cai, &cb) != VK_SUCCESS) {
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    if (be->fn.vkCreateFence(be->dev, &fci, NULL, &fence) != VK_SUCCESS) {
        be->fn.vkFreeCommandBuffers(be->dev, be->cmd_pool, 1, &cb);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    be->fn.vkBeginCommandBuffer(cb, &bi);
    barrier(be, cb, VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_HOST_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
    rec(be, cb, user);
    barrier(be, cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
    be->fn.vkEndCommandBuffer(cb);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cb};
    VkResult r = be->fn.vkQueueSubmit(be->queue, 1, &si, fence);
    if (r == VK_SUCCESS) {
        r = be->fn.vkWaitForFences(be->dev, 1, &fence, VK_TRUE, UINT64_MAX);
    }
    be->fn.vkDestroyFence(be->dev, fence, NULL);
    be->fn.vkFreeCommandBuffers(be->dev, be->cmd_pool, 1, &cb);
    if (r != VK_SUCCESS) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "transfer failed: %s", ehal_vk_result_name(r));
        return r == VK_ERROR_DEVICE_LOST ? EHAL_STATUS_DEVICE_LOST : EHAL_STATUS_INTERNAL;
    }
    return EHAL_STATUS_OK;
}
