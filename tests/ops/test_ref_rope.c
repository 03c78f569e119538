/* Reference ROPE against rotations worked out by hand.
 * With D = n_rot = 4 and freq_base 10000: theta_0 = pos, theta_1 =
 * pos * 10000^(-2/4) = pos / 100. cos 1 = 0.5403023, sin 1 = 0.8414710,
 * cos .01 = 0.9999500, sin .01 = 0.0099998. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ops_test_util.h"

/* x [4, 2 heads, 2 tokens], the same two head vectors at pos 0 and pos 1. */
static void run_rope(const ehal_params_rope *p, const int32_t pos[2], float y[16]) {
    float x[16] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8};
    tnode g;
    tn_init(&g, EHAL_OP_ROPE, p, p ? sizeof *p : 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 4, 2, 2, 1, x);
    tn_tensor(&g, 1, EHAL_DTYPE_I32, 2, 1, 1, 1, (void *)pos);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 4, 2, 2, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
}

/* Normal mode rotates (x0, x1) by theta_0 and (x2, x3) by theta_1:
 * head 0 at pos 1: [1c1 - 2s1, 1s1 + 2c1, 3c.01 - 4s.01, 3s.01 + 4c.01]. */
static void rope_normal_rotates_adjacent_pairs(void **state) {
    (void)state;
    const int32_t pos[2] = {0, 1};
    float y[16];
    run_rope(NULL, pos, y); /* no params: normal mode, n_rot = D, base 10000 */
    const double want[16] = {1,          2,         3,         4,         5,         6,
                             7,          8,         -1.1426397, 1.9220756, 2.9598507, 4.0297995,
                             -2.3473144, 7.4491688, 6.9196513, 8.0695988};
    assert_floats_close(y, want, 16, 1e-6);
}

/* NeoX pairs (x0, x2) by theta_0 and (x1, x3) by theta_1:
 * head 0 at pos 1: [1c1 - 3s1, 2c.01 - 4s.01, 1s1 + 3c1, 2s.01 + 4c.01]. */
static void rope_neox_rotates_split_halves(void **state) {
    (void)state;
    const int32_t pos[2] = {0, 1};
    ehal_params_rope p = {EHAL_ROPE_NEOX, 4, 10000.0f, 1.0f};
    float y[16];
    run_rope(&p, pos, y);
    const double want[16] = {1,          2,         3,         4,         5,         6,
                             7,          8,         -1.9841106, 1.9599007, 2.4623779, 4.0197997,
                             -3.1887854, 5.9197013, 7.9894711, 8.0595990};
    assert_floats_close(y, want, 16, 1e-6);
}

/* freq_scale 0.5, base 100, pos 2: theta_0 = 2 * 0.5 = 1,
 * theta_1 = 1 * 100^(-1/2) = 0.1 -> head 0: [-1.1426397, 1.9220756,
 * 3c.1 - 4s.1 = 2.5856788, 3s.1 + 4c.1 = 4.2795169]. */
static void rope_scales_positions_and_uses_the_base(void **state) {
    (void)state;
    const int32_t pos[2] = {2, 2};
    ehal_params_rope p = {EHAL_ROPE_NORMAL, 0, 100.0f, 0.5f};
    float y[16];
    run_rope(&p, pos, y);
    const double want[4] = {-1.1426397, 1.9220756, 2.5856788, 4.2795169};
    assert_floats_close(y, want, 4, 1e-6);
    assert_floats_close(y + 8, want, 4, 1e-6);
}

/* n_rot = 2 < D = 4: only (x0, x1) rotates, by theta_0 = pos = 2
 * ([c2 - 2s2, s2 + 2c2] = [-2.2347417, 0.0770038]); x2, x3 are copied. */
static void rope_partial_rotation_copies_the_rest(void **state) {
    (void)state;
    const int32_t pos[2] = {2, 0};
    ehal_params_rope p = {EHAL_ROPE_NORMAL, 2, 10000.0f, 1.0f};
    float y[16];
    run_rope(&p, pos, y);
    const double want[4] = {-2.2347417, 0.0770038, 3, 4};
    assert_floats_close(y, want, 4, 1e-6);
    assert_true(y[6] == 7.0f && y[7] == 8.0f);
    p.mode = EHAL_ROPE_NEOX; /* n_rot 2: NeoX pairs (x0, x1) too */
    run_rope(&p, pos, y);
    assert_floats_close(y, want, 4, 1e-6);
}

/* Large positions keep full precision: D = 2, pos 1000, x = [1, 0]
 * -> [cos 1000, sin 1000] = [0.5623791, 0.8268795]. */
static void rope_large_position(void **state) {
    (void)state;
    float x[2] = {1, 0}, y[2];
    int32_t pos[1] = {1000};
    tnode g;
    tn_init(&g, EHAL_OP_ROPE, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 2, 1, 1, 1, x);
    tn_tensor(&g, 1, EHAL_DTYPE_I32, 1, 1, 1, 1, pos);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 2, 1, 1, 1, y);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[2] = {0.5623791, 0.8268795};
    assert_floats_close(y, want, 2, 1e-6);
}

/* In place (output aliasing input 0) gives the same result. */
static void rope_in_place(void **state) {
    (void)state;
    float x[4] = {1, 2, 3, 4};
    int32_t pos[1] = {1};
    tnode g;
    tn_init(&g, EHAL_OP_ROPE, NULL, 0);
    tn_tensor(&g, 0, EHAL_DTYPE_F32, 4, 1, 1, 1, x);
    tn_tensor(&g, 1, EHAL_DTYPE_I32, 1, 1, 1, 1, pos);
    tn_tensor(&g, 2, EHAL_DTYPE_F32, 4, 1, 1, 1, x);
    assert_int_equal(tn_run(&g), EHAL_STATUS_OK);
    const double want[4] = {-1.1426397, 1.9220756, 2.9598507, 4.0297995};
    assert_floats_close(x, want, 4, 1e-6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rope_normal_rotates_adjacent_pairs),
        cmocka_unit_test(rope_neox_rotates_split_halves),
        cmocka_unit_test(rope_scales_positions_and_uses_the_base),
        cmocka_unit_test(rope_partial_rotation_copies_the_rest),
        cmocka_unit_test(rope_large_position),
        cmocka_unit_test(rope_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
