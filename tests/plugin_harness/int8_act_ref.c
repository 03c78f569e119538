/* The int8-activation MATMUL model of int8_act_ref.h. */
#include "int8_act_ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "edgehal/ops.h"
#include "edgehal/quant.h"

int ia_matmul(uint32_t wdt, const void *w, int64_t K, int64_t N, const float *x, int64_t T,
              double *y) {
    if ((wdt != EHAL_DTYPE_Q8_0 && wdt != EHAL_DTYPE_Q4_0) || K % 32 != 0) {
        return -1;
    }
    int64_t nb = K / 32;
    size_t rowb = (size_t)ehal_row_bytes(wdt, K);
    ehal_block_q8_0 *xq = malloc((size_t)nb * sizeof *xq);
    if (!xq) {
        return -1;
    }
    for (int64_t t = 0; t < T; t++) {
        ehal_quantize_row_q8_0(x + t * K, xq, K);
        for (int64_t n = 0; n < N; n++) {
            const uint8_t *row = (const uint8_t *)w + (size_t)n * rowb;
            double acc = 0.0;
            for (int64_t b = 0; b < nb; b++) {
                int32_t isum = 0;
                float dw;
                if (wdt == EHAL_DTYPE_Q8_0) {
                    const ehal_block_q8_0 *wb = (const ehal_block_q8_0 *)row + b;
                    dw = ehal_fp16_to_fp32(wb->d);
                    for (int j = 0; j < 32; j++) {
                        isum += (int32_t)wb->qs[j] * xq[b].qs[j];
                    }
                } else {
                    const ehal_block_q4_0 *wb = (const ehal_block_q4_0 *)row + b;
                    dw = ehal_fp16_to_fp32(wb->d);
                    for (int j = 0; j < 16; j++) {
                        isum += ((int32_t)(wb->qs[j] & 15) - 8) * xq[b].qs[j];
                        isum += ((int32_t)(wb->qs[j] >> 4) - 8) * xq[b].qs[j + 16];
                    }
                }
                acc += (double)dw * (double)ehal_fp16_to_fp32(xq[b].d) * (double)isum;
            }
            y[t * N + n] = acc;
        }
    }
    free(xq);
    return 0;
}

double ia_error(const float *dev, const double *model, int64_t n, double tol, const char *what) {
    double maxm = 1e-30, maxe = 0.0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        maxm = fmax(maxm, fabs(model[i]));
        double e = fabs((double)dev[i] - model[i]);
        if (!(e <= maxe)) {
            maxe = isnan(e) ? INFINITY : e;
            at = i;
        }
    }
    double rel = maxe / maxm;
    if (!(rel <= tol)) {
        printf("%s: int8-activation model: normalized max error %.3g > %.3g at element %lld "
               "(device %.9g, model %.9g)\n",
               what, rel, tol, (long long)at, (double)dev[at], model[at]);
    }
    return rel;
}

void ia_half_steps(float *x, int64_t K, int64_t T) {
    for (int64_t t = 0; t < T; t++) {
        float *xr = x + t * K;
        xr[0] = 127.0f;
        for (int j = 1; j < 32; j++) {
            xr[j] = (float)((j % 9) - 4) + ((j & 1) ? 0.5f : -0.5f);
        }
    }
}
