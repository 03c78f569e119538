/*
 * Reference ROPE. theta_i = pos * freq_scale * freq_base^(-2i/n_rot) for
 * pair i < n_rot/2, computed in double; dims >= n_rot are copied.
 */
#include <math.h>

#include "ops_internal.h"

ehal_status_t ehal_ref_ROPE(const ehal_kernel_args *a) {
    ehal_status_t st = ehal_ops_kernel_check(a, 2);
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    ehal_params_rope p;
    ehal_op_get_params(a->sg, a->node, &p, sizeof p);
    const int64_t D = a->in[0]->ne[0], H = a->in[0]->ne[1], T = a->in[0]->ne[2];
    const int64_t n_rot = p.n_rot;
    if (n_rot < 2 || n_rot > D || n_rot % 2 != 0 || p.mode > EHAL_ROPE_NEOX) {
        return EHAL_STATUS_INVALID_ARGUMENT; /* not validated */
    }
    const int32_t *pos = a->in_data[1];
    const float *x = a->in_data[0];
    float *y = a->out_data;
    const int64_t half = n_rot / 2;
    for (int64_t t = 0; t < T; t++) {
        for (int64_t h = 0; h < H; h++) {
            const float *xr = x + (t * H + h) * D;
            float *yr = y + (t * H + h) * D;
            for (int64_t i = 0; i < half; i++) {
                double theta = (double)pos[t] * (double)p.freq_scale *
                               pow((double)p.freq_base, -2.0 * (double)i / (double)n_rot);
                double c = cos(theta), s = sin(theta);
                int64_t i0 = p.mode == EHAL_ROPE_NEOX ? i : 2 * i;
                int64_t i1 = p.mode == EHAL_ROPE_NEOX ? i + half : 2 * i + 1;
                double x0 = xr[i0], x1 = xr[i1];
                yr[i0] = (float)(x0 * c - x1 * s);
                yr[i1] = (float)(x0 * s + x1 * c);
            }
            for (int64_t i = n_rot; i < D; i++) {
                yr[i] = xr[i];
            }
        }
    }
    return EHAL_STATUS_OK;
}
