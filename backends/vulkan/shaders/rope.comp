#version 450
/* ROPE, one invocation per output element. u: 0 D, 1 H, 2 T, 3 n_rot,
 * 4 mode (0 normal, 1 neox); f: 0 freq_base, 1 freq_scale.
 * theta_i = pos * freq_scale * freq_base^(-2i/n_rot). */
#include "common.glsl"
layout(local_size_x = 256) in;
DECL_BUF(0)
DECL_BUF(1)
DECL_BUF(4)

void main() {
    uint idx = linear_group_id() * 256u + gl_LocalInvocationID.x;
    uint D = pc.u[0], H = pc.u[1], nrot = pc.u[3];
    if (idx >= D * H * pc.u[2]) return;
    uint d = idx % D;
    uint t = idx / (D * H);
    uint xo = (pc.off[0] >> 2) + idx - d;
    float y;
    if (d >= nrot) {
        y = bf0.d[xo + d];
    } else {
        uint half_ = nrot / 2u;
        uint i, i0, i1;
        bool first;
        if (pc.u[4] == 0u) {
            i = d / 2u; i0 = 2u * i; i1 = i0 + 1u; first = (d & 1u) == 0u;
        } else {
            i = d % half_; i0 = i; i1 = i + half_; first = d < half_;
        }
        float p = float(bi1.d[(pc.off[1] >> 2) + t]);
        float theta = p * pc.f[1] * pow(pc.f[0], -2.0 * float(i) / float(nrot));
        float c = cos(theta), s = sin(theta);
        float x0 = bf0.d[xo + i0], x1 = bf0.d[xo + i1];
        y = first ? x0 * c - x1 * s : x0 * s + x1 * c;
    }
    bf4.d[(pc.off[4] >> 2) + idx] = y;
}
