#version 450
/* MATMUL for T > 8 (prefill): 32x32 output tiles, K in steps of 32 through
 * shared memory; each of the 16x16 invocations computes 2x2 outputs.
 * WTYPE: compile-time weight dtype. u: 0 K, 1 N, 2 T, 3 W row bytes.
 * Dispatch: x = ceil(N/32), y = ceil(T/32).
 * Q8_0/Q4_0 weights: binding 1 is X quantized to Q8_0 by quantize_act.comp
 * (the cpu backend's quantizer; 8 packed words per block, then one f32
 * scale per block). A K step is one quant block: the tiles hold the weight
 * and X integers, each output's block dot product is an exact integer
 * (summed as floats: every product and the 32-term sum stay below 2^24, and
 * float multiply-adds are faster than 32-bit integer multiplies on
 * CPU-hosted drivers such as lavapipe) and d_w * d_x * isum is accumulated
 * in f32. */
#include "common.glsl"
layout(local_size_x = 16, local_size_y = 16) in;
DECL_BUF(0)
DECL_BUF(1)
DECL_BUF(4)
DEF_LOAD(0)

#if WTYPE == 8 || WTYPE == 2
shared float wi[32][33];
shared float xi[32][33];
shared float wd[32];
shared float xd[32];

/* Value j (0..31) of block blk of a Q8_0/Q4_0 row, as its integer. */
int wint(uint row, uint blk, uint j) {
#if WTYPE == 8
    return int(RD8(0, row + blk * 34u + 2u + j) << 24) >> 24;
#else
    uint q = RD8(0, row + blk * 18u + 2u + (j & 15u));
    return int((j < 16u) ? (q & 15u) : (q >> 4u)) - 8;
#endif
}

void main() {
    uint K = pc.u[0], N = pc.u[1], T = pc.u[2];
    uint n0 = gl_WorkGroupID.x * 32u, t0 = gl_WorkGroupID.y * 32u;
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    uint tid = ty * 16u + tx;
    uint xo = pc.off[1] >> 2; /* X quantized by quantize_act: words, then scales */
    uint nb = K / 32u;
#if WTYPE == 8
    const uint BLK = 34u;
#else
    const uint BLK = 18u;
#endif
    float acc[2][2] = float[2][2](float[2](0.0, 0.0), float[2](0.0, 0.0));
    for (uint blk = 0u; blk < nb; blk++) {
        for (uint i = 0u; i < 4u; i++) {
            uint idx = tid + 256u * i;
            uint r = idx >> 5u, c = idx & 31u;
            uint n = n0 + r, t = t0 + r;
            uint row = pc.off[0] + n * pc.u[3];
            wi[r][c] = n < N ? float(wint(row, blk, c)) : 0.0;
            uint word = t < T ? bu1.d[xo + 8u * (t * nb + blk) + (c >> 2u)] : 0u;
            xi[r][c] = float(bitfieldExtract(int(word), int(8u * (c & 3u)), 8));
        }
        if (tid < 32u) {
            uint n = n0 + tid, t = t0 + tid;
            wd[tid] = n < N ? ldh_0(pc.off[0] + n * pc.u[3] + blk * BLK) : 0.0;
            xd[tid] = t < T ? bf1.d[xo + 8u * nb * T + t * nb + blk] : 0.0;
        }
        barrier();
        float is[2][2] = float[2][2](float[2](0.0, 0.0), float[2](0.0, 0.0));
        for (uint kk = 0u; kk < 32u; kk++) {
            float w0 = wi[tx][kk], w1 = wi[tx + 16u][kk];
            float x0 = xi[ty][kk], x1 = xi[ty + 16u][kk];
            is[0][0] += w0 * x0;
            is[0][1] += w0 * x1;
            is[1][0] += w1 * x0;
            is[1][1] += w1 * x1;
        }
        for (uint a = 0u; a < 2u; a++) {
            for (uint b = 0u; b < 2u; b++) {
                acc[a][b] += wd[tx + 16u * a] * xd[ty + 16u * b] * is[a][b];
            }
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
#else
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
#endif
