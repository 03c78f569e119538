/*
 * Opening an OpenCL device: ICD loader, PoCL cache-dir workaround,
 * platform/device selection ("device" option or EHAL_OPENCL_DEVICE),
 * feature detection, context, in-order queue and the kernel program.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cl_internal.h"

#define MAX_PLATFORMS 16
#define MAX_DEVICES 64

int ocl_backend_ok(const ehal_backend_impl *be) {
    return be && be->magic == CL_BACKEND_MAGIC;
}

/* mkdir -p; 0 if path is (now) a writable directory. */
static int ensure_writable_dir(const char *path) {
    char tmp[1024];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
        return -1;
    }
    struct stat st;
    if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return -1;
    }
    return access(tmp, W_OK | X_OK) == 0 ? 0 : -1;
}

int ocl_fix_pocl_cache_dir(const ehal_host_services *host) {
    if (getenv("POCL_CACHE_DIR")) {
        return 0;
    }
    char def[1024];
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (xdg && xdg[0]) {
        snprintf(def, sizeof def, "%s/pocl", xdg);
    } else if (home && home[0]) {
        snprintf(def, sizeof def, "%s/.cache/pocl", home);
    } else {
        def[0] = '\0';
    }
    if (def[0] && ensure_writable_dir(def) == 0) {
        return 0;
    }
    const char *tmpdir = getenv("TMPDIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/edgehal-pocl-%lu", tmpdir && tmpdir[0] ? tmpdir : "/tmp",
             (unsigned long)getuid());
    if (ensure_writable_dir(dir) != 0) {
        ehal_sdk_log(host, EHAL_LOG_WARN, "opencl: PoCL cache dir '%s' unwritable and so is '%s'",
                     def, dir);
        return 0;
    }
    setenv("POCL_CACHE_DIR", dir, 0);
    ehal_sdk_log(host, EHAL_LOG_INFO,
                 "opencl: PoCL cache dir '%s' is not writable; set POCL_CACHE_DIR=%s", def, dir);
    return 1;
}

uint32_t ocl_disabled_features(const ehal_host_services *host) {
    const char *v = getenv("EHAL_OPENCL_DISABLE");
    uint32_t m = 0;
    if (!v) {
        return 0;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", ")) {
        if (strcmp(tok, "all") == 0) {
            m |= CL_FEAT_FP16 | CL_FEAT_SUBGROUPS | CL_FEAT_DOT8;
        } else if (strcmp(tok, "fp16") == 0) {
            m |= CL_FEAT_FP16;
        } else if (strcmp(tok, "subgroups") == 0) {
            m |= CL_FEAT_SUBGROUPS;
        } else if (strcmp(tok, "dot8") == 0) {
            m |= CL_FEAT_DOT8;
        } else {
            ehal_sdk_log(host, EHAL_LOG_WARN, "opencl: EHAL_OPENCL_DISABLE: unknown feature '%s'",
                         tok);
        }
    }
    return m;
}

static int icontains(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (const char *h = hay; *h; h++) {
        size_t i = 0;
        while (i < n && h[i] && tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i])) {
            i++;
        }
        if (i == n) {
            return 1;
        }
    }
    return n == 0;
}

static void dev_str(ehal_backend_impl *be, cl_device_id d, cl_device_info what, char *out,
                    size_t size) {
    out[0] = '\0';
    if (be->cl.clGetDeviceInfo(d, what, size, out, NULL) != CL_SUCCESS) {
        out[0] = '\0';
    }
    out[size - 1] = '\0';
}

/* Picks be->platform/be->device; sel NULL = first device. */
static ehal_status_t select_device(ehal_backend_impl *be, const char *sel) {
    cl_platform_id plats[MAX_PLATFORMS];
    cl_uint np = 0;
    cl_int err = be->cl.clGetPlatformIDs(MAX_PLATFORMS, plats, &np);
    if (err != CL_SUCCESS || np == 0) {
        ehal_sdk_log(be->host, EHAL_LOG_WARN, "opencl: no OpenCL platform (clGetPlatformIDs: %s)",
                     err == CL_SUCCESS ? "0 platforms" : ehal_cl_err(err));
        return EHAL_STATUS_UNSUPPORTED;
    }
    char *end = NULL;
    long want = -1;
    if (sel && sel[0]) {
        want = strtol(sel, &end, 10);
        if (*end != '\0' || want < 0) {
            want = -1; /* a name substring */
        }
    }
    long index = 0;
    for (cl_uint p = 0; p < np && p < MAX_PLATFORMS; p++) {
        cl_device_id devs[MAX_DEVICES];
        cl_uint nd = 0;
        if (be->cl.clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES, devs, &nd) !=
            CL_SUCCESS) {
            continue;
        }
        char pname[128];
        pname[0] = '\0';
        be->cl.clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof pname, pname, NULL);
        pname[sizeof pname - 1] = '\0';
        for (cl_uint d = 0; d < nd && d < MAX_DEVICES; d++, index++) {
            char dname[128];
            dev_str(be, devs[d], CL_DEVICE_NAME, dname, sizeof dname);
            int match =
                !sel || !sel[0] ||
                (want >= 0 ? index == want : icontains(dname, sel) || icontains(pname, sel));
            if (match) {
                be->platform = plats[p];
                be->device = devs[d];
                return EHAL_STATUS_OK;
            }
        }
    }
    if (sel && sel[0]) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                     "opencl: device '%s' matches no OpenCL device (%ld found)", sel, index);
        return index ? EHAL_STATUS_NOT_FOUND : EHAL_STATUS_UNSUPPORTED;
    }
    ehal_sdk_log(be->host, EHAL_LOG_WARN,
                 "opencl: no OpenCL device on %u platform(s) (for PoCL, check POCL_CACHE_DIR)",
                 (unsigned)np);
    return EHAL_STATUS_UNSUPPORTED;
}

/* Reads the device's properties and decides the features to use. */
static void describe_device(ehal_backend_impl *be) {
    cl_device_id d = be->device;
    dev_str(be, d, CL_DEVICE_NAME, be->name, sizeof be->name);
    dev_str(be, d, CL_DRIVER_VERSION, be->driver, sizeof be->driver);
    be->cl.clGetPlatformInfo(be->platform, CL_PLATFORM_NAME, sizeof be->platform_name,
                             be->platform_name, NULL);
    be->platform_name[sizeof be->platform_name - 1] = '\0';
    be->cl.clGetPlatformInfo(be->platform, CL_PLATFORM_VERSION, sizeof be->platform_version,
                             be->platform_version, NULL);
    be->platform_version[sizeof be->platform_version - 1] = '\0';
    cl_device_type type = 0;
    cl_ulong gmem = 0, maxalloc = 0;
    cl_bool unified = CL_FALSE;
    size_t maxwg = 0;
    be->cl.clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    be->cl.clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gmem, &gmem, NULL);
    be->cl.clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof maxalloc, &maxalloc, NULL);
    be->cl.clGetDeviceInfo(d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
    be->cl.clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof maxwg, &maxwg, NULL);
    /* A CPU-type OpenCL device (PoCL) is reported OTHER: it is not the
     * native CPU backend, and the partitioner should not treat it as one. */
    be->kind = (type & CL_DEVICE_TYPE_GPU) ? EHAL_DEVICE_GPU : EHAL_DEVICE_OTHER;
    be->global_mem = gmem;
    be->max_alloc = maxalloc;
    be->host_unified = unified == CL_TRUE;
    be->max_wg = maxwg;
    cl_ulong lmem = 0;
    be->cl.clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lmem, &lmem, NULL);
    be->local_mem = lmem;
    be->tile = (maxwg >= 256 && lmem >= CL_GEMM_LOCAL_BYTES(16u)) ? 16u : 8u;

    size_t ext_len = 0;
    be->cl.clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_len);
    char *ext = ehal_sdk_calloc(be->host, ext_len + 1, 1);
    if (ext) {
        be->cl.clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, ext_len, ext, NULL);
    }
    const char *e = ext ? ext : "";
    uint32_t have = 0;
    have |= strstr(e, "cl_khr_fp16") ? CL_FEAT_FP16 : 0u;
    have |=
        (strstr(e, "cl_khr_subgroups") || strstr(e, "cl_intel_subgroups")) ? CL_FEAT_SUBGROUPS : 0u;
    have |=
        (strstr(e, "cl_khr_integer_dot_product") || strstr(e, "cl_arm_integer_dot_product_int8"))
            ? CL_FEAT_DOT8
            : 0u;
    /* Testing aid: claim a feature the driver implements without
     * advertising it (e.g. PoCL's CPU device and sub_group_* builtins). */
    const char *force = getenv("EHAL_OPENCL_FORCE");
    if (force && strstr(force, "subgroups")) {
        have |= CL_FEAT_SUBGROUPS;
    }
    uint32_t off = ocl_disabled_features(be->host);
    be->features = have & ~off;
    char clc[64];
    dev_str(be, d, CL_DEVICE_OPENCL_C_VERSION, clc, sizeof clc);
    ehal_sdk_log(be->host, EHAL_LOG_INFO,
                 "opencl: %s on %s (%s), %s; cl_khr_fp16 %s, subgroups %s, int8 dot %s%s", be->name,
                 be->platform_name, be->driver, clc, (have & CL_FEAT_FP16) ? "yes" : "no",
                 (have & CL_FEAT_SUBGROUPS) ? "yes" : "no", (have & CL_FEAT_DOT8) ? "yes" : "no",
                 off ? " (some disabled by EHAL_OPENCL_DISABLE)" : "");
    snprintf(be->build_options, sizeof be->build_options,
             "-cl-std=CL1.2 -cl-fp32-correctly-rounded-divide-sqrt -DEHAL_TILE=%u%s%s%s%s", be->tile,
             (be->features & CL_FEAT_FP16) ? " -DEHAL_FP16" : "",
             (be->features & CL_FEAT_SUBGROUPS) ? " -DEHAL_SUBGROUPS" : "",
             (be->features & CL_FEAT_SUBGROUPS) && strstr(e, "cl_khr_subgroups")
                 ? " -DEHAL_SUBGROUPS_KHR"
                 : "",
             !(be->features & CL_FEAT_DOT8)                  ? ""
             : strstr(e, "cl_khr_integer_dot_product") ? " -DEHAL_DOT8_KHR"
                                                       : " -DEHAL_DOT8_ARM");
    ehal_sdk_free(be->host, ext);
}

ehal_status_t ocl_init(const ehal_host_services *host, const ehal_option *opts, uint32_t n_opts,
                       ehal_backend_impl **out) {
    if (!out) {
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    ehal_backend_impl *be = ehal_sdk_calloc(host, 1, sizeof *be);
    if (!be) {
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    be->magic = CL_BACKEND_MAGIC;
    be->host = host;
    for (uint32_t i = 0; i < n_opts; i++) {
        if (opts[i].key && strcmp(opts[i].key, "device") != 0) {
            ehal_sdk_log(host, EHAL_LOG_DEBUG, "opencl: ignoring option '%s'", opts[i].key);
        }
    }
    char why[256];
    if (ehal_cl_load(&be->cl, why, sizeof why) != 0) {
        ehal_sdk_log(host, EHAL_LOG_WARN, "opencl: %s", why);
        ehal_sdk_free(host, be);
        return EHAL_STATUS_UNSUPPORTED;
    }
    ocl_fix_pocl_cache_dir(host);
    const char *sel = ehal_sdk_option(opts, n_opts, "device");
    if (!sel) {
        sel = getenv("EHAL_OPENCL_DEVICE");
    }
    ehal_status_t st = select_device(be, sel);
    if (st != EHAL_STATUS_OK) {
        ocl_destroy(be);
        return st;
    }
    describe_device(be);
    cl_int err = CL_SUCCESS;
    be->ctx = be->cl.clCreateContext(NULL, 1, &be->device, NULL, NULL, &err);
    if (!be->ctx) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "opencl: clCreateContext on %s: %s", be->name,
                     ehal_cl_err(err));
        ocl_destroy(be);
        return EHAL_STATUS_UNSUPPORTED;
    }
    be->queue = be->cl.clCreateCommandQueue(be->ctx, be->device, 0, &err); /* in-order */
    if (!be->queue) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "opencl: clCreateCommandQueue on %s: %s", be->name,
                     ehal_cl_err(err));
        ocl_destroy(be);
        return EHAL_STATUS_UNSUPPORTED;
    }
    st = ocl_program_build(be);
    if (st != EHAL_STATUS_OK) {
        ocl_destroy(be);
        return st;
    }
    *out = be;
    return EHAL_STATUS_OK;
}

void ocl_destroy(ehal_backend_impl *be) {
    if (!ocl_backend_ok(be)) {
        return;
    }
    if (be->queue) {
        be->cl.clFinish(be->queue);
        be->cl.clReleaseCommandQueue(be->queue);
    }
    if (be->program) {
        be->cl.clReleaseProgram(be->program);
    }
    if (be->ctx) {
        be->cl.clReleaseContext(be->ctx);
    }
    /* The ICD loader stays loaded: drivers (PoCL) keep threads that may
     * still reference it after the last release. */
    be->magic = 0;
    ehal_sdk_free(be->host, be);
}

ehal_status_t ocl_device_info(ehal_backend_impl *be, ehal_device_info *info) {
    if (!ocl_backend_ok(be) || !info || info->struct_size < offsetof(ehal_device_info, name)) {
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    ehal_device_info d;
    memset(&d, 0, sizeof d);
    d.struct_size = info->struct_size;
    d.kind = be->kind;
    d.flags = EHAL_DEVICE_ASYNC | (be->host_unified ? EHAL_DEVICE_HOST_SHARED : 0u);
    snprintf(d.name, sizeof d.name, "%s", be->name);
    snprintf(d.driver, sizeof d.driver, "%s", be->driver);
    d.memory_bytes = be->global_mem;
    d.max_buffer_bytes = be->max_alloc;
    d.link_bytes_per_s = be->host_unified ? 20000000000ull : 8000000000ull;
    d.dispatch_overhead_ns = be->kind == EHAL_DEVICE_GPU ? 20000u : 50000u;
    size_t n = info->struct_size < sizeof d ? info->struct_size : sizeof d;
    memcpy(info, &d, n);
    return EHAL_STATUS_OK;
}
