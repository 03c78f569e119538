/* OpenCL entry points, fetched at run time from the ICD loader
 * (libOpenCL.so.1) with dlsym: nothing links against OpenCL, so the plugin
 * loads where OpenCL is absent and init reports UNSUPPORTED. */
#ifndef EHAL_CL_LOADER_H
#define EHAL_CL_LOADER_H
#include <stddef.h>

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#define EHAL_CL_FNS(X)                                                                           \
    X(clGetPlatformIDs)                                                                          \
    X(clGetPlatformInfo)                                                                         \
    X(clGetDeviceIDs)                                                                            \
    X(clGetDeviceInfo) X(clCreateContext) X(clReleaseContext) X(clCreateCommandQueue)            \
        X(clReleaseCommandQueue) X(clCreateBuffer) X(clReleaseMemObject) X(clEnqueueWriteBuffer) \
            X(clEnqueueReadBuffer) X(clEnqueueMapBuffer) X(clEnqueueUnmapMemObject)              \
                X(clCreateProgramWithSource) X(clCreateProgramWithBinary) X(clBuildProgram)      \
                    X(clGetProgramInfo) X(clGetProgramBuildInfo) X(clReleaseProgram)             \
                        X(clCreateKernel) X(clReleaseKernel) X(clSetKernelArg)                   \
                            X(clGetKernelWorkGroupInfo) X(clEnqueueNDRangeKernel) X(clFlush)     \
                                X(clFinish) X(clWaitForEvents) X(clGetEventInfo) X(clReleaseEvent)

typedef struct ehal_cl_fns {
    void *lib; /* dlopen handle */
#define EHAL_CL_FN_FIELD(name) __typeof__(&name) name;
    EHAL_CL_FNS(EHAL_CL_FN_FIELD)
#undef EHAL_CL_FN_FIELD
} ehal_cl_fns;

/* 0 on success; else writes a one-line reason into why. */
int ehal_cl_load(ehal_cl_fns *f, char *why, size_t why_size);
void ehal_cl_unload(ehal_cl_fns *f);
/* "CL_OUT_OF_RESOURCES"-style name of an OpenCL error code. */
const char *ehal_cl_err(cl_int err);
#endif
