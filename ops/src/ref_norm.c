/*
 * Reference RMS_NORM and SOFTMAX, row by row along ne[0], in double.
 */
#include <math.h>

#include "ops_internal.h"

ehal_status_t ehal_ref_RMS_NORM(const ehal_kernel_args *a) {
    ehal_status_t st = ehal_ops_kernel_check(a, 2);
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    ehal_params_rms_norm p;
    ehal_op_get_params(a->sg, a->node, &p, sizeof p);
    const int64_t D = a->in[0]->ne[0];
    const int64_t rows = ehal_tensor_nelements(a->in[0]) / D;
    const float *x = a->in_data[0];
    const float *w = a->in_data[1];
    float *y = a->out_data;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * D;
        double ss = 0.0;
        for (int64_t i = 0; i < D; i++) {
            ss += (double)xr[i] * (double)xr[i];
        }
        double inv = 1.0 / sqrt(ss / (double)D + (double)p.eps);
        for (int64_t i = 0; i < D; i++) {
            y[r * D + i] = (float)((double)xr[i] * inv * (double)w[i]);
        }
    }
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_ref_SOFTMAX(const ehal_kernel_args *a) {
    ehal_status_t st = ehal_ops_kernel_check(a, 1);
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    ehal_params_softmax p;
    ehal_op_get_params(a->sg, a->node, &p, sizeof p);
    const double scale = (double)p.scale;
    const int64_t D = a->in[0]->ne[0];
    const int64_t rows = ehal_tensor_nelements(a->in[0]) / D;
    const float *x = a->in_data[0];
    float *y = a->out_data;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * D;
        double m = -INFINITY;
        for (int64_t i = 0; i < D; i++) {
            double v = scale * (double)xr[i];
            if (v > m) {
                m = v;
            }
        }
        double sum = 0.0;
        for (int64_t i = 0; i < D; i++) {
            sum += exp(scale * (double)xr[i] - m);
        }
        for (int64_t i = 0; i < D; i++) {
            y[r * D + i] = (float)(exp(scale * (double)xr[i] - m) / sum);
        }
    }
    return EHAL_STATUS_OK;
}
