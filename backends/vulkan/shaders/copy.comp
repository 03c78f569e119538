#version 450
/* COPY/CONVERT between F32/F16/Q8_0/Q4_0 (and I32 -> I32), row by row.
 * One invocation per destination value, or per destination block when the
 * destination is quantized. u: 0 ne0, 1 rows, 2 src dtype, 3 dst dtype,
 * 4 src row bytes, 5 dst row bytes. */
#include "common.glsl"
layout(local_size_x = 64) in;
DECL_BUF(0)
DECL_BUF(4)
DEF_LOAD(0)
#include "store.glsl"

void main() {
    uint idx = linear_group_id() * 64u + gl_LocalInvocationID.x;
    uint ne0 = pc.u[0], sdt = pc.u[2], ddt = pc.u[3];
    bool q = ddt == DT_Q8_0 || ddt == DT_Q4_0;
    uint units = q ? ne0 / 32u : ne0;
    if (idx >= units * pc.u[1]) return;
    uint r = idx / units;
    uint i = idx - r * units;
    uint srow = pc.off[0] + r * pc.u[4];
    uint drow = pc.off[4] + r * pc.u[5];
    if (sdt == DT_I32) {
        bu4.d[(drow >> 2) + i] = bu0.d[(srow >> 2) + i];
        return;
    }
    if (!q) {
        wr_elem(ddt, drow, i, ld_0(sdt, srow, i));
        return;
    }
    float v[32];
    for (uint j = 0u; j < 32u; j++) v[j] = ld_0(sdt, srow, i * 32u + j);
    if (ddt == DT_Q8_0) wr_q8_0(drow + i * 34u, v);
    else wr_q4_0(drow + i * 18u, v);
}
