/* fp16 conversion, Q8_0/Q4_0 quantizers (exact bytes derived by hand from
 * GGUF's reference formulas), dequantizers and ehal_convert_row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "ops_test_util.h"

/* Value of a finite fp16 bit pattern (sign ignored), from the IEEE
 * definition; exponent 31 stands for 65536, the step past the largest. */
static double half_value(uint16_t h) {
    int e = (h >> 10) & 31;
    int m = h & 1023;
    if (e == 31) {
        return 65536.0;
    }
    return e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
}

static uint32_t lcg_state = 12345u;
static uint32_t lcg(void) {
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state;
}
/* uniform in [-1, 1) */
static float lcg_unit(void) { return (float)((double)(lcg() >> 8) / 8388608.0 - 1.0); }

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void fp16_known_values(void **state) {
    (void)state;
    struct {
        float f;
        uint16_t h;
    } cases[] = {
        {1.0f, 0x3c00},        {-2.0f, 0xc000},   {0.5f, 0x3800},
        {65504.0f, 0x7bff},    /* largest finite */
        {65519.0f, 0x7bff},    /* below the halfway point 65520 */
        {65520.0f, 0x7c00},    /* tie between 0x7bff (odd) and Inf: to even */
        {1e6f, 0x7c00},        {-1e6f, 0xfc00},
        {0x1p-14f, 0x0400},    /* smallest normal */
        {0x1p-24f, 0x0001},    /* smallest subnormal */
        {0x1p-25f, 0x0000},    /* tie between 0 and 0x0001: to even */
        {0x1.8p-25f, 0x0001},  /* above the tie */
        {0x1.8p-24f, 0x0002},  /* tie between 1 and 2 (odd): up */
        {0x1.4p-23f, 0x0002},  /* 2.5 * 2^-24: tie between 2 and 3: to 2 */
        {1023.0f * 0x1p-24f, 0x03ff},  /* largest subnormal */
        {1023.5f * 0x1p-24f, 0x0400},  /* tie 0x3ff (odd) / 0x400: carries to normal */
        {1.0f + 0x1p-11f, 0x3c00},     /* tie between 0x3c00 and 0x3c01: even */
        {1.0f + 0x1.8p-10f, 0x3c02},   /* tie 0x3c01 / 0x3c02: even */
        {1.0f + 0x1.1p-11f, 0x3c01},   /* just above a tie */
        {0.0f, 0x0000},        {-0.0f, 0x8000},
        {1e-30f, 0x0000},      {-1e-30f, 0x8000},
        {0.333333333f, 0x3555},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t h = ehal_fp32_to_fp16(cases[i].f);
        if (h != cases[i].h) {
            print_error("case %zu: fp32_to_fp16(%a) = 0x%04x, want 0x%04x\n", i,
                        (double)cases[i].f, h, cases[i].h);
            fail();
        }
    }
    assert_int_equal(ehal_fp32_to_fp16(INFINITY), 0x7c00);
    assert_int_equal(ehal_fp32_to_fp16(-INFINITY), 0xfc00);
    uint16_t n = ehal_fp32_to_fp16(NAN);
    assert_int_equal(n & 0x7c00, 0x7c00);
    assert_int_not_equal(n & 0x03ff, 0);
    /* a NaN whose payload sits only in the low bits still stays a NaN */
    n = ehal_fp32_to_fp16(bits_f32(0xff800001u));
    assert_int_equal(n & 0xfc00, 0xfc00);
    assert_int_not_equal(n & 0x03ff, 0);
}

static void fp16_to_fp32_known_values(void **state) {
    (void)state;
    assert_true(ehal_fp16_to_fp32(0x3c00) == 1.0f);
    assert_true(ehal_fp16_to_fp32(0xc000) == -2.0f);
    assert_true(ehal_fp16_to_fp32(0x7bff) == 65504.0f);
    assert_true(ehal_fp16_to_fp32(0x0001) == 0x1p-24f);
    assert_true(ehal_fp16_to_fp32(0x03ff) == 1023.0f * 0x1p-24f);
    assert_true(ehal_fp16_to_fp32(0x0400) == 0x1p-14f);
    assert_true(ehal_fp16_to_fp32(0x3555) == 0.333251953125f);
    assert_true(ehal_fp16_to_fp32(0x0000) == 0.0f);
    assert_false(signbit(ehal_fp16_to_fp32(0x0000)));
    assert_true(signbit(ehal_fp16_to_fp32(0x8000)));
    assert_true(ehal_fp16_to_fp32(0x8000) == 0.0f);
    assert_true(ehal_fp16_to_fp32(0x7c00) == INFINITY);
    assert_true(ehal_fp16_to_fp32(0xfc00) == -INFINITY);
    assert_true(isnan(ehal_fp16_to_fp32(0x7e00)));
    assert_true(isnan(ehal_fp16_to_fp32(0xfc01)));
}

/* Every fp16 bit pattern decodes to its IEEE value and encodes back. */
static void fp16_all_patterns_round_trip(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 0x10000u; h++) {
        float f = ehal_fp16_to_fp32((uint16_t)h);
        int e = (h >> 10) & 31;
        if (e == 31 && (h & 1023)) {
            assert_true(isnan(f));
            assert_true(isnan(ehal_fp16_to_fp32(ehal_fp32_to_fp16(f))));
            continue;
        }
        double want = e == 31 ? INFINITY : half_value((uint16_t)h);
        if (h & 0x8000) {
            want = -want;
        }
        if ((double)f != want) {
            print_error("fp16_to_fp32(0x%04x) = %a, want %a\n", h, (double)f, want);
            fail();
        }
        if (ehal_fp32_to_fp16(f) != h) {
            print_error("fp32_to_fp16(fp16_to_fp32(0x%04x)) = 0x%04x\n", h,
                        ehal_fp32_to_fp16(f));
            fail();
        }
    }
}

/* Round to nearest, ties to even, checked from the definition: the
 * result is at least as close as both neighbours, and even on a tie. */
static void fp16_rounding_is_nearest_even(void **state) {
    (void)state;
    for (int i = 0; i < 2000000; i++) {
        /* exponents around the fp16 range, random mantissas */
        uint32_t bits = (lcg() & 0x807fffffu) | ((uint32_t)(96 + lcg() % 48) << 23);
        float f = bits_f32(bits);
        uint16_t h = ehal_fp32_to_fp16(f);
        assert_int_equal(h >> 15, bits >> 31);
        uint16_t hm = h & 0x7fff;
        double a = fabs((double)f);
        assert_true(hm <= 0x7c00);
        double d0 = fabs(a - half_value(hm));
        if (hm == 0x7c00) {
            assert_true(a >= 65520.0);
            continue;
        }
        double up = fabs(a - half_value((uint16_t)(hm + 1)));
        double down = hm > 0 ? fabs(a - half_value((uint16_t)(hm - 1))) : INFINITY;
        if (d0 > up || d0 > down || ((d0 == up || d0 == down) && (hm & 1))) {
            print_error("fp32_to_fp16(%a) = 0x%04x is not the nearest-even fp16\n", (double)f,
                        h);
            fail();
        }
    }
}

/* Hand derivation: x_j = j, amax = 31, d = 31/127 = 0.24409..., whose
 * fp16 is 2^-3 * (1 + 976/1024) = 0x33d0; q_j = round(j * 127/31) (no
 * ties: 31 does not divide 254j for 0 < j < 31). */
static void q8_0_quantizes_a_ramp_to_known_bytes(void **state) {
    (void)state;
    float x[32];
    for (int j = 0; j < 32; j++) {
        x[j] = (float)j;
    }
    static const int8_t want[32] = {0,  4,  8,  12, 16, 20, 25, 29, 33,  37,  41,
                                    45, 49, 53, 57, 61, 66, 70, 74, 78,  82,  86,
                                    90, 94, 98, 102, 107, 111, 115, 119, 123, 127};
    ehal_block_q8_0 b;
    ehal_quantize_row_q8_0(x, &b, 32);
    const uint8_t *bytes = (const uint8_t *)&b;
    assert_int_equal(bytes[0], 0xd0); /* d little endian */
    assert_int_equal(bytes[1], 0x33);
    for (int j = 0; j < 32; j++) {
        assert_int_equal(b.qs[j], want[j]);
        assert_int_equal((int8_t)bytes[2 + j], want[j]);
    }
}

/* amax = 127 makes d = 1 exactly, id = 1: q = roundf(x), halves away from
 * zero (roundf, not rint), and the sign is kept. */
static void q8_0_rounds_halves_away_from_zero(void **state) {
    (void)state;
    float x[32] = {127.0f, -127.0f, 0.4f, 0.6f, -0.4f, -0.6f, 1.5f, -1.5f, 2.5f, -2.5f, 0.5f};
    static const int8_t want[32] = {127, -127, 0, 1, 0, -1, 2, -2, 3, -3, 1};
    ehal_block_q8_0 b;
    ehal_quantize_row_q8_0(x, &b, 32);
    assert_int_equal(b.d, 0x3c00);
    for (int j = 0; j < 32; j++) {
        assert_int_equal(b.qs[j], want[j]);
    }
}

/* All zeros: d = 0 (Q4_0: -0), id = 0, no division by zero. */
static void q8_0_and_q4_0_zero_block(void **state) {
    (void)state;
    float x[32] = {0};
    ehal_block_q8_0 b8;
    ehal_block_q4_0 b4;
    ehal_quantize_row_q8_0(x, &b8, 32);
    ehal_quantize_row_q4_0(x, &b4, 32);
    assert_int_equal(b8.d, 0);
    assert_int_equal(b4.d, 0x8000); /* d = 0 / -8 = -0.0, as GGUF's quantizer stores */
    for (int j = 0; j < 32; j++) {
        assert_int_equal(b8.qs[j], 0);
    }
    for (int j = 0; j < 16; j++) {
        assert_int_equal(b4.qs[j], 0x88); /* q = trunc(0 + 8.5) = 8 */
    }
}

/* Hand derivation: x_j = j - 16, the largest magnitude is x_0 = -16, so
 * d = -16 / -8 = 2 (fp16 0x4000), id = 0.5, q_j = min(15, trunc(j/2 + 0.5)).
 * Byte j holds q_j in the low nibble and q_{j+16} in the high nibble. */
static void q4_0_quantizes_a_ramp_to_known_bytes(void **state) {
    (void)state;
    float x[32];
    for (int j = 0; j < 32; j++) {
        x[j] = (float)(j - 16);
    }
    static const uint8_t want[16] = {0x80, 0x91, 0x91, 0xa2, 0xa2, 0xb3, 0xb3, 0xc4,
                                     0xc4, 0xd5, 0xd5, 0xe6, 0xe6, 0xf7, 0xf7, 0xf8};
    ehal_block_q4_0 b;
    ehal_quantize_row_q4_0(x, &b, 32);
    const uint8_t *bytes = (const uint8_t *)&b;
    assert_int_equal(bytes[0], 0x00);
    assert_int_equal(bytes[1], 0x40);
    for (int j = 0; j < 16; j++) {
        assert_int_equal(b.qs[j], want[j]);
    }
}

/* A positive largest value gives a negative d: x_j = j, max = 31,
 * d = -31/8 = -3.875 (fp16 0xc3c0), q_j = trunc(8.5 - 8j/31). */
static void q4_0_positive_max_gives_negative_scale(void **state) {
    (void)state;
    float x[32];
    for (int j = 0; j < 32; j++) {
        x[j] = (float)j;
    }
    static const uint8_t want[16] = {0x48, 0x48, 0x37, 0x37, 0x37, 0x37, 0x26, 0x26,
                                     0x26, 0x26, 0x15, 0x15, 0x15, 0x15, 0x04, 0x04};
    ehal_block_q4_0 b;
    ehal_quantize_row_q4_0(x, &b, 32);
    assert_int_equal(b.d, 0xc3c0);
    for (int j = 0; j < 16; j++) {
        assert_int_equal(b.qs[j], want[j]);
    }
}

/* d = 1 (max = -8): q = min(15, trunc(x + 8.5)); 7.9 would be 16 and is
 * clamped to 15; -0.5 truncates 8.0 to 8, -0.6 gives 7. */
static void q4_0_truncates_and_clamps(void **state) {
    (void)state;
    float x[32] = {-8.0f, 7.9f, -0.5f, -0.6f, 0.49f, 0.5f, 3.0f, -3.2f};
    static const uint8_t q[8] = {0, 15, 8, 7, 8, 9, 11, 5};
    ehal_block_q4_0 b;
    ehal_quantize_row_q4_0(x, &b, 32);
    assert_int_equal(b.d, 0x3c00);
    for (int j = 0; j < 8; j++) {
        assert_int_equal(b.qs[j] & 15, q[j]);
        assert_int_equal(b.qs[j] >> 4, 8); /* x[j+16] = 0 */
    }
}

static void dequantize_known_blocks(void **state) {
    (void)state;
    ehal_block_q8_0 b8[2];
    b8[0].d = 0x3800; /* 0.5 */
    b8[1].d = 0xc000; /* -2 */
    for (int j = 0; j < 32; j++) {
        b8[0].qs[j] = (int8_t)(j - 16);
        b8[1].qs[j] = (int8_t)(j % 3 == 0 ? -128 : 127);
    }
    float y[64];
    ehal_dequantize_row_q8_0(b8, y, 64);
    for (int j = 0; j < 32; j++) {
        assert_true(y[j] == (float)(j - 16) * 0.5f);
        assert_true(y[32 + j] == (j % 3 == 0 ? 256.0f : -254.0f));
    }

    ehal_block_q4_0 b4;
    b4.d = 0x4200; /* 3 */
    for (int j = 0; j < 16; j++) {
        b4.qs[j] = (uint8_t)(j | ((15 - j) << 4));
    }
    ehal_dequantize_row_q4_0(&b4, y, 32);
    for (int j = 0; j < 16; j++) {
        assert_true(y[j] == 3.0f * (float)(j - 8));
        assert_true(y[16 + j] == 3.0f * (float)(7 - j));
    }
}

/* Error bounds, derived: with d_f the float scale and d_h its fp16,
 * |d_f - d_h| <= |d_f| * 2^-11.
 *  Q8_0: q = round(x/d_f), |x - q d_f| <= d_f/2, |q| <= 127, so
 *        |x - q d_h| <= d_f/2 + 127 |d_f| 2^-11.
 *  Q4_0: q = trunc(x/d + 8.5) - 8 rounds half up, error <= |d|/2, except
 *        x/d > 7.5 (clamped to 7): error <= |d|; |q| <= 8, so add
 *        8 |d_f| 2^-11. */
static void quantize_round_trip_error_is_bounded(void **state) {
    (void)state;
    enum { N = 32 * 64 };
    static float x[N], y[N];
    static ehal_block_q8_0 b8[N / 32];
    static ehal_block_q4_0 b4[N / 32];
    for (int i = 0; i < N; i++) {
        float scale = (float)(1 << ((i / 32) % 12)) / 64.0f; /* per-block magnitude */
        x[i] = lcg_unit() * scale;
    }
    ehal_quantize_row_q8_0(x, b8, N);
    ehal_dequantize_row_q8_0(b8, y, N);
    for (int b = 0; b < N / 32; b++) {
        double amax = 0;
        for (int j = 0; j < 32; j++) {
            amax = fmax(amax, fabs(x[b * 32 + j]));
        }
        double d = amax / 127.0;
        double bound = d / 2 + 127 * d * 0x1p-11 + 1e-12;
        for (int j = 0; j < 32; j++) {
            assert_close(y[b * 32 + j], x[b * 32 + j], bound);
        }
    }
    ehal_quantize_row_q4_0(x, b4, N);
    ehal_dequantize_row_q4_0(b4, y, N);
    for (int b = 0; b < N / 32; b++) {
        double amax = 0, max = 0;
        for (int j = 0; j < 32; j++) {
            if (fabs(x[b * 32 + j]) > amax) {
                amax = fabs(x[b * 32 + j]);
                max = x[b * 32 + j];
            }
        }
        double d = max / -8.0;
        for (int j = 0; j < 32; j++) {
            double r = x[b * 32 + j] / d;
            double bound = (r > 7.5 ? fabs(d) : fabs(d) / 2) + 8 * fabs(d) * 0x1p-11 + 1e-12;
            assert_close(y[b * 32 + j], x[b * 32 + j], bound);
        }
    }
}

/* NaN and Inf inputs must not crash or leave the codes undefined. */
static void quantizers_accept_non_finite_input(void **state) {
    (void)state;
    float x[32];
    for (int j = 0; j < 32; j++) {
        x[j] = (float)j;
    }
    x[3] = NAN;
    ehal_block_q8_0 b8;
    ehal_block_q4_0 b4;
    ehal_quantize_row_q8_0(x, &b8, 32);
    ehal_quantize_row_q4_0(x, &b4, 32);
    assert_int_equal(b8.d, 0x33d0); /* the NaN does not take part in amax */
    assert_int_equal(b8.qs[4], 16);
    assert_int_equal(b4.d, 0xc3c0);
    assert_int_equal(b4.qs[3] & 15, 8); /* NaN -> the code of 0 */
    assert_int_equal(b8.qs[3], 0);
    x[3] = INFINITY;
    ehal_quantize_row_q8_0(x, &b8, 32);
    assert_int_equal(b8.d, 0x7c00); /* d = Inf, id = 0 */
    for (int j = 0; j < 32; j++) {
        assert_true(b8.qs[j] >= -127 && b8.qs[j] <= 127);
    }
}

static void convert_row_between_float_dtypes(void **state) {
    (void)state;
    float x[64], y[64];
    for (int j = 0; j < 64; j++) {
        x[j] = (float)(j % 9) - 4.0f; /* small integers: exact in every dtype below */
    }
    x[0] = -8.0f; /* Q4_0 block 0: d = 1 */
    x[32] = 8.0f; /* block 1: d = -1, so -8 is not representable but -4..4 are */
    uint16_t h[64];
    ehal_block_q8_0 q8[2];
    ehal_block_q4_0 q4[2];
    assert_int_equal(ehal_convert_row(EHAL_DTYPE_F32, x, EHAL_DTYPE_F16, h, 64), 0);
    assert_int_equal(h[1], 0xc200); /* -3 */
    assert_int_equal(ehal_convert_row(EHAL_DTYPE_F16, h, EHAL_DTYPE_Q4_0, q4, 64), 0);
    assert_int_equal(q4[0].d, 0x3c00);
    assert_int_equal(q4[1].d, 0xbc00);
    assert_int_equal(ehal_convert_row(EHAL_DTYPE_Q4_0, q4, EHAL_DTYPE_F32, y, 64), 0);
    for (int j = 0; j < 64; j++) {
        assert_close(y[j], x[j], 0.0);
    }
    /* Q4_0 -> Q8_0 goes through the exact values, so it is the Q8_0
     * quantizer of x; and F32 -> Q8_0 is the row quantizer */
    ehal_block_q8_0 direct[2];
    ehal_quantize_row_q8_0(x, direct, 64);
    assert_int_equal(ehal_convert_row(EHAL_DTYPE_Q4_0, q4, EHAL_DTYPE_Q8_0, q8, 64), 0);
    assert_memory_equal(q8, direct, sizeof direct);
    memset(q8, 0, sizeof q8);
    assert_int_equal(ehal_convert_row(EHAL_DTYPE_F32, x, EHAL_DTYPE_Q8_0, q8, 64), 0);
    assert_memory_equal(q8, direct, sizeof direct);
    /* block 0: amax 8, d = 8/127 (fp16 0x2c08), x = -8 -> -127, x = -3 -> round(-47.6) */
    assert_int_equal(q8[0].d, 0x2c08);
    assert_int_equal(q8[0].qs[0], -127);
    assert_int_equal(q8[0].qs[1], -48);
    /* F16 -> F32 of a non-block length */
    assert_int_equal(ehal_convert_row(EHAL_DTYPE_F16, h, EHAL_DTYPE_F32, y, 5), 0);
    assert_true(y[0] == -8.0f && y[4] == 0.0f);
}

static void convert_row_refuses_what_it_cannot_convert(void **state) {
    (void)state;
    int32_t a[32], b[32];
    for (int j = 0; j < 32; j++) {
        a[j] = j * 1000003;
        b[j] = 0;
    }
    assert_int_equal(ehal_convert_row(EHAL_DTYPE_I32, a, EHAL_DTYPE_I32, b, 32), 0);
    assert_memory_equal(a, b, sizeof a);
    float f[32];
    assert_int_equal(ehal_convert_row(EHAL_DTYPE_I32, a, EHAL_DTYPE_F32, f, 32),
                     EHAL_STATUS_UNSUPPORTED);
    assert_int_equal(ehal_convert_row(EHAL_DTYPE_F32, f, EHAL_DTYPE_I32, a, 32),
                     EHAL_STATUS_UNSUPPORTED);
    assert_int_equal(ehal_convert_row(77, f, EHAL_DTYPE_F32, f, 32), EHAL_STATUS_UNSUPPORTED);
    ehal_block_q8_0 q[1];
    assert_int_equal(ehal_convert_row(EHAL_DTYPE_F32, f, EHAL_DTYPE_Q8_0, q, 31),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(ehal_convert_row(EHAL_DTYPE_F32, NULL, EHAL_DTYPE_F16, f, 4),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(ehal_convert_row(EHAL_DTYPE_F32, f, EHAL_DTYPE_F16, f, -1),
                     EHAL_STATUS_INVALID_ARGUMENT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fp16_known_values),
        cmocka_unit_test(fp16_to_fp32_known_values),
        cmocka_unit_test(fp16_all_patterns_round_trip),
        cmocka_unit_test(fp16_rounding_is_nearest_even),
        cmocka_unit_test(q8_0_quantizes_a_ramp_to_known_bytes),
        cmocka_unit_test(q8_0_rounds_halves_away_from_zero),
        cmocka_unit_test(q8_0_and_q4_0_zero_block),
        cmocka_unit_test(q4_0_quantizes_a_ramp_to_known_bytes),
        cmocka_unit_test(q4_0_positive_max_gives_negative_scale),
        cmocka_unit_test(q4_0_truncates_and_clamps),
        cmocka_unit_test(dequantize_known_blocks),
        cmocka_unit_test(quantize_round_trip_error_is_bounded),
        cmocka_unit_test(quantizers_accept_non_finite_input),
        cmocka_unit_test(convert_row_between_float_dtypes),
        cmocka_unit_test(convert_row_refuses_what_it_cannot_convert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
