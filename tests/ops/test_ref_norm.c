/* Reference RMS_NORM and SOFTMAX against values worked out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ops_test_util.h"

/* x = [3, 4]: mean(x^2) = 12.5, rms = sqrt(12.5) = 3.5355339;
 * w = [1, 2]: y = [3/3.5355339, 2*4/3.5355339] = [0.8485281, 2.2627417].
 * Row 2: x = [1, 1], eps 0: y = [1, 2]. */
static void rms_norm_of_three_four(void **state) {
    (void)state;
    float x[4] = {3, 4, 1, 1}, w[2] = {1, 2}, y[4];
    ehal_params_rms_norm p = {0.0f};
    tnode g;
    tn_init(&g, EHAL_OP_RMS_NORM, &p, sizeof p);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 2, 2, 1, 1, x);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, 2, 1, 1, 1, w);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 2, 2, 1, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[4] = {0.84852814, 2.26274170, 1, 2};
    assert_floats_close(y, want, 4, 1e-6);
}

/* eps is added to the mean square: x = [1, 1], eps = 3 -> 1/sqrt(4) = 0.5;
 * an all-zero row with eps = 1e-6 stays zero. */
static void rms_norm_adds_eps_inside_the_root(void **state) {
    (void)state;
    float x[4] = {1, 1, 0, 0}, w[2] = {1, 1}, y[4];
    ehal_params_rms_norm p = {3.0f};
    tnode g;
    tn_init(&g, EHAL_OP_RMS_NORM, &p, sizeof p);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 2, 2, 1, 1, x);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, 2, 1, 1, 1, w);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 2, 2, 1, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[4] = {0.5, 0.5, 0, 0};
    assert_floats_close(y, want, 4, 1e-7);
}

/* Rows span every dim beyond ne[0]: [2, 1, 2] has two rows. Huge values
 * do not overflow (sums in double): x = [3e30, 4e30] -> [0.8485, 1.1314]. */
static void rms_norm_rows_span_outer_dims(void **state) {
    (void)state;
    float x[4] = {3e30f, 4e30f, -6, 8}, w[2] = {1, 1}, y[4];
    tnode g;
    tn_init(&g, EHAL_OP_RMS_NORM, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 2, 1, 2, 1, x);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, 2, 1, 1, 1, w);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 2, 1, 2, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    /* row 2: mean(36, 64) = 50, rms = 7.0710678 */
    const double want[4] = {0.84852814, 1.13137085, -0.84852814, 1.13137085};
    assert_floats_close(y, want, 4, 1e-6);
}

/* x = [0, ln 2, ln 3]: exp = [1, 2, 3], softmax = [1/6, 2/6, 3/6]. */
static void softmax_of_log_values(void **state) {
    (void)state;
    float x[3] = {0.0f, (float)log(2.0), (float)log(3.0)}, y[3];
    tnode g;
    tn_init(&g, EHAL_OP_SOFTMAX, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 3, 1, 1, 1, x);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, 3, 1, 1, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[3] = {1.0 / 6, 2.0 / 6, 3.0 / 6};
    assert_floats_close(y, want, 3, 1e-7);
}

/* scale multiplies x: x = [0, 0.5 ln 2] with scale 2 -> [1/3, 2/3];
 * a negative scale flips: scale -2 -> [2/3, 1/3]. */
static void softmax_applies_scale_first(void **state) {
    (void)state;
    float x[2] = {0.0f, (float)(0.5 * log(2.0))}, y[2];
    ehal_params_softmax p = {2.0f};
    tnode g;
    tn_init(&g, EHAL_OP_SOFTMAX, &p, sizeof p);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 2, 1, 1, 1, x);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, 2, 1, 1, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[2] = {1.0 / 3, 2.0 / 3};
    assert_floats_close(y, want, 2, 1e-7);
    p.scale = -2.0f;
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double flipped[2] = {2.0 / 3, 1.0 / 3};
    assert_floats_close(y, flipped, 2, 1e-7);
}

/* Stable: [1000, 1000] is [0.5, 0.5], not NaN; [-inf, 0] is [0, 1];
 * each row is separate. */
static void softmax_is_stable_and_per_row(void **state) {
    (void)state;
    float x[6] = {1000, 1000, -INFINITY, 0, -1000, 1000}, y[6];
    tnode g;
    tn_init(&g, EHAL_OP_SOFTMAX, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 2, 3, 1, 1, x);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, 2, 3, 1, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[6] = {0.5, 0.5, 0, 1, 0, 1};
    assert_floats_close(y, want, 6, 0.0);
}

/* NaN propagates to its row; the other row is unaffected. */
static void softmax_propagates_nan(void **state) {
    (void)state;
    float x[4] = {NAN, 1, 0, 0}, y[4];
    tnode g;
    tn_init(&g, EHAL_OP_SOFTMAX, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 2, 2, 1, 1, x);
    tn_tensor(&g, 1, EHAL_DTYPE_F32, 2, 2, 1, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    assert_true(isnan(y[0]));
    assert_true(isnan(y[1]));
    assert_true(y[2] == 0.5f && y[3] == 0.5f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rms_norm_of_three_four),
        cmocka_unit_test(rms_norm_adds_eps_inside_the_root),
        cmocka_unit_test(rms_norm_rows_span_outer_dims),
        cmocka_unit_test(softmax_of_log_values),
        cmocka_unit_test(softmax_applies_scale_first),
        cmocka_unit_test(softmax_is_stable_and_per_row),
        cmocka_unit_test(softmax_propagates_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
