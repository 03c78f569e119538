/*
 * Opening the simulated device and describing it (R9, R10). The device
 * info is what the partitioner plans with: an NPU with STATIC_SHAPES (not
 * HOST_SHARED: its memory is separate and reached over the link), the
 * configured memory budget, link bandwidth and per-dispatch latency.
 */
#include <stdio.h>
#include <string.h>

#include "npu_sim_internal.h"

int npu_sim_backend_ok(const ehal_backend_impl *be) {
    return be != NULL && be->magic == NPU_SIM_BACKEND_MAGIC;
}

ehal_status_t npu_sim_init(const ehal_host_services *host, const ehal_option *opts, uint32_t n_opts,
                           ehal_backend_impl **out) {
    if (host == NULL || out == NULL) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "init: %s is NULL",
                     host == NULL ? "host services" : "out");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    npu_sim_config cfg;
    npu_sim_config_defaults(&cfg);
    ehal_status_t st = npu_sim_config_parse(host, opts, n_opts, &cfg);
    if (st != EHAL_STATUS_OK)
        return st;
    ehal_backend_impl *be = ehal_sdk_calloc(host, 1, sizeof *be);
    if (be == NULL) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "init: out of memory for the backend (%zu bytes)",
                     sizeof *be);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    be->magic = NPU_SIM_BACKEND_MAGIC;
    be->host = host;
    be->cfg = cfg;
    be->used_bytes = 0;
    ehal_sdk_log(host, EHAL_LOG_DEBUG,
                 "memory=%llu tops=%g latency_us=%llu compile_ms=%llu "
                 "link_gbps=%g",
                 (unsigned long long)cfg.memory_bytes, cfg.tops, (unsigned long long)cfg.latency_us,
                 (unsigned long long)cfg.compile_ms, cfg.link_gbps);
    *out = be;
    return EHAL_STATUS_OK;
}

void npu_sim_destroy(ehal_backend_impl *be) {
    if (!npu_sim_backend_ok(be))
        return;
    const ehal_host_services *host = be->host;
    if (be->used_bytes != 0)
        ehal_sdk_log(host, EHAL_LOG_WARN, "destroy: %llu bytes of device memory still in use",
                     (unsigned long long)be->used_bytes);
    be->magic = 0;
    ehal_sdk_free(host, be);
}

ehal_status_t npu_sim_device_info(ehal_backend_impl *be, ehal_device_info *info) {
    if (!npu_sim_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (info == NULL || info->struct_size < offsetof(ehal_device_info, kind) + sizeof info->kind) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "device_info: %s",
                     info == NULL ? "info is NULL" : "struct_size too small");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    const npu_sim_config *c = &be->cfg;
    ehal_device_info d;
    memset(&d, 0, sizeof d);
    d.kind = EHAL_DEVICE_NPU;
    d.flags = EHAL_DEVICE_STATIC_SHAPES;
    snprintf(d.name, sizeof d.name, "npu_sim (simulated NPU, %g TOPS int8)", c->tops);
    snprintf(d.driver, sizeof d.driver, "edgehal-npu_sim (ABI %u, W8A8, %llu ms compile)",
             EHAL_ABI_VERSION, (unsigned long long)c->compile_ms);
    d.memory_bytes = c->memory_bytes;
    d.max_buffer_bytes = c->memory_bytes;
    d.link_bytes_per_s = (uint64_t)(c->link_gbps * 1e9);
    d.dispatch_overhead_ns = c->latency_us * 1000u;
    size_t n = info->struct_size < sizeof d ? info->struct_size : sizeof d;
    d.struct_size = (uint32_t)n;
    memcpy(info, &d, n);
    return EHAL_STATUS_OK;
}
