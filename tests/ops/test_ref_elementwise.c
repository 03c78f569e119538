/* Reference ADD, MUL, SWIGLU and COPY against values worked out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ops_test_util.h"

static void run_binary(uint32_t op, const float *a, const float *b, float *y, int64_t ne0,
                       int64_t ne1) {
    tnode g;
    tn_init(&g, op, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, ne0, ne1, 1, 1, (void *)a);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, ne0, ne1, 1, 1, (void *)b);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, ne0, ne1, 1, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
}

static void add_and_mul_are_element_wise(void **state) {
    (void)state;
    const float a[6] = {1, -2, 3.5f, 0, 1e30f, -0.25f};
    const float b[6] = {10, 2, 0.5f, -0.0f, 1e30f, 4};
    float y[6];
    run_binary(EHAL_OP_ADD, a, b, y, 3, 2);
    const float sum[6] = {11, 0, 4, 0, 2.0f * 1e30f, 3.75f};
    for (int i = 0; i < 6; i++) {
        assert_true(y[i] == sum[i]);
    }
    run_binary(EHAL_OP_MUL, a, b, y, 3, 2);
    assert_true(y[0] == 10.0f);
    assert_true(y[1] == -4.0f);
    assert_true(y[2] == 1.75f);
    assert_true(y[3] == 0.0f && signbit(y[3])); /* 0 * -0 = -0 */
    assert_true(isinf(y[4]));                   /* 1e60 overflows float */
    assert_true(y[5] == -1.0f);
}

/* silu(g) * u with silu(g) = g / (1 + e^-g):
 *  g = 0        -> 0
 *  g = ln 3, u = 2: silu = ln3 / (4/3) = 0.8239592, * 2 = 1.6479184
 *  g = -ln 3, u = 1: silu = -ln3 / 4 = -0.2746531
 *  g = 30, u = -1: silu ~ 30 (e^-30 ~ 1e-13) -> -30
 *  g = -100, u = 5: silu ~ -100 e^-100 -> ~0 (no NaN from e^100) */
static void swiglu_is_silu_gate_times_up(void **state) {
    (void)state;
    const float gate[5] = {0, (float)log(3.0), (float)-log(3.0), 30, -100};
    const float up[5] = {7, 2, 1, -1, 5};
    float y[5];
    run_binary(EHAL_OP_SWIGLU, gate, up, y, 5, 1);
    const double want[5] = {0, 1.6479184, -0.2746531, -30, 0};
    assert_floats_close(y, want, 5, 1e-6);
}

static void run_copy(uint32_t sdt, int64_t sne0, int64_t sne1, const void *src, uint32_t ddt,
                     int64_t dne0, int64_t dne1, void *dst) {
    tnode g;
    tn_init(&g, EHAL_OP_COPY, NULL, 0);
    tn_tensor(&g, 0, sdt, sne0, sne1, 1, 1, (void *)src);
    tn_tensor(&g, 1, ddt, dne0, dne1, 1, 1, dst);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
}

/* F32 -> F16: 1.5 = 0x3e00, -2 = 0xc000, 65504 = 0x7bff, 1e-8 -> 0,
 * 0.1 -> 0x2e66; then back to F32 in another shape. */
static void copy_converts_f32_and_f16(void **state) {
    (void)state;
    const float x[6] = {1.5f, -2.0f, 65504.0f, 1e-8f, 0.1f, 1e6f};
    uint16_t h[6];
    run_copy(EHAL_DTYPE_F32, 3, 2, x, EHAL_DTYPE_F16, 6, 1, h);
    const uint16_t want[6] = {0x3e00, 0xc000, 0x7bff, 0x0000, 0x2e66, 0x7c00};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(h[i], want[i]);
    }
    float y[6];
    run_copy(EHAL_DTYPE_F16, 6, 1, h, EHAL_DTYPE_F32, 2, 3, y);
    const double back[6] = {1.5, -2, 65504, 0, 0.0999755859375, INFINITY};
    for (int i = 0; i < 6; i++) {
        assert_true((double)y[i] == back[i]);
    }
}

/* F32 [32, 2] -> Q8_0 [64]: block 0 amax 127 gives d = 1 (0x3c00) and
 * q = roundf(x); block 1 is all 2.0: d = 2/127, q = 127 everywhere. */
static void copy_quantizes_to_q8_0(void **state) {
    (void)state;
    float x[64];
    for (int j = 0; j < 32; j++) {
        x[j] = (float)(j * 4 - 1) + 0.5f; /* -0.5, 3.5, ... 123.5 */
        x[32 + j] = 2.0f;
    }
    x[31] = -127.0f;
    ehal_block_q8_0 q[2];
    run_copy(EHAL_DTYPE_F32, 32, 2, x, EHAL_DTYPE_Q8_0, 64, 1, q);
    assert_int_equal(q[0].d, 0x3c00);
    for (int j = 0; j < 31; j++) {
        /* roundf(4j - 0.5) rounds the half away from zero: 4j for j>0, -1 for j=0 */
        assert_int_equal(q[0].qs[j], j == 0 ? -1 : 4 * j);
    }
    assert_int_equal(q[0].qs[31], -127);
    /* 2/127 = 0.015748: fp16 2^-6 * (1 + 8/1024), exponent field 9: 0x2408 */
    assert_int_equal(q[1].d, 0x2408);
    for (int j = 0; j < 32; j++) {
        assert_int_equal(q[1].qs[j], 127);
    }
}

/* Q4_0 -> F32 and I32 -> I32 (bit copy). */
static void copy_dequantizes_and_copies_ids(void **state) {
    (void)state;
    ehal_block_q4_0 b;
    b.d = 0xc000; /* -2 */
    for (int j = 0; j < 16; j++) {
        b.qs[j] = (uint8_t)(j | (j << 4));
    }
    float y[32];
    run_copy(EHAL_DTYPE_Q4_0, 32, 1, &b, EHAL_DTYPE_F32, 16, 2, y);
    for (int j = 0; j < 16; j++) {
        assert_true(y[j] == -2.0f * (float)(j - 8));
        assert_true(y[16 + j] == -2.0f * (float)(j - 8));
    }
    const int32_t ids[4] = {INT32_MIN, -1, 0, INT32_MAX};
    int32_t out[4] = {0};
    run_copy(EHAL_DTYPE_I32, 4, 1, ids, EHAL_DTYPE_I32, 2, 2, out);
    assert_memory_equal(ids, out, sizeof ids);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add_and_mul_are_element_wise),
        cmocka_unit_test(swiglu_is_silu_gate_times_up),
        cmocka_unit_test(copy_converts_f32_and_f16),
        cmocka_unit_test(copy_quantizes_to_q8_0),
        cmocka_unit_test(copy_dequantizes_and_copies_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
