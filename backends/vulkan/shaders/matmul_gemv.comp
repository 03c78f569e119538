#version 450
/* MATMUL for T <= 8 (decode). WTYPE: compile-time weight dtype.
 * u: 0 K, 1 N, 2 T, 3 W row bytes.
 * USE_SUBGROUP: each subgroup of the 64-invocation workgroup owns one output
 *   row (rows per workgroup = gl_NumSubgroups = 64 / subgroupSize, which the
 *   host uses for the grid); its lanes split K and reduce with subgroupAdd:
 *   no shared memory, no barrier.
 * Fallback: one workgroup per row; the 64 invocations split K and reduce
 *   through a shared-memory tree.
 * K is split in whole quant blocks for Q8_0/Q4_0; up to 8 columns of X are
 * accumulated in registers.
 * Q8_0/Q4_0 weights: binding 1 is not X but X quantized to Q8_0 by
 * quantize_act.comp (the cpu backend's quantizer; 8 packed words per block,
 * then one f32 scale per block), dispatched just before; the block's
 * integer dot product is exact (idot.glsl; OpSDot with USE_INT_DOT), and
 * d_w * d_x * isum is accumulated in f32: the cpu backend's arithmetic, so
 * layers give the same results on either backend up to f32 summation
 * order. */
#include "common.glsl"
#include "idot.glsl"
#extension GL_EXT_control_flow_attributes : require
#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_basic : require
#endif
#define WG 64u
#define MAXT 8
layout(local_size_x = 64) in;
DECL_BUF(0)
DECL_BUF(1)
DECL_BUF(4)
DEF_LOAD(0)

#ifndef USE_SUBGROUP
shared float red[MAXT][WG];
#endif

void main() {
    uint K = pc.u[0], N = pc.u[1], T = pc.u[2];
#ifdef USE_SUBGROUP
    uint lane = gl_SubgroupInvocationID;
    uint lanes = min(gl_SubgroupSize, WG);
    uint n = linear_group_id() * gl_NumSubgroups + gl_SubgroupID;
#else
    uint lane = gl_LocalInvocationID.x;
    uint lanes = WG;
    uint n = linear_group_id();
#endif
    if (n >= N) return; /* uniform per subgroup (per workgroup without) */
    uint row = pc.off[0] + n * pc.u[3];
    uint xo = pc.off[1] >> 2;
    float acc[MAXT];
    [[unroll]] for (int t = 0; t < MAXT; t++) acc[t] = 0.0;
#if WTYPE == 8 || WTYPE == 2
    for (uint b = lane; b < K / 32u; b += lanes) {
        uint wq[8];
#if WTYPE == 8
        uint base = row + b * 34u;
        for (uint i = 0u; i < 8u; i++) wq[i] = RD16(0, base + 2u + 4u * i) | (RD16(0, base + 4u + 4u * i) << 16);
#else
        uint base = row + b * 18u;
        for (uint i = 0u; i < 4u; i++) {
            uint nib = RD16(0, base + 2u + 4u * i) | (RD16(0, base + 4u + 4u * i) << 16);
            wq[i] = q4_nibbles_to_i8(nib);
            wq[i + 4u] = q4_nibbles_to_i8(nib >> 4u);
        }
#endif
        float dw = ldh_0(base);
        uint nb = K / 32u;
        [[unroll]] for (uint t = 0u; t < MAXT; t++) {
            if (t < T) {
                uint xq[8];
                uint blk = t * nb + b;
                for (uint i = 0u; i < 8u; i++) xq[i] = bu1.d[xo + 8u * blk + i];
                float dx = bf1.d[xo + 8u * nb * T + blk];
                acc[t] += dw * dx * float(dot_block(wq, xq));
            }
        }
    }
#else
    for (uint k = lane; k < K; k += lanes) {
        float w = ld_0(WTYPE, row, k);
        [[unroll]] for (uint t = 0u; t < MAXT; t++) if (t < T) acc[t] += w * bf1.d[xo + t * K + k];
    }
#endif
#ifdef USE_SUBGROUP
    [[unroll]] for (uint t = 0u; t < MAXT; t++) {
        if (t < T) { /* T is uniform: subgroupAdd stays in uniform control flow */
            float s = subgroupAdd(acc[t]);
            if (subgroupElect()) bf4.d[(pc.off[4] >> 2) + t * N + n] = s;
        }
    }
#else
    [[unroll]] for (uint t = 0u; t < MAXT; t++) if (t < T) red[t][lane] = acc[t];
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            for (uint t = 0u; t < T; t++) red[t][lane] += red[t][lane + s];
        }
        barrier();
    }
    if (lane < T) bf4.d[(pc.off[4] >> 2) + lane * N + n] = red[lane][0];
#endif
}
