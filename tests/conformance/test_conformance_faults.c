/*
 * The suite must catch every planted fault of the faulty backends (built
 * from faulty_backend.c) and name it in the report: the right case ids fail
 * with the right reason, and the cases without the fault pass.
 *
 * Sanitized builds (EHAL_SANITIZED set, as ./scripts/test's sanitizer stage
 * does): the suite's default timeout is 4x, the hang test's explicit one is
 * scaled the same way, and a child halted by ASan is named by its report;
 * each planted fault must still be caught and named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edgehal/conformance.h"

static FILE *devnull;

/* Reports not yet freed: a failing assertion leaves its test early, and the
 * per-test teardown frees what it left, so LeakSanitizer reports only real
 * leaks. */
#define MAX_HELD 4
static ehal_conf_report *held[MAX_HELD];

static void hold(ehal_conf_report *r) {
    for (int i = 0; r && i < MAX_HELD; i++)
        if (!held[i]) {
            held[i] = r;
            return;
        }
}

static void release(ehal_conf_report *r) {
    for (int i = 0; i < MAX_HELD; i++)
        if (held[i] == r)
            held[i] = NULL;
    ehal_conf_report_free(r);
}

static int free_held(void **state) {
    (void)state;
    for (int i = 0; i < MAX_HELD; i++) {
        ehal_conf_report_free(held[i]);
        held[i] = NULL;
    }
    return 0;
}

/* The faulty plugins come from the same build as this test, with the same
 * -fsanitize flags: faulty-heap plants its fault exactly when this is 1. */
#if defined(__SANITIZE_ADDRESS__)
#define BUILT_WITH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BUILT_WITH_ASAN 1
#endif
#endif
#ifndef BUILT_WITH_ASAN
#define BUILT_WITH_ASAN 0
#endif

/* 1 when the code under test runs under sanitizers (see the stage). */
static int sanitized(void) {
    const char *e = getenv("EHAL_SANITIZED");
    return e && *e;
}

typedef struct runopts {
    const char *filter;
    const char *repro;
    const char *xfail;
    const char *json;
    const char *junit;
    int quick, verify;
    double timeout;
} runopts;

static ehal_conf_report *run(const char *fault, const runopts *ro, int *code) {
    static char path[1024];
    const char *dir = getenv("EHAL_FAULTY_DIR");
    snprintf(path, sizeof path, "%s/libedgehal-faulty-%s.so", dir ? dir : "tests/faulty", fault);
    ehal_conf_options o;
    memset(&o, 0, sizeof o);
    o.backend = path;
    o.filter = ro->filter;
    o.repro = ro->repro;
    o.quick = ro->quick;
    o.timeout_s = ro->timeout; /* 0: the suite's default (30 s, x4 sanitized) */
    o.xfail_path = ro->xfail;
    o.verify_xfail = ro->verify;
    o.json_path = ro->json;
    o.junit_path = ro->junit;
    o.jobs = 2;
    o.out = devnull;
    o.progress = 0;
    ehal_conf_report *r = NULL;
    *code = ehal_conf_run(&o, &r);
    hold(r);
    return r;
}

static int setup(void **state) {
    (void)state;
    devnull = fopen("/dev/null", "w");
    return devnull ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    fclose(devnull);
    return 0;
}

static void control_backend_without_fault_meets_core_quick(void **state) {
    (void)state;
    runopts ro = {.quick = 1};
    int code;
    ehal_conf_report *r = run("none", &ro, &code);
    assert_non_null(r);
    assert_int_equal(code, 0);
    assert_true(r->n_results >= 30);
    assert_int_equal(r->n_pass, r->n_results);
    assert_string_equal(r->backend, "faulty-none");
    release(r);
}

/* Not a fault: int8/f16 activation rounding in matmul and attention, as
 * fast backends do. The tolerance table must admit it (whole llm-full),
 * with margin: no case may use more than half of its tolerance. */
static void allowed_approximations_pass_with_margin(void **state) {
    (void)state;
    runopts ro = {0};
    int code;
    ehal_conf_report *r = run("approx", &ro, &code);
    assert_non_null(r);
    double worst = 0;
    const char *worst_id = "";
    for (uint32_t i = 0; i < r->n_results; i++) {
        const ehal_conf_result *c = &r->results[i];
        if (c->status != EHAL_CONF_PASS)
            print_message("%s: %s\n", c->id, c->message);
        if (c->nmse >= 0 && c->tol_nmse > 0 && c->nmse / c->tol_nmse > worst) {
            worst = c->nmse / c->tol_nmse;
            worst_id = c->id;
        }
        if (c->nmse >= 0 && c->tol_max_rel > 0 && c->max_rel / c->tol_max_rel > worst) {
            worst = c->max_rel / c->tol_max_rel;
            worst_id = c->id;
        }
    }
    print_message("approx: worst measured/tolerance %.3f (%s)\n", worst, worst_id);
    assert_int_equal(code, 0);
    assert_int_equal(r->n_pass, r->n_results);
    assert_true(worst < 0.5);
    /* ... and the rounding is really there: quantized matmuls differ. */
    const ehal_conf_result *q = ehal_conf_report_find(r, "matmul/q4_0/K4096xN32xT1/s1");
    assert_non_null(q);
    assert_true(q->nmse > 1e-6);
    release(r);
}

static long shape_dim(const char *shape, char key) {
    for (const char *s = shape; *s; s++)
        if (*s == key && (s == shape || s[-1] == 'x'))
            return strtol(s + 1, NULL, 10);
    return -1;
}

static void slightly_wrong_matmul_fails_exactly_the_shapes_with_n_mod_7_eq_3(void **state) {
    (void)state;
    runopts ro = {.filter = "matmul/*"};
    int code, failed = 0;
    ehal_conf_report *r = run("wrong", &ro, &code);
    assert_non_null(r);
    assert_int_equal(code, 1);
    for (uint32_t i = 0; i < r->n_results; i++) {
        const ehal_conf_result *c = &r->results[i];
        long n = shape_dim(c->shape, 'N');
        assert_true(n > 0);
        if (n % 7 == 3) {
            assert_int_equal(c->status, EHAL_CONF_FAIL);
            assert_non_null(strstr(c->message, "tolerance exceeded"));
            /* 2% off: nmse ~4e-4, far above every matmul row's tolerance. */
            assert_true(c->nmse > 1e-4 && c->nmse < 1e-3);
            failed++;
        } else {
            assert_int_equal(c->status, EHAL_CONF_PASS);
        }
    }
    assert_int_equal(failed, 8); /* N31 and N10, four weight dtypes */
    release(r);
}

static void out_of_bounds_write_is_named_with_its_size(void **state) {
    (void)state;
    runopts ro = {.filter = "mul/*"};
    int code;
    ehal_conf_report *r = run("oob", &ro, &code);
    assert_non_null(r);
    assert_int_equal(code, 1);
    assert_true(r->n_results >= 5);
    for (uint32_t i = 0; i < r->n_results; i++) {
        const char *m = r->results[i].message;
        assert_int_equal(r->results[i].status, EHAL_CONF_FAIL);
        /* The guard regions lie inside the suite's buffers, so ASan does
         * not see this write; if it ever does, its report names it. */
        if (!strstr(m, "wrote 4 bytes past the end of the output of mul")) {
            print_message("%s: %s\n", r->results[i].id, m);
            assert_true(sanitized());
            assert_non_null(strstr(m, "crashed: sanitizer report: "));
            assert_non_null(strstr(m, "WRITE of 4 bytes during execute of step 0 (mul)"));
        }
    }
    release(r);
}

static void crash_fails_its_cases_with_the_signal_and_the_suite_goes_on(void **state) {
    (void)state;
    runopts ro = {.quick = 1};
    int code, crashed = 0;
    ehal_conf_report *r = run("crash", &ro, &code);
    assert_non_null(r);
    assert_int_equal(code, 1);
    for (uint32_t i = 0; i < r->n_results; i++) {
        const ehal_conf_result *c = &r->results[i];
        /* rms_norm alone and inside the decoder layer */
        if (strcmp(c->op, "rms_norm") == 0 || strcmp(c->op, "layer") == 0) {
            assert_int_equal(c->status, EHAL_CONF_FAIL);
            /* the signal, then where: the step's ops include rms_norm.
             * A sanitizer runtime may catch the SIGSEGV itself and halt
             * the child after its report ("SEGV on unknown address"). */
            if (memcmp(c->message, "crashed: SIGSEGV during execute of step 0 (", 42) != 0) {
                print_message("%s: %s\n", c->id, c->message);
                assert_true(sanitized());
                assert_memory_equal(c->message, "crashed: sanitizer report", 25);
                assert_non_null(strstr(c->message, " during execute of step 0 ("));
            }
            assert_non_null(strstr(c->message, "rms_norm"));
            crashed++;
        } else {
            assert_int_equal(c->status, EHAL_CONF_PASS);
        }
    }
    assert_int_equal(crashed, 2);
    assert_int_equal(r->n_pass, r->n_results - 2);
    release(r);
}

static void hang_is_killed_after_the_timeout_and_named(void **state) {
    (void)state;
    runopts ro = {.filter = "s[wo]*", .timeout = sanitized() ? 4.0 : 1.0};
    char want[96];
    snprintf(want, sizeof want, "hung: killed after %g s during execute of step 0 (swiglu)",
             ro.timeout);
    int code, hung = 0;
    ehal_conf_report *r = run("hang", &ro, &code);
    assert_non_null(r);
    assert_int_equal(code, 1);
    for (uint32_t i = 0; i < r->n_results; i++) {
        const ehal_conf_result *c = &r->results[i];
        if (strcmp(c->op, "swiglu") == 0) {
            assert_int_equal(c->status, EHAL_CONF_FAIL);
            assert_string_equal(c->message, want);
            assert_true(c->time_ms >= 900.0 * ro.timeout);
            hung++;
        } else {
            assert_string_equal(c->op, "softmax");
            assert_int_equal(c->status, EHAL_CONF_PASS);
        }
    }
    assert_true(hung >= 3);
    release(r);
}

/* Only an ASan build plants this fault (a heap overflow in the backend's
 * own block): ASan halts the child, and the suite names the report. */
static void sanitizer_report_in_a_child_is_named_and_the_suite_goes_on(void **state) {
    (void)state;
    if (!BUILT_WITH_ASAN) {
        print_message("skipped: the heap fault is planted only in AddressSanitizer builds "
                      "(-DEHAL_SANITIZE=address,...)\n");
        skip();
    }
    runopts ro = {.filter = "[am][du][dl]/*"}; /* add and mul */
    int code, halted = 0;
    print_message("the AddressSanitizer reports below are planted (faulty-heap, op add)\n");
    ehal_conf_report *r = run("heap", &ro, &code);
    assert_non_null(r);
    assert_int_equal(code, 1);
    for (uint32_t i = 0; i < r->n_results; i++) {
        const ehal_conf_result *c = &r->results[i];
        if (strcmp(c->op, "add") == 0) {
            assert_int_equal(c->status, EHAL_CONF_FAIL);
            assert_string_equal(c->message, "crashed: sanitizer report: heap-buffer-overflow, "
                                            "WRITE of 4 bytes during execute of step 0 (add)");
            halted++;
        } else {
            assert_string_equal(c->op, "mul");
            assert_int_equal(c->status, EHAL_CONF_PASS);
        }
    }
    assert_true(halted >= 2);
    assert_int_equal(r->n_pass, r->n_results - (uint32_t)halted);
    release(r);
}

static void capability_lie_fails_as_a_broken_promise(void **state) {
    (void)state;
    runopts ro = {.filter = "softmax/*"};
    int code;
    ehal_conf_report *r = run("lie", &ro, &code);
    assert_non_null(r);
    assert_int_equal(code, 1);
    assert_true(r->n_results >= 5);
    for (uint32_t i = 0; i < r->n_results; i++) {
        assert_int_equal(r->results[i].status, EHAL_CONF_FAIL);
        assert_non_null(strstr(r->results[i].message, "execute failed on a supported subgraph"));
        assert_non_null(strstr(r->results[i].message, "unimplemented"));
    }
    release(r);
}

/* The fault (slot p % C) differs from the slot rule only with sinks once
 * positions pass the capacity. */
static void wrong_kv_eviction_fails_ring_cases_with_sinks_past_capacity(void **state) {
    (void)state;
    runopts ro = {.filter = "kv*"};
    int code, failed = 0;
    ehal_conf_report *r = run("evict", &ro, &code);
    assert_non_null(r);
    assert_int_equal(code, 1);
    for (uint32_t i = 0; i < r->n_results; i++) {
        const ehal_conf_result *c = &r->results[i];
        int expect_fail =
            strstr(c->id, "sink4") && (strcmp(c->op, "kvseq") == 0 || strstr(c->id, "P116"));
        if (expect_fail) {
            assert_int_equal(c->status, EHAL_CONF_FAIL);
            assert_non_null(strstr(c->message, "tolerance exceeded"));
            failed++;
        } else {
            assert_int_equal(c->status, EHAL_CONF_PASS);
        }
    }
    assert_int_equal(failed, 4); /* kv_write and kvseq, f16 and q8_0 */
    release(r);
}

static void honest_unsupported_is_listed_missing_and_profile_not_met(void **state) {
    (void)state;
    runopts ro = {.filter = "attention/*"};
    int code;
    ehal_conf_report *r = run("missing", &ro, &code);
    assert_non_null(r);
    assert_int_equal(code, 1);
    assert_int_equal(r->profile_met, 0);
    assert_int_equal(r->n_fail, 0);
    assert_true(r->n_unsupported >= 9);
    for (uint32_t i = 0; i < r->n_results; i++) {
        const ehal_conf_result *c = &r->results[i];
        if (strcmp(c->dtype, "q8_0") == 0) {
            assert_int_equal(c->status, EHAL_CONF_UNSUPPORTED);
            assert_non_null(strstr(c->message, "prepare refused it"));
        } else {
            assert_int_equal(c->status, EHAL_CONF_PASS);
        }
    }
    release(r);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* A per-process scratch path, so parallel test runs do not share files. */
static const char *scratch(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "/tmp/ehal_%ld_%s", (long)getpid(), name);
    return buf;
}

static void xfail_list_absorbs_failures_and_verify_flags_unexpected_passes(void **state) {
    (void)state;
    char xbuf[128];
    const char *xf = scratch(xbuf, sizeof xbuf, "conf_test_xfail.txt");
    write_file(xf, "# known bad shapes\n"
                   "matmul/*/K64xN31xT1/*\n"
                   "matmul/*/K512xN10xT3/*   # trailing comment\n"
                   "\n"
                   "matmul/f32/K4096xN32xT1/s1\n");
    runopts ro = {.filter = "matmul/*", .xfail = xf};
    int code;
    ehal_conf_report *r = run("wrong", &ro, &code);
    assert_non_null(r);
    assert_int_equal(code, 0);
    assert_int_equal(r->n_xfail, 8);
    assert_int_equal(r->n_xpass, 1);
    assert_int_equal(r->n_fail, 0);
    assert_int_equal(ehal_conf_report_find(r, "matmul/f32/K4096xN32xT1/s1")->status,
                     EHAL_CONF_XPASS);
    release(r);

    ro.verify = 1;
    r = run("wrong", &ro, &code);
    assert_non_null(r);
    assert_int_equal(code, 1);
    const ehal_conf_result *c = ehal_conf_report_find(r, "matmul/f32/K4096xN32xT1/s1");
    assert_int_equal(c->status, EHAL_CONF_FAIL);
    assert_non_null(strstr(c->message, "unexpected pass"));
    release(r);
    remove(xf);
}

static void repro_runs_exactly_one_case_by_id(void **state) {
    (void)state;
    runopts ro = {.repro = "matmul/q4_0/K64xN31xT1/s1"};
    int code;
    ehal_conf_report *r = run("wrong", &ro, &code);
    assert_non_null(r);
    assert_int_equal(code, 1);
    assert_int_equal(r->n_results, 1);
    assert_string_equal(r->results[0].id, "matmul/q4_0/K64xN31xT1/s1");
    assert_int_equal(r->results[0].status, EHAL_CONF_FAIL);
    release(r);

    runopts bad = {.repro = "matmul/q4_0/K64xN31xT1"};
    assert_null(run("wrong", &bad, &code));
    assert_int_equal(code, 2);
    runopts none = {.repro = "matmul/q4_0/K65xN31xT1/s1"};
    assert_null(run("wrong", &none, &code));
    assert_int_equal(code, 1);
}

static void json_and_junit_reports_name_the_failing_case(void **state) {
    (void)state;
    char js[128], xml[128];
    runopts ro = {.filter = "matmul/f32/*",
                  .json = scratch(js, sizeof js, "conf_test.json"),
                  .junit = scratch(xml, sizeof xml, "conf_test.xml")};
    int code;
    ehal_conf_report *r = run("wrong", &ro, &code);
    assert_non_null(r);
    assert_int_equal(code, 1);
    release(r);
    const char *j = read_file(ro.json);
    assert_non_null(strstr(j, "\"backend\": \"faulty-wrong\""));
    const char *c = strstr(j, "\"id\": \"matmul/f32/K64xN31xT1/s1\"");
    assert_non_null(c);
    const char *st = strstr(c, "\"status\": ");
    assert_non_null(st);
    assert_memory_equal(st, "\"status\": \"fail\"", 16);
    assert_non_null(strstr(c, "\"tol_nmse\": 1e-06"));
    const char *x = read_file(ro.junit);
    assert_non_null(strstr(x, "<testsuite name=\"matmul\""));
    const char *tc = strstr(x, "name=\"matmul/f32/K64xN31xT1/s1\"");
    assert_non_null(tc);
    assert_non_null(strstr(tc, "<failure message=\"output (step 0): tolerance exceeded"));
    remove(ro.json);
    remove(ro.junit);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(control_backend_without_fault_meets_core_quick, free_held),
        cmocka_unit_test_teardown(allowed_approximations_pass_with_margin, free_held),
        cmocka_unit_test_teardown(slightly_wrong_matmul_fails_exactly_the_shapes_with_n_mod_7_eq_3,
                                  free_held),
        cmocka_unit_test_teardown(out_of_bounds_write_is_named_with_its_size, free_held),
        cmocka_unit_test_teardown(crash_fails_its_cases_with_the_signal_and_the_suite_goes_on,
                                  free_held),
        cmocka_unit_test_teardown(hang_is_killed_after_the_timeout_and_named, free_held),
        cmocka_unit_test_teardown(sanitizer_report_in_a_child_is_named_and_the_suite_goes_on,
                                  free_held),
        cmocka_unit_test_teardown(capability_lie_fails_as_a_broken_promise, free_held),
        cmocka_unit_test_teardown(wrong_kv_eviction_fails_ring_cases_with_sinks_past_capacity,
                                  free_held),
        cmocka_unit_test_teardown(honest_unsupported_is_listed_missing_and_profile_not_met,
                                  free_held),
        cmocka_unit_test_teardown(xfail_list_absorbs_failures_and_verify_flags_unexpected_passes,
                                  free_held),
        cmocka_unit_test_teardown(repro_runs_exactly_one_case_by_id, free_held),
        cmocka_unit_test_teardown(json_and_junit_reports_name_the_failing_case, free_held),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
