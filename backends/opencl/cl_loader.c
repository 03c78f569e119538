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
#define EHAL_CL_FN_LOAD(name)                                          \
    {                                                                  \
        void *sym = dlsym(f->lib, #name);                              \
        if (!sym) {                                                    \
            snprintf(why, why_size, "libOpenCL.so.1 lacks %s", #name); \
            ehal_cl_unload(f);                                         \
            return -1;                                                 \
        }                                                              \
        memcpy(&f->name, &sym, sizeof sym);                            \
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

// clang-format off
#define EHAL_CL_ERRORS(X)                                                              \
    X(CL_SUCCESS) X(CL_DEVICE_NOT_FOUND) X(CL_DEVICE_NOT_AVAILABLE)                    \
    X(CL_COMPILER_NOT_AVAILABLE) X(CL_MEM_OBJECT_ALLOCATION_FAILURE)                   \
    X(CL_OUT_OF_RESOURCES) X(CL_OUT_OF_HOST_MEMORY) X(CL_BUILD_PROGRAM_FAILURE)        \
    X(CL_INVALID_VALUE) X(CL_INVALID_DEVICE) X(CL_INVALID_BINARY)                      \
    X(CL_INVALID_BUILD_OPTIONS) X(CL_INVALID_PROGRAM) X(CL_INVALID_KERNEL_NAME)        \
    X(CL_INVALID_KERNEL_ARGS) X(CL_INVALID_ARG_INDEX) X(CL_INVALID_ARG_VALUE)          \
    X(CL_INVALID_ARG_SIZE) X(CL_INVALID_WORK_GROUP_SIZE) X(CL_INVALID_WORK_ITEM_SIZE)  \
    X(CL_INVALID_GLOBAL_WORK_SIZE) X(CL_INVALID_BUFFER_SIZE) X(CL_INVALID_MEM_OBJECT)  \
    X(CL_INVALID_COMMAND_QUEUE) X(CL_INVALID_CONTEXT) X(CL_INVALID_EVENT)              \
    X(CL_MISALIGNED_SUB_BUFFER_OFFSET) X(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST) \
    X(CL_INVALID_OPERATION)
// clang-format on

typedef struct ocl_err_name {
    cl_int code;
    const char *name;
} ocl_err_name;

#define EHAL_CL_ERR_ROW(c) {c, #c},
static const ocl_err_name k_err_names[] = {
    EHAL_CL_ERRORS(EHAL_CL_ERR_ROW){-1001, "CL_PLATFORM_NOT_FOUND_KHR"}, /* cl_ext.h */
};
#undef EHAL_CL_ERR_ROW

const char *ehal_cl_err(cl_int err) {
    for (size_t i = 0; i < sizeof k_err_names / sizeof k_err_names[0]; i++) {
        if (k_err_names[i].code == err) {
            return k_err_names[i].name;
        }
    }
    return "CL_ERROR(unknown)";
}
