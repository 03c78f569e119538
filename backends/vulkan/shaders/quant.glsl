/*
 * Pure quantization helpers (no buffer access), bit-exact with
 * ops/src/quant.c: fp32->fp16 round-to-nearest-even on the integer bits,
 * roundf (half away from zero), and the Q8_0 quantizer of one 32-value
 * block. The MATMUL shaders use q8_quantize to quantize activations exactly
 * as the cpu backend does (ehal_quantize_row_q8_0), so a layer gives the
 * same integer dot products on either backend.
 */
#ifndef EHAL_QUANT_GLSL
#define EHAL_QUANT_GLSL

uint shift_rne(uint m, uint shift) {
    uint q = m >> shift;
    uint rem = m & ((1u << shift) - 1u);
    uint half_ = 1u << (shift - 1u);
    if (rem > half_ || (rem == half_ && (q & 1u) != 0u)) q++;
    return q;
}

uint f32_to_f16_bits(float f) {
    uint x = floatBitsToUint(f);
    uint sign = (x >> 16) & 0x8000u;
    uint e = (x >> 23) & 0xFFu;
    uint m = x & 0x7FFFFFu;
    if (e == 0xFFu) return m == 0u ? (sign | 0x7C00u) : (sign | 0x7E00u | (m >> 13));
    int he = int(e) - 127 + 15;
    if (he >= 31) return sign | 0x7C00u;
    if (he <= 0) {
        uint shift = 126u - e;
        if (e == 0u || shift > 24u) return sign;
        return sign | shift_rne(m | 0x800000u, shift);
    }
    uint h = (uint(he) << 10) | (m >> 13);
    uint rem = m & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0u)) h++;
    return sign | h;
}

/* roundf: half away from zero, exact for every float. */
float round_away(float x) {
    float t = trunc(x);
    if (abs(x - t) >= 0.5) t += sign(x);
    return t;
}

float clamp_nan(float v, float lo, float hi) {
    if (isnan(v)) return 0.0;
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Q8_0 of 32 values: qs[i] packs values 4i..4i+3 as int8 bytes (lowest
 * byte first); returns the block scale as stored (fp16-rounded d, widened
 * back to f32), the value the dot products use. */
float q8_quantize(float v[32], out uint qs[8]) {
    float amax = 0.0;
    for (int j = 0; j < 32; j++) {
        float a = abs(v[j]);
        if (a > amax) amax = a;
    }
    precise float d = amax / 127.0;
    precise float id = d != 0.0 ? 1.0 / d : 0.0;
    for (int j = 0; j < 8; j++) {
        uint packed = 0u;
        for (int k = 0; k < 4; k++) {
            precise float x = v[4 * j + k] * id;
            int q = int(clamp_nan(round_away(x), -127.0, 127.0));
            packed |= (uint(q) & 0xFFu) << (8 * k);
        }
        qs[j] = packed;
    }
    return unpackHalf2x16(f32_to_f16_bits(d)).x;
}

#endif
