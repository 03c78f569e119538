/*
 * Shared helpers for every edgehal OpenCL kernel. The program is the
 * concatenation of kernels/<name>.cl in the order listed in CMakeLists.txt.
 *
 * Tensors arrive as (global uchar *base, ulong offset) pairs: the plugin
 * passes byte offsets instead of sub-buffers, so offsets need no device
 * alignment beyond the element's own (4 for F32/I32, 2 for F16, 1 for the
 * quantized blocks, which are read byte by byte).
 *
 * Feature defines set by the plugin's build options:
 *   EHAL_FP16      cl_khr_fp16 is present and not disabled
 *   EHAL_SUBGROUPS cl_khr_subgroups or cl_intel_subgroups is present
 *                  (EHAL_SUBGROUPS_KHR also set for the khr one)
 *   EHAL_TILE      GEMM tile edge (16, or 8 on small work-group devices)
 *   EHAL_DOT8_KHR / EHAL_DOT8_ARM  cl_khr_integer_dot_product /
 *                  cl_arm_integer_dot_product_int8 is present and not
 *                  disabled: dot(char4, char4) / arm_dot for int8 dots
 * Contraction is off everywhere: the in-kernel quantizers must round
 * exactly like ops/src/quant.c.
 */
#pragma OPENCL FP_CONTRACT OFF

#ifdef EHAL_FP16
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
#endif
#ifdef EHAL_SUBGROUPS_KHR
#pragma OPENCL EXTENSION cl_khr_subgroups : enable
#endif
#ifdef EHAL_DOT8_KHR
#pragma OPENCL EXTENSION cl_khr_integer_dot_product : enable
#endif
#ifdef EHAL_DOT8_ARM
#pragma OPENCL EXTENSION cl_arm_integer_dot_product_int8 : enable
#endif

#define DT_F32 0
#define DT_F16 1
#define DT_Q4_0 2
#define DT_Q8_0 8
#define DT_I32 26
#define QK 32

#define AT(type, base, off) ((global type *)((base) + (off)))

/* IEEE binary16 bits -> float, exact (subnormals, Inf, NaN). */
float ehal_h2f(uint h) {
    uint sign = (h & 0x8000u) << 16;
    uint e = (h >> 10) & 0x1fu;
    uint m = h & 0x3ffu;
    if (e == 0) {
        float v = (float)m * 5.9604644775390625e-8f; /* 2^-24 */
        return sign ? -v : v;
    }
    if (e == 31) {
        return as_float(sign | 0x7f800000u | (m << 13));
    }
    return as_float(sign | ((e + 112u) << 23) | (m << 13));
}

/* float -> binary16 bits, round to nearest even; NaN stays a quiet NaN.
 * Same results as ehal_fp32_to_fp16 in ops/src/quant.c. */
uint ehal_f2h(float f) {
    uint x = as_uint(f);
    uint sign = (x >> 16) & 0x8000u;
    uint e8 = (x >> 23) & 0xffu;
    uint m = x & 0x7fffffu;
    if (e8 == 0xffu) {
        return m == 0 ? (sign | 0x7c00u) : (sign | 0x7c00u | 0x200u | (m >> 13));
    }
    int e = (int)e8 - 112;
    if (e >= 31) {
        return sign | 0x7c00u;
    }
    if (e <= 0) {
        uint shift = 126u - e8;
        if (e8 == 0 || shift > 24u) {
            return sign;
        }
        uint mm = m | 0x800000u;
        uint q = mm >> shift;
        uint rem = mm & ((1u << shift) - 1u);
        uint half_ = 1u << (shift - 1u);
        if (rem > half_ || (rem == half_ && (q & 1u))) {
            q++;
        }
        return sign | q;
    }
    uint h = ((uint)e << 10) | (m >> 13);
    uint rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) {
        h++;
    }
    return sign | h;
}

float ehal_blk_scale(global const uchar *blk) {
    return ehal_h2f((uint)blk[0] | ((uint)blk[1] << 8));
}

/* Value i (flat index) of a dense array of dtype starting at p. */
float ehal_load(global const uchar *p, int dtype, long i) {
    if (dtype == DT_F32) {
        return ((global const float *)p)[i];
    }
    if (dtype == DT_F16) {
        return vload_half((size_t)i, (global const half *)p);
    }
    long b = i / QK;
    int j = (int)(i % QK);
    if (dtype == DT_Q8_0) {
        global const uchar *blk = p + b * 34;
        return (float)(char)blk[2 + j] * ehal_blk_scale(blk);
    }
    global const uchar *blk = p + b * 18;
    uint q = blk[2 + (j & 15)];
    q = j < 16 ? (q & 15u) : (q >> 4);
    return (float)((int)q - 8) * ehal_blk_scale(blk);
}

/* Dequantizes block b (32 values) of a Q8_0/Q4_0 array into v. */
void ehal_load_block(global const uchar *p, int dtype, long b, float *v) {
    if (dtype == DT_Q8_0) {
        global const uchar *blk = p + b * 34;
        float d = ehal_blk_scale(blk);
        for (int j = 0; j < QK; j++) {
            v[j] = (float)(char)blk[2 + j] * d;
        }
    } else {
        global const uchar *blk = p + b * 18;
        float d = ehal_blk_scale(blk);
        for (int j = 0; j < QK / 2; j++) {
            uint q = blk[2 + j];
            v[j] = (float)((int)(q & 15u) - 8) * d;
            v[j + QK / 2] = (float)((int)(q >> 4) - 8) * d;
        }
    }
}

float ehal_clamp_nan(float v, float lo, float hi, float nan_to) {
    if (isnan(v)) {
        return nan_to;
    }
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Q8_0 of 32 values, statement for statement ops/src/quant.c's
 * ehal_quantize_row_q8_0: the integers go to q, the fp16 bits of the
 * scale are returned. Used by ehal_store and, for activations, by the
 * Q8_0/Q4_0 MATMUL kernels (so they compute what the cpu backend does). */
uint ehal_quantize_q8_0(const float *v, char *q) {
    float amax = 0.0f;
    for (int j = 0; j < QK; j++) {
        float a = fabs(v[j]);
        if (a > amax) {
            amax = a;
        }
    }
    float d = amax / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < QK; j++) {
        q[j] = (char)(int)ehal_clamp_nan(round(v[j] * id), -127.0f, 127.0f, 0.0f);
    }
    return ehal_f2h(d);
}

/* Exact integer dot product of 32 int8 pairs, each side held as two
 * char16 (values 0..15, 16..31). */
int ehal_idot32(const char16 *a, const char16 *b) {
#if defined(EHAL_DOT8_KHR) || defined(EHAL_DOT8_ARM)
    int s = 0;
    for (int h = 0; h < 2; h++) {
#if defined(EHAL_DOT8_KHR)
        s += dot(a[h].s0123, b[h].s0123) + dot(a[h].s4567, b[h].s4567) +
             dot(a[h].s89ab, b[h].s89ab) + dot(a[h].scdef, b[h].scdef);
#else
        s += arm_dot(a[h].s0123, b[h].s0123) + arm_dot(a[h].s4567, b[h].s4567) +
             arm_dot(a[h].s89ab, b[h].s89ab) + arm_dot(a[h].scdef, b[h].scdef);
#endif
    }
    return s;
#else
    short16 p = convert_short16(a[0]) * convert_short16(b[0]); /* |p| <= 16384 */
    int16 q = convert_int16(p) + convert_int16(convert_short16(a[1]) * convert_short16(b[1]));
    int8 s8 = q.lo + q.hi;
    int4 s4 = s8.lo + s8.hi;
    int2 s2 = s4.lo + s4.hi;
    return s2.x + s2.y;
#endif
}

/* The 32 weight integers of block b of a Q8_0/Q4_0 row (Q4_0: nibble - 8)
 * into w[0] (values 0..15) and w[1] (16..31); returns the block scale. */
float ehal_load_block_int(global const uchar *p, int dtype, long b, char16 *w) {
    if (dtype == DT_Q8_0) {
        global const uchar *blk = p + b * 34;
        w[0] = vload16(0, (global const char *)(blk + 2));
        w[1] = vload16(1, (global const char *)(blk + 2));
        return ehal_blk_scale(blk);
    }
    global const uchar *blk = p + b * 18;
    uchar16 q = vload16(0, blk + 2);
    w[0] = as_char16(q & (uchar)15) - (char)8;
    w[1] = as_char16(q >> (uchar)4) - (char)8;
    return ehal_blk_scale(blk);
}

/* Stores n values (n <= 32; n == 32 for quantized dtypes) at flat index i0
 * (a block boundary for quantized dtypes). The quantizers are those of
 * quant.h, statement for statement, so the bytes match the reference. F16
 * goes through ehal_f2h rather than vstore_half_rte so NaN payloads match
 * the reference too (finite values round identically either way). */
void ehal_store(global uchar *p, int dtype, long i0, int n, const float *v) {
    if (dtype == DT_F32) {
        for (int j = 0; j < n; j++) {
            ((global float *)p)[i0 + j] = v[j];
        }
    } else if (dtype == DT_F16) {
        for (int j = 0; j < n; j++) {
            ((global ushort *)p)[i0 + j] = (ushort)ehal_f2h(v[j]);
        }
    } else if (dtype == DT_Q8_0) {
        global uchar *blk = p + (i0 / QK) * 34;
        char q[QK];
        uint h = ehal_quantize_q8_0(v, q);
        blk[0] = (uchar)(h & 0xffu);
        blk[1] = (uchar)(h >> 8);
        for (int j = 0; j < QK; j++) {
            blk[2 + j] = (uchar)q[j];
        }
    } else if (dtype == DT_Q4_0) {
        global uchar *blk = p + (i0 / QK) * 18;
        float amax = 0.0f;
        float mx = 0.0f;
        for (int j = 0; j < QK; j++) {
            float a = fabs(v[j]);
            if (amax < a) {
                amax = a;
                mx = v[j];
            }
        }
        float d = mx / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint h = ehal_f2h(d);
        blk[0] = (uchar)(h & 0xffu);
        blk[1] = (uchar)(h >> 8);
        for (int j = 0; j < QK / 2; j++) {
            float x0 = v[j] * id;
            float x1 = v[j + QK / 2] * id;
            float v0 = ehal_clamp_nan(x0 + 8.5f, 0.0f, 15.0f, 8.0f);
            float v1 = ehal_clamp_nan(x1 + 8.5f, 0.0f, 15.0f, 8.0f);
            uint q0 = (uint)v0;
            uint q1 = (uint)v1;
            blk[2 + j] = (uchar)(q0 | (q1 << 4));
        }
    }
}

/* The KV slot rule of backend_abi.h; -1 for a position with no slot. */
long ehal_kv_slot(long p, long cap, uint window, uint n_sink) {
    if (p < 0 || cap <= 0) {
        return -1;
    }
    if (window == 0 || p < (long)n_sink) {
        return p < cap ? p : -1;
    }
    if ((long)n_sink >= cap) {
        return -1;
    }
    return (long)n_sink + (p - (long)n_sink) % (cap - (long)n_sink);
}
