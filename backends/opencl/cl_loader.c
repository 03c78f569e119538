/* dlopen of the OpenCL ICD loader and the error-name table. */
#include "cl_loader.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int ehal_cl_load(ehal_cl_fns *f, char *why, size_t why_size) {
    memset(f, 0, sizeof *f);
    f->lib = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!f->lib) {
        f->lib = dlopen("libOpenCL.so", RTLD_NOW | RTLD_LOCAL);
    }
    if (!f->lib) {
        snprintf(why, why_size, "OpenCL ICD loader libOpenCL.so.1 not found (install ocl-icd)");
        return -1;
    }
#define EHAL_CL_FN_LOAD(name)                                                  \
    {                                                                          \
        void *sym = dlsym(f->lib, #name);                                      \
        if (!sym) {                                                            \
            snprintf(why, why_size, "libOpenCL.so.1 lacks %s", #name);         \
            ehal_cl_unload(f);                                                 \
            return -1;                                                         \
        }                                                                      \
        memcpy(&f->name, &sym, sizeof sym);                                    \
    }
    EHAL_CL_FNS(EHAL_CL_FN_LOAD)
#undef EHAL_CL_FN_LOAD
    return 0;
}

void ehal_cl_unload(ehal_cl_fns *f) {
    if (f->lib) {
        dlclose(f->lib);
    }
    memset(f, 0, sizeof *f);
}

const char *ehal_cl_err(cl_int err) {
    switch (err) {
#define E(c)                                                                   \
    case c:                                                                    \
        return #c;
        E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE)
        E(CL_COMPILER_NOT_AVAILABLE) E(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY) E(CL_BUILD_PROGRAM_FAILURE)
        E(CL_INVALID_VALUE) E(CL_INVALID_DEVICE) E(CL_INVALID_BINARY)
        E(CL_INVALID_BUILD_OPTIONS) E(CL_INVALID_PROGRAM) E(CL_INVALID_KERNEL_NAME)
        E(CL_INVALID_KERNEL_ARGS) E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE)
        E(CL_INVALID_ARG_SIZE) E(CL_INVALID_WORK_GROUP_SIZE) E(CL_INVALID_WORK_ITEM_SIZE)
        E(CL_INVALID_GLOBAL_WORK_SIZE) E(CL_INVALID_BUFFER_SIZE) E(CL_INVALID_MEM_OBJECT)
        E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_CONTEXT) E(CL_INVALID_EVENT)
        E(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST) E(CL_INVALID_OPERATION)
#undef E
    case -1001:
        return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
        return "CL_ERROR(unknown)";
    }
}
