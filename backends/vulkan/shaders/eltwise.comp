#version 450
/* ADD (u1=0), MUL (u1=1), SWIGLU (u1=2: silu(a)*b) over n = u0 floats. */
#include "common.glsl"
layout(local_size_x = 256) in;
DECL_BUF(0)
DECL_BUF(1)
DECL_BUF(4)

void main() {
    uint i = linear_group_id() * 256u + gl_LocalInvocationID.x;
    if (i >= pc.u[0]) return;
    float a = bf0.d[(pc.off[0] >> 2) + i];
    float b = bf1.d[(pc.off[1] >> 2) + i];
    float y;
    if (pc.u[1] == 0u) y = a + b;
    else if (pc.u[1] == 1u) y = a * b;
    else y = a / (1.0 + exp(-a)) * b;
    bf4.d[(pc.off[4] >> 2) + i] = y;
}
