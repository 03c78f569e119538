/*
 * `edgehal conformance` as a command: usage and exit codes, --list, the
 * printed repro line of a failing case, and the report files.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "edgehal/conformance.h"

static char out[1 << 16];

/* Runs the command with args; returns the exit status, stdout+stderr in out. */
static int cmd(const char *args) {
    const char *bin = getenv("EHAL_TEST_BIN_DIR");
    char line[2048];
    snprintf(line, sizeof line, "%s/edgehal conformance %s 2>&1", bin ? bin : "bin", args);
    FILE *p = popen(line, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *faulty(const char *fault) {
    static char path[1024];
    const char *dir = getenv("EHAL_FAULTY_DIR");
    snprintf(path, sizeof path, "%s/libedgehal-faulty-%s.so", dir ? dir : "tests/faulty", fault);
    return path;
}

static void help_exits_0_and_unknown_flags_exit_2(void **state) {
    (void)state;
    assert_int_equal(cmd("--help"), 0);
    assert_memory_equal(out, "usage: edgehal conformance", 26);
    assert_int_equal(cmd("--bogus"), 2);
    assert_non_null(strstr(out, "--bogus"));
    assert_int_equal(cmd("--profile llm-max"), 2);
    assert_non_null(strstr(out, "llm-max"));
    assert_int_equal(cmd("--jobs 0"), 2);
    assert_int_equal(cmd("--verify-xfail"), 2);
}

static void missing_backend_is_one_line_naming_it_exit_1(void **state) {
    (void)state;
    assert_int_equal(cmd("--backend /nonexistent/libedgehal-x.so"), 1);
    assert_non_null(strstr(out, "/nonexistent/libedgehal-x.so"));
    assert_null(strchr(out, '\n') ? strchr(strchr(out, '\n') + 1, '\n') : NULL);
}

static void list_prints_the_same_ids_as_the_library(void **state) {
    (void)state;
    assert_int_equal(cmd("--list --quick"), 0);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    ehal_conf_options o;
    memset(&o, 0, sizeof o);
    o.list = 1;
    o.quick = 1;
    o.out = tmp;
    assert_int_equal(ehal_conf_run(&o, NULL), 0);
    rewind(tmp);
    static char lib[1 << 16];
    size_t n = fread(lib, 1, sizeof lib - 1, tmp);
    lib[n] = '\0';
    fclose(tmp);
    assert_string_equal(out, lib);
    assert_non_null(strstr(out, "matmul/q4_0/K4096xN32xT1/s1\n"));
    /* --seed changes the suffix */
    assert_int_equal(cmd("--list --quick --seed 9 --filter 'matmul/q4_0/K4096*'"), 0);
    assert_string_equal(out, "matmul/q4_0/K4096xN32xT1/s9\n");
}

/* A per-process scratch path, so parallel test runs do not share files. */
static const char *scratch(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "/tmp/ehal_%ld_%s", (long)getpid(), name);
    return buf;
}

static void failing_case_prints_its_repro_command_and_reports(void **state) {
    (void)state;
    char args[1400], js[128], xml[128];
    scratch(js, sizeof js, "conf_cli.json");
    scratch(xml, sizeof xml, "conf_cli.xml");
    snprintf(args, sizeof args,
             "--backend %s --filter 'matmul/f32/K6*' --progress plain --json %s --junit %s",
             faulty("wrong"), js, xml);
    assert_int_equal(cmd(args), 1);
    char want[1400];
    snprintf(want, sizeof want,
             "repro: edgehal conformance --backend %s --repro matmul/f32/K64xN31xT1/s1",
             faulty("wrong"));
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "profile llm-core: NOT MET"));
    FILE *f = fopen(js, "r");
    assert_non_null(f);
    static char j[1 << 16];
    size_t n = fread(j, 1, sizeof j - 1, f);
    j[n] = '\0';
    fclose(f);
    assert_non_null(strstr(j, "\"profile_met\": false"));
    assert_non_null(strstr(j, "\"fail\": 1"));
    f = fopen(xml, "r");
    assert_non_null(f);
    n = fread(j, 1, sizeof j - 1, f);
    j[n] = '\0';
    fclose(f);
    assert_non_null(strstr(j, "failures=\"1\""));
    remove(js);
    remove(xml);

    /* the same case alone, through its id */
    snprintf(args, sizeof args, "--backend %s --repro matmul/f32/K64xN31xT1/s1 --progress plain",
             faulty("wrong"));
    assert_int_equal(cmd(args), 1);
    assert_non_null(strstr(out, "1 cases: 0 pass, 1 fail"));
}

static void passing_backend_exits_0(void **state) {
    (void)state;
    char args[1200];
    snprintf(args, sizeof args, "--backend %s --filter 'kvseq/*' --jobs 2 --progress plain",
             faulty("none"));
    assert_int_equal(cmd(args), 0);
    assert_non_null(strstr(out, "profile llm-core: MET"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(help_exits_0_and_unknown_flags_exit_2),
        cmocka_unit_test(missing_backend_is_one_line_naming_it_exit_1),
        cmocka_unit_test(list_prints_the_same_ids_as_the_library),
        cmocka_unit_test(failing_case_prints_its_repro_command_and_reports),
        cmocka_unit_test(passing_backend_exits_0),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
