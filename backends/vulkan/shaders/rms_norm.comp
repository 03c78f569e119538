#version 450
/* RMS_NORM: y = x / sqrt(mean(x^2) + eps) * w, one workgroup per row.
 * u: 0 D, 1 rows; f: 0 eps. */
#include "common.glsl"
layout(local_size_x = 128) in;
DECL_BUF(0)
DECL_BUF(1)
DECL_BUF(4)
shared float red[128];

void main() {
    uint r = linear_group_id();
    uint D = pc.u[0];
    if (r >= pc.u[1]) return;
    uint tid = gl_LocalInvocationID.x;
    uint xo = (pc.off[0] >> 2) + r * D;
    float s = 0.0;
    for (uint i = tid; i < D; i += 128u) s += bf0.d[xo + i] * bf0.d[xo + i];
    red[tid] = s;
    barrier();
    for (uint k = 64u; k > 0u; k >>= 1u) {
        if (tid < k) red[tid] += red[tid + k];
        barrier();
    }
    float scale = 1.0 / sqrt(red[0] / float(D) + pc.f[0]);
    uint yo = (pc.off[4] >> 2) + r * D;
    for (uint i = tid; i < D; i += 128u) bf4.d[yo + i] = bf0.d[xo + i] * scale * bf1.d[(pc.off[1] >> 2) + i];
}
