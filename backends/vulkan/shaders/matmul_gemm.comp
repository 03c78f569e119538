#version 450
/* MATMUL for T > 8 (prefill): 32x32 output tiles, K in steps of 32 through
 * shared memory; each of the 16x16 invocations computes 2x2 outputs.
 * WTYPE: compile-time weight dtype. u: 0 K, 1 N, 2 T, 3 W row bytes.
 * Dispatch: x = ceil(N/32), y = ceil(T/32). */
#include "common.glsl"
layout(local_size_x = 16, local_size_y = 16) in;
DECL_BUF(0)
DECL_BUF(1)
DECL_BUF(4)
DEF_LOAD(0)

shared float ws[32][33];
shared float xs[32][33];

void main() {
    uint K = pc.u[0], N = pc.u[1], T = pc.u[2];
    uint n0 = gl_WorkGroupID.x * 32u, t0 = gl_WorkGroupID.y * 32u;
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    uint tid = ty * 16u + tx;
    uint xo = pc.off[1] >> 2;
    float acc[2][2] = float[2][2](float[2](0.0, 0.0), float[2](0.0, 0.0));
    for (uint k0 = 0u; k0 < K; k0 += 32u) {
        for (uint i = 0u; i < 4u; i++) {
            uint idx = tid + 256u * i;
            uint r = idx >> 5u, c = idx & 31u;
            uint n = n0 + r, t = t0 + r, k = k0 + c;
            ws[r][c] = (n < N && k < K) ? ld_0(WTYPE, pc.off[0] + n * pc.u[3], k) : 0.0;
            xs[r][c] = (t < T && k < K) ? bf1.d[xo + t * K + k] : 0.0;
        }
        barrier();
        for (uint kk = 0u; kk < 32u; kk++) {
            float w0 = ws[tx][kk], w1 = ws[tx + 16u][kk];
            float x0 = xs[ty][kk], x1 = xs[ty + 16u][kk];
            acc[0][0] += w0 * x0;
            acc[0][1] += w0 * x1;
            acc[1][0] += w1 * x0;
            acc[1][1] += w1 * x1;
        }
        barrier();
    }
    for (uint a = 0u; a < 2u; a++) {
        for (uint b = 0u; b < 2u; b++) {
            uint n = n0 + tx + 16u * a, t = t0 + ty + 16u * b;
            if (n < N && t < T) bf4.d[(pc.off[4] >> 2) + t * N + n] = acc[a][b];
        }
    }
}
