/* The op and dtype catalogs and the size helpers, against values written
 * out by hand from backend_abi.h and GGUF's block sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ops_test_util.h"

typedef struct op_row {
    uint32_t id;
    const char *name;
    uint32_t n_in, n_out, params_size;
} op_row;

static const op_row expected_ops[] = {
    {1, "get_rows", 2, 1, 4}, {2, "matmul", 2, 1, 4},   {3, "rms_norm", 2, 1, 4},
    {4, "rope", 2, 1, 16},    {5, "add", 2, 1, 4},      {6, "mul", 2, 1, 4},
    {7, "swiglu", 2, 1, 4},   {8, "softmax", 1, 1, 4},  {9, "kv_write", 3, 1, 8},
    {10, "attention", 4, 1, 16}, {11, "copy", 1, 1, 4},
};
#define N_EXPECTED_OPS (sizeof expected_ops / sizeof expected_ops[0])

static void op_info_matches_the_abi_table(void **state) {
    (void)state;
    for (size_t i = 0; i < N_EXPECTED_OPS; i++) {
        const op_row *e = &expected_ops[i];
        const ehal_op_info *info = ehal_op_info_get(e->id);
        assert_non_null(info);
        assert_int_equal(info->id, e->id);
        assert_string_equal(info->name, e->name);
        assert_int_equal(info->n_inputs, e->n_in);
        assert_int_equal(info->n_outputs, e->n_out);
        assert_int_equal(info->params_size, e->params_size);
        assert_string_equal(ehal_op_name(e->id), e->name);
        assert_int_equal(ehal_op_from_name(e->name), e->id);
    }
}

static void op_list_holds_every_op_in_order(void **state) {
    (void)state;
    const uint32_t *ids = NULL;
    uint32_t n = ehal_op_list(&ids);
    assert_int_equal(n, N_EXPECTED_OPS);
    assert_non_null(ids);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(ids[i], expected_ops[i].id);
    }
    assert_int_equal(ehal_op_list(NULL), N_EXPECTED_OPS);
}

static void unknown_ops_are_reported_as_absent(void **state) {
    (void)state;
    assert_null(ehal_op_info_get(0));
    assert_null(ehal_op_info_get(12));
    assert_null(ehal_op_info_get(63));
    assert_null(ehal_op_info_get(UINT32_MAX));
    assert_string_equal(ehal_op_name(0), "unknown");
    assert_string_equal(ehal_op_name(999), "unknown");
    assert_int_equal(ehal_op_from_name("conv2d"), EHAL_OP_NONE);
    assert_int_equal(ehal_op_from_name("MATMUL"), EHAL_OP_NONE);
    assert_int_equal(ehal_op_from_name(""), EHAL_OP_NONE);
    assert_int_equal(ehal_op_from_name(NULL), EHAL_OP_NONE);
    assert_null(ehal_ref_kernel(0));
    assert_null(ehal_ref_kernel(12));
    assert_null(ehal_ref_kernel(UINT32_MAX));
}

static void every_op_has_a_reference_kernel(void **state) {
    (void)state;
    for (size_t i = 0; i < N_EXPECTED_OPS; i++) {
        assert_non_null(ehal_ref_kernel(expected_ops[i].id));
    }
    assert_ptr_equal(ehal_ref_kernel(EHAL_OP_MATMUL), ehal_ref_MATMUL);
    assert_ptr_equal(ehal_ref_kernel(EHAL_OP_COPY), ehal_ref_COPY);
}

typedef struct dtype_row {
    uint32_t id;
    const char *name;
    uint32_t bv, bb;
    int quantized;
} dtype_row;

/* GGUF ggml_type numbers and block sizes: Q4_0 = 2 bytes d + 16 bytes
 * nibbles, Q8_0 = 2 bytes d + 32 bytes. */
static const dtype_row expected_dtypes[] = {
    {0, "f32", 1, 4, 0},    {1, "f16", 1, 2, 0},  {2, "q4_0", 32, 18, 1},
    {8, "q8_0", 32, 34, 1}, {26, "i32", 1, 4, 0},
};
#define N_EXPECTED_DTYPES (sizeof expected_dtypes / sizeof expected_dtypes[0])

static void dtype_helpers_match_gguf(void **state) {
    (void)state;
    const uint32_t *ids = NULL;
    assert_int_equal(ehal_dtype_list(&ids), N_EXPECTED_DTYPES);
    for (size_t i = 0; i < N_EXPECTED_DTYPES; i++) {
        const dtype_row *e = &expected_dtypes[i];
        assert_int_equal(ids[i], e->id);
        assert_true(ehal_dtype_valid(e->id));
        assert_string_equal(ehal_dtype_name(e->id), e->name);
        assert_int_equal(ehal_dtype_from_name(e->name), e->id);
        assert_int_equal(ehal_dtype_block_values(e->id), e->bv);
        assert_int_equal(ehal_dtype_block_bytes(e->id), e->bb);
        assert_int_equal(!!ehal_dtype_is_quantized(e->id), e->quantized);
    }
}

static void unknown_dtypes_are_rejected(void **state) {
    (void)state;
    const uint32_t bad[] = {3, 7, 9, 25, 27, 31, 32, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(ehal_dtype_valid(bad[i]));
        assert_string_equal(ehal_dtype_name(bad[i]), "unknown");
        assert_int_equal(ehal_dtype_block_values(bad[i]), 0);
        assert_int_equal(ehal_dtype_block_bytes(bad[i]), 0);
        assert_false(ehal_dtype_is_quantized(bad[i]));
    }
    assert_int_equal(ehal_dtype_from_name("bf16"), UINT32_MAX);
    assert_int_equal(ehal_dtype_from_name("F32"), UINT32_MAX);
    assert_int_equal(ehal_dtype_from_name(NULL), UINT32_MAX);
}

static void row_bytes_counts_whole_blocks(void **state) {
    (void)state;
    assert_int_equal(ehal_row_bytes(EHAL_DTYPE_F32, 10), 40);
    assert_int_equal(ehal_row_bytes(EHAL_DTYPE_F16, 7), 14);
    assert_int_equal(ehal_row_bytes(EHAL_DTYPE_I32, 3), 12);
    assert_int_equal(ehal_row_bytes(EHAL_DTYPE_Q4_0, 64), 36);
    assert_int_equal(ehal_row_bytes(EHAL_DTYPE_Q8_0, 4096), 128 * 34);
    /* not a whole number of blocks, empty, negative, unknown dtype */
    assert_int_equal(ehal_row_bytes(EHAL_DTYPE_Q4_0, 33), 0);
    assert_int_equal(ehal_row_bytes(EHAL_DTYPE_Q8_0, 16), 0);
    assert_int_equal(ehal_row_bytes(EHAL_DTYPE_F32, 0), 0);
    assert_int_equal(ehal_row_bytes(EHAL_DTYPE_F32, -4), 0);
    assert_int_equal(ehal_row_bytes(5, 32), 0);
}

static void tensor_sizes_follow_the_dense_layout(void **state) {
    (void)state;
    ehal_tensor_desc t;
    int64_t ne[4] = {64, 3, 2, 1};
    ehal_tensor_desc_init(&t, EHAL_DTYPE_Q8_0, 3, ne);
    assert_int_equal(ehal_tensor_nelements(&t), 384);
    assert_int_equal(ehal_tensor_nbytes(&t), 2 * 34 * 6); /* 2 blocks a row, 6 rows */

    int64_t emb[2] = {4096, 32000};
    ehal_tensor_desc_init(&t, EHAL_DTYPE_Q4_0, 2, emb);
    assert_int_equal(ehal_tensor_nelements(&t), 4096LL * 32000);
    assert_int_equal(ehal_tensor_nbytes(&t), 128ULL * 18 * 32000);

    int64_t f16[4] = {5, 4, 3, 2};
    ehal_tensor_desc_init(&t, EHAL_DTYPE_F16, 4, f16);
    assert_int_equal(ehal_tensor_nbytes(&t), 5 * 4 * 3 * 2 * 2);
}

static void tensor_sizes_are_zero_when_invalid(void **state) {
    (void)state;
    ehal_tensor_desc t;
    int64_t zero[2] = {4, 0};
    ehal_tensor_desc_init(&t, EHAL_DTYPE_F32, 2, zero);
    assert_int_equal(ehal_tensor_nelements(&t), 0);
    assert_int_equal(ehal_tensor_nbytes(&t), 0);

    int64_t neg[2] = {-4, 2};
    ehal_tensor_desc_init(&t, EHAL_DTYPE_F32, 2, neg);
    assert_int_equal(ehal_tensor_nelements(&t), 0);
    assert_int_equal(ehal_tensor_nbytes(&t), 0);

    int64_t huge[4] = {1LL << 40, 1LL << 40, 1, 1}; /* 2^80 elements */
    ehal_tensor_desc_init(&t, EHAL_DTYPE_F32, 4, huge);
    assert_int_equal(ehal_tensor_nelements(&t), 0);
    assert_int_equal(ehal_tensor_nbytes(&t), 0);

    int64_t bytes_overflow[2] = {1LL << 31, 1LL << 31}; /* 2^62 elements, 2^64 bytes */
    ehal_tensor_desc_init(&t, EHAL_DTYPE_F32, 2, bytes_overflow);
    assert_int_equal(ehal_tensor_nelements(&t), 1LL << 62);
    assert_int_equal(ehal_tensor_nbytes(&t), 0);

    int64_t q[2] = {48, 2};
    ehal_tensor_desc_init(&t, EHAL_DTYPE_Q4_0, 2, q); /* 48 is not a block multiple */
    assert_int_equal(ehal_tensor_nbytes(&t), 0);

    ehal_tensor_desc_init(&t, 99, 2, q);
    assert_int_equal(ehal_tensor_nbytes(&t), 0);

    assert_int_equal(ehal_tensor_nelements(NULL), 0);
    assert_int_equal(ehal_tensor_nbytes(NULL), 0);
}

static void desc_init_fills_a_dense_activation(void **state) {
    (void)state;
    ehal_tensor_desc t;
    memset(&t, 0xab, sizeof t);
    int64_t ne[2] = {7, 9};
    ehal_tensor_desc_init(&t, EHAL_DTYPE_F16, 2, ne);
    assert_int_equal(t.struct_size, sizeof(ehal_tensor_desc));
    assert_int_equal(t.dtype, EHAL_DTYPE_F16);
    assert_int_equal(t.role, EHAL_ROLE_ACTIVATION);
    assert_int_equal(t.reserved0, 0);
    assert_int_equal(t.ne[0], 7);
    assert_int_equal(t.ne[1], 9);
    assert_int_equal(t.ne[2], 1);
    assert_int_equal(t.ne[3], 1);
    assert_null(t.buffer);
    assert_int_equal(t.offset, 0);

    /* more dims than EHAL_MAX_DIMS are ignored; NULL ne means a scalar */
    int64_t six[6] = {2, 3, 4, 5, 6, 7};
    ehal_tensor_desc_init(&t, EHAL_DTYPE_F32, 6, six);
    assert_int_equal(t.ne[3], 5);
    ehal_tensor_desc_init(&t, EHAL_DTYPE_F32, 3, NULL);
    assert_int_equal(t.ne[0], 1);
    assert_int_equal(ehal_tensor_nelements(&t), 1);
    ehal_tensor_desc_init(NULL, EHAL_DTYPE_F32, 2, ne); /* ignored, no crash */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(op_info_matches_the_abi_table),
        cmocka_unit_test(op_list_holds_every_op_in_order),
        cmocka_unit_test(unknown_ops_are_reported_as_absent),
        cmocka_unit_test(every_op_has_a_reference_kernel),
        cmocka_unit_test(dtype_helpers_match_gguf),
        cmocka_unit_test(unknown_dtypes_are_rejected),
        cmocka_unit_test(row_bytes_counts_whole_blocks),
        cmocka_unit_test(tensor_sizes_follow_the_dense_layout),
        cmocka_unit_test(tensor_sizes_are_zero_when_invalid),
        cmocka_unit_test(desc_init_fills_a_dense_activation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
