/*
 * The real cpu backend meets llm-core: the whole profile under the
 * `conformance` label (seconds on the scalar kernels); with EHAL_CONF_FULL=1
 * (label `slow`) it must meet llm-full as well. The suite's default
 * timeout applies (x4 when sanitized: docs/conformance.md).
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "edgehal/conformance.h"

/* The report, freed by the teardown also when an assertion fails, so that
 * LeakSanitizer (sanitizer stage) reports only real leaks. */
static ehal_conf_report *report;

static int free_report(void **state) {
    (void)state;
    ehal_conf_report_free(report);
    report = NULL;
    return 0;
}

static void cpu_backend_meets_llm_core(void **state) {
    (void)state;
    const char *dir = getenv("EHAL_TEST_PLUGIN_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/libedgehal-cpu.so", dir ? dir : "lib/edgehal");
    FILE *devnull = fopen("/dev/null", "w");
    assert_non_null(devnull);
    int full = getenv("EHAL_CONF_FULL") != NULL;
    ehal_conf_options o;
    memset(&o, 0, sizeof o);
    o.backend = path;
    o.profile = full ? "llm-full" : "llm-core";
    o.jobs = 2;
    o.out = devnull;
    o.progress = 0;
    /* Per process: test_conformance_cpu and _cpu_full run side by side. */
    char json[128];
    snprintf(json, sizeof json, "/tmp/ehal_conf_cpu_%s_%ld.json", o.profile, (long)getpid());
    o.json_path = json;
    int code = ehal_conf_run(&o, &report);
    const ehal_conf_report *r = report;
    fclose(devnull);
    assert_non_null(r);
    for (uint32_t i = 0; i < r->n_results; i++)
        if (r->results[i].status != EHAL_CONF_PASS)
            print_message("not passed: %s: %s\n", r->results[i].id, r->results[i].message);
    assert_int_equal(code, 0);
    assert_int_equal(r->profile_met, 1);
    assert_int_equal(r->n_pass, r->n_results);
    assert_string_equal(r->backend, "cpu");
    /* Every family of the suite was exercised, including the layer and
     * the KV-cache sequences. */
    static const char *fams[] = {"get_rows", "matmul", "rms_norm", "rope",     "add",
                                 "mul",      "swiglu", "softmax",  "kv_write", "attention",
                                 "kvseq",    "layer",  "api"};
    for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
        int seen = 0;
        for (uint32_t i = 0; i < r->n_results; i++)
            seen |= strcmp(r->results[i].op, fams[f]) == 0;
        if (!seen)
            print_message("family %s missing\n", fams[f]);
        assert_true(seen);
    }
    print_message("cpu %s: %u cases in %.1f s\n", o.profile, r->n_results, r->wall_s);
    remove(o.json_path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(cpu_backend_meets_llm_core, free_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
