/* `edgehal mkmodel`: exit codes, messages naming the option and value, and
 * that the file it writes is the generator's model. Skipped when the
 * edgehal command is not built. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "edgehal/model.h"

static char tmpdir[256];
static char exe[512];

static int setup(void **state) {
    (void)state;
    const char *bin = getenv("EHAL_TEST_BIN_DIR");
    snprintf(exe, sizeof exe, "%s/edgehal", bin ? bin : ".");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ehal-mkmodel-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void need_exe(void) {
    if (access(exe, X_OK) != 0) {
        print_message("skipped: %s is not built\n", exe);
        skip();
    }
}

static char out_text[8192], err_text[8192];

static void read_file(const char *path, char *buf, size_t n) {
    FILE *f = fopen(path, "r");
    size_t k = f ? fread(buf, 1, n - 1, f) : 0;
    buf[k] = '\0';
    if (f)
        fclose(f);
}

/* Runs `edgehal mkmodel ARGS`; returns the exit code. */
static int mkmodel(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' mkmodel %s >'%s/out' 2>'%s/err'", exe, args, tmpdir, tmpdir);
    int ws = system(cmd);
    char p[600];
    snprintf(p, sizeof p, "%s/out", tmpdir);
    read_file(p, out_text, sizeof out_text);
    snprintf(p, sizeof p, "%s/err", tmpdir);
    read_file(p, err_text, sizeof err_text);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

static void help_and_usage_errors_use_the_documented_exit_codes(void **state) {
    (void)state;
    need_exe();
    assert_int_equal(mkmodel("--help"), 0);
    assert_non_null(strstr(out_text, "usage: edgehal mkmodel"));
    char args[600];
    snprintf(args, sizeof args, "--preset huge --out '%s/x.gguf'", tmpdir);
    assert_int_equal(mkmodel(args), 2);
    assert_non_null(strstr(err_text, "--preset 'huge'"));
    snprintf(args, sizeof args, "--preset tiny --quant q6_k --out '%s/x.gguf'", tmpdir);
    assert_int_equal(mkmodel(args), 2);
    assert_non_null(strstr(err_text, "--quant 'q6_k'"));
    assert_int_equal(mkmodel("--preset tiny"), 2);
    assert_non_null(strstr(err_text, "--out"));
    assert_int_equal(mkmodel("--preset tiny --out x.gguf --bogus"), 2);
    assert_non_null(strstr(err_text, "--bogus"));
    snprintf(args, sizeof args, "--preset builtin --seed -3 --out '%s/x.gguf'", tmpdir);
    assert_int_equal(mkmodel(args), 2);
    assert_non_null(strstr(err_text, "--seed"));
    snprintf(args, sizeof args, "--preset builtin --out '%s/no/dir/x.gguf'", tmpdir);
    assert_int_equal(mkmodel(args), 1);
    assert_non_null(strstr(err_text, "no/dir/x.gguf"));
}

static void writes_the_generators_model(void **state) {
    (void)state;
    need_exe();
    char args[1024], path[600];
    snprintf(path, sizeof path, "%s/b.gguf", tmpdir);
    snprintf(args, sizeof args, "--preset builtin --quant q8_0 --seed 9 --out '%s'", path);
    assert_int_equal(mkmodel(args), 0);
    assert_non_null(strstr(out_text, "wrote"));
    assert_non_null(strstr(out_text, "803968 params"));
    char err[512];
    ehal_model *r = NULL, *g = NULL;
    if (ehal_model_load_gguf(path, &r, err, sizeof err) != EHAL_STATUS_OK)
        fail_msg("load: %s", err);
    ehal_model_hparams hp;
    assert_int_equal(ehal_model_preset_hparams("builtin", &hp), 0);
    assert_int_equal(ehal_model_generate(&hp, EHAL_DTYPE_Q8_0, 9, &g, err, sizeof err), 0);
    assert_int_equal(ehal_model_tensor_count(r), ehal_model_tensor_count(g));
    for (uint32_t i = 0; i < ehal_model_tensor_count(g); i++) {
        const ehal_model_tensor *a = ehal_model_tensor_at(g, i);
        const ehal_model_tensor *b = ehal_model_tensor_find(r, a->name);
        assert_non_null(b);
        assert_int_equal(a->size, b->size);
        assert_int_equal(memcmp(a->data, b->data, (size_t)a->size), 0);
    }
    assert_int_equal(ehal_model_get_hparams(r)->tied_embeddings, 1);
    ehal_model_free(r);
    ehal_model_free(g);

    /* --untied on builtin adds output.weight. */
    snprintf(args, sizeof args, "--preset builtin --quant q4_0 --untied --out '%s'", path);
    assert_int_equal(mkmodel(args), 0);
    assert_int_equal(ehal_model_load_gguf(path, &r, err, sizeof err), 0);
    assert_int_equal(ehal_model_get_hparams(r)->tied_embeddings, 0);
    assert_non_null(ehal_model_tensor_find(r, "output.weight"));
    ehal_model_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(help_and_usage_errors_use_the_documented_exit_codes),
        cmocka_unit_test(writes_the_generators_model),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
