#version 450
/* ROPE, one invocation per output element. u: 0 D, 1 H, 2 T, 3 n_rot,
 * 4 mode (0 normal, 1 neox). Binding 2 (host-computed, see vk_ops.c):
 * g_i = freq_scale * freq_base^(-2i/n_rot) as float pairs (hi, lo).
 * theta_i = pos * g_i is formed exactly as a two-float product (Dekker,
 * no reliance on a fused fma) and reduced mod 2*pi before cos/sin, so the
 * error stays ~1e-7 absolute even at positions of several thousand. */
#include "common.glsl"
layout(local_size_x = 256) in;
DECL_BUF(0)
DECL_BUF(1)
DECL_BUF(2)
DECL_BUF(4)

void split(float a, out float hi, out float lo) {
    precise float c = 4097.0 * a;
    precise float h = c - (c - a);
    hi = h;
    lo = a - h;
}

/* a * b = p + e exactly (barring overflow/underflow). */
void two_prod(float a, float b, out float p, out float e) {
    precise float pp = a * b;
    float ah, al, bh, bl;
    split(a, ah, al);
    split(b, bh, bl);
    precise float err = ((ah * bh - pp) + ah * bl + al * bh) + al * bl;
    p = pp;
    e = err;
}

/* pos * (ghi + glo) mod 2*pi, in [-pi, pi] (approximately). */
float reduced_angle(float pos, float ghi, float glo) {
    const float TWO_PI_HI = 6.28318548202514648;     /* float(2*pi) */
    const float TWO_PI_LO = -1.74845553146951609e-7; /* 2*pi - TWO_PI_HI */
    float thi, tlo;
    two_prod(pos, ghi, thi, tlo);
    precise float tl = tlo + pos * glo;
    float k = floor(thi * 0.159154943091895336 + 0.5);
    float phi, plo;
    two_prod(k, TWO_PI_HI, phi, plo);
    precise float r = ((thi - phi) - plo) + (tl - k * TWO_PI_LO);
    return r;
}

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
        float theta = reduced_angle(p, bf2.d[2u * i], bf2.d[2u * i + 1u]);
        float c = cos(theta), s = sin(theta);
        float x0 = bf0.d[xo + i0], x1 = bf0.d[xo + i1];
        y = first ? x0 * c - x1 * s : x0 * s + x1 * c;
    }
    bf4.d[(pc.off[4] >> 2) + idx] = y;
}
