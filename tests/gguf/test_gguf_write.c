/* GGUF writer: write -> read round trips for every dtype, streaming (lazy)
 * writes equal in-memory ones, the written metadata, and I/O failures that
 * leave no file behind. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "model_internal.h"

#include "edgehal/model.h"
#include "edgehal/model_tools.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ehal-gguf-write-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* A small shape with GQA, untied, every matrix width a multiple of 32. */
static ehal_model_hparams small_hp(void) {
    ehal_model_hparams hp = {64, 2, 4, 2, 96, 300, 256, EHAL_ROPE_NORMAL, 10000.0f, 1e-5f, 0};
    return hp;
}

static void assert_same_model(const ehal_model *a, const ehal_model *b) {
    const ehal_model_hparams *x = ehal_model_get_hparams(a), *y = ehal_model_get_hparams(b);
    assert_int_equal(x->dim, y->dim);
    assert_int_equal(x->n_layers, y->n_layers);
    assert_int_equal(x->n_heads, y->n_heads);
    assert_int_equal(x->n_kv_heads, y->n_kv_heads);
    assert_int_equal(x->ffn_dim, y->ffn_dim);
    assert_int_equal(x->vocab, y->vocab);
    assert_int_equal(x->context, y->context);
    assert_int_equal(x->rope_mode, y->rope_mode);
    assert_true(x->rope_base == y->rope_base);
    assert_true(x->rms_eps == y->rms_eps);
    assert_int_equal(x->tied_embeddings, y->tied_embeddings);
    assert_int_equal(ehal_model_tensor_count(a), ehal_model_tensor_count(b));
    for (uint32_t i = 0; i < ehal_model_tensor_count(a); i++) {
        const ehal_model_tensor *s = ehal_model_tensor_at(a, i);
        const ehal_model_tensor *t = ehal_model_tensor_find(b, s->name);
        assert_non_null(t);
        assert_int_equal(s->dtype, t->dtype);
        assert_int_equal(s->n_dims, t->n_dims);
        assert_memory_equal(s->ne, t->ne, sizeof s->ne);
        assert_int_equal(s->size, t->size);
        assert_int_equal(memcmp(s->data, t->data, (size_t)s->size), 0);
        assert_int_equal((uintptr_t)t->data % 32, 0); /* aligned in the mapping */
    }
}

static void round_trip_is_byte_identical_for_every_dtype(void **state) {
    (void)state;
    const uint32_t dtypes[] = {EHAL_DTYPE_F32, EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0, EHAL_DTYPE_Q4_0};
    for (size_t d = 0; d < 4; d++) {
        for (int tied = 0; tied <= 1; tied++) {
            ehal_model_hparams hp = small_hp();
            hp.tied_embeddings = (uint32_t)tied;
            char err[512];
            ehal_model *g = NULL, *r = NULL;
            assert_int_equal(ehal_model_generate(&hp, dtypes[d], 7, &g, err, sizeof err),
                             EHAL_STATUS_OK);
            const char *p = tmp_path("rt.gguf");
            if (ehal_model_write_gguf(g, p, err, sizeof err) != EHAL_STATUS_OK)
                fail_msg("write: %s", err);
            if (ehal_model_load_gguf(p, &r, err, sizeof err) != EHAL_STATUS_OK)
                fail_msg("read back dtype %u: %s", dtypes[d], err);
            assert_same_model(g, r);
            /* Matrices carry the dtype, norms stay f32. */
            assert_int_equal(ehal_model_tensor_find(r, "blk.1.ffn_down.weight")->dtype, dtypes[d]);
            assert_int_equal(ehal_model_tensor_find(r, "token_embd.weight")->dtype, dtypes[d]);
            assert_int_equal(ehal_model_tensor_find(r, "blk.0.ffn_norm.weight")->dtype,
                             EHAL_DTYPE_F32);
            assert_int_equal(ehal_model_tensor_count(r), 1 + 9 * 2 + 1 + (tied ? 0 : 1));

            /* Writing the loaded model again gives the same file. */
            size_t n1, n2;
            uint8_t *b1 = slurp(p, &n1);
            const char *p2 = tmp_path("rt2.gguf");
            assert_int_equal(ehal_model_write_gguf(r, p2, err, sizeof err), EHAL_STATUS_OK);
            uint8_t *b2 = slurp(p2, &n2);
            assert_int_equal(n1, n2);
            assert_int_equal(memcmp(b1, b2, n1), 0);
            free(b1);
            free(b2);
            ehal_model_free(g);
            ehal_model_free(r);
        }
    }
}

/* Released pages fault back in from the file with the same bytes. */
static void released_pages_read_back_the_same_bytes(void **state) {
    (void)state;
    ehal_model_hparams hp = small_hp();
    hp.vocab = 4000; /* token_embd spans several pages */
    char err[512];
    ehal_model *g = NULL, *r = NULL;
    assert_int_equal(ehal_model_generate(&hp, EHAL_DTYPE_F32, 5, &g, err, sizeof err), 0);
    const char *p = tmp_path("rel.gguf");
    assert_int_equal(ehal_model_write_gguf(g, p, err, sizeof err), 0);
    assert_int_equal(ehal_model_load_gguf(p, &r, err, sizeof err), 0);
    const ehal_model_tensor *t = ehal_model_tensor_find(r, "token_embd.weight");
    uint32_t idx = 0;
    while (ehal_model_tensor_at(r, idx) != t)
        idx++;
    long page = sysconf(_SC_PAGESIZE);
    uint64_t released = ehal_model_release_tensor_pages(r, idx);
    assert_true(released > 0 && released <= t->size && released % (uint64_t)page == 0);
    assert_true(released + 2 * (uint64_t)page > t->size);
    assert_int_equal(memcmp(t->data, ehal_model_tensor_find(g, t->name)->data, (size_t)t->size), 0);
    assert_int_equal(ehal_model_release_tensor_pages(g, 0), 0); /* generated: nothing */
    assert_int_equal(ehal_model_release_tensor_pages(r, 9999), 0);
    ehal_model_free(g);
    ehal_model_free(r);
}

static void streaming_write_equals_in_memory_write(void **state) {
    (void)state;
    ehal_model_hparams hp = small_hp();
    char err[512];
    ehal_model *g = NULL, *l = NULL;
    assert_int_equal(ehal_model_generate(&hp, EHAL_DTYPE_Q4_0, 99, &g, err, sizeof err), 0);
    assert_int_equal(ehal_model_generate_lazy(&hp, EHAL_DTYPE_Q4_0, 99, &l, err, sizeof err), 0);
    assert_null(ehal_model_tensor_at(l, 0)->data);
    assert_int_equal(ehal_model_data_bytes(l), ehal_model_data_bytes(g));
    const char *pa = tmp_path("a.gguf"), *pb = tmp_path("b.gguf");
    assert_int_equal(ehal_model_write_gguf(g, pa, err, sizeof err), 0);
    assert_int_equal(ehal_model_write_gguf(l, pb, err, sizeof err), 0);
    size_t na, nb;
    uint8_t *a = slurp(pa, &na), *b = slurp(pb, &nb);
    assert_int_equal(na, nb);
    assert_int_equal(memcmp(a, b, na), 0);
    free(a);
    free(b);
    ehal_model_free(g);
    ehal_model_free(l);
}

/* Looks for a GGUF string (u64 length + bytes) anywhere in the file. */
static int has_gguf_string(const uint8_t *b, size_t n, const char *s) {
    size_t k = strlen(s);
    for (size_t i = 0; i + 8 + k <= n; i++) {
        uint64_t len = 0;
        for (int j = 7; j >= 0; j--)
            len = (len << 8) | b[i + (size_t)j];
        if (len == k && memcmp(b + i + 8, s, k) == 0)
            return 1;
    }
    return 0;
}

static void header_and_metadata_follow_gguf_v3(void **state) {
    (void)state;
    ehal_model_hparams hp;
    assert_int_equal(ehal_model_preset_hparams("builtin", &hp), 0);
    char err[512];
    ehal_model *g = NULL;
    assert_int_equal(ehal_model_generate(&hp, EHAL_DTYPE_F16, 1, &g, err, sizeof err), 0);
    const char *p = tmp_path("meta.gguf");
    ehal_model_write_opts o = {"my model", NULL, NULL};
    assert_int_equal(ehal_model_write_gguf_ex(g, p, &o, err, sizeof err), 0);
    size_t n;
    uint8_t *b = slurp(p, &n);
    /* magic, version 3, tensor_count (builtin: tied, 4 layers -> 38), kv_count 22 */
    const uint8_t head[24] = {'G', 'G', 'U', 'F', 3,  0, 0, 0, 38, 0, 0, 0,
                              0,   0,   0,   0,   22, 0, 0, 0, 0,  0, 0, 0};
    assert_memory_equal(b, head, sizeof head);
    const char *keys[] = {"general.architecture",
                          "llama",
                          "general.name",
                          "my model",
                          "general.alignment",
                          "general.file_type",
                          "llama.context_length",
                          "llama.embedding_length",
                          "llama.block_count",
                          "llama.feed_forward_length",
                          "llama.attention.head_count",
                          "llama.attention.head_count_kv",
                          "llama.rope.freq_base",
                          "llama.attention.layer_norm_rms_epsilon",
                          "llama.vocab_size",
                          "llama.rope.dimension_count",
                          "tokenizer.ggml.model",
                          "tokenizer.ggml.tokens",
                          "tokenizer.ggml.scores",
                          "tokenizer.ggml.token_type",
                          "tokenizer.ggml.bos_token_id",
                          "tokenizer.ggml.eos_token_id",
                          "<unk>",
                          "<s>",
                          "</s>",
                          "<0x00>",
                          "<0x0A>",
                          "<0xFF>",
                          "tok_259",
                          "tok_511",
                          "token_embd.weight",
                          "blk.3.ffn_down.weight",
                          "output_norm.weight"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!has_gguf_string(b, n, keys[i]))
            fail_msg("'%s' not written", keys[i]);
    assert_false(has_gguf_string(b, n, "tok_512"));
    assert_false(has_gguf_string(b, n, "output.weight"));
    free(b);
    ehal_model_free(g);
}

static void failures_leave_no_file_and_name_the_path(void **state) {
    (void)state;
    ehal_model_hparams hp = small_hp();
    char err[512];
    ehal_model *g = NULL;
    assert_int_equal(ehal_model_generate(&hp, EHAL_DTYPE_F32, 1, &g, err, sizeof err), 0);
    /* A directory that does not exist. */
    const char *p = tmp_path("no/such/dir/m.gguf");
    assert_int_equal(ehal_model_write_gguf(g, p, err, sizeof err), EHAL_STATUS_IO);
    assert_non_null(strstr(err, "no/such/dir/m.gguf"));
    /* A full disk, simulated with a file size limit in a child process. */
    const char *full = tmp_path("full.gguf");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {65536, 65536};
        setrlimit(RLIMIT_FSIZE, &rl);
        char e2[512] = "";
        ehal_status_t st = ehal_model_write_gguf(g, full, e2, sizeof e2);
        _exit(st == EHAL_STATUS_IO && strstr(e2, "full.gguf") && strstr(e2, "cannot write") ? 0
                                                                                            : 1);
    }
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    assert_false(file_exists(full));
    char tmpname[600];
    snprintf(tmpname, sizeof tmpname, "%s.tmp-%ld", full, (long)pid);
    assert_false(file_exists(tmpname));
    ehal_model_free(g);
}

typedef struct progress_log {
    int calls;
    uint64_t last, total;
    int monotonic;
} progress_log;

static void on_progress(void *user, uint64_t done, uint64_t total) {
    progress_log *p = user;
    if (done < p->last)
        p->monotonic = 0;
    p->calls++;
    p->last = done;
    p->total = total;
}

static void progress_reports_every_tensor(void **state) {
    (void)state;
    ehal_model_hparams hp = small_hp();
    char err[512];
    ehal_model *l = NULL;
    assert_int_equal(ehal_model_generate_lazy(&hp, EHAL_DTYPE_Q8_0, 3, &l, err, sizeof err), 0);
    progress_log pr = {0, 0, 0, 1};
    ehal_model_write_opts o = {NULL, on_progress, &pr};
    assert_int_equal(ehal_model_write_gguf_ex(l, tmp_path("p.gguf"), &o, err, sizeof err), 0);
    assert_int_equal(pr.calls, (int)ehal_model_tensor_count(l));
    assert_int_equal(pr.last, ehal_model_data_bytes(l));
    assert_int_equal(pr.total, ehal_model_data_bytes(l));
    assert_true(pr.monotonic);
    ehal_model_free(l);
}

/* Fails each allocation of a streaming write in turn: OUT_OF_MEMORY with a
 * message and no file (final or temporary) left behind. */
static void every_allocation_failure_leaves_no_file(void **state) {
    (void)state;
    ehal_model_hparams hp = small_hp();
    char err[512];
    ehal_model *l = NULL;
    assert_int_equal(ehal_model_generate_lazy(&hp, EHAL_DTYPE_Q4_0, 3, &l, err, sizeof err), 0);
    const char *p = tmp_path("oom.gguf");
    char tmpname[600];
    snprintf(tmpname, sizeof tmpname, "%s.tmp-%ld", p, (long)getpid());
    long n;
    for (n = 1; n < 20; n++) {
        ehal_model_test_fail_alloc(n);
        ehal_status_t st = ehal_model_write_gguf(l, p, err, sizeof err);
        ehal_model_test_fail_alloc(0);
        if (st == EHAL_STATUS_OK)
            break;
        assert_int_equal(st, EHAL_STATUS_OUT_OF_MEMORY);
        assert_non_null(strstr(err, "out of memory"));
        assert_false(file_exists(p));
        assert_false(file_exists(tmpname));
    }
    assert_true(n > 1 && n < 20);
    assert_true(file_exists(p));
    ehal_model_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_is_byte_identical_for_every_dtype),
        cmocka_unit_test(streaming_write_equals_in_memory_write),
        cmocka_unit_test(released_pages_read_back_the_same_bytes),
        cmocka_unit_test(header_and_metadata_follow_gguf_v3),
        cmocka_unit_test(failures_leave_no_file_and_name_the_path),
        cmocka_unit_test(progress_reports_every_tensor),
        cmocka_unit_test(every_allocation_failure_leaves_no_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
