/*
 * Opening and closing the device, and describing it (R9, R10).
 *
 * The stub opens no hardware: init allocates the backend object, logs every
 * option it is given (it knows none) and succeeds, so the plugin loads and
 * shows up in `edgehal info` as one NPU device.
 */
#include <stdio.h>
#include <string.h>

#include "npu_stub_internal.h"

int npu_stub_backend_ok(const ehal_backend_impl *be) {
    return be != NULL && be->magic == NPU_STUB_BACKEND_MAGIC;
}

ehal_status_t npu_stub_init(const ehal_host_services *host, const ehal_option *opts,
                            uint32_t n_opts, ehal_backend_impl **out) {
    if (host == NULL || out == NULL) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "init: %s is NULL",
                     host == NULL ? "host services" : "out");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    if (opts == NULL && n_opts != 0) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "init: options array is NULL with %u entries", n_opts);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    /* VENDOR: parse your options here (ehal_sdk_option, ehal_sdk_option_u64),
     * failing init with a message naming the key and value when one is
     * malformed. Unknown keys are ignored with a DEBUG line, as the ABI asks. */
    for (uint32_t i = 0; i < n_opts; i++)
        ehal_sdk_log(host, EHAL_LOG_DEBUG, "ignoring unknown option '%s'",
                     opts[i].key != NULL ? opts[i].key : "(null)");

    ehal_backend_impl *be = ehal_sdk_calloc(host, 1, sizeof *be);
    if (be == NULL) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "init: out of memory for the backend (%zu bytes)",
                     sizeof *be);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    be->magic = NPU_STUB_BACKEND_MAGIC;
    be->host = host;
    /* VENDOR: open your device here. If it is absent, log why and return
     * EHAL_STATUS_NOT_FOUND: the core skips this plugin with that line and
     * every other backend still loads. */
    ehal_sdk_log(host, EHAL_LOG_INFO, "opened (a skeleton: no device, no supported ops)");
    *out = be;
    return EHAL_STATUS_OK;
}

void npu_stub_destroy(ehal_backend_impl *be) {
    if (!npu_stub_backend_ok(be))
        return;
    /* VENDOR: close your device here. The core has already freed every
     * buffer and released every executable of this backend (R14). */
    const ehal_host_services *host = be->host;
    be->magic = 0;
    ehal_sdk_free(host, be);
}

ehal_status_t npu_stub_device_info(ehal_backend_impl *be, ehal_device_info *info) {
    if (!npu_stub_backend_ok(be))
        return EHAL_STATUS_INVALID_ARGUMENT;
    if (info == NULL) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "device_info: info is NULL");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    size_t need = offsetof(ehal_device_info, kind) + sizeof info->kind;
    if (info->struct_size < need) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "device_info: struct_size %u is smaller than %zu bytes", info->struct_size,
                     need);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_device_info d;
    memset(&d, 0, sizeof d);
    d.kind = EHAL_DEVICE_NPU;
    /* VENDOR: EHAL_DEVICE_STATIC_SHAPES if prepare compiles for exact
     * shapes, EHAL_DEVICE_ASYNC if execute returns before completion,
     * EHAL_DEVICE_HOST_SHARED if device memory is host memory. */
    d.flags = 0;
    snprintf(d.name, sizeof d.name, "%s", NPU_STUB_NAME " (skeleton, no device)");
    snprintf(d.driver, sizeof d.driver, "edgehal-" NPU_STUB_NAME " (ABI %u)", EHAL_ABI_VERSION);
    /* VENDOR: the partitioner plans with these numbers (0 = unknown). */
    d.memory_bytes = 0;
    d.max_buffer_bytes = 0;
    d.link_bytes_per_s = 0;
    d.dispatch_overhead_ns = 0;

    /* Fill at most what the caller's struct holds (R1, R10). */
    size_t n = info->struct_size < sizeof d ? info->struct_size : sizeof d;
    d.struct_size = (uint32_t)n;
    memcpy(info, &d, n);
    return EHAL_STATUS_OK;
}
