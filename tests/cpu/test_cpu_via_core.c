/*
 * The CPU plugin as a runtime sees it: loaded by the core from
 * $EHAL_TEST_PLUGIN_DIR, listed with its device, answering the op x dtype
 * matrix, and running a subgraph through ehal_prepare/ehal_execute/ehal_wait.
 * Expected values are computed by hand.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edgehal/edgehal.h"

static ehal_context *ctx;
static ehal_backend *cpu;

static int open_context(void **state)
{
    (void)state;
    const char *dir = getenv("EHAL_TEST_PLUGIN_DIR");
    if (dir == NULL) {
        fprintf(stderr, "EHAL_TEST_PLUGIN_DIR is not set (run through ctest)\n");
        return -1;
    }
    ehal_context_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.flags = EHAL_CONTEXT_NO_DEFAULT_PATHS;
    o.backend_path = dir;
    o.backends = "cpu";
    o.log_level = EHAL_LOG_WARN;
    ehal_status_t st = ehal_context_create(&o, &ctx);
    if (st != EHAL_STATUS_OK) {
        fprintf(stderr, "ehal_context_create: %s\n", ehal_status_string(st));
        return -1;
    }
    cpu = ehal_backend_find(ctx, "cpu");
    if (cpu == NULL) {
        fprintf(stderr, "no cpu backend in %s (%u skipped)\n", dir, ehal_skipped_count(ctx));
        for (uint32_t i = 0; i < ehal_skipped_count(ctx); i++)
            fprintf(stderr, "  %s: %s\n", ehal_skipped_path(ctx, i), ehal_skipped_reason(ctx, i));
        return -1;
    }
    return 0;
}

static int close_context(void **state)
{
    (void)state;
    ehal_context_destroy(ctx);
    ctx = NULL;
    cpu = NULL;
    return 0;
}

static void test_cpu_backend_is_listed_as_a_host_shared_cpu(void **state)
{
    (void)state;
    ehal_backend_props p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    assert_int_equal(ehal_backend_props_get(cpu, &p), EHAL_STATUS_OK);
    assert_string_equal(p.name, "cpu");
    assert_int_equal(p.abi_version, 1);
    assert_non_null(strstr(p.path, "libedgehal-cpu.so"));
    assert_int_equal(p.device.kind, EHAL_DEVICE_CPU);
    assert_true(p.device.flags & EHAL_DEVICE_HOST_SHARED);
    assert_true(p.device.memory_bytes > 0);
    assert_true(strlen(p.device.name) > 0);
}

/* Every (op, dtype) the catalog defines is SUPPORTED; each catalog op has
 * at least one defined dtype, so no op escapes the check. */
static void test_cpu_supports_every_defined_op_dtype_pair(void **state)
{
    (void)state;
    static const uint32_t ops[] = {
#define X_OP_ID(N, id, s, ni, no, P) id,
        EHAL_OP_LIST(X_OP_ID)
#undef X_OP_ID
    };
    static const uint32_t dtypes[] = {
#define X_DT_ID(N, id, s, bv, bb) id,
        EHAL_DTYPE_LIST(X_DT_ID)
#undef X_DT_ID
    };
    uint32_t pairs = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        uint32_t defined = 0;
        for (size_t j = 0; j < sizeof dtypes / sizeof dtypes[0]; j++) {
            if (!ehal_op_dtype_defined(ops[i], dtypes[j]))
                continue;
            defined++;
            uint32_t level = ehal_backend_op_support(cpu, ops[i], dtypes[j]);
            if (level != EHAL_SUPPORT_SUPPORTED)
                fail_msg("op %u dtype %u: level %u, want supported (%s)", ops[i], dtypes[j],
                         level, ehal_last_error(ctx));
        }
        if (defined == 0)
            fail_msg("op %u has no defined dtype", ops[i]);
        pairs += defined;
    }
    /* GET_ROWS, MATMUL: 4 weight dtypes; KV_WRITE, ATTENTION: 3 caches;
     * COPY: at least 4 destinations; 6 F32-only ops. */
    assert_true(pairs >= 4 + 4 + 3 + 3 + 4 + 6);
    /* and nothing undefined is claimed */
    assert_int_equal(ehal_backend_op_support(cpu, EHAL_OP_ADD, EHAL_DTYPE_I32),
                     EHAL_SUPPORT_UNSUPPORTED);
}

static void desc(ehal_tensor_desc *t, uint32_t dtype, int64_t ne0, int64_t ne1, ehal_buffer *buf,
                 uint64_t offset)
{
    memset(t, 0, sizeof *t);
    t->struct_size = sizeof *t;
    t->dtype = dtype;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = 1;
    t->ne[3] = 1;
    t->buffer = ehal_buffer_handle(buf);
    t->offset = offset;
}

/* MATMUL then ADD: W[K=2,N=3] rows (1,2), (0,-1), (3,0); x = (2,5):
 * W.x = (12, -5, 6); + (1, 1, -6) = (13, -4, 0). The weights come from an
 * imported host array (zero-copy), the rest from an allocated buffer. */
static void test_subgraph_runs_through_prepare_execute_wait(void **state)
{
    (void)state;
    float weights[6] = {1, 2, 0, -1, 3, 0};
    ehal_buffer *wbuf = NULL, *abuf = NULL;
    assert_int_equal(ehal_buffer_import_host(cpu, weights, sizeof weights, EHAL_BUFFER_WEIGHTS,
                                             &wbuf),
                     EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_alloc(cpu, 256, 0, &abuf), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_size(abuf), 256);
    void *mapped = NULL;
    assert_int_equal(ehal_buffer_map(abuf, &mapped), EHAL_STATUS_OK);
    assert_int_equal((uintptr_t)mapped % 64, 0); /* the core honours the plugin's alignment */
    ehal_buffer_unmap(abuf);

    ehal_tensor_desc t[5];
    desc(&t[0], EHAL_DTYPE_F32, 2, 3, wbuf, 0);  /* W */
    desc(&t[1], EHAL_DTYPE_F32, 2, 1, abuf, 0);  /* x */
    desc(&t[2], EHAL_DTYPE_F32, 3, 1, abuf, 64); /* W.x */
    desc(&t[3], EHAL_DTYPE_F32, 3, 1, abuf, 128); /* bias */
    desc(&t[4], EHAL_DTYPE_F32, 3, 1, abuf, 192); /* out */
    t[0].role = EHAL_ROLE_WEIGHT;
    const ehal_tensor_desc *tp[5] = {&t[0], &t[1], &t[2], &t[3], &t[4]};
    ehal_node_desc n[2];
    memset(n, 0, sizeof n);
    n[0].struct_size = n[1].struct_size = sizeof n[0];
    n[0].op = EHAL_OP_MATMUL;
    n[0].n_inputs = 2;
    n[0].n_outputs = 1;
    n[0].inputs[0] = 0;
    n[0].inputs[1] = 1;
    n[0].outputs[0] = 2;
    n[1].op = EHAL_OP_ADD;
    n[1].n_inputs = 2;
    n[1].n_outputs = 1;
    n[1].inputs[0] = 2;
    n[1].inputs[1] = 3;
    n[1].outputs[0] = 4;
    const ehal_node_desc *np[2] = {&n[0], &n[1]};
    ehal_subgraph sg = {sizeof sg, 5, 2, 0, tp, np};

    const float x[2] = {2, 5}, bias[3] = {1, 1, -6};
    assert_int_equal(ehal_buffer_write(abuf, 0, x, sizeof x), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_write(abuf, 128, bias, sizeof bias), EHAL_STATUS_OK);

    ehal_op_support s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    assert_int_equal(ehal_backend_query_op(cpu, &sg, 0, &s), EHAL_STATUS_OK);
    assert_int_equal(s.level, EHAL_SUPPORT_SUPPORTED);
    assert_true(s.cost_ns > 0);

    ehal_executable *exe = NULL;
    assert_int_equal(ehal_prepare(cpu, &sg, &exe), EHAL_STATUS_OK);
    assert_int_equal(ehal_execute(exe), EHAL_STATUS_OK);
    assert_int_equal(ehal_wait(exe, UINT64_MAX), EHAL_STATUS_OK);
    float mid[3], out[3];
    assert_int_equal(ehal_buffer_read(abuf, 64, mid, sizeof mid), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_read(abuf, 192, out, sizeof out), EHAL_STATUS_OK);
    const float want_mid[3] = {12, -5, 6}, want_out[3] = {13, -4, 0};
    for (int i = 0; i < 3; i++) {
        assert_true(mid[i] == want_mid[i]);
        assert_true(out[i] == want_out[i]);
    }

    /* zero-copy: changing the host array changes the next run's result */
    weights[0] = 2; /* row 0 = (2,2): W.x[0] = 14, out[0] = 15 */
    assert_int_equal(ehal_execute(exe), EHAL_STATUS_OK);
    assert_int_equal(ehal_wait(exe, UINT64_MAX), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_read(abuf, 192, out, sizeof out), EHAL_STATUS_OK);
    assert_true(out[0] == 15.0f);

    /* out-of-range access is refused by the core's range check */
    assert_int_equal(ehal_buffer_read(abuf, 250, out, sizeof out), EHAL_STATUS_INVALID_ARGUMENT);

    ehal_executable_release(exe);
    ehal_buffer_free(abuf);
    ehal_buffer_free(wbuf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_backend_is_listed_as_a_host_shared_cpu),
        cmocka_unit_test(test_cpu_supports_every_defined_op_dtype_pair),
        cmocka_unit_test(test_subgraph_runs_through_prepare_execute_wait),
    };
    return cmocka_run_group_tests_name("cpu via core", tests, open_context, close_context);
}
