/*
 * ABI compatibility (R1-R8): a plugin built against the frozen revision-1
 * header loads and runs; a "newer" plugin with a larger function table and
 * a shorter device-info struct loads and runs; callers built against older
 * headers may pass shorter structs, whose absent fields read as zero.
 */
#include "hal_test.h"

static void run_binary(ehal_backend *be, uint32_t op, const float *a, const float *b, float *out,
                       uint32_t tensor_size) {
    ehal_buffer *ba = NULL, *bb = NULL, *bo = NULL;
    assert_int_equal(ehal_buffer_alloc(be, 16, 0, &ba), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_alloc(be, 16, 0, &bb), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_alloc(be, 16, 0, &bo), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_write(ba, 0, a, 16), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_write(bb, 0, b, 16), EHAL_STATUS_OK);
    ehal_tensor_desc t[3] = {f32_tensor(4, 1, ba, 0), f32_tensor(4, 1, bb, 0),
                             f32_tensor(4, 1, bo, 0)};
    for (int i = 0; i < 3; i++) {
        t[i].struct_size = tensor_size;
        if (tensor_size <= offsetof(ehal_tensor_desc, offset))
            t[i].offset = 1000; /* beyond struct_size: must be ignored */
    }
    const ehal_tensor_desc *tp[3] = {&t[0], &t[1], &t[2]};
    ehal_node_desc n = binary_node(op, 0, 1, 2);
    const ehal_node_desc *np[1] = {&n};
    ehal_subgraph sg = {
        .struct_size = sizeof sg, .n_tensors = 3, .n_nodes = 1, .tensors = tp, .nodes = np};
    ehal_executable *exe = NULL;
    assert_int_equal(ehal_prepare(be, &sg, &exe), EHAL_STATUS_OK);
    assert_int_equal(ehal_execute(exe), EHAL_STATUS_OK);
    assert_int_equal(ehal_wait(exe, UINT64_MAX), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_read(bo, 0, out, 16), EHAL_STATUS_OK);
    ehal_executable_release(exe);
    ehal_buffer_free(ba);
    ehal_buffer_free(bb);
    ehal_buffer_free(bo);
}

static void a_plugin_built_against_the_frozen_v1_header_runs(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(FROZEN_SO, NULL);
    assert_int_equal(ehal_skipped_count(ctx), 0);
    ehal_backend *be = ehal_backend_find(ctx, "frozen1");
    assert_non_null(be);
    ehal_backend_props p = {.struct_size = sizeof p};
    assert_int_equal(ehal_backend_props_get(be, &p), EHAL_STATUS_OK);
    assert_int_equal(p.abi_version, 1);
    assert_string_equal(p.device.name, "frozen revision-1 device");
    assert_int_equal(p.device.kind, EHAL_DEVICE_OTHER);
    assert_int_equal(p.device.memory_bytes, 4096);
    const float a[4] = {1, -2, 3.5f, 0}, b[4] = {2, 3, 2, 7};
    float out[4];
    run_binary(be, EHAL_OP_MUL, a, b, out, sizeof(ehal_tensor_desc));
    const float e[4] = {2, -6, 7, 0};
    assert_memory_equal(out, e, sizeof e);
    ehal_context_destroy(ctx);
}

static void a_newer_plugin_with_a_larger_table_and_shorter_info_runs(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(FUTURE_SO, NULL);
    assert_int_equal(ehal_skipped_count(ctx), 0);
    ehal_backend *be = ehal_backend_find(ctx, "future");
    assert_non_null(be);
    ehal_backend_props p = {.struct_size = sizeof p};
    assert_int_equal(ehal_backend_props_get(be, &p), EHAL_STATUS_OK);
    assert_string_equal(p.device.name, "future device");
    assert_string_equal(p.device.driver, "future tag=");
    assert_int_equal(p.device.struct_size, sizeof(ehal_device_info));
    /* Fields the plugin did not fill are absent: zero. */
    assert_int_equal(p.device.memory_bytes, 0);
    assert_int_equal(p.device.link_bytes_per_s, 0);
    const float a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40};
    float out[4];
    run_binary(be, EHAL_OP_ADD, a, b, out, sizeof(ehal_tensor_desc));
    const float e[4] = {11, 22, 33, 44};
    assert_memory_equal(out, e, sizeof e);
    ehal_context_destroy(ctx);
}

static void shorter_tensor_structs_read_absent_fields_as_zero(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(MOCK_SO, NULL);
    const float a[4] = {1, 2, 3, 4}, b[4] = {4, 3, 2, 1};
    float out[4];
    /* A caller whose tensor desc ends before `offset`: offset reads as 0. */
    run_binary(ehal_backend_get(ctx, 0), EHAL_OP_ADD, a, b, out,
               (uint32_t)offsetof(ehal_tensor_desc, offset));
    const float e[4] = {5, 5, 5, 5};
    assert_memory_equal(out, e, sizeof e);
    ehal_context_destroy(ctx);
}

static void a_tensor_struct_below_the_minimum_is_refused(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(MOCK_SO, NULL);
    ehal_tensor_desc t[2] = {f32_tensor(4, 1, NULL, 0), f32_tensor(4, 1, NULL, 0)};
    t[1].struct_size = 16; /* ends before the shape */
    const ehal_tensor_desc *tp[2] = {&t[0], &t[1]};
    ehal_node_desc n;
    memset(&n, 0, sizeof n);
    n.struct_size = sizeof n;
    n.op = EHAL_OP_SOFTMAX;
    n.n_inputs = n.n_outputs = 1;
    n.outputs[0] = 1;
    const ehal_node_desc *np[1] = {&n};
    ehal_subgraph sg = {
        .struct_size = sizeof sg, .n_tensors = 2, .n_nodes = 1, .tensors = tp, .nodes = np};
    ehal_op_support s = {.struct_size = sizeof s};
    assert_int_equal(ehal_backend_query_op(ehal_backend_get(ctx, 0), &sg, 0, &s),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_string_equal(ehal_last_error(ctx),
                        "tensor 1: struct_size 16 is smaller than the 48-byte minimum");
    ehal_context_destroy(ctx);
}

static void a_struct_size_ending_inside_a_field_drops_that_field(void **state) {
    (void)state;
    ehal_context *ctx = open_ctx(MOCK_SO, NULL);
    ehal_backend *be = ehal_backend_get(ctx, 0);
    const float a[4] = {1, 2, 3, 4}, b[4] = {4, 3, 2, 1};
    float out[4];
    /* A tensor desc ending 3 bytes into `offset` (whose bytes hold 1000):
     * the torn field is absent, so the offset is 0 and the run is right. */
    run_binary(be, EHAL_OP_ADD, a, b, out, (uint32_t)offsetof(ehal_tensor_desc, offset) + 3);
    const float e[4] = {5, 5, 5, 5};
    assert_memory_equal(out, e, sizeof e);

    /* A node ending 4 bytes into its params pointer (found by fuzz_prepare,
     * which crashed on the torn pointer): params are absent, and a nonzero
     * params_size is then refused cleanly. */
    ehal_buffer *buf = NULL;
    assert_int_equal(ehal_buffer_alloc(be, 32, 0, &buf), EHAL_STATUS_OK);
    ehal_tensor_desc t[2] = {f32_tensor(4, 1, buf, 0), f32_tensor(4, 1, buf, 16)};
    const ehal_tensor_desc *tp[2] = {&t[0], &t[1]};
    ehal_params_softmax params = {.scale = 1.0f};
    ehal_node_desc n;
    memset(&n, 0, sizeof n);
    n.op = EHAL_OP_SOFTMAX;
    n.n_inputs = n.n_outputs = 1;
    n.outputs[0] = 1;
    n.params_size = sizeof params;
    n.params = &params;
    n.struct_size = (uint32_t)offsetof(ehal_node_desc, params) + 4;
    const ehal_node_desc *np[1] = {&n};
    ehal_subgraph sg = {
        .struct_size = sizeof sg, .n_tensors = 2, .n_nodes = 1, .tensors = tp, .nodes = np};
    ehal_executable *exe = NULL;
    assert_int_equal(ehal_prepare(be, &sg, &exe), EHAL_STATUS_INVALID_ARGUMENT);
    assert_null(exe);
    assert_non_null(strstr(ehal_last_error(ctx), "params is NULL with params_size=4"));
    ehal_buffer_free(buf);
    ehal_context_destroy(ctx);
}

static void shorter_props_and_options_from_older_callers_work(void **state) {
    (void)state;
    /* Options ending before log_level: the level defaults (warn). */
    ehal_context_options o = test_options(MOCK_SO, NULL, EHAL_LOG_DEBUG);
    o.struct_size = (uint32_t)offsetof(ehal_context_options, log_level);
    ehal_context *ctx = NULL;
    assert_int_equal(ehal_context_create(&o, &ctx), EHAL_STATUS_OK);
    assert_int_equal(ehal_backend_count(ctx), 1);
    /* Props ending before `device`: the rest of the caller's struct is untouched. */
    ehal_backend_props p;
    memset(&p, 0xAB, sizeof p);
    p.struct_size = (uint32_t)offsetof(ehal_backend_props, device);
    assert_int_equal(ehal_backend_props_get(ehal_backend_get(ctx, 0), &p), EHAL_STATUS_OK);
    assert_int_equal(p.struct_size, offsetof(ehal_backend_props, device));
    assert_string_equal(p.name, "mock");
    assert_int_equal(p.abi_version, 1);
    unsigned char canary[sizeof(ehal_device_info)];
    memset(canary, 0xAB, sizeof canary);
    assert_memory_equal(&p.device, canary, sizeof canary);
    ehal_context_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_plugin_built_against_the_frozen_v1_header_runs),
        cmocka_unit_test(a_newer_plugin_with_a_larger_table_and_shorter_info_runs),
        cmocka_unit_test(shorter_tensor_structs_read_absent_fields_as_zero),
        cmocka_unit_test(a_tensor_struct_below_the_minimum_is_refused),
        cmocka_unit_test(a_struct_size_ending_inside_a_field_drops_that_field),
        cmocka_unit_test(shorter_props_and_options_from_older_callers_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
