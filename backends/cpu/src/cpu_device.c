/*
 * What the CPU backend says about its device (R10). The numbers feed the
 * partitioner's cost model: host memory is shared (no copies needed), a
 * host<->device "transfer" is a memcpy, and one execute costs little.
 */
#define _GNU_SOURCE /* _SC_PHYS_PAGES, uname */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cpu_internal.h"

#define CPU_LINK_BYTES_PER_S 20000000000ull /* memcpy-class, 20 GB/s */
#define CPU_DISPATCH_OVERHEAD_NS 1000ull    /* one synchronous call chain */

/* Trims leading/trailing blanks of s in place; returns the trimmed start. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* The first "model name" in /proc/cpuinfo (x86, some ARM kernels); 0 if
 * none. */
static int cpuinfo_model(char *name, size_t size)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        char *v = trim(colon + 1);
        if (v[0] != '\0') {
            snprintf(name, size, "%s", v);
            found = 1;
        }
    }
    fclose(f);
    return found;
}

static void device_name(char *name, size_t size)
{
    if (cpuinfo_model(name, size))
        return;
    struct utsname u;
    if (uname(&u) == 0 && u.machine[0] != '\0')
        snprintf(name, size, "%.48s CPU", u.machine);
    else
        snprintf(name, size, "CPU");
}

static uint64_t physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    long page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return 0; /* unknown */
    return (uint64_t)pages * (uint64_t)page;
}

ehal_status_t cpu_device_info(ehal_backend_impl *be, ehal_device_info *info)
{
    if (!cpu_backend_ok(be))
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
    d.kind = EHAL_DEVICE_CPU;
    d.flags = EHAL_DEVICE_HOST_SHARED;
    device_name(d.name, sizeof d.name);
    cpu_isa top = CPU_ISA_SCALAR;
    for (int i = 0; i < CPU_ISA_COUNT_; i++)
        if (cpu_isa_enabled((cpu_isa)i))
            top = (cpu_isa)i;
    snprintf(d.driver, sizeof d.driver, "edgehal-cpu (ABI %u, %s kernels)", EHAL_ABI_VERSION,
             cpu_isa_name(top));
    d.memory_bytes = physical_memory();
    d.max_buffer_bytes = 0; /* no limit beyond memory */
    d.link_bytes_per_s = CPU_LINK_BYTES_PER_S;
    d.dispatch_overhead_ns = CPU_DISPATCH_OVERHEAD_NS;

    /* Fill at most what the caller's struct holds; its struct_size then
     * says how much we filled (R1). */
    size_t n = info->struct_size < sizeof d ? info->struct_size : sizeof d;
    d.struct_size = (uint32_t)n;
    memcpy(info, &d, n);
    return EHAL_STATUS_OK;
}
