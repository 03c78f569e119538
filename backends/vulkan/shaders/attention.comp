#version 450
/* ATTENTION, fused with an online softmax: one workgroup per (query t,
 * head h); keys are visited in chunks of 64 (one score per invocation),
 * then each invocation rescales and accumulates the output dims it owns
 * (d = tid + 64*i). Memory does not grow with the context.
 * Key positions follow the slot rule: causal (k <= q) unless NONCAUSAL,
 * sinks k < n_sink always, else q - k < window when window > 0.
 * GQA: query head h reads kv head h / (Hq / Hkv).
 * KVTYPE: cache dtype (compile time; K and V share it).
 * u: 0 D, 1 Hq, 2 Hkv, 3 T, 4 C, 5 K dtype, 6 V dtype, 7 K row bytes,
 * 8 V row bytes, 9 window, 10 n_sink, 11 flags; f: 0 scale.
 * Bindings: 0 Q, 1 K cache, 2 V cache, 3 pos, 4 O. D <= 512. */
#include "common.glsl"
#include "kvcache.glsl"
#extension GL_EXT_control_flow_attributes : require
#define WG 64u
#define MAXD 512u
layout(local_size_x = 64) in;
DECL_BUF(0)
DECL_BUF(1)
DECL_BUF(2)
DECL_BUF(3)
DECL_BUF(4)
DEF_LOAD(1)
DEF_LOAD(2)

shared float qs[MAXD];

/* KVTYPE: the cache dtype, compiled in (K and V share it).
 * q . K[row]: quant scales are read once per 32-value block. */
float dot_q_k(uint row, uint D) {
    float acc = 0.0;
#if KVTYPE == 8 || KVTYPE == 2
    for (uint b = 0u; b < D / 32u; b++) {
#if KVTYPE == 8
        uint base = row + b * 34u;
#else
        uint base = row + b * 18u;
#endif
        float part = 0.0;
        for (uint j = 0u; j < 32u; j++) {
#if KVTYPE == 8
            float k = float(int(RD8(1, base + 2u + j) << 24) >> 24);
#else
            uint q = RD8(1, base + 2u + (j & 15u));
            float k = float(int((j < 16u) ? (q & 15u) : (q >> 4u)) - 8);
#endif
            part += qs[b * 32u + j] * k;
        }
        acc += part * ldh_1(base);
    }
#else
    for (uint d = 0u; d < D; d++) acc += qs[d] * ld_1(KVTYPE, row, d);
#endif
    return acc;
}
shared float sp[WG];
shared int sslot[WG];

/* Key position of the j-th visible key for a query at q. */
int key_pos(uint j, int q, uint window, uint n_sink, int n_lead) {
    if (window == 0u) return int(j);
    if (int(j) < n_lead) return int(j);
    return max(int(n_sink), q - int(window) + 1) + int(j) - n_lead;
}

void main() {
    uint g = linear_group_id();
    uint D = pc.u[0], Hq = pc.u[1], Hkv = pc.u[2], T = pc.u[3];
    if (g >= Hq * T) return;
    uint h = g % Hq, t = g / Hq;
    uint kvh = h / (Hq / Hkv);
    int C = int(pc.u[4]);
    uint window = pc.u[9], n_sink = pc.u[10];
    uint tid = gl_LocalInvocationID.x;
    uint qo = (pc.off[0] >> 2) + (t * Hq + h) * D;
    for (uint d = tid; d < D; d += WG) qs[d] = bf0.d[qo + d];

    int q = bi3.d[(pc.off[3] >> 2) + t];
    int last = q;
    if ((pc.u[11] & 1u) != 0u) {
        for (uint i = 0u; i < T; i++) last = max(last, bi3.d[(pc.off[3] >> 2) + i]);
    }
    /* visible keys: [0, n_lead) then [max(n_sink, q-window+1), last] */
    int n_lead = window == 0u ? last + 1 : min(int(n_sink), last + 1);
    int tail0 = max(int(n_sink), q - int(window) + 1);
    int n_keys = window == 0u ? last + 1 : n_lead + max(0, last - tail0 + 1);
    n_keys = max(n_keys, 0);
    barrier();

    float m = -3.402823466e38, l = 0.0;
    float acc[MAXD / WG];
    [[unroll]] for (uint i = 0u; i < MAXD / WG; i++) acc[i] = 0.0;
    uint krow0 = pc.off[1] + kvh * uint(C) * pc.u[7];
    uint vrow0 = pc.off[2] + kvh * uint(C) * pc.u[8];
    for (uint base = 0u; base < uint(n_keys); base += WG) {
        uint j = base + tid;
        float s = -3.402823466e38;
        int slot = -1;
        if (j < uint(n_keys)) {
            slot = kv_slot(key_pos(j, q, window, n_sink, n_lead), C, window, n_sink);
            if (slot >= 0 && slot < C) {
                uint kr = krow0 + uint(slot) * pc.u[7];
                s = pc.f[0] * dot_q_k(kr, D);
            } else {
                slot = -1;
            }
        }
        sp[tid] = s;
        sslot[tid] = slot;
        barrier();
        float cm = m;
        for (uint i = 0u; i < WG; i++) if (sslot[i] >= 0) cm = max(cm, sp[i]);
        barrier();
        sp[tid] = slot >= 0 ? exp(s - cm) : 0.0;
        barrier();
        float alpha = exp(m - cm);
        float psum = 0.0;
        for (uint i = 0u; i < WG; i++) psum += sp[i];
        l = l * alpha + psum;
        [[unroll]] for (uint a = 0u; a < MAXD / WG; a++) {
            uint d = tid + a * WG;
            if (d < D) {
                float v = acc[a] * alpha;
                for (uint i = 0u; i < WG; i++) {
                    if (sslot[i] >= 0) v += sp[i] * ld_2(KVTYPE, vrow0 + uint(sslot[i]) * pc.u[8], d);
                }
                acc[a] = v;
            }
        }
        m = cm;
        barrier();
    }
    uint oo = (pc.off[4] >> 2) + (t * Hq + h) * D;
    [[unroll]] for (uint a = 0u; a < MAXD / WG; a++) {
        uint d = tid + a * WG;
        if (d < D) bf4.d[oo + d] = l > 0.0 ? acc[a] / l : 0.0;
    }
}
