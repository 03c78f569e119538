/*
 * Writers into the output binding (4): bytes, halves, floats, and the
 * fp32->fp16 / Q8_0 / Q4_0 encoders. The encoders reproduce
 * ops/src/quant.c bit for bit: fp16 is round-to-nearest-even done on the
 * integer bits (no reliance on the driver's packHalf2x16 rounding), Q8_0 is
 * clamp(roundf(x*id)) with round-half-away-from-zero, Q4_0 is
 * trunc(clamp(x*id + 8.5, 0, 15)); NaN quantizes to 0 as in the reference.
 * Requires common.glsl and DECL_BUF(4); the pure helpers are in quant.glsl.
 */
#ifdef STORAGE_SMALL
void wr8(uint o, uint v) { b84.d[o] = uint8_t(v & 0xFFu); }
void wr16(uint o, uint v) { bh4.d[o >> 1] = uint16_t(v & 0xFFFFu); }
#else
void wr8(uint o, uint v) {
    uint s = (o & 3u) * 8u;
    atomicAnd(bu4.d[o >> 2], ~(0xFFu << s));
    atomicOr(bu4.d[o >> 2], (v & 0xFFu) << s);
}
void wr16(uint o, uint v) {
    uint s = (o & 2u) * 8u;
    atomicAnd(bu4.d[o >> 2], ~(0xFFFFu << s));
    atomicOr(bu4.d[o >> 2], (v & 0xFFFFu) << s);
}
#endif

#include "quant.glsl"

void wr_f32(uint o, float v) { bf4.d[o >> 2] = v; }
void wr_f16(uint o, float v) { wr16(o, f32_to_f16_bits(v)); }

/* Quantizes 32 values into one block at byte offset o of binding 4. */
void wr_q8_0(uint o, float v[32]) {
    float amax = 0.0;
    for (int j = 0; j < 32; j++) {
        float a = abs(v[j]);
        if (a > amax) amax = a;
    }
    precise float d = amax / 127.0;
    precise float id = d != 0.0 ? 1.0 / d : 0.0;
    wr16(o, f32_to_f16_bits(d));
    for (int j = 0; j < 32; j += 4) {
        uint packed = 0u;
        for (int k = 0; k < 4; k++) {
            precise float x = v[j + k] * id;
            int q = int(clamp_nan(round_away(x), -127.0, 127.0));
            packed |= (uint(q) & 0xFFu) << (8 * k);
        }
        for (int k = 0; k < 4; k++) wr8(o + 2u + uint(j + k), packed >> (8 * k));
    }
}

void wr_q4_0(uint o, float v[32]) {
    float amax = 0.0;
    float mx = 0.0;
    for (int j = 0; j < 32; j++) {
        float a = abs(v[j]);
        if (amax < a) {
            amax = a;
            mx = v[j];
        }
    }
    precise float d = mx / -8.0;
    precise float id = d != 0.0 ? 1.0 / d : 0.0;
    wr16(o, f32_to_f16_bits(d));
    for (int j = 0; j < 16; j++) {
        precise float x0 = v[j] * id;
        precise float x1 = v[j + 16] * id;
        precise float y0 = x0 + 8.5;
        precise float y1 = x1 + 8.5;
        uint q0 = uint(clamp_nan(y0, 0.0, 15.0));
        uint q1 = uint(clamp_nan(y1, 0.0, 15.0));
        wr8(o + 2u + uint(j), q0 | (q1 << 4));
    }
}

/* Writes value v as element i of an F32/F16 row at byte offset row. */
void wr_elem(uint dt, uint row, uint i, float v) {
    if (dt == DT_F32) wr_f32(row + 4u * i, v);
    else wr_f16(row + 2u * i, v);
}
