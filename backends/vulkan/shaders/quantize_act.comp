#version 450
/* Quantizes MATMUL activations to Q8_0 once per execute, for the GEMV with
 * Q8_0/Q4_0 weights: invocation i takes block i of X (X is T contiguous
 * rows of K f32, K % 32 == 0; block i = t * K/32 + b) and writes its 32
 * int8 as 8 packed words at word 8i of the output and its scale (the
 * fp16-rounded d, widened) at word 8*nblocks + i. The quantizer is
 * quant.glsl's q8_quantize: ehal_quantize_row_q8_0 bit for bit.
 * u: 0 number of blocks. Bindings: 0 X, 4 the scratch buffer. */
#include "common.glsl"
#include "quant.glsl"
layout(local_size_x = 64) in;
DECL_BUF(0)
DECL_BUF(4)

void main() {
    uint i = linear_group_id() * 64u + gl_LocalInvocationID.x;
    uint nblk = pc.u[0];
    if (i >= nblk) return;
    uint xo = (pc.off[0] >> 2) + i * 32u;
    float v[32];
    for (uint j = 0u; j < 32u; j++) v[j] = bf0.d[xo + j];
    uint q[8];
    float d = q8_quantize(v, q);
    uint o = pc.off[4] >> 2;
    for (uint j = 0u; j < 8u; j++) bu4.d[o + 8u * i + j] = q[j];
    bf4.d[o + 8u * nblk + i] = d;
}
