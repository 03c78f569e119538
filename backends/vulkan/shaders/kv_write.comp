#version 450
/* KV_WRITE: cache row (slot(pos[t]), h) = encode(src[:, h, t]).
 * One invocation per F16 value or per quant block. Positions whose slot is
 * also written by a later t of the same call are skipped (the later write
 * wins, as in the sequential reference). Slots outside [0, C) are skipped.
 * u: 0 D, 1 Hkv, 2 T, 3 C, 4 cache dtype, 5 cache row bytes, 6 window,
 * 7 n_sink. Bindings: 0 src, 1 pos, 4 cache. */
#include "common.glsl"
#include "kvcache.glsl"
layout(local_size_x = 64) in;
DECL_BUF(0)
DECL_BUF(1)
DECL_BUF(4)
#include "store.glsl"

void main() {
    uint idx = linear_group_id() * 64u + gl_LocalInvocationID.x;
    uint D = pc.u[0], H = pc.u[1], T = pc.u[2], dt = pc.u[4];
    int C = int(pc.u[3]);
    uint units = (dt == DT_F16 || dt == DT_F32) ? D : D / 32u;
    if (idx >= units * H * T) return;
    uint u = idx % units;
    uint h = (idx / units) % H;
    uint t = idx / (units * H);
    uint po = pc.off[1] >> 2;
    int slot = kv_slot(bi1.d[po + t], C, pc.u[6], pc.u[7]);
    if (slot < 0 || slot >= C) return;
    for (uint t2 = t + 1u; t2 < T; t2++) {
        if (kv_slot(bi1.d[po + t2], C, pc.u[6], pc.u[7]) == slot) return;
    }
    uint so = (pc.off[0] >> 2) + (t * H + h) * D;
    uint row = pc.off[4] + (h * uint(C) + uint(slot)) * pc.u[5];
    if (units == D) {
        wr_elem(dt, row, u, bf0.d[so + u]);
        return;
    }
    float v[32];
    for (uint j = 0u; j < 32u; j++) v[j] = bf0.d[so + u * 32u + j];
    if (dt == DT_Q8_0) wr_q8_0(row + u * 34u, v);
    else wr_q4_0(row + u * 18u, v);
}
