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
 * accumulated in registers. */
#include "common.glsl"
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
#if WTYPE == 8
        uint base = row + b * 34u;
#else
        uint base = row + b * 18u;
#endif
        float dsc = ldh_0(base);
        for (uint j = 0u; j < 32u; j++) {
#if WTYPE == 8
            float w = float(int(RD8(0, base + 2u + j) << 24) >> 24) * dsc;
#else
            uint q = RD8(0, base + 2u + (j & 15u));
            q = (j < 16u) ? (q & 15u) : (q >> 4u);
            float w = float(int(q) - 8) * dsc;
#endif
            uint k = b * 32u + j;
            [[unroll]] for (uint t = 0u; t < MAXT; t++) if (t < T) acc[t] += w * bf1.d[xo + t * K + k];
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
