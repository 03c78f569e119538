/*
 * prepare / execute / wait / release: a subgraph runs on the mock backend
 * with results checked by hand, and ehal_prepare refuses what the catalog
 * or the buffers make invalid, with a message naming the node or tensor.
 */
#include "edgehal/ops.h"
#include "hal_test.h"

typedef struct fixture {
    ehal_context *ctx;
    ehal_backend *mock, *frozen;
    ehal_buffer *in;  /* 12 floats: A = in[0..6), B = in[6..12) */
    ehal_buffer *out; /* 6 floats */
} fixture;

static int setup(void **state) {
    static fixture f;
    f.ctx = open_ctx(MOCK_SO ":" FROZEN_SO, NULL);
    f.mock = ehal_backend_find(f.ctx, "mock");
    f.frozen = ehal_backend_find(f.ctx, "frozen1");
    if (!f.mock || !f.frozen)
        return -1;
    if (ehal_buffer_alloc(f.mock, 48, 0, &f.in) || ehal_buffer_alloc(f.mock, 24, 0, &f.out))
        return -1;
    const float v[12] = {1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60};
    if (ehal_buffer_write(f.in, 0, v, sizeof v))
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    ehal_buffer_free(f->in);
    ehal_buffer_free(f->out);
    ehal_context_destroy(f->ctx);
    return 0;
}

typedef struct graph3 {
    ehal_tensor_desc t[3];
    const ehal_tensor_desc *tp[3];
    ehal_node_desc n;
    const ehal_node_desc *np[1];
    ehal_subgraph sg;
} graph3;

/* out[3,2] = A[3,2] + B[3,2], A and B in f->in, out in f->out. */
static void add_graph(graph3 *g, const fixture *f) {
    g->t[0] = f32_tensor(3, 2, f->in, 0);
    g->t[1] = f32_tensor(3, 2, f->in, 24);
    g->t[2] = f32_tensor(3, 2, f->out, 0);
    for (int i = 0; i < 3; i++)
        g->tp[i] = &g->t[i];
    g->n = binary_node(EHAL_OP_ADD, 0, 1, 2);
    g->np[0] = &g->n;
    g->sg = (ehal_subgraph){.struct_size = sizeof g->sg,
                            .n_tensors = 3,
                            .n_nodes = 1,
                            .tensors = g->tp,
                            .nodes = g->np};
}

static void add_runs_and_reruns_with_new_inputs(void **state) {
    fixture *f = *state;
    graph3 g;
    add_graph(&g, f);
    ehal_executable *exe = NULL;
    assert_int_equal(ehal_prepare(f->mock, &g.sg, &exe), EHAL_STATUS_OK);
    assert_int_equal(ehal_execute(exe), EHAL_STATUS_OK);
    assert_int_equal(ehal_wait(exe, UINT64_MAX), EHAL_STATUS_OK);
    float r[6];
    assert_int_equal(ehal_buffer_read(f->out, 0, r, sizeof r), EHAL_STATUS_OK);
    const float e1[6] = {11, 22, 33, 44, 55, 66};
    assert_memory_equal(r, e1, sizeof r);
    /* New input, same executable (R18: the write is ordered after the run). */
    const float b2[6] = {0.5f, 0.25f, -1, -2, -3, 100};
    assert_int_equal(ehal_buffer_write(f->in, 24, b2, sizeof b2), EHAL_STATUS_OK);
    assert_int_equal(ehal_execute(exe), EHAL_STATUS_OK);
    assert_int_equal(ehal_wait(exe, UINT64_MAX), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_read(f->out, 0, r, sizeof r), EHAL_STATUS_OK);
    const float e2[6] = {1.5f, 2.25f, 2, 2, 2, 106};
    assert_memory_equal(r, e2, sizeof r);
    ehal_executable_release(exe);
    ehal_executable_release(NULL);
    const float b1[6] = {10, 20, 30, 40, 50, 60};
    assert_int_equal(ehal_buffer_write(f->in, 24, b1, sizeof b1), EHAL_STATUS_OK);
}

static void prepare_reports_the_validators_message(void **state) {
    fixture *f = *state;
    graph3 g;
    add_graph(&g, f);
    g.t[1].ne[0] = 2; /* B [2,3] no longer matches A [3,2] */
    g.t[1].ne[1] = 3;
    char msg[400] = "";
    ehal_status_t expect = ehal_op_validate(&g.sg, 0, msg, sizeof msg);
    assert_int_equal(expect, EHAL_STATUS_INVALID_ARGUMENT);
    assert_true(msg[0] != '\0');
    ehal_executable *exe = (ehal_executable *)1;
    assert_int_equal(ehal_prepare(f->mock, &g.sg, &exe), EHAL_STATUS_INVALID_ARGUMENT);
    assert_null(exe);
    char full[500];
    snprintf(full, sizeof full, "mock: prepare: %s", msg);
    assert_string_equal(ehal_last_error(f->ctx), full);
}

static void tensors_need_a_buffer_of_this_backend_that_fits(void **state) {
    fixture *f = *state;
    graph3 g;
    ehal_executable *exe = NULL;

    add_graph(&g, f);
    g.t[2].buffer = NULL;
    assert_int_equal(ehal_prepare(f->mock, &g.sg, &exe), EHAL_STATUS_INVALID_ARGUMENT);
    assert_string_equal(ehal_last_error(f->ctx), "mock: prepare: tensor 2 has no buffer");

    ehal_buffer *foreign = NULL;
    assert_int_equal(ehal_buffer_alloc(f->frozen, 24, 0, &foreign), EHAL_STATUS_OK);
    add_graph(&g, f);
    g.t[0].buffer = ehal_buffer_handle(foreign);
    assert_int_equal(ehal_prepare(f->mock, &g.sg, &exe), EHAL_STATUS_INVALID_ARGUMENT);
    assert_string_equal(ehal_last_error(f->ctx),
                        "mock: prepare: tensor 0: its buffer is not a live buffer of this backend");
    ehal_buffer_free(foreign);

    add_graph(&g, f);
    g.t[1].offset = 28; /* 24 bytes at 28 in a 48-byte buffer */
    assert_int_equal(ehal_prepare(f->mock, &g.sg, &exe), EHAL_STATUS_INVALID_ARGUMENT);
    assert_string_equal(ehal_last_error(f->ctx),
                        "mock: prepare: tensor 1: 24 bytes at offset 28 exceed its 48-byte buffer");

    add_graph(&g, f);
    g.t[1].offset = UINT64_MAX - 8; /* wraps if added naively */
    assert_int_equal(ehal_prepare(f->mock, &g.sg, &exe), EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(ehal_last_error(f->ctx), "mock: prepare: tensor 1: 24 bytes at offset"));
    assert_null(exe);
}

static void a_failing_plugin_call_carries_the_plugins_own_message(void **state) {
    fixture *f = *state;
    graph3 g;
    add_graph(&g, f);
    g.n.op = EHAL_OP_MUL; /* valid in the catalog, not offered by mock */
    ehal_executable *exe = NULL;
    assert_int_equal(ehal_prepare(f->mock, &g.sg, &exe), EHAL_STATUS_UNSUPPORTED);
    assert_string_equal(ehal_last_error(f->ctx),
                        "mock: prepare failed: unsupported: node 0: op 6 is not supported by mock");
}

static void malformed_subgraphs_are_refused(void **state) {
    fixture *f = *state;
    graph3 g;
    add_graph(&g, f);
    ehal_executable *exe = NULL;
    g.sg.n_nodes = 0;
    assert_int_equal(ehal_prepare(f->mock, &g.sg, &exe), EHAL_STATUS_INVALID_ARGUMENT);
    assert_string_equal(ehal_last_error(f->ctx), "mock: prepare: the subgraph has no nodes");
    add_graph(&g, f);
    g.tp[1] = NULL;
    assert_int_equal(ehal_prepare(f->mock, &g.sg, &exe), EHAL_STATUS_INVALID_ARGUMENT);
    assert_string_equal(ehal_last_error(f->ctx), "tensor 1 is NULL");
    add_graph(&g, f);
    g.sg.struct_size = 8;
    assert_int_equal(ehal_prepare(f->mock, &g.sg, &exe), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(ehal_prepare(f->mock, NULL, &exe), EHAL_STATUS_INVALID_ARGUMENT);
    assert_string_equal(ehal_last_error(f->ctx), "subgraph is NULL");
    assert_int_equal(ehal_prepare(NULL, &g.sg, &exe), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(ehal_execute(NULL), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(ehal_wait(NULL, 0), EHAL_STATUS_INVALID_ARGUMENT);
}

static void a_chain_of_two_nodes_runs_in_order(void **state) {
    fixture *f = *state;
    ehal_buffer *tmp = NULL;
    assert_int_equal(ehal_buffer_alloc(f->mock, 24, 0, &tmp), EHAL_STATUS_OK);
    /* t3 = A + B; out = t3 + A */
    ehal_tensor_desc t[4] = {f32_tensor(6, 1, f->in, 0), f32_tensor(6, 1, f->in, 24),
                             f32_tensor(6, 1, tmp, 0), f32_tensor(6, 1, f->out, 0)};
    const ehal_tensor_desc *tp[4] = {&t[0], &t[1], &t[2], &t[3]};
    ehal_node_desc n[2] = {binary_node(EHAL_OP_ADD, 0, 1, 2), binary_node(EHAL_OP_ADD, 2, 0, 3)};
    const ehal_node_desc *np[2] = {&n[0], &n[1]};
    ehal_subgraph sg = {
        .struct_size = sizeof sg, .n_tensors = 4, .n_nodes = 2, .tensors = tp, .nodes = np};
    ehal_executable *exe = NULL;
    assert_int_equal(ehal_prepare(f->mock, &sg, &exe), EHAL_STATUS_OK);
    assert_int_equal(ehal_execute(exe), EHAL_STATUS_OK);
    assert_int_equal(ehal_wait(exe, 0), EHAL_STATUS_OK);
    float r[6];
    assert_int_equal(ehal_buffer_read(f->out, 0, r, sizeof r), EHAL_STATUS_OK);
    const float e[6] = {12, 24, 36, 48, 60, 72};
    assert_memory_equal(r, e, sizeof r);
    ehal_executable_release(exe);
    ehal_buffer_free(tmp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add_runs_and_reruns_with_new_inputs),
        cmocka_unit_test(prepare_reports_the_validators_message),
        cmocka_unit_test(tensors_need_a_buffer_of_this_backend_that_fits),
        cmocka_unit_test(a_failing_plugin_call_carries_the_plugins_own_message),
        cmocka_unit_test(malformed_subgraphs_are_refused),
        cmocka_unit_test(a_chain_of_two_nodes_runs_in_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
