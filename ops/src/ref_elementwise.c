/*
 * Reference ADD, MUL, SWIGLU and COPY: element by element over the whole
 * dense tensor.
 */
#include <math.h>

#include "ops_internal.h"

typedef double (*binary_fn)(double a, double b);

static double f_add(double a, double b) { return a + b; }
static double f_mul(double a, double b) { return a * b; }
/* silu(g) * u, silu(g) = g / (1 + exp(-g)) */
static double f_swiglu(double g, double u) { return g / (1.0 + exp(-g)) * u; }

static ehal_status_t binary(const ehal_kernel_args *a, binary_fn f) {
    ehal_status_t st = ehal_ops_kernel_check(a, 2);
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    const int64_t n = ehal_tensor_nelements(a->in[0]);
    const float *x = a->in_data[0];
    const float *z = a->in_data[1];
    float *y = a->out_data;
    for (int64_t i = 0; i < n; i++) {
        y[i] = (float)f((double)x[i], (double)z[i]);
    }
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_ref_ADD(const ehal_kernel_args *a) { return binary(a, f_add); }

ehal_status_t ehal_ref_MUL(const ehal_kernel_args *a) { return binary(a, f_mul); }

ehal_status_t ehal_ref_SWIGLU(const ehal_kernel_args *a) { return binary(a, f_swiglu); }

/* Both tensors are dense and quantized ones have ne[0] % 32 == 0, so the
 * flat element order is block aligned on both sides: one long row. */
ehal_status_t ehal_ref_COPY(const ehal_kernel_args *a) {
    ehal_status_t st = ehal_ops_kernel_check(a, 1);
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    return ehal_convert_row(a->in[0]->dtype, a->in_data[0], a->out->dtype, a->out_data,
                            ehal_tensor_nelements(a->in[0]));
}
