/*
 * prepare / execute / wait / release. prepare validates, deep-copies the
 * subgraph and creates one kernel per node with its arguments set once;
 * execute enqueues them all on the in-order queue (which orders node after
 * node), keeps the event of the last and flushes; wait blocks on it.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "cl_internal.h"

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int exe_ok(const ehal_backend_impl *be, const ehal_executable_impl *exe) {
    return exe && exe->magic == CL_EXE_MAGIC && exe->owner == be;
}

/* Every tensor has a live buffer of this backend and fits inside it. */
static ehal_status_t check_tensors(ehal_backend_impl *be, const ehal_subgraph *sg) {
    for (uint32_t i = 0; i < sg->n_tensors; i++) {
        const ehal_tensor_desc *t = sg->tensors[i];
        if (!t) {
            continue;
        }
        const ehal_buffer_impl *b = t->buffer;
        if (!b || b->magic != CL_BUFFER_MAGIC || b->owner != be) {
            ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                         "opencl: prepare: tensor %" PRIu32 " has no buffer of this backend", i);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
        uint64_t nb = ehal_tensor_nbytes(t);
        if (t->offset > b->size || nb > b->size - t->offset) {
            ehal_sdk_log(be->host, EHAL_LOG_ERROR,
                         "opencl: prepare: tensor %" PRIu32 " [%" PRIu64 ", +%" PRIu64
                         ") outside its buffer of %" PRIu64 " bytes",
                         i, t->offset, nb, b->size);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
    }
    return EHAL_STATUS_OK;
}

ehal_status_t ocl_prepare(ehal_backend_impl *be, const ehal_subgraph *sg,
                          ehal_executable_impl **out) {
    if (!ocl_backend_ok(be) || !sg || !out) {
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = NULL;
    for (uint32_t k = 0; k < sg->n_nodes; k++) {
        char why[256];
        ehal_status_t st = ehal_op_validate(sg, k, why, sizeof why);
        if (st != EHAL_STATUS_OK) {
            ehal_sdk_log(be->host, EHAL_LOG_ERROR, "opencl: prepare: %s", why);
            return st;
        }
        if (!ocl_op_supported(be, sg, k, why, sizeof why)) {
            ehal_sdk_log(be->host, EHAL_LOG_ERROR, "opencl: prepare: node %" PRIu32 ": %s", k, why);
            return EHAL_STATUS_UNSUPPORTED;
        }
    }
    ehal_status_t st = check_tensors(be, sg);
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    ehal_executable_impl *exe = ehal_sdk_calloc(be->host, 1, sizeof *exe);
    if (!exe) {
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    exe->magic = CL_EXE_MAGIC;
    exe->owner = be;
    exe->status = EHAL_STATUS_OK;
    st = ehal_sdk_graph_copy(be->host, sg, &exe->graph);
    if (st == EHAL_STATUS_OK && sg->n_nodes) {
        exe->launches = ehal_sdk_calloc(be->host, sg->n_nodes, sizeof *exe->launches);
        st = exe->launches ? EHAL_STATUS_OK : EHAL_STATUS_OUT_OF_MEMORY;
    }
    const ehal_subgraph *view = st == EHAL_STATUS_OK ? ehal_sdk_graph_view(exe->graph) : NULL;
    for (uint32_t k = 0; st == EHAL_STATUS_OK && k < sg->n_nodes; k++) {
        st = ocl_op_setup(be, view, k, &exe->launches[k]);
        exe->n_launches = k + 1; /* so release frees a partly made kernel */
    }
    if (st != EHAL_STATUS_OK) {
        ocl_release(be, exe);
        return st;
    }
    *out = exe;
    return EHAL_STATUS_OK;
}

ehal_status_t ocl_execute(ehal_backend_impl *be, ehal_executable_impl *exe,
                          const ehal_execute_args *args) {
    (void)args;
    if (!ocl_backend_ok(be) || !exe_ok(be, exe)) {
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    if (exe->last) {
        be->cl.clReleaseEvent(exe->last);
        exe->last = NULL;
    }
    exe->status = EHAL_STATUS_OK;
    for (uint32_t k = 0; k < exe->n_launches; k++) {
        const ocl_launch *l = &exe->launches[k];
        int is_last = k + 1 == exe->n_launches;
        cl_int err = CL_SUCCESS;
        if (l->pre) { /* the in-order queue runs it before l->kernel */
            err = be->cl.clEnqueueNDRangeKernel(be->queue, l->pre, 1, NULL, &l->pre_global, NULL,
                                                0, NULL, NULL);
        }
        if (err == CL_SUCCESS) {
            err = be->cl.clEnqueueNDRangeKernel(be->queue, l->kernel, l->dims, NULL, l->global,
                                                l->local[0] ? l->local : NULL, 0, NULL,
                                                is_last ? &exe->last : NULL);
        }
        if (err != CL_SUCCESS) {
            ehal_sdk_log(be->host, EHAL_LOG_ERROR, "opencl: execute: node %" PRIu32 " (%s): %s", k,
                         ehal_op_name(ehal_sdk_graph_view(exe->graph)->nodes[k]->op),
                         ehal_cl_err(err));
            exe->status = err == CL_OUT_OF_RESOURCES || err == CL_MEM_OBJECT_ALLOCATION_FAILURE
                              ? EHAL_STATUS_OUT_OF_MEMORY
                              : EHAL_STATUS_INTERNAL;
            be->cl.clFinish(be->queue);
            return exe->status;
        }
    }
    be->cl.clFlush(be->queue);
    return EHAL_STATUS_OK;
}

ehal_status_t ocl_wait(ehal_backend_impl *be, ehal_executable_impl *exe, uint64_t timeout_ns) {
    if (!ocl_backend_ok(be) || !exe_ok(be, exe)) {
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    if (!exe->last || exe->status != EHAL_STATUS_OK) {
        return exe->status;
    }
    cl_int ev = CL_QUEUED;
    if (timeout_ns == UINT64_MAX) {
        cl_int err = be->cl.clWaitForEvents(1, &exe->last);
        if (err != CL_SUCCESS) {
            be->cl.clGetEventInfo(exe->last, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof ev, &ev,
                                  NULL);
            ehal_sdk_log(be->host, EHAL_LOG_ERROR, "opencl: wait: %s (event status %d)",
                         ehal_cl_err(err), (int)ev);
            exe->status = EHAL_STATUS_DEVICE_LOST;
        }
    } else {
        uint64_t deadline = now_ns() + timeout_ns;
        for (;;) {
            if (be->cl.clGetEventInfo(exe->last, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof ev, &ev,
                                      NULL) != CL_SUCCESS) {
                ev = -1;
            }
            if (ev <= CL_COMPLETE) {
                break;
            }
            if (now_ns() >= deadline) {
                return EHAL_STATUS_TIMEOUT;
            }
            struct timespec ts = {0, 50000}; /* 50 us */
            nanosleep(&ts, NULL);
        }
        if (ev < 0) {
            ehal_sdk_log(be->host, EHAL_LOG_ERROR, "opencl: wait: execution failed (status %d)",
                         (int)ev);
            exe->status = EHAL_STATUS_DEVICE_LOST;
        }
    }
    return exe->status;
}

void ocl_release(ehal_backend_impl *be, ehal_executable_impl *exe) {
    if (!ocl_backend_ok(be) || !exe_ok(be, exe)) {
        return;
    }
    be->cl.clFinish(be->queue);
    if (exe->last) {
        be->cl.clReleaseEvent(exe->last);
    }
    for (uint32_t k = 0; k < exe->n_launches; k++) {
        if (exe->launches[k].kernel) {
            be->cl.clReleaseKernel(exe->launches[k].kernel);
        }
        if (exe->launches[k].pre) {
            be->cl.clReleaseKernel(exe->launches[k].pre);
        }
        if (exe->launches[k].owned) {
            be->cl.clReleaseMemObject(exe->launches[k].owned);
        }
    }
    ehal_sdk_free(be->host, exe->launches);
    ehal_sdk_graph_free(be->host, exe->graph);
    exe->magic = 0;
    ehal_sdk_free(be->host, exe);
}
