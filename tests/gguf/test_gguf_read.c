/* GGUF reader: files from an independent emitter (tests/gguf/gguf_emit.c),
 * every metadata value type, foreign tensor types and architectures,
 * truncation at every length, corrupted fields and allocation failures. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gguf_emit.h"
#include "model_internal.h"

#include "edgehal/model.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ehal-gguf-read-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Loads e's first len bytes; returns the status and the message in err. */
static ehal_status_t load_bytes(const gguf_emit *e, size_t len, char *err, size_t n,
                                ehal_model **out) {
    const char *p = tmp_path("m.gguf");
    assert_int_equal(ge_write_file(e, len, p), 0);
    err[0] = '\0';
    ehal_model *m = NULL;
    ehal_status_t st = ehal_model_load_gguf(p, &m, err, n);
    if (out)
        *out = m;
    else
        ehal_model_free(m);
    return st;
}

static void expect_refusal(const gguf_emit *e, ehal_status_t want, const char *s1, const char *s2) {
    char err[512];
    ehal_model *m = (ehal_model *)1;
    ehal_status_t st = load_bytes(e, e->len, err, sizeof err, &m);
    if (st != want || !strstr(err, s1) || (s2 && !strstr(err, s2)))
        fail_msg("status %d (want %d), message '%s' (want '%s' and '%s')", st, want, err, s1,
                 s2 ? s2 : "");
    assert_null(m);
}

static void check_model_contents(const ehal_model *m, const ge_layout *lay) {
    const ehal_model_hparams *hp = ehal_model_get_hparams(m);
    assert_int_equal(hp->dim, GE_DIM);
    assert_int_equal(hp->n_layers, 1);
    assert_int_equal(hp->n_heads, 2);
    assert_int_equal(hp->n_kv_heads, 1);
    assert_int_equal(hp->ffn_dim, GE_FFN);
    assert_int_equal(hp->vocab, GE_VOCAB);
    assert_int_equal(hp->context, 128);
    assert_int_equal(hp->rope_mode, EHAL_ROPE_NORMAL);
    assert_true(hp->rope_base == 500000.0f);
    assert_true(hp->rms_eps == 1e-6f);
    assert_int_equal(ehal_model_tensor_count(m), lay->n_tensors);
    for (size_t t = 0; t < lay->n_tensors; t++) {
        const ehal_model_tensor *x = ehal_model_tensor_at(m, (uint32_t)t);
        assert_non_null(x);
        assert_string_equal(x->name, lay->names[t]);
        assert_ptr_equal(ehal_model_tensor_find(m, lay->names[t]), x);
        assert_int_equal(x->dtype, lay->types[t]);
        assert_int_equal(x->ne[0], lay->ne[t][0]);
        assert_int_equal(x->ne[1], lay->ne[t][1]);
        assert_int_equal(x->ne[2], 1);
        assert_int_equal(x->ne[3], 1);
        assert_int_equal(x->size, lay->size[t]);
        const uint8_t *d = x->data;
        for (uint64_t k = 0; k < x->size; k++)
            if (d[k] != ge_data_byte(t, k))
                fail_msg("tensor %s byte %llu: %u, want %u", x->name, (unsigned long long)k, d[k],
                         ge_data_byte(t, k));
    }
    assert_null(ehal_model_tensor_find(m, "no.such.tensor"));
    assert_null(ehal_model_tensor_at(m, (uint32_t)lay->n_tensors));
}

static void reads_every_value_type_and_a_32000_string_vocabulary(void **state) {
    (void)state;
    gguf_emit e;
    ge_opts o;
    ge_layout lay;
    ge_init(&e);
    ge_default_opts(&o);
    o.extra_kvs = 1;
    ge_build_model(&e, &o, &lay);
    char err[512];
    ehal_model *m = NULL;
    ehal_status_t st = load_bytes(&e, e.len, err, sizeof err, &m);
    if (st != EHAL_STATUS_OK)
        fail_msg("load: %s", err);
    check_model_contents(m, &lay);
    assert_int_equal(ehal_model_get_hparams(m)->tied_embeddings, 0);
    ehal_model_free(m);
    ge_free(&e);
}

static void tied_model_has_no_output_weight(void **state) {
    (void)state;
    gguf_emit e;
    ge_opts o;
    ge_layout lay;
    ge_init(&e);
    ge_default_opts(&o);
    o.tied = 1;
    ge_build_model(&e, &o, &lay);
    char err[512];
    ehal_model *m = NULL;
    assert_int_equal(load_bytes(&e, e.len, err, sizeof err, &m), EHAL_STATUS_OK);
    check_model_contents(m, &lay);
    assert_int_equal(ehal_model_get_hparams(m)->tied_embeddings, 1);
    assert_null(ehal_model_tensor_find(m, "output.weight"));
    ehal_model_free(m);
    ge_free(&e);
}

static void alignment_default_and_64_and_version_2_are_accepted(void **state) {
    (void)state;
    const uint32_t aligns[] = {0, 64, 4};
    for (int v = 2; v <= 3; v++) {
        for (size_t a = 0; a < 3; a++) {
            gguf_emit e;
            ge_opts o;
            ge_layout lay;
            ge_init(&e);
            ge_default_opts(&o);
            o.version = (uint32_t)v;
            o.alignment = aligns[a];
            ge_build_model(&e, &o, &lay);
            char err[512];
            ehal_model *m = NULL;
            ehal_status_t st = load_bytes(&e, e.len, err, sizeof err, &m);
            if (st != EHAL_STATUS_OK)
                fail_msg("version %d alignment %u: %s", v, aligns[a], err);
            check_model_contents(m, &lay);
            ehal_model_free(m);
            ge_free(&e);
        }
    }
}

static void build(gguf_emit *e, ge_layout *lay, int extra) {
    ge_opts o;
    ge_init(e);
    ge_default_opts(&o);
    o.extra_kvs = extra;
    ge_build_model(e, &o, lay);
}

static void version_1_and_big_endian_are_refused(void **state) {
    (void)state;
    gguf_emit e;
    ge_layout lay;
    build(&e, &lay, 0);
    ge_patch(&e, 4, 1, 4);
    expect_refusal(&e, EHAL_STATUS_UNSUPPORTED, "version 1", "need 2 or 3");
    ge_patch(&e, 4, 0x03000000u, 4);
    expect_refusal(&e, EHAL_STATUS_UNSUPPORTED, "big-endian", NULL);
    ge_patch(&e, 4, 4, 4);
    expect_refusal(&e, EHAL_STATUS_UNSUPPORTED, "version 4", NULL);
    ge_free(&e);
}

static void foreign_tensor_types_are_refused_naming_tensor_and_type(void **state) {
    (void)state;
    static const struct {
        uint32_t type;
        const char *want;
    } cases[] = {
        {14, "tensor type q6_k (14) is not supported (supported: f32, f16, q4_0, q8_0)"},
        {12, "tensor type q4_k (12) is not supported"},
        {30, "tensor type bf16 (30) is not supported"},
        {99, "tensor type 99 is unknown"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gguf_emit e;
        ge_opts o;
        ge_layout lay;
        ge_init(&e);
        ge_default_opts(&o);
        o.output_type = cases[i].type;
        ge_build_model(&e, &o, &lay);
        expect_refusal(&e, EHAL_STATUS_UNSUPPORTED, "'output.weight'", cases[i].want);
        ge_free(&e);
    }
}

static void other_architectures_are_refused_naming_it(void **state) {
    (void)state;
    gguf_emit e;
    ge_opts o;
    ge_layout lay;
    ge_init(&e);
    ge_default_opts(&o);
    o.arch = "gpt2";
    ge_build_model(&e, &o, &lay);
    expect_refusal(&e, EHAL_STATUS_UNSUPPORTED, "general.architecture", "'gpt2' is not supported");
    ge_free(&e);
    /* Control bytes from the file never reach the one-line message. */
    ge_init(&e);
    o.arch = "ll\nama\x1b[2J";
    ge_build_model(&e, &o, &lay);
    expect_refusal(&e, EHAL_STATUS_UNSUPPORTED, "'ll?ama?[2J' is not supported", NULL);
    ge_free(&e);
}

/* Every prefix of a valid file is refused with FORMAT and a message; the
 * file shrinks one byte at a time in place. */
static void every_truncation_is_refused(void **state) {
    (void)state;
    gguf_emit e;
    ge_layout lay;
    build(&e, &lay, 0);
    const char *p = tmp_path("trunc.gguf");
    assert_int_equal(ge_write_file(&e, e.len, p), 0);
    int fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    size_t refused = 0;
    for (size_t len = e.len; len-- > 0;) {
        assert_int_equal(ftruncate(fd, (off_t)len), 0);
        char err[512] = "";
        ehal_model *m = (ehal_model *)1;
        ehal_status_t st = ehal_model_load_gguf(p, &m, err, sizeof err);
        if (st != EHAL_STATUS_FORMAT || m != NULL || strlen(err) < 10)
            fail_msg("length %zu of %zu: status %d, message '%s'", len, e.len, st, err);
        /* The message names what was cut. */
        if (len < 4)
            assert_non_null(strstr(err, "magic"));
        else if (len < 8)
            assert_non_null(strstr(err, "version"));
        else if (len < 16)
            assert_non_null(strstr(err, "tensor_count"));
        else if (len >= lay.data_start + 1)
            assert_true(strstr(err, "data range") || strstr(err, "beyond file size"));
        refused++;
    }
    close(fd);
    assert_int_equal(refused, e.len);
    ge_free(&e);
}

/* The same with the large metadata file, at a stride (every length would
 * take minutes), plus every length inside the first string of the
 * vocabulary array. */
static void truncations_inside_large_metadata_are_refused(void **state) {
    (void)state;
    gguf_emit e;
    ge_layout lay;
    build(&e, &lay, 1);
    for (size_t len = 0; len < e.len;
         len += (len >= lay.tokens_count_pos && len < lay.tokens_count_pos + 40) ? 1 : 997) {
        char err[512] = "";
        ehal_status_t st = load_bytes(&e, len, err, sizeof err, NULL);
        if (st != EHAL_STATUS_FORMAT || strlen(err) < 10)
            fail_msg("length %zu: status %d, message '%s'", len, st, err);
        if (len > lay.tokens_count_pos + 8 && len < lay.tokens_count_pos + 40)
            assert_non_null(strstr(err, "'tokenizer.ggml.tokens'"));
    }
    ge_free(&e);
}

/* One corruption: patch n bytes at pos with v, expect status and text. */
static void corrupt(int extra, size_t (*pos)(const ge_layout *), uint64_t v, int n,
                    ehal_status_t want, const char *s1, const char *s2) {
    gguf_emit e;
    ge_layout lay;
    build(&e, &lay, extra);
    ge_patch(&e, pos(&lay), v, n);
    expect_refusal(&e, want, s1, s2);
    ge_free(&e);
}

static size_t p_tensor_count(const ge_layout *l) {
    return l->tensor_count_pos;
}
static size_t p_kv_count(const ge_layout *l) {
    return l->kv_count_pos;
}
static size_t p_first_key_len(const ge_layout *l) {
    return l->first_key_len_pos;
}
static size_t p_tokens_count(const ge_layout *l) {
    return l->tokens_count_pos;
}
static size_t p_nested_count(const ge_layout *l) {
    return l->nested_count_pos;
}
static size_t p_alignment(const ge_layout *l) {
    return l->alignment_value_pos;
}
static size_t p_ndims3(const ge_layout *l) {
    return l->ndims_pos[3];
}
static size_t p_ne0_3(const ge_layout *l) {
    return l->ndims_pos[3] + 4;
}
static size_t p_ne1_3(const ge_layout *l) {
    return l->ndims_pos[3] + 12;
}
static size_t p_ne0_2(const ge_layout *l) {
    return l->ndims_pos[2] + 4;
}
static size_t p_name_len3(const ge_layout *l) {
    return l->name_len_pos[3];
}
static size_t p_offset3(const ge_layout *l) {
    return l->offset_pos[3];
}
static size_t p_last_offset(const ge_layout *l) {
    return l->offset_pos[l->n_tensors - 1];
}
static size_t p_type2(const ge_layout *l) {
    return l->type_pos[2];
}
static size_t p_ne1_q(const ge_layout *l) {
    return l->ndims_pos[2] + 12;
}
static size_t p_first_value_type(const ge_layout *l) {
    return l->first_key_len_pos + 8 + strlen("general.architecture");
}

static void corrupted_counts_and_lengths_are_refused_naming_the_field(void **state) {
    (void)state;
    corrupt(0, p_tensor_count, 1ull << 60, 8, EHAL_STATUS_FORMAT, "tensor_count", "cannot fit");
    corrupt(0, p_kv_count, 1ull << 60, 8, EHAL_STATUS_FORMAT, "kv_count", "cannot fit");
    corrupt(0, p_first_key_len, 1ull << 62, 8, EHAL_STATUS_FORMAT, "key", "string length");
    corrupt(1, p_tokens_count, 1ull << 40, 8, EHAL_STATUS_FORMAT, "'tokenizer.ggml.tokens'",
            "array count");
    corrupt(1, p_nested_count, UINT64_MAX, 8, EHAL_STATUS_FORMAT, "'x.nested'", "array count");
    corrupt(0, p_first_value_type, 13, 4, EHAL_STATUS_FORMAT, "value type 13", NULL);
    corrupt(0, p_name_len3, 1ull << 50, 8, EHAL_STATUS_FORMAT, "tensor 3", "name");
    corrupt(0, p_name_len3, 0, 8, EHAL_STATUS_FORMAT, "tensor 3", "name length 0");
}

static void corrupted_tensor_infos_are_refused_naming_the_field(void **state) {
    (void)state;
    corrupt(0, p_ndims3, 9, 4, EHAL_STATUS_FORMAT, "'blk.0.attn_k.weight'", "n_dims 9");
    corrupt(0, p_ndims3, 0, 4, EHAL_STATUS_FORMAT, "'blk.0.attn_k.weight'", "n_dims 0");
    corrupt(0, p_ne0_3, 0, 8, EHAL_STATUS_FORMAT, "'blk.0.attn_k.weight'", "ne[0] = 0");
    corrupt(0, p_ne1_3, 1ull << 63, 8, EHAL_STATUS_FORMAT, "ne[1]", "out of range");
    corrupt(0, p_ne1_3, 1ull << 62, 8, EHAL_STATUS_FORMAT, "ne[1]", "overflows");
    corrupt(0, p_ne0_2, 48, 8, EHAL_STATUS_FORMAT, "'blk.0.attn_q.weight'",
            "not a multiple of the q8_0 block size 32");
    corrupt(0, p_offset3, 1, 8, EHAL_STATUS_FORMAT, "offset 1",
            "not a multiple of general.alignment 32");
    corrupt(0, p_last_offset, 1ull << 40, 8, EHAL_STATUS_FORMAT, "'output.weight'",
            "beyond file size");
    corrupt(0, p_last_offset, 0xffffffffffffffe0ull, 8, EHAL_STATUS_FORMAT, "'output.weight'",
            "beyond file size");
    corrupt(0, p_offset3, 0, 8, EHAL_STATUS_FORMAT, "overlaps tensor", "data range");
    corrupt(0, p_alignment, 3, 4, EHAL_STATUS_FORMAT, "general.alignment",
            "value 3 is not a power of two");
    corrupt(0, p_alignment, 0, 4, EHAL_STATUS_FORMAT, "general.alignment", "power of two");
    corrupt(0, p_type2, 0, 4, EHAL_STATUS_FORMAT, "data range", "overlaps"); /* f16 -> f32 size */
    corrupt(0, p_ne1_q, 32, 8, EHAL_STATUS_FORMAT, "blk.0.attn_q.weight: shape [64, 32]",
            "expected [64, 64]");
}

static uint8_t *find_bytes(gguf_emit *e, const char *s, size_t n) {
    for (size_t i = 0; i + n <= e->len; i++)
        if (memcmp(e->buf + i, s, n) == 0)
            return e->buf + i;
    fail_msg("'%.*s' not in the emitted file", (int)n, s);
    return NULL;
}

static void duplicate_names_and_keys_and_missing_keys_are_refused(void **state) {
    (void)state;
    gguf_emit e;
    ge_layout lay;
    build(&e, &lay, 0);
    /* blk.0.attn_v.weight -> blk.0.attn_k.weight */
    e.buf[lay.name_pos[4] + strlen("blk.0.attn_")] = 'k';
    expect_refusal(&e, EHAL_STATUS_FORMAT, "'blk.0.attn_k.weight'", "duplicate name");
    ge_free(&e);

    build(&e, &lay, 0);
    uint8_t *k = find_bytes(&e, "llama.context_length", 20);
    assert_non_null(k);
    memcpy(k, "general.architecture", 20);
    expect_refusal(&e, EHAL_STATUS_FORMAT, "'general.architecture'", "duplicate key");
    ge_free(&e);

    build(&e, &lay, 0);
    k = find_bytes(&e, "llama.block_count", 17);
    memcpy(k, "llama.block_cxunt", 17);
    expect_refusal(&e, EHAL_STATUS_FORMAT, "llama.block_count: key missing", NULL);
    ge_free(&e);

    build(&e, &lay, 0);
    k = find_bytes(&e, "blk.0.ffn_up.weight", 19);
    memcpy(k, "blk.0.ffn_uq.weight", 19);
    expect_refusal(&e, EHAL_STATUS_FORMAT, "blk.0.ffn_up.weight: tensor missing", NULL);
    ge_free(&e);

    build(&e, &lay, 0);
    memcpy(e.buf, "GGUG", 4);
    expect_refusal(&e, EHAL_STATUS_FORMAT, "magic", "47 47 55 47");
    ge_free(&e);
}

static void missing_and_non_regular_files_are_io_errors(void **state) {
    (void)state;
    char err[512];
    ehal_model *m = NULL;
    assert_int_equal(ehal_model_load_gguf(tmp_path("absent.gguf"), &m, err, sizeof err),
                     EHAL_STATUS_IO);
    assert_non_null(strstr(err, "absent.gguf"));
    assert_int_equal(ehal_model_load_gguf(tmpdir, &m, err, sizeof err), EHAL_STATUS_IO);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(ehal_model_load_gguf(NULL, &m, err, sizeof err), EHAL_STATUS_INVALID_ARGUMENT);
    assert_null(m);
}

/* Fails the 1st, 2nd, ... allocation of a load: each is a clean
 * OUT_OF_MEMORY (leaks show up under ASan) until the load needs no more. */
static void every_allocation_failure_is_reported(void **state) {
    (void)state;
    gguf_emit e;
    ge_layout lay;
    build(&e, &lay, 1);
    const char *p = tmp_path("alloc.gguf");
    assert_int_equal(ge_write_file(&e, e.len, p), 0);
    long n;
    for (n = 1; n < 100; n++) {
        char err[512];
        ehal_model *m = NULL;
        ehal_model_test_fail_alloc(n);
        ehal_status_t st = ehal_model_load_gguf(p, &m, err, sizeof err);
        ehal_model_test_fail_alloc(0);
        if (st == EHAL_STATUS_OK) {
            check_model_contents(m, &lay);
            ehal_model_free(m);
            break;
        }
        assert_int_equal(st, EHAL_STATUS_OUT_OF_MEMORY);
        assert_null(m);
    }
    assert_true(n > 3 && n < 100); /* kv set, infos, ranges, model, ... */
    ge_free(&e);
}

/* Deterministic random byte changes in the header, metadata and tensor
 * infos: each file either loads as a consistent model or is refused with
 * FORMAT/UNSUPPORTED and a message; never a crash (run under ASan too). */
static void random_corruptions_load_consistently_or_are_explained(void **state) {
    (void)state;
    gguf_emit e;
    ge_layout lay;
    build(&e, &lay, 0);
    const char *p = tmp_path("fuzz.gguf");
    uint8_t *orig = malloc(e.len);
    assert_non_null(orig);
    memcpy(orig, e.buf, e.len);
    uint64_t rng = 12345;
    int loaded = 0, refused = 0;
    for (int it = 0; it < 1500; it++) {
        memcpy(e.buf, orig, e.len);
        int flips = 1 + it % 3;
        for (int f = 0; f < flips; f++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)((rng >> 33) % lay.data_start);
            uint8_t v = (uint8_t)(rng >> 17);
            e.buf[pos] = (it & 4) ? (uint8_t)(e.buf[pos] ^ (1u << (v & 7))) : v;
        }
        assert_int_equal(ge_write_file(&e, e.len, p), 0);
        char err[512] = "";
        ehal_model *m = NULL;
        ehal_status_t st = ehal_model_load_gguf(p, &m, err, sizeof err);
        if (st == EHAL_STATUS_OK) {
            const ehal_model_hparams *hp = ehal_model_get_hparams(m);
            assert_true(hp->dim > 0 && hp->dim % hp->n_heads == 0);
            assert_true(hp->n_heads % hp->n_kv_heads == 0);
            for (uint32_t i = 0; i < ehal_model_tensor_count(m); i++) {
                const ehal_model_tensor *t = ehal_model_tensor_at(m, i);
                volatile uint8_t last = ((const uint8_t *)t->data)[t->size - 1];
                (void)last; /* inside the mapping, or ASan/SIGSEGV says otherwise */
            }
            ehal_model_free(m);
            loaded++;
        } else {
            if ((st != EHAL_STATUS_FORMAT && st != EHAL_STATUS_UNSUPPORTED) || strlen(err) < 8)
                fail_msg("iteration %d: status %d, message '%s'", it, st, err);
            assert_null(m);
            refused++;
        }
    }
    assert_int_equal(loaded + refused, 1500);
    assert_true(refused > 500); /* most changes to structure are caught */
    free(orig);
    ge_free(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_every_value_type_and_a_32000_string_vocabulary),
        cmocka_unit_test(tied_model_has_no_output_weight),
        cmocka_unit_test(alignment_default_and_64_and_version_2_are_accepted),
        cmocka_unit_test(version_1_and_big_endian_are_refused),
        cmocka_unit_test(foreign_tensor_types_are_refused_naming_tensor_and_type),
        cmocka_unit_test(other_architectures_are_refused_naming_it),
        cmocka_unit_test(every_truncation_is_refused),
        cmocka_unit_test(truncations_inside_large_metadata_are_refused),
        cmocka_unit_test(corrupted_counts_and_lengths_are_refused_naming_the_field),
        cmocka_unit_test(corrupted_tensor_infos_are_refused_naming_the_field),
        cmocka_unit_test(duplicate_names_and_keys_and_missing_keys_are_refused),
        cmocka_unit_test(missing_and_non_regular_files_are_io_errors),
        cmocka_unit_test(every_allocation_failure_is_reported),
        cmocka_unit_test(random_corruptions_load_consistently_or_are_explained),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
