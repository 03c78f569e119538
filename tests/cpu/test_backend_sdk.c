/*
 * The backend SDK helpers on their own: option parsing, negotiation,
 * allocation and logging through host services, the subgraph deep copy's
 * struct-size handling, and the op-by-op runner with a kernel table of
 * recording fakes (so no reference kernel is involved).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edgehal/backend_sdk.h"

static char last_log[1024];
static int n_logs;
static long live_allocs;

static void host_log(void *user, int32_t level, const char *msg)
{
    (void)user;
    (void)level;
    n_logs++;
    snprintf(last_log, sizeof last_log, "%s", msg);
}

static void *host_alloc(void *user, size_t size, size_t align)
{
    (void)user;
    (void)align;
    live_allocs++;
    return malloc(size);
}

static void host_free(void *user, void *p)
{
    (void)user;
    if (p != NULL)
        live_allocs--;
    free(p);
}

static const ehal_host_services host = {sizeof(ehal_host_services), 1, NULL, host_log,
                                        host_alloc, host_free};

static int reset(void **state)
{
    (void)state;
    last_log[0] = '\0';
    n_logs = 0;
    live_allocs = 0;
    return 0;
}

/* ---- options ---------------------------------------------------------------- */

static void test_option_u64_parses_decimal_with_binary_suffixes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t want;
    } ok[] = {{"0", 0},           {"42", 42},          {"4K", 4096},
              {"3k", 3072},       {"2M", 2097152},     {"1G", 1073741824ull},
              {"18446744073709551615", UINT64_MAX}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ehal_option o = {"n", ok[i].text};
        uint64_t v = 7;
        assert_int_equal(ehal_sdk_option_u64(&host, &o, 1, "n", &v), EHAL_STATUS_OK);
        assert_true(v == ok[i].want);
    }
}

static void test_option_u64_rejects_malformed_values_naming_key_and_value(void **state)
{
    (void)state;
    static const char *const bad[] = {"",   "-1", "+1", " 3",  "1.5", "12x", "0x10",
                                      "4KB", "K", "18446744073709551616", "17179869184G"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ehal_option o = {"threads", bad[i]};
        uint64_t v = 7;
        last_log[0] = '\0';
        assert_int_equal(ehal_sdk_option_u64(&host, &o, 1, "threads", &v),
                         EHAL_STATUS_INVALID_ARGUMENT);
        assert_true(v == 7); /* untouched */
        assert_non_null(strstr(last_log, "'threads'"));
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        assert_non_null(strstr(last_log, quoted));
    }
}

static void test_option_lookup_takes_the_last_occurrence_and_leaves_absent_keys(void **state)
{
    (void)state;
    ehal_option o[] = {{"a", "1"}, {"b", "2"}, {"a", "3"}, {NULL, "x"}};
    assert_string_equal(ehal_sdk_option(o, 4, "a"), "3");
    assert_string_equal(ehal_sdk_option(o, 4, "b"), "2");
    assert_null(ehal_sdk_option(o, 4, "c"));
    assert_null(ehal_sdk_option(NULL, 0, "a"));
    uint64_t v = 9;
    assert_int_equal(ehal_sdk_option_u64(&host, o, 4, "c", &v), EHAL_STATUS_OK);
    assert_true(v == 9);
    assert_int_equal(ehal_sdk_option_u64(&host, o, 4, "a", &v), EHAL_STATUS_OK);
    assert_true(v == 3);
}

/* ---- negotiation -------------------------------------------------------------- */

static const ehal_backend_iface fake_iface = {.struct_size = sizeof(ehal_backend_iface),
                                              .name = "fake"};

static void test_negotiate_answers_revision_1_or_incompatible(void **state)
{
    (void)state;
    ehal_entry_args a = {sizeof a, 1, 3, 0, &host, NULL};
    assert_int_equal(ehal_sdk_negotiate(&a, &fake_iface), EHAL_STATUS_OK);
    assert_int_equal(a.plugin_version, 1);
    assert_ptr_equal(a.iface, &fake_iface);

    ehal_entry_args b = {sizeof b, 2, 3, 0, &host, &fake_iface};
    assert_int_equal(ehal_sdk_negotiate(&b, &fake_iface), EHAL_STATUS_INCOMPATIBLE);
    assert_int_equal(b.plugin_version, 1);
    assert_null(b.iface);
    assert_non_null(strstr(last_log, "fake"));
    assert_non_null(strstr(last_log, "2..3"));

    assert_int_equal(ehal_sdk_negotiate(&a, NULL), EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(ehal_sdk_negotiate(NULL, &fake_iface), EHAL_STATUS_INVALID_ARGUMENT);
}

/* ---- allocation and logging ------------------------------------------------------ */

static void test_allocation_goes_through_host_services_and_calloc_zeroes(void **state)
{
    (void)state;
    unsigned char *p = ehal_sdk_calloc(&host, 10, 10);
    assert_non_null(p);
    assert_int_equal(live_allocs, 1);
    for (int i = 0; i < 100; i++)
        assert_int_equal(p[i], 0);
    ehal_sdk_free(&host, p);
    assert_int_equal(live_allocs, 0);
    assert_null(ehal_sdk_calloc(&host, SIZE_MAX / 2, 3)); /* n * size overflows */
    assert_int_equal(live_allocs, 0);
    /* no host: malloc/free */
    void *q = ehal_sdk_alloc(NULL, 32);
    assert_non_null(q);
    ehal_sdk_free(NULL, q);
    assert_int_equal(live_allocs, 0);
}

static void test_log_formats_and_skips_absent_log_entries(void **state)
{
    (void)state;
    ehal_sdk_log(&host, EHAL_LOG_ERROR, "tensor %u: value %s", 3u, "bad");
    assert_int_equal(n_logs, 1);
    assert_string_equal(last_log, "tensor 3: value bad");
    /* a host struct too short to hold `log` is never called through it */
    ehal_host_services old = host;
    old.struct_size = (uint32_t)offsetof(ehal_host_services, log);
    ehal_sdk_log(&old, EHAL_LOG_ERROR, "lost");
    ehal_sdk_log(NULL, EHAL_LOG_ERROR, "lost");
    assert_int_equal(n_logs, 1);
    /* nor is a short struct's allocator used */
    old.struct_size = (uint32_t)offsetof(ehal_host_services, free);
    void *p = ehal_sdk_alloc(&old, 8);
    assert_int_equal(live_allocs, 0);
    ehal_sdk_free(&old, p);
}

/* ---- subgraph copy --------------------------------------------------------------------- */

/* Caller structs shorter than ours, with junk where our later fields are:
 * the copy must not read the junk. */
static void test_graph_copy_zero_fills_fields_beyond_a_short_struct(void **state)
{
    (void)state;
    ehal_tensor_desc t[2];
    memset(t, 0x77, sizeof t); /* junk everywhere ... */
    for (int i = 0; i < 2; i++) {
        t[i].struct_size = (uint32_t)(offsetof(ehal_tensor_desc, ne) + sizeof t[i].ne);
        t[i].dtype = EHAL_DTYPE_F32;
        t[i].role = EHAL_ROLE_ACTIVATION;
        t[i].reserved0 = 0;
        for (int d = 0; d < 4; d++)
            t[i].ne[d] = d == 0 ? 4 : 1;
    } /* ... so buffer/offset beyond struct_size hold 0x77 bytes */
    const ehal_tensor_desc *tp[2] = {&t[0], &t[1]};
    ehal_node_desc n;
    memset(&n, 0x77, sizeof n);
    n.struct_size = (uint32_t)offsetof(ehal_node_desc, params_size);
    n.op = EHAL_OP_COPY;
    n.n_inputs = 1;
    n.n_outputs = 1;
    memset(n.inputs, 0, sizeof n.inputs);
    n.outputs[0] = 1;
    const ehal_node_desc *np[1] = {&n};
    ehal_subgraph sg = {sizeof sg, 2, 1, 0, tp, np};

    ehal_sdk_graph *g = NULL;
    assert_int_equal(ehal_sdk_graph_copy(&host, &sg, &g), EHAL_STATUS_OK);
    const ehal_subgraph *v = ehal_sdk_graph_view(g);
    assert_int_equal(v->n_tensors, 2);
    assert_int_equal(v->n_nodes, 1);
    for (int i = 0; i < 2; i++) {
        assert_ptr_not_equal(v->tensors[i], &t[i]);
        assert_int_equal(v->tensors[i]->struct_size, sizeof(ehal_tensor_desc));
        assert_int_equal(v->tensors[i]->ne[0], 4);
        assert_null(v->tensors[i]->buffer);
        assert_true(v->tensors[i]->offset == 0);
    }
    assert_int_equal(v->nodes[0]->struct_size, sizeof(ehal_node_desc));
    assert_int_equal(v->nodes[0]->op, EHAL_OP_COPY);
    assert_int_equal(v->nodes[0]->outputs[0], 1);
    assert_int_equal(v->nodes[0]->params_size, 0);
    assert_null(v->nodes[0]->params);
    /* the copy is a valid subgraph for the catalog */
    assert_int_equal(ehal_op_validate(v, 0, NULL, 0), EHAL_STATUS_OK);
    ehal_sdk_graph_free(&host, g);
    assert_int_equal(live_allocs, 0);
}

static void test_graph_copy_owns_params_and_descs(void **state)
{
    (void)state;
    ehal_tensor_desc t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    t.dtype = EHAL_DTYPE_F32;
    t.ne[0] = 8;
    t.ne[1] = t.ne[2] = t.ne[3] = 1;
    t.offset = 4096;
    const ehal_tensor_desc *tp[1] = {&t};
    ehal_params_softmax p = {0.25f};
    ehal_node_desc n;
    memset(&n, 0, sizeof n);
    n.struct_size = sizeof n;
    n.op = EHAL_OP_SOFTMAX;
    n.n_inputs = n.n_outputs = 1;
    n.params = &p;
    n.params_size = sizeof p;
    const ehal_node_desc *np[1] = {&n};
    ehal_subgraph sg = {sizeof sg, 1, 1, 0, tp, np};
    ehal_sdk_graph *g = NULL;
    assert_int_equal(ehal_sdk_graph_copy(&host, &sg, &g), EHAL_STATUS_OK);
    p.scale = 9.0f;
    t.offset = 0;
    n.op = EHAL_OP_ADD;
    const ehal_subgraph *v = ehal_sdk_graph_view(g);
    assert_int_equal(v->nodes[0]->op, EHAL_OP_SOFTMAX);
    assert_int_equal(v->nodes[0]->params_size, sizeof p);
    assert_ptr_not_equal(v->nodes[0]->params, &p);
    assert_true(((const ehal_params_softmax *)v->nodes[0]->params)->scale == 0.25f);
    assert_true(v->tensors[0]->offset == 4096);
    ehal_sdk_graph_free(&host, g);
    assert_int_equal(live_allocs, 0);
}

static void test_graph_copy_refuses_structs_too_short_or_null(void **state)
{
    (void)state;
    ehal_tensor_desc t;
    memset(&t, 0, sizeof t);
    t.struct_size = 16; /* no room for the shape */
    const ehal_tensor_desc *tp[1] = {&t};
    ehal_subgraph sg = {sizeof sg, 1, 0, 0, tp, NULL};
    ehal_sdk_graph *g = (ehal_sdk_graph *)&t;
    assert_int_equal(ehal_sdk_graph_copy(&host, &sg, &g), EHAL_STATUS_INCOMPATIBLE);
    assert_null(g);
    assert_non_null(strstr(last_log, "tensor 0 struct_size 16"));

    tp[0] = NULL;
    assert_int_equal(ehal_sdk_graph_copy(&host, &sg, &g), EHAL_STATUS_INVALID_ARGUMENT);
    sg.struct_size = 8;
    assert_int_equal(ehal_sdk_graph_copy(&host, &sg, &g), EHAL_STATUS_INCOMPATIBLE);

    ehal_node_desc n;
    memset(&n, 0, sizeof n);
    n.struct_size = sizeof n;
    n.params_size = 8; /* with no params pointer */
    const ehal_node_desc *np[1] = {&n};
    ehal_subgraph sg2 = {sizeof sg2, 0, 1, 0, NULL, np};
    assert_int_equal(ehal_sdk_graph_copy(&host, &sg2, &g), EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(last_log, "params_size 8"));
    assert_int_equal(live_allocs, 0);
}

/* ---- check and run ------------------------------------------------------------------------- */

static uint32_t order[8];
static uint32_t n_calls;

/* out[0] = in0[0] + 1; records the node index. */
static ehal_status_t rec_kernel(const ehal_kernel_args *a)
{
    order[n_calls++] = a->node;
    ((float *)a->out_data)[0] = ((const float *)a->in_data[0])[0] + 1.0f;
    return EHAL_STATUS_OK;
}

static ehal_status_t failing_kernel(const ehal_kernel_args *a)
{
    order[n_calls++] = a->node;
    return EHAL_STATUS_INTERNAL;
}

static unsigned char arena[256];

static void *resolve_arena(void *user, const ehal_tensor_desc *t)
{
    (void)user;
    return arena + t->offset;
}

static void *resolve_null(void *user, const ehal_tensor_desc *t)
{
    (void)user;
    (void)t;
    return NULL;
}

/* Three chained COPY nodes over 1-element F32 tensors t0 -> t1 -> t2 -> t3. */
typedef struct chain {
    ehal_tensor_desc t[4];
    const ehal_tensor_desc *tp[4];
    ehal_node_desc n[3];
    const ehal_node_desc *np[3];
    ehal_subgraph sg;
} chain;

static void chain_init(chain *c, uint32_t op)
{
    memset(c, 0, sizeof *c);
    for (uint32_t i = 0; i < 4; i++) {
        c->t[i].struct_size = sizeof c->t[i];
        c->t[i].dtype = EHAL_DTYPE_F32;
        c->t[i].ne[0] = c->t[i].ne[1] = c->t[i].ne[2] = c->t[i].ne[3] = 1;
        c->t[i].offset = 16u * i;
        c->tp[i] = &c->t[i];
    }
    for (uint32_t i = 0; i < 3; i++) {
        c->n[i].struct_size = sizeof c->n[i];
        c->n[i].op = op;
        c->n[i].n_inputs = c->n[i].n_outputs = 1;
        c->n[i].inputs[0] = i;
        c->n[i].outputs[0] = i + 1;
        c->np[i] = &c->n[i];
    }
    c->sg = (ehal_subgraph){sizeof c->sg, 4, 3, 0, c->tp, c->np};
    n_calls = 0;
}

static void test_check_subgraph_requires_valid_nodes_with_kernels(void **state)
{
    (void)state;
    chain c;
    chain_init(&c, EHAL_OP_COPY);
    ehal_kernel_fn table[EHAL_OP_ID_LIMIT_] = {NULL};
    assert_int_equal(ehal_sdk_check_subgraph(&host, &c.sg, table, EHAL_OP_ID_LIMIT_),
                     EHAL_STATUS_UNSUPPORTED);
    assert_non_null(strstr(last_log, "copy"));
    table[EHAL_OP_COPY] = rec_kernel;
    assert_int_equal(ehal_sdk_check_subgraph(&host, &c.sg, table, EHAL_OP_ID_LIMIT_),
                     EHAL_STATUS_OK);
    /* a table too short to reach the op id counts as no kernel */
    assert_int_equal(ehal_sdk_check_subgraph(&host, &c.sg, table, EHAL_OP_COPY),
                     EHAL_STATUS_UNSUPPORTED);
    c.n[1].inputs[0] = 9; /* out of range */
    assert_int_equal(ehal_sdk_check_subgraph(&host, &c.sg, table, EHAL_OP_ID_LIMIT_),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(last_log, "node 1"));
}

static void test_run_nodes_calls_kernels_in_order_through_resolve(void **state)
{
    (void)state;
    chain c;
    chain_init(&c, EHAL_OP_COPY);
    ehal_kernel_fn table[EHAL_OP_ID_LIMIT_] = {NULL};
    table[EHAL_OP_COPY] = rec_kernel;
    memset(arena, 0, sizeof arena);
    float x = 10.0f;
    memcpy(arena, &x, sizeof x);
    assert_int_equal(
        ehal_sdk_run_nodes(&host, &c.sg, table, EHAL_OP_ID_LIMIT_, resolve_arena, NULL),
        EHAL_STATUS_OK);
    assert_int_equal(n_calls, 3);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 2);
    float y;
    memcpy(&y, arena + 48, sizeof y);
    assert_true(y == 13.0f); /* 10 + 1 + 1 + 1 through the chain */
}

static void test_run_nodes_stops_at_the_first_failing_kernel(void **state)
{
    (void)state;
    chain c;
    chain_init(&c, EHAL_OP_COPY);
    c.n[1].op = EHAL_OP_SOFTMAX;
    ehal_kernel_fn table[EHAL_OP_ID_LIMIT_] = {NULL};
    table[EHAL_OP_COPY] = rec_kernel;
    table[EHAL_OP_SOFTMAX] = failing_kernel;
    assert_int_equal(
        ehal_sdk_run_nodes(&host, &c.sg, table, EHAL_OP_ID_LIMIT_, resolve_arena, NULL),
        EHAL_STATUS_INTERNAL);
    assert_int_equal(n_calls, 2); /* node 2 never ran */
    assert_non_null(strstr(last_log, "node 1 (softmax)"));

    chain_init(&c, EHAL_OP_COPY);
    assert_int_equal(
        ehal_sdk_run_nodes(&host, &c.sg, table, EHAL_OP_ID_LIMIT_, resolve_null, NULL),
        EHAL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(n_calls, 0);
    assert_non_null(strstr(last_log, "no host data"));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup(name, reset)
    const struct CMUnitTest tests[] = {
        T(test_option_u64_parses_decimal_with_binary_suffixes),
        T(test_option_u64_rejects_malformed_values_naming_key_and_value),
        T(test_option_lookup_takes_the_last_occurrence_and_leaves_absent_keys),
        T(test_negotiate_answers_revision_1_or_incompatible),
        T(test_allocation_goes_through_host_services_and_calloc_zeroes),
        T(test_log_formats_and_skips_absent_log_entries),
        T(test_graph_copy_zero_fills_fields_beyond_a_short_struct),
        T(test_graph_copy_owns_params_and_descs),
        T(test_graph_copy_refuses_structs_too_short_or_null),
        T(test_check_subgraph_requires_valid_nodes_with_kernels),
        T(test_run_nodes_calls_kernels_in_order_through_resolve),
        T(test_run_nodes_stops_at_the_first_failing_kernel),
    };
#undef T
    return cmocka_run_group_tests_name("backend sdk", tests, NULL, NULL);
}
