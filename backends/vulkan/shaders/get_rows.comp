#version 450
/* GET_ROWS: out[t][d] = table[ids[t]][d]. u: 0 D, 1 T, 2 table dtype,
 * 3 table row bytes, 4 V (rows). An id outside [0, V) yields a zero row. */
#include "common.glsl"
layout(local_size_x = 256) in;
DECL_BUF(0)
DECL_BUF(1)
DECL_BUF(4)
DEF_LOAD(0)

void main() {
    uint idx = linear_group_id() * 256u + gl_LocalInvocationID.x;
    uint D = pc.u[0];
    if (idx >= D * pc.u[1]) return;
    uint t = idx / D;
    uint d = idx - t * D;
    int id = bi1.d[(pc.off[1] >> 2) + t];
    float v = 0.0;
    if (id >= 0 && uint(id) < pc.u[4]) v = ld_0(pc.u[2], pc.off[0] + uint(id) * pc.u[3], d);
    bf4.d[(pc.off[4] >> 2) + idx] = v;
}
