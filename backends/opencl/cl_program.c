/*
 * The kernel program: built from the embedded source with the device's
 * feature defines, its binary cached on disk per user. Cache key: FNV-1a
 * 64 of device name, driver version, platform version, source and build
 * options. Cache dir: EHAL_OPENCL_CACHE_DIR, else
 * $XDG_CACHE_HOME/edgehal/opencl, else ~/.cache/edgehal/opencl. An
 * unwritable dir means "build every time" (DEBUG log); a file whose
 * header, size or checksum is wrong, or that the driver rejects, is
 * ignored and replaced.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cl_internal.h"

const char *const ehal_cl_kernel_names[CLK_COUNT_] = {
    [CLK_ELTWISE] = "ehal_eltwise",   [CLK_COPY] = "ehal_copy",
    [CLK_GET_ROWS] = "ehal_get_rows", [CLK_RMS_NORM] = "ehal_rms_norm",
    [CLK_SOFTMAX] = "ehal_softmax",   [CLK_ROPE] = "ehal_rope",
    [CLK_GEMV] = "ehal_matmul_gemv",  [CLK_GEMM] = "ehal_matmul_gemm",
    [CLK_GEMV_Q] = "ehal_matmul_gemv_q", [CLK_GEMM_Q] = "ehal_matmul_gemm_q",
    [CLK_QUANT_ACT] = "ehal_quantize_act_q8_0",
    [CLK_KV_WRITE] = "ehal_kv_write", [CLK_ATTENTION] = "ehal_attention",
};

#define CACHE_MAGIC "EHCLBIN1"

typedef struct cache_header {
    char magic[8];
    uint64_t key;
    uint64_t size;     /* payload bytes */
    uint64_t checksum; /* FNV-1a 64 of the payload */
} cache_header;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s) {
    return fnv(h, s, strlen(s) + 1);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int mkdir_p(const char *path) {
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
    return access(tmp, W_OK | X_OK) == 0 ? 0 : -1;
}

/* The cache file path for key, or "" when there is no usable cache dir. */
static void cache_path(const ehal_backend_impl *be, uint64_t key, char *out, size_t size) {
    char dir[900];
    const char *env = getenv("EHAL_OPENCL_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    out[0] = '\0';
    if (env && env[0]) {
        snprintf(dir, sizeof dir, "%s", env);
    } else if (xdg && xdg[0]) {
        snprintf(dir, sizeof dir, "%s/edgehal/opencl", xdg);
    } else if (home && home[0]) {
        snprintf(dir, sizeof dir, "%s/.cache/edgehal/opencl", home);
    } else {
        ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "opencl: program cache off: no cache dir");
        return;
    }
    if (mkdir_p(dir) != 0) {
        ehal_sdk_log(be->host, EHAL_LOG_DEBUG,
                     "opencl: program cache off: '%s' is not a writable directory", dir);
        return;
    }
    snprintf(out, size, "%s/%016llx.bin", dir, (unsigned long long)key);
}

/* Reads a cache file's payload; NULL if absent or corrupt (logged). */
static unsigned char *cache_read(const ehal_backend_impl *be, const char *path, uint64_t key,
                                 size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    cache_header h;
    unsigned char *data = NULL;
    int ok = fread(&h, sizeof h, 1, f) == 1 && memcmp(h.magic, CACHE_MAGIC, 8) == 0 &&
             h.key == key && h.size > 0 && h.size < (1ull << 30);
    if (ok) {
        data = ehal_sdk_alloc(be->host, (size_t)h.size);
        ok = data && fread(data, 1, (size_t)h.size, f) == h.size && fgetc(f) == EOF &&
             fnv(14695981039346656037ull, data, (size_t)h.size) == h.checksum;
    }
    fclose(f);
    if (!ok) {
        ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "opencl: program cache file %s is corrupt; ignored",
                     path);
        ehal_sdk_free(be->host, data);
        return NULL;
    }
    *size = (size_t)h.size;
    return data;
}

static void cache_write(const ehal_backend_impl *be, const char *path, uint64_t key,
                        const unsigned char *data, size_t size) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "opencl: cannot write program cache %s", tmp);
        return;
    }
    cache_header h;
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.key = key;
    h.size = size;
    h.checksum = fnv(14695981039346656037ull, data, size);
    int ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(data, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "opencl: cannot write program cache %s", path);
        return;
    }
    ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "opencl: program cache stored %s", path);
}

static cl_int build(ehal_backend_impl *be, cl_program prog, const char *opts) {
    cl_int err = be->cl.clBuildProgram(prog, 1, &be->device, opts, NULL, NULL);
    if (err != CL_SUCCESS) {
        size_t n = 0;
        be->cl.clGetProgramBuildInfo(prog, be->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
        char *log = ehal_sdk_calloc(be->host, n + 1, 1);
        if (log) {
            be->cl.clGetProgramBuildInfo(prog, be->device, CL_PROGRAM_BUILD_LOG, n, log, NULL);
            ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "opencl: build log (%s):\n%s", opts, log);
        }
        ehal_sdk_free(be->host, log);
    }
    return err;
}

/* Builds from source with be->build_options; on failure with optional
 * features on, retries with them all off (a driver that advertises an
 * extension it cannot compile must not cost the whole backend). */
static cl_program build_from_source(ehal_backend_impl *be) {
    const char *src = ehal_cl_kernel_source;
    cl_int err = CL_SUCCESS;
    cl_program prog = be->cl.clCreateProgramWithSource(be->ctx, 1, &src, NULL, &err);
    if (!prog) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "opencl: clCreateProgramWithSource: %s",
                     ehal_cl_err(err));
        return NULL;
    }
    double t0 = now_ms();
    err = build(be, prog, be->build_options);
    if (err != CL_SUCCESS && be->features) {
        ehal_sdk_log(
            be->host, EHAL_LOG_WARN,
            "opencl: kernel build with '%s' failed (%s); retrying without optional features",
            be->build_options, ehal_cl_err(err));
        be->features = 0;
        snprintf(be->build_options, sizeof be->build_options,
                 "-cl-std=CL1.2 -cl-fp32-correctly-rounded-divide-sqrt -DEHAL_TILE=%u", be->tile);
        be->cl.clReleaseProgram(prog);
        prog = be->cl.clCreateProgramWithSource(be->ctx, 1, &src, NULL, &err);
        err = prog ? build(be, prog, be->build_options) : err;
    }
    if (err != CL_SUCCESS) {
        ehal_sdk_log(be->host, EHAL_LOG_ERROR, "opencl: kernel build on %s failed: %s", be->name,
                     ehal_cl_err(err));
        if (prog) {
            be->cl.clReleaseProgram(prog);
        }
        return NULL;
    }
    ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "opencl: program built from source in %.0f ms (%s)",
                 now_ms() - t0, be->build_options);
    return prog;
}

static cl_program build_from_binary(ehal_backend_impl *be, const unsigned char *bin, size_t n) {
    cl_int err = CL_SUCCESS, bst = CL_SUCCESS;
    cl_program prog =
        be->cl.clCreateProgramWithBinary(be->ctx, 1, &be->device, &n, &bin, &bst, &err);
    if (!prog || err != CL_SUCCESS || bst != CL_SUCCESS) {
        if (prog) {
            be->cl.clReleaseProgram(prog);
        }
        return NULL;
    }
    if (build(be, prog, be->build_options) != CL_SUCCESS) {
        be->cl.clReleaseProgram(prog);
        return NULL;
    }
    return prog;
}

static void store_binary(ehal_backend_impl *be, const char *path, uint64_t key) {
    size_t n = 0;
    if (be->cl.clGetProgramInfo(be->program, CL_PROGRAM_BINARY_SIZES, sizeof n, &n, NULL) !=
            CL_SUCCESS ||
        n == 0) {
        ehal_sdk_log(be->host, EHAL_LOG_DEBUG,
                     "opencl: driver gives no program binary; not cached");
        return;
    }
    unsigned char *bin = ehal_sdk_alloc(be->host, n);
    if (!bin) {
        return;
    }
    unsigned char *bins[1] = {bin};
    if (be->cl.clGetProgramInfo(be->program, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) ==
        CL_SUCCESS) {
        cache_write(be, path, key, bin, n);
    }
    ehal_sdk_free(be->host, bin);
}

ehal_status_t ocl_program_build(ehal_backend_impl *be) {
    uint64_t key = 14695981039346656037ull;
    key = fnv_str(key, be->name);
    key = fnv_str(key, be->driver);
    key = fnv_str(key, be->platform_version);
    key = fnv_str(key, ehal_cl_kernel_source);
    key = fnv_str(key, be->build_options);
    char path[1024];
    cache_path(be, key, path, sizeof path);
    if (path[0]) {
        size_t n = 0;
        unsigned char *bin = cache_read(be, path, key, &n);
        if (bin) {
            double t0 = now_ms();
            be->program = build_from_binary(be, bin, n);
            ehal_sdk_free(be->host, bin);
            if (be->program) {
                ehal_sdk_log(be->host, EHAL_LOG_DEBUG,
                             "opencl: program cache hit %s (loaded in %.0f ms)", path,
                             now_ms() - t0);
                return EHAL_STATUS_OK;
            }
            ehal_sdk_log(be->host, EHAL_LOG_DEBUG,
                         "opencl: program cache file %s rejected by the driver; rebuilding", path);
        } else {
            ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "opencl: program cache miss %s", path);
        }
    }
    be->program = build_from_source(be);
    if (!be->program) {
        return EHAL_STATUS_UNSUPPORTED;
    }
    if (path[0]) {
        /* The key was computed with the options first tried; a fallback
         * build changed them, so such a binary is not stored under it. */
        uint64_t k2 = 14695981039346656037ull;
        k2 = fnv_str(k2, be->name);
        k2 = fnv_str(k2, be->driver);
        k2 = fnv_str(k2, be->platform_version);
        k2 = fnv_str(k2, ehal_cl_kernel_source);
        k2 = fnv_str(k2, be->build_options);
        if (k2 == key) {
            store_binary(be, path, key);
        }
    }
    return EHAL_STATUS_OK;
}
