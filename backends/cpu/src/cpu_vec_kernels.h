/*
 * The pool-aware element-wise op kernels (and COPY) over the row primitives of
 * cpu_vec.h (cpu_ops_elem.c): one entry point per (op, ISA table), listed
 * as variants in cpu_kernels.c. Each covers what the reference covers and
 * returns EHAL_STATUS_UNSUPPORTED, having written nothing, for an instance
 * the reference would reject (a row id or position out of range, bad ROPE
 * params) or one it does not handle, so the reference kernel runs and
 * reports it.
 */
#ifndef EHAL_CPU_VEC_KERNELS_H
#define EHAL_CPU_VEC_KERNELS_H

#include "cpu_internal.h"
#include "cpu_vec.h"

/* X(op name, function stem) for every op with a vectorized kernel. */
#define CPU_VEC_OP_LIST(X)                                                                   \
    X(RMS_NORM, rms_norm)                                                                    \
    X(ROPE, rope)                                                                            \
    X(ADD, add)                                                                              \
    X(MUL, mul)                                                                              \
    X(SWIGLU, swiglu)                                                                        \
    X(SOFTMAX, softmax)                                                                      \
    X(GET_ROWS, get_rows)                                                                    \
    X(KV_WRITE, kv_write)                                                                    \
    X(COPY, copy)

#define CPU_VEC_DECL_(N, stem, isa)                                                          \
    ehal_status_t cpu_op_##stem##__##isa(ehal_backend_impl *be, const ehal_kernel_args *a);
#define CPU_VEC_DECL_SCALAR(N, stem) CPU_VEC_DECL_(N, stem, scalar)
CPU_VEC_OP_LIST(CPU_VEC_DECL_SCALAR)
#if defined(__x86_64__) || defined(__i386__)
#define CPU_VEC_DECL_AVX2(N, stem) CPU_VEC_DECL_(N, stem, avx2)
CPU_VEC_OP_LIST(CPU_VEC_DECL_AVX2)
#endif
#if defined(__aarch64__)
#define CPU_VEC_DECL_NEON(N, stem) CPU_VEC_DECL_(N, stem, neon)
CPU_VEC_OP_LIST(CPU_VEC_DECL_NEON)
#endif

/* The same kernels with an explicit table (tests run every table). */
#define CPU_VEC_DECL_ANY(N, stem)                                                            \
    ehal_status_t cpu_vec_op_##stem(const cpu_vec_ops *V, ehal_backend_impl *be,             \
                                    const ehal_kernel_args *a);
CPU_VEC_OP_LIST(CPU_VEC_DECL_ANY)

#endif
