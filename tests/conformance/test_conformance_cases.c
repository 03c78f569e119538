/*
 * Case generation, ids, globbing, metrics, tolerances and expected-failure
 * lists of the conformance suite, checked against hand-computed values.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static void case_ids_are_unique_and_deterministic(void **state) {
    (void)state;
    conf_caselist a, b;
    assert_int_equal(conf_cases_generate(&a, 1), 0);
    assert_int_equal(conf_cases_generate(&b, 1), 0);
    assert_int_equal(a.n, b.n);
    assert_true(a.n > 150);
    for (uint32_t i = 0; i < a.n; i++) {
        assert_string_equal(a.v[i].id, b.v[i].id);
        assert_memory_equal(a.v[i].p, b.v[i].p, sizeof a.v[i].p);
        for (uint32_t j = i + 1; j < a.n; j++)
            assert_string_not_equal(a.v[i].id, a.v[j].id);
    }
    conf_caselist_free(&b);
    assert_int_equal(conf_cases_generate(&b, 7), 0);
    assert_int_equal(a.n, b.n);
    /* The seed is the id's last component. */
    size_t n = strlen(b.v[0].id);
    assert_string_equal(b.v[0].id + n - 3, "/s7");
    conf_caselist_free(&a);
    conf_caselist_free(&b);
}

static void every_catalog_op_has_cases(void **state) {
    (void)state;
    conf_caselist l;
    assert_int_equal(conf_cases_generate(&l, 1), 0);
    const uint32_t *ops;
    uint32_t n_ops = ehal_op_list(&ops);
    for (uint32_t k = 0; k < n_ops; k++) {
        const char *name = ehal_op_name(ops[k]);
        size_t len = strlen(name);
        int count = 0;
        for (uint32_t i = 0; i < l.n; i++)
            count += strncmp(l.v[i].id, name, len) == 0 && l.v[i].id[len] == '/';
        if (count == 0)
            print_message("op %s has no case\n", name);
        assert_true(count >= 3);
        /* ... and none falls back to the "no generator" placeholder. */
        assert_non_null(conf_op_family(ops[k]));
    }
    conf_caselist_free(&l);
}

static void generated_programs_are_valid_nodes(void **state) {
    (void)state;
    conf_caselist l;
    assert_int_equal(conf_cases_generate(&l, 3), 0);
    for (uint32_t i = 0; i < l.n; i++) {
        const conf_family *f = conf_family_get(l.v[i].family);
        if (!f->build)
            continue;
        conf_prog *p = calloc(1, sizeof *p);
        assert_non_null(p);
        p->rng = conf_hash(l.v[i].id);
        char msg[160] = "";
        assert_int_equal(f->build(&l.v[i], p, msg, sizeof msg), 0);
        assert_true(p->n_checks > 0);
        for (uint32_t k = 0; k < p->n_nodes; k++) {
            /* a one-node view of each node, validated by the catalog */
            const ehal_tensor_desc *tp[CONF_MAX_TENSORS];
            for (uint32_t t = 0; t < p->n_t; t++)
                tp[t] = &p->t[t].d;
            ehal_node_desc nd = p->nodes[k].n;
            nd.params = nd.params_size ? p->nodes[k].params : NULL;
            const ehal_node_desc *np[1] = {&nd};
            ehal_subgraph sg = {sizeof sg, p->n_t, 1, 0, tp, np};
            char vm[200] = "";
            ehal_status_t st = ehal_op_validate(&sg, 0, vm, sizeof vm);
            if (st != EHAL_STATUS_OK)
                print_message("%s node %u: %s\n", l.v[i].id, k, vm);
            assert_int_equal(st, EHAL_STATUS_OK);
        }
        conf_prog_free(p);
        free(p);
    }
    conf_caselist_free(&l);
}

static void llm_core_holds_the_decoder_ops_and_not_q4_caches(void **state) {
    (void)state;
    assert_true(conf_in_core("matmul", EHAL_DTYPE_Q4_0));
    assert_true(conf_in_core("attention", EHAL_DTYPE_Q8_0));
    assert_true(conf_in_core("kv_write", EHAL_DTYPE_F16));
    assert_false(conf_in_core("attention", EHAL_DTYPE_Q4_0));
    assert_false(conf_in_core("kv_write", EHAL_DTYPE_Q4_0));
    assert_false(conf_in_core("copy", EHAL_DTYPE_F16));
}

static void glob_matches_ids(void **state) {
    (void)state;
    assert_true(ehal_conf_glob_match("matmul/*", "matmul/q4_0/K4096xN32xT1/s1"));
    assert_true(ehal_conf_glob_match("*/q4_0/*", "matmul/q4_0/K4096xN32xT1/s1"));
    assert_false(ehal_conf_glob_match("*/q8_0/*", "matmul/q4_0/K4096xN32xT1/s1"));
    assert_true(ehal_conf_glob_match("matmul/q?_0/*T1/s1", "matmul/q4_0/K4096xN32xT1/s1"));
    assert_true(ehal_conf_glob_match("s[wo]*", "swiglu/f32/4096x1/s1"));
    assert_false(ehal_conf_glob_match("s[!wo]*", "softmax/f32/D1xT4/s1"));
    assert_true(ehal_conf_glob_match("a[a-z]d", "add"));
    assert_false(ehal_conf_glob_match("add", "add/"));
    assert_true(ehal_conf_glob_match("", ""));
}

static void metrics_match_hand_computed_values(void **state) {
    (void)state;
    const float want[4] = {1.0f, -2.0f, 0.0f, 4.0f};
    const float got[4] = {1.1f, -2.0f, 0.01f, 4.0f};
    conf_metrics m;
    conf_measure(got, want, 4, 1e-3, &m);
    /* err = 0.01 + 0.0001 = 0.0101; signal = 1 + 4 + 16 = 21 */
    assert_true(fabs(m.nmse - 0.0101 / 21.0) < 1e-7);
    /* rms = sqrt(21/4) = 2.2913; floor 2.29e-3; element 2: 0.01/2.29e-3 = 4.364 */
    assert_true(fabs(m.max_rel - 0.01 / (1e-3 * sqrt(21.0 / 4.0))) < 1e-3);
    assert_int_equal(m.worst_index, 2);
    assert_int_equal(m.bad_index, -1);
}

static void nan_where_reference_is_finite_is_flagged(void **state) {
    (void)state;
    const float want[3] = {1.0f, NAN, INFINITY};
    float got[3] = {1.0f, NAN, INFINITY};
    conf_metrics m;
    conf_measure(got, want, 3, 1e-3, &m);
    assert_int_equal(m.bad_index, -1); /* propagation matched */
    assert_true(m.nmse == 0.0);
    got[0] = NAN;
    conf_measure(got, want, 3, 1e-3, &m);
    assert_int_equal(m.bad_index, 0);
    got[0] = 1.0f;
    got[1] = 3.0f; /* NaN expected */
    conf_measure(got, want, 3, 1e-3, &m);
    assert_int_equal(m.bad_index, 1);
    got[1] = NAN;
    got[2] = -INFINITY; /* wrong infinity */
    conf_measure(got, want, 3, 1e-3, &m);
    assert_int_equal(m.bad_index, 2);
}

static void tolerance_rows_are_found_by_op_and_dtype(void **state) {
    (void)state;
    conf_tol t = conf_tolerance("matmul", EHAL_DTYPE_Q4_0);
    assert_true(t.nmse == 1e-4);
    t = conf_tolerance("matmul", EHAL_DTYPE_F32);
    assert_true(t.nmse == 1e-6);
    t = conf_tolerance("add", EHAL_DTYPE_F32);
    assert_true(t.nmse == 1e-14);
    t = conf_tolerance("no-such-op", EHAL_DTYPE_F32); /* strict default */
    assert_true(t.nmse == 1e-12);
}

/* A per-process scratch path, so parallel test runs do not share files. */
static const char *scratch(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "/tmp/ehal_%ld_%s", (long)getpid(), name);
    return buf;
}

static void xfail_file_reads_ids_globs_and_comments(void **state) {
    (void)state;
    char pbuf[128];
    const char *path = scratch(pbuf, sizeof pbuf, "conf_cases_xfail.txt");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# header\n\n  matmul/q4_0/*  # why\nadd/f32/1x1/s1\r\n", f);
    fclose(f);
    conf_xfail x;
    char msg[128];
    assert_int_equal(conf_xfail_load(path, &x, msg, sizeof msg), 0);
    assert_int_equal(x.n, 2);
    assert_string_equal(x.pat[0], "matmul/q4_0/*");
    assert_string_equal(x.pat[1], "add/f32/1x1/s1");
    assert_true(conf_xfail_match(&x, "matmul/q4_0/K64xN31xT1/s1"));
    assert_false(conf_xfail_match(&x, "add/f32/1x1/s2"));
    conf_xfail_free(&x);
    remove(path);
    assert_int_equal(conf_xfail_load("/nonexistent/xfail", &x, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "/nonexistent/xfail"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case_ids_are_unique_and_deterministic),
        cmocka_unit_test(every_catalog_op_has_cases),
        cmocka_unit_test(generated_programs_are_valid_nodes),
        cmocka_unit_test(llm_core_holds_the_decoder_ops_and_not_q4_caches),
        cmocka_unit_test(glob_matches_ids),
        cmocka_unit_test(metrics_match_hand_computed_values),
        cmocka_unit_test(nan_where_reference_is_finite_is_flagged),
        cmocka_unit_test(tolerance_rows_are_found_by_op_and_dtype),
        cmocka_unit_test(xfail_file_reads_ids_globs_and_comments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
