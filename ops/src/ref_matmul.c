/*
 * Reference MATMUL and GET_ROWS. Weight rows are dequantized to float
 * exactly as quant.h defines; activations are never quantized, so the
 * result is the exact product up to double accumulation.
 */
#include <stdlib.h>

#include "ops_internal.h"

ehal_status_t ehal_ref_MATMUL(const ehal_kernel_args *a) {
    ehal_status_t st = ehal_ops_kernel_check(a, 2);
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    const ehal_tensor_desc *w = a->in[0];
    const int64_t K = w->ne[0], N = w->ne[1];
    const int64_t T = ehal_tensor_nelements(a->in[1]) / K;
    const float *x = a->in_data[1];
    float *y = a->out_data;
    float *wrow = malloc((size_t)K * sizeof *wrow); /* one dequantized weight row */
    if (!wrow) {
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    for (int64_t n = 0; n < N; n++) {
        st = ehal_convert_row(w->dtype, ehal_ops_row(w, a->in_data[0], n), EHAL_DTYPE_F32, wrow,
                              K);
        if (st != EHAL_STATUS_OK) {
            break;
        }
        for (int64_t t = 0; t < T; t++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) {
                acc += (double)wrow[k] * (double)x[t * K + k];
            }
            y[t * N + n] = (float)acc;
        }
    }
    free(wrow);
    return st;
}

ehal_status_t ehal_ref_GET_ROWS(const ehal_kernel_args *a) {
    ehal_status_t st = ehal_ops_kernel_check(a, 2);
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    const ehal_tensor_desc *table = a->in[0];
    const int64_t D = table->ne[0], V = table->ne[1];
    const int64_t T = a->in[1]->ne[0];
    const int32_t *ids = a->in_data[1];
    for (int64_t t = 0; t < T; t++) {
        if (ids[t] < 0 || ids[t] >= V) {
            return EHAL_STATUS_INVALID_ARGUMENT; /* row id outside the table */
        }
    }
    float *out = a->out_data;
    for (int64_t t = 0; t < T; t++) {
        st = ehal_convert_row(table->dtype, ehal_ops_row(table, a->in_data[0], ids[t]),
                              EHAL_DTYPE_F32, out + t * D, D);
        if (st != EHAL_STATUS_OK) {
            return st;
        }
    }
    return EHAL_STATUS_OK;
}
