/*
 * Op-against-reference cmocka tests shared by the GPU plugins' test
 * programs (tests/vulkan, tests/opencl). The program opens its plugin into
 * ph_case_backend in the group setup (be left NULL: every test skips,
 * printing skip_reason), may set ph_case_after_run (called after each
 * device run; vulkan asserts there was no validation message), and lists
 * PH_OP_CASE_TESTS among its tests. Include <cmocka.h> before the macro is
 * used.
 */
#ifndef EHAL_OP_CASES_H
#define EHAL_OP_CASES_H
#include <stdint.h>

#include "plugin_harness.h"

extern ph_backend ph_case_backend;
extern void (*ph_case_after_run)(void);

#define PH_REQUIRE_DEVICE()                                     \
    do {                                                        \
        if (!ph_case_backend.be) {                              \
            printf("SKIP: %s\n", ph_case_backend.skip_reason); \
            skip();                                             \
        }                                                       \
    } while (0)

/* ph_run on ph_case_backend, asserting success, no ERROR log line, and
 * ph_case_after_run. */
void ph_case_run_ok(ph_graph *g);
/* Y of a quantized-weight MATMUL against the int8-activation model
 * (int8_act_ref.h) to f32 rounding, and within 0.1 of the f32 reference. */
void ph_case_check_int8_act(const ph_graph *g, uint32_t w, uint32_t x, uint32_t y,
                            const char *what);

void ph_test_get_rows_matches_reference(void **state);
void ph_test_matmul_gemv_decode_matches_reference(void **state);
void ph_test_matmul_gemm_prefill_matches_reference(void **state);
void ph_test_rms_norm_matches_reference(void **state);
void ph_test_rope_normal_and_neox_match_reference(void **state);
void ph_test_add_mul_swiglu_match_reference(void **state);
void ph_test_softmax_matches_reference(void **state);
void ph_test_kv_write_bytes_match_the_reference_quantizer(void **state);
void ph_test_attention_matches_reference(void **state);
void ph_test_copy_converts_every_pair_bit_exactly(void **state);
void ph_test_decoder_chain_in_one_prepared_graph(void **state);
void ph_test_prepared_graph_reexecutes_with_new_positions(void **state);
void ph_test_odd_sizes_match_reference(void **state);

#define PH_OP_CASE_TESTS \
    cmocka_unit_test(ph_test_get_rows_matches_reference), \
    cmocka_unit_test(ph_test_matmul_gemv_decode_matches_reference), \
    cmocka_unit_test(ph_test_matmul_gemm_prefill_matches_reference), \
    cmocka_unit_test(ph_test_rms_norm_matches_reference), \
    cmocka_unit_test(ph_test_rope_normal_and_neox_match_reference), \
    cmocka_unit_test(ph_test_add_mul_swiglu_match_reference), \
    cmocka_unit_test(ph_test_softmax_matches_reference), \
    cmocka_unit_test(ph_test_kv_write_bytes_match_the_reference_quantizer), \
    cmocka_unit_test(ph_test_attention_matches_reference), \
    cmocka_unit_test(ph_test_copy_converts_every_pair_bit_exactly), \
    cmocka_unit_test(ph_test_decoder_chain_in_one_prepared_graph), \
    cmocka_unit_test(ph_test_prepared_graph_reexecutes_with_new_positions), \
    cmocka_unit_test(ph_test_odd_sizes_match_reference)
#endif
