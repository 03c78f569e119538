/* Reference MATMUL and GET_ROWS against products and rows worked out by
 * hand, with quantized weights whose dequantized values are exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ops_test_util.h"

/* W [K=3, N=2] rows [1 2 3], [4 5 6]; X [3, T=2] tokens [1 0 -1], [.5 1 2]:
 * Y[0] = [1-3, 4-6] = [-2, -2], Y[1] = [.5+2+6, 2+5+12] = [8.5, 19]. */
static void matmul_f32_two_by_three(void **state) {
    (void)state;
    float w[6] = {1, 2, 3, 4, 5, 6};
    float x[6] = {1, 0, -1, 0.5f, 1, 2};
    float y[4] = {0};
    tnode g;
    tn_init(&g, EHAL_OP_MATMUL, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 3, 2, 1, 1, w);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, 3, 2, 1, 1, x);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 2, 2, 1, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[4] = {-2, -2, 8.5, 19};
    assert_floats_close(y, want, 4, 0.0);
}

/* Same product with X [3, 1, 2]: trailing dims flatten into tokens. */
static void matmul_flattens_batched_activations(void **state) {
    (void)state;
    float w[6] = {1, 2, 3, 4, 5, 6};
    float x[6] = {1, 0, -1, 0.5f, 1, 2};
    float y[4] = {0};
    tnode g;
    tn_init(&g, EHAL_OP_MATMUL, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 3, 2, 1, 1, w);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, 3, 1, 2, 1, x);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 2, 1, 2, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[4] = {-2, -2, 8.5, 19};
    assert_floats_close(y, want, 4, 0.0);
}

/* F16 weights 1..6 except W[1][2] = fp16 0x2e66 = 0.0999755859375 (the
 * fp16 nearest 0.1): the kernel must use the stored value, not 0.1. */
static void matmul_f16_uses_the_stored_half_values(void **state) {
    (void)state;
    uint16_t w[6] = {0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x2e66};
    float x[3] = {1, 1, 1000};
    float y[2] = {0};
    tnode g;
    tn_init(&g, EHAL_OP_MATMUL, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F16, 3, 2, 1, 1, w);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, 3, 1, 1, 1, x);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 2, 1, 1, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[2] = {1 + 2 + 3000, 4 + 5 + 99.9755859375};
    assert_floats_close(y, want, 2, 1e-4);
}

/* Q8_0 W [32, 2]: row 0 d = 0.5, q_k = k - 16 (values (k-16)/2);
 * row 1 d = 2, q_k = +1 for odd k, -1 for even (values +-2).
 * Token 0 is all ones:   y = [sum (k-16)/2, 0] = [(496-512)/2, 0] = [-8, 0].
 * Token 1 is x_k = k:    y0 = (sum k^2 - 16 sum k)/2 = (10416 - 7936)/2 = 1240,
 *                        y1 = 2 (sum odd k - sum even k) = 2 (256 - 240) = 32. */
static void matmul_q8_0_weights(void **state) {
    (void)state;
    ehal_block_q8_0 w[2];
    w[0].d = 0x3800;
    w[1].d = 0x4000;
    for (int k = 0; k < 32; k++) {
        w[0].qs[k] = (int8_t)(k - 16);
        w[1].qs[k] = (int8_t)(k % 2 ? 1 : -1);
    }
    float x[64], y[4] = {0};
    for (int k = 0; k < 32; k++) {
        x[k] = 1.0f;
        x[32 + k] = (float)k;
    }
    tnode g;
    tn_init(&g, EHAL_OP_MATMUL, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_Q8_0, 32, 2, 1, 1, w);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, 32, 2, 1, 1, x);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 2, 2, 1, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[4] = {-8, 0, 1240, 32};
    assert_floats_close(y, want, 4, 0.0);
}

/* Q4_0 W [64, 1]: block 0 d = 0.5, bytes 0x9f: elements 0..15 are
 * (15-8)*0.5 = 3.5, 16..31 are (9-8)*0.5 = 0.5; block 1 d = -1, bytes
 * 0x08: elements 32..47 are 0, 48..63 are (0-8)*-1 = 8.
 * All-ones x: 16*3.5 + 16*0.5 + 0 + 16*8 = 192; all -1: -192;
 * x = 1 on element 40 and 50 only: 0 + 8 = 8. */
static void matmul_q4_0_weights(void **state) {
    (void)state;
    ehal_block_q4_0 w[2];
    w[0].d = 0x3800;
    w[1].d = 0xbc00;
    memset(w[0].qs, 0x9f, sizeof w[0].qs);
    memset(w[1].qs, 0x08, sizeof w[1].qs);
    float x[3 * 64] = {0}, y[3] = {0};
    for (int k = 0; k < 64; k++) {
        x[k] = 1.0f;
        x[64 + k] = -1.0f;
    }
    x[128 + 40] = 1.0f;
    x[128 + 50] = 1.0f;
    tnode g;
    tn_init(&g, EHAL_OP_MATMUL, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_Q4_0, 64, 1, 1, 1, w);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, 64, 3, 1, 1, x);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 1, 3, 1, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[3] = {192, -192, 8};
    assert_floats_close(y, want, 3, 0.0);
}

/* Activations are not quantized: x with values an int8 activation
 * quantizer would round (amax 100, so step 100/127) must come out exact. */
static void matmul_does_not_quantize_activations(void **state) {
    (void)state;
    ehal_block_q8_0 w;
    w.d = 0x3c00;
    memset(w.qs, 0, sizeof w.qs);
    w.qs[0] = 1;
    w.qs[1] = 1;
    float x[32] = {0.3f, 0.001f, 100.0f};
    float y = 0;
    tnode g;
    tn_init(&g, EHAL_OP_MATMUL, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_Q8_0, 32, 1, 1, 1, &w);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, 32, 1, 1, 1, x);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 1, 1, 1, 1, &y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    assert_close(y, 0.301, 1e-7);
}

/* table F32 [3, 4], row v = [v, 10v, 100v]; ids [2, 0, 3, 2]. */
static void get_rows_f32_table(void **state) {
    (void)state;
    float table[12];
    for (int v = 0; v < 4; v++) {
        table[v * 3 + 0] = (float)v;
        table[v * 3 + 1] = 10.0f * (float)v;
        table[v * 3 + 2] = 100.0f * (float)v;
    }
    int32_t ids[4] = {2, 0, 3, 2};
    float out[12];
    tnode g;
    tn_init(&g, EHAL_OP_GET_ROWS, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 3, 4, 1, 1, table);
    tn_tensor(&g, 1, EHAL_DTYPE_I32, 4, 1, 1, 1, ids);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 3, 4, 1, 1, out);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[12] = {2, 20, 200, 0, 0, 0, 3, 30, 300, 2, 20, 200};
    assert_floats_close(out, want, 12, 0.0);
}

/* Quantized tables: Q8_0 row v has d = v + 1 (fp16 1, 2, 3) and q_j = j - 16,
 * so row 1 is (j-16)*2; Q4_0 row v has d = 1 and every byte 0x2d: low
 * nibble 13 -> 5, high 2 -> -6. */
static void get_rows_quantized_tables(void **state) {
    (void)state;
    ehal_block_q8_0 t8[3];
    const uint16_t d8[3] = {0x3c00, 0x4000, 0x4200};
    for (int v = 0; v < 3; v++) {
        t8[v].d = d8[v];
        for (int j = 0; j < 32; j++) {
            t8[v].qs[j] = (int8_t)(j - 16);
        }
    }
    int32_t ids[2] = {1, 2};
    float out[64];
    tnode g;
    tn_init(&g, EHAL_OP_GET_ROWS, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_Q8_0, 32, 3, 1, 1, t8);
    tn_tensor(&g, 1, EHAL_DTYPE_I32, 2, 1, 1, 1, ids);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 32, 2, 1, 1, out);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    for (int j = 0; j < 32; j++) {
        assert_true(out[j] == (float)((j - 16) * 2));
        assert_true(out[32 + j] == (float)((j - 16) * 3));
    }

    ehal_block_q4_0 t4[2];
    for (int v = 0; v < 2; v++) {
        t4[v].d = 0x3c00;
        memset(t4[v].qs, v == 1 ? 0x2d : 0x88, sizeof t4[v].qs);
    }
    int32_t one[1] = {1};
    tn_init(&g, EHAL_OP_GET_ROWS, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_Q4_0, 32, 2, 1, 1, t4);
    tn_tensor(&g, 1, EHAL_DTYPE_I32, 1, 1, 1, 1, one);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 32, 1, 1, 1, out);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    for (int j = 0; j < 32; j++) {
        assert_true(out[j] == (j < 16 ? 5.0f : -6.0f));
    }
}

/* An id outside [0, V) is refused before anything is written. */
static void get_rows_refuses_out_of_range_ids(void **state) {
    (void)state;
    float table[6] = {1, 2, 3, 4, 5, 6};
    float out[4] = {-7, -7, -7, -7};
    const int32_t bad[3][2] = {{0, 3}, {-1, 0}, {1, INT32_MIN}};
    for (int i = 0; i < 3; i++) {
        tnode g;
        tn_init(&g, EHAL_OP_GET_ROWS, NULL, 0);
        tn_tensor(&g, 0, EHAL_DTYPE_F32, 2, 3, 1, 1, table);
        tn_tensor(&g, 1, EHAL_DTYPE_I32, 2, 1, 1, 1, (void *)bad[i]);
        tn_tensor(&g, 2, EHAL_DTYPE_F32, 2, 2, 1, 1, out);
        assert_int_equal(tn_run(&g), EHAL_STATUS_INVALID_ARGUMENT);
        for (int j = 0; j < 4; j++) {
            assert_true(out[j] == -7.0f);
        }
    }
}

/* Kernels given missing data report it instead of crashing. */
static void kernels_refuse_missing_data(void **state) {
    (void)state;
    float w[6] = {0}, y[2];
    tnode g;
    tn_init(&g, EHAL_OP_MATMUL, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 3, 2, 1, 1, w);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, 3, 1, 1, 1, NULL);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 2, 1, 1, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(ehal_ref_MATMUL(NULL), EHAL_STATUS_INVALID_ARGUMENT);
    ehal_kernel_args a;
    ehal_kernel_args_fill(&a, NULL, 0, tn_resolve, &g);
    assert_null(a.out);
    assert_int_equal(ehal_ref_GET_ROWS(&a), EHAL_STATUS_INVALID_ARGUMENT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matmul_f32_two_by_three),
        cmocka_unit_test(matmul_flattens_batched_activations),
        cmocka_unit_test(matmul_f16_uses_the_stored_half_values),
        cmocka_unit_test(matmul_q8_0_weights),
        cmocka_unit_test(matmul_q4_0_weights),
        cmocka_unit_test(matmul_does_not_quantize_activations),
        cmocka_unit_test(get_rows_f32_table),
        cmocka_unit_test(get_rows_quantized_tables),
        cmocka_unit_test(get_rows_refuses_out_of_range_ids),
        cmocka_unit_test(kernels_refuse_missing_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
