#version 450
/* SOFTMAX along D of scale*x, one workgroup per row. u: 0 D, 1 rows;
 * f: 0 scale. */
#include "common.glsl"
layout(local_size_x = 128) in;
DECL_BUF(0)
DECL_BUF(4)
shared float red[128];

void main() {
    uint r = linear_group_id();
    uint D = pc.u[0];
    if (r >= pc.u[1]) return;
    uint tid = gl_LocalInvocationID.x;
    uint xo = (pc.off[0] >> 2) + r * D;
    uint yo = (pc.off[4] >> 2) + r * D;
    float sc = pc.f[0];
    float m = -3.402823466e38;
    for (uint i = tid; i < D; i += 128u) m = max(m, sc * bf0.d[xo + i]);
    red[tid] = m;
    barrier();
    for (uint k = 64u; k > 0u; k >>= 1u) {
        if (tid < k) red[tid] = max(red[tid], red[tid + k]);
        barrier();
    }
    m = red[0];
    barrier();
    float s = 0.0;
    for (uint i = tid; i < D; i += 128u) {
        float e = exp(sc * bf0.d[xo + i] - m);
        bf4.d[yo + i] = e;
        s += e;
    }
    red[tid] = s;
    barrier();
    for (uint k = 64u; k > 0u; k >>= 1u) {
        if (tid < k) red[tid] += red[tid + k];
        barrier();
    }
    float inv = 1.0 / red[0];
    for (uint i = tid; i < D; i += 128u) bf4.d[yo + i] = bf4.d[yo + i] * inv;
}
