/* Generator and presets: determinism, the documented distribution
 * (re-derived here from docs/gguf.md, not from the generator's code),
 * frozen hashes that pin the bytes across machines, preset shapes and
 * parameter counts, and refusals. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model_internal.h"

#include "edgehal/model.h"
#include "edgehal/model_tools.h"

/* ---- the documented generator, written again from docs/gguf.md ---------- */

static uint64_t sm64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t fnv(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 0x100000001b3ull;
    return h;
}

/* Value j of row r of tensor `name` (kind: 0 matrix, 1 token_embd, 2 norm). */
static float doc_value(uint64_t seed, const char *name, int kind, int64_t fan_in, int64_t r,
                       int64_t j) {
    uint64_t s = seed ^ fnv(name);
    uint64_t key = sm64(&s);
    s = key ^ ((uint64_t)r * 0xD1B54A32D192ED03ull);
    uint64_t x = 0;
    for (int64_t k = 0; k <= j; k++)
        x = sm64(&s);
    double c = 2.0 * ((double)(x >> 40) / 16777216.0) - 1.0; /* exact in double and float */
    if (kind == 2)
        return (float)(1.0 + 0.125 * c);
    if (kind == 1)
        return (float)c;
    float a = 1.0f / sqrtf((float)fan_in);
    return (float)c * a;
}

static uint64_t hash_model(const ehal_model *m) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < ehal_model_tensor_count(m); i++) {
        const ehal_model_tensor *t = ehal_model_tensor_at(m, i);
        const uint8_t *d = t->data;
        for (uint64_t k = 0; k < t->size; k++)
            h = (h ^ d[k]) * 0x100000001b3ull;
    }
    return h;
}

static ehal_model *gen(const char *preset, uint32_t dtype, uint64_t seed) {
    ehal_model_hparams hp;
    assert_int_equal(ehal_model_preset_hparams(preset, &hp), EHAL_STATUS_OK);
    char err[256];
    ehal_model *m = NULL;
    ehal_status_t st = ehal_model_generate(&hp, dtype, seed, &m, err, sizeof err);
    if (st != EHAL_STATUS_OK)
        fail_msg("generate %s: %s", preset, err);
    return m;
}

static void same_seed_gives_same_bytes_and_seeds_differ(void **state) {
    (void)state;
    ehal_model *a = gen("builtin", EHAL_DTYPE_Q4_0, 5), *b = gen("builtin", EHAL_DTYPE_Q4_0, 5);
    ehal_model *c = gen("builtin", EHAL_DTYPE_Q4_0, 6);
    assert_int_equal(ehal_model_tensor_count(a), ehal_model_tensor_count(b));
    for (uint32_t i = 0; i < ehal_model_tensor_count(a); i++) {
        const ehal_model_tensor *x = ehal_model_tensor_at(a, i), *y = ehal_model_tensor_at(b, i);
        const ehal_model_tensor *z = ehal_model_tensor_at(c, i);
        assert_int_equal(x->size, y->size);
        assert_int_equal(memcmp(x->data, y->data, (size_t)x->size), 0);
        assert_int_not_equal(memcmp(x->data, z->data, (size_t)x->size), 0);
        assert_int_equal((uintptr_t)x->data % 64, 0);
    }
    ehal_model_free(a);
    ehal_model_free(b);
    ehal_model_free(c);
}

static void values_follow_the_documented_distribution(void **state) {
    (void)state;
    ehal_model *m = gen("builtin", EHAL_DTYPE_F32, 42);
    static const struct {
        const char *name;
        int kind;
    } t[] = {{"blk.0.attn_q.weight", 0},
             {"blk.3.ffn_down.weight", 0},
             {"token_embd.weight", 1},
             {"blk.2.ffn_norm.weight", 2},
             {"output_norm.weight", 2}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const ehal_model_tensor *x = ehal_model_tensor_find(m, t[i].name);
        assert_non_null(x);
        const float *v = x->data;
        int64_t rows = x->ne[1];
        for (int64_t r = 0; r < rows && r < 3; r++)
            for (int64_t j = 0; j < 5; j++) {
                float want = doc_value(42, t[i].name, t[i].kind, x->ne[0], r, j);
                if (v[r * x->ne[0] + j] != want)
                    fail_msg("%s[%lld][%lld] = %.9g, documented %.9g", t[i].name, (long long)r,
                             (long long)j, (double)v[r * x->ne[0] + j], (double)want);
            }
        /* Whole-tensor range and spread. */
        double lo = t[i].kind == 2 ? 0.875 : -1.0, hi = t[i].kind == 2 ? 1.125 : 1.0;
        double a = t[i].kind == 0 ? 1.0 / sqrt((double)x->ne[0]) : 1.0;
        if (t[i].kind == 0)
            lo = -a, hi = a;
        double sum = 0, sumsq = 0;
        int64_t n = x->ne[0] * x->ne[1];
        for (int64_t k = 0; k < n; k++) {
            assert_true(v[k] >= lo && v[k] <= hi);
            sum += v[k];
            sumsq += v[k] * v[k];
        }
        double mean = sum / (double)n, var = sumsq / (double)n - mean * mean;
        double want_mean = t[i].kind == 2 ? 1.0 : 0.0;
        double want_var = t[i].kind == 2 ? 0.125 * 0.125 / 3.0 : a * a / 3.0;
        assert_true(fabs(mean - want_mean) < 4.0 * sqrt(want_var / (double)n) + 1e-6);
        assert_true(fabs(var / want_var - 1.0) < 0.2);
    }
    ehal_model_free(m);
}

/* FNV-1a 64 of every tensor's bytes in order, for the builtin preset at
 * seed 1. Computed once (x86-64, gcc 12), checked equal on aarch64 (gcc 12
 * cross build under qemu-aarch64), and frozen: a different value on
 * another machine or compiler means generated models are no longer
 * bit-identical across machines (PRNG, float rounding, fp contraction or
 * the quantizers changed). Update only with a deliberate format change,
 * and say so in docs/gguf.md. */
static void frozen_hashes_pin_cross_machine_determinism(void **state) {
    (void)state;
    static const struct {
        uint32_t dtype;
        uint64_t hash;
    } want[] = {
        {EHAL_DTYPE_F32, 0xc5818803532615c0ull},
        {EHAL_DTYPE_F16, 0x9457c4dd6161d0baull},
        {EHAL_DTYPE_Q8_0, 0xc195c58ddd04cbb9ull},
        {EHAL_DTYPE_Q4_0, 0x6bb02e9dbc358b5full},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ehal_model *m = gen("builtin", want[i].dtype, 1);
        uint64_t h = hash_model(m);
        if (h != want[i].hash)
            fail_msg("builtin %s seed 1: hash 0x%016llxull, frozen 0x%016llxull",
                     ehal_gguf_type_name(want[i].dtype), (unsigned long long)h,
                     (unsigned long long)want[i].hash);
        ehal_model_free(m);
    }
}

/* Parameters counted by hand from the shapes in model.h:
 * vocab*dim (embeddings) [+ vocab*dim output] + dim (output norm) + layers *
 * (2*dim norms + 2*dim*dim (q, o) + 2*dim*kv_dim (k, v) + 3*dim*ffn). */
static void presets_have_the_documented_shapes(void **state) {
    (void)state;
    static const struct {
        const char *name;
        ehal_model_hparams hp;
        uint64_t params;
    } want[] = {
        /* 2*32000*288 + 288 + 6*(576 + 2*82944 + 2*82944 + 3*221184) */
        {"tiny",
         {288, 6, 6, 6, 768, 32000, 2048, EHAL_ROPE_NORMAL, 10000.0f, 1e-5f, 0},
         24407712ull},
        /* 2*32000*768 + 768 + 8*(1536 + 2*589824 + 2*196608 + 3*1572864) */
        {"small",
         {768, 8, 12, 4, 2048, 32000, 2048, EHAL_ROPE_NORMAL, 10000.0f, 1e-5f, 0},
         99496704ull},
        /* 2*32000*2048 + 2048 + 16*(4096 + 2*4194304 + 2*1048576 + 3*16777216) */
        {"1b",
         {2048, 16, 32, 8, 8192, 32000, 4096, EHAL_ROPE_NORMAL, 10000.0f, 1e-5f, 0},
         1104218112ull},
        /* 512*128 (tied) + 128 + 4*(256 + 2*16384 + 2*8192 + 3*45056) */
        {"builtin", {128, 4, 4, 2, 352, 512, 512, EHAL_ROPE_NORMAL, 10000.0f, 1e-5f, 1}, 803968ull},
    };
    const char *const *names = ehal_model_preset_names();
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ehal_model_hparams hp;
        assert_string_equal(names[i], want[i].name);
        assert_int_equal(ehal_model_preset_hparams(want[i].name, &hp), EHAL_STATUS_OK);
        assert_memory_equal(&hp, &want[i].hp, sizeof hp);
        assert_int_equal(ehal_model_param_count(&hp), want[i].params);
    }
    assert_null(names[4]);
    ehal_model_hparams hp;
    assert_int_equal(ehal_model_preset_hparams("huge", &hp), EHAL_STATUS_NOT_FOUND);
    assert_int_equal(ehal_model_preset_hparams(NULL, &hp), EHAL_STATUS_INVALID_ARGUMENT);
}

static void generated_model_matches_its_hparams(void **state) {
    (void)state;
    ehal_model *m = gen("builtin", EHAL_DTYPE_Q8_0, 3);
    const ehal_model_hparams *hp = ehal_model_get_hparams(m);
    assert_int_equal(hp->tied_embeddings, 1);
    assert_int_equal(ehal_model_tensor_count(m), 1 + 4 * 9 + 1);
    assert_null(ehal_model_tensor_find(m, "output.weight"));
    const ehal_model_tensor *k = ehal_model_tensor_find(m, "blk.2.attn_k.weight");
    assert_non_null(k);
    assert_int_equal(k->ne[0], 128);
    assert_int_equal(k->ne[1], 64); /* 2 KV heads x head_dim 32 */
    assert_int_equal(k->size, 128 / 32 * 34 * 64);
    assert_int_equal(k->dtype, EHAL_DTYPE_Q8_0);
    const ehal_model_tensor *d = ehal_model_tensor_find(m, "blk.0.ffn_down.weight");
    assert_int_equal(d->ne[0], 352);
    assert_int_equal(d->ne[1], 128);
    const ehal_model_tensor *n = ehal_model_tensor_find(m, "blk.0.attn_norm.weight");
    assert_int_equal(n->dtype, EHAL_DTYPE_F32);
    assert_int_equal(n->n_dims, 1);
    assert_int_equal(n->size, 128 * 4);
    ehal_model_free(m);
}

static void bad_requests_are_refused_with_a_message(void **state) {
    (void)state;
    char err[256];
    ehal_model *m = (ehal_model *)1;
    ehal_model_hparams hp;
    assert_int_equal(ehal_model_preset_hparams("builtin", &hp), 0);
    assert_int_equal(ehal_model_generate(&hp, EHAL_DTYPE_I32, 1, &m, err, sizeof err),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "i32"));
    assert_null(m);
    ehal_model_hparams bad = hp;
    bad.dim = 120;
    bad.n_heads = 4;
    assert_int_equal(ehal_model_generate(&bad, EHAL_DTYPE_Q4_0, 1, &m, err, sizeof err),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "multiples of 32"));
    bad = hp;
    bad.n_heads = 3;
    assert_int_equal(ehal_model_generate(&bad, EHAL_DTYPE_F32, 1, &m, err, sizeof err),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "head_count: 3"));
    bad = hp;
    bad.n_kv_heads = 3;
    assert_int_equal(ehal_model_generate(&bad, EHAL_DTYPE_F32, 1, &m, err, sizeof err),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "head_count_kv: 3"));
    bad = hp;
    bad.vocab = 0;
    assert_int_equal(ehal_model_generate(&bad, EHAL_DTYPE_F32, 1, &m, err, sizeof err),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "vocab"));
    assert_int_equal(ehal_model_generate(NULL, EHAL_DTYPE_F32, 1, &m, err, sizeof err),
                     EHAL_STATUS_INVALID_ARGUMENT);
}

static void every_allocation_failure_is_reported(void **state) {
    (void)state;
    ehal_model_hparams hp;
    assert_int_equal(ehal_model_preset_hparams("builtin", &hp), 0);
    long n;
    for (n = 1; n < 50; n++) {
        char err[256];
        ehal_model *m = NULL;
        ehal_model_test_fail_alloc(n);
        ehal_status_t st = ehal_model_generate(&hp, EHAL_DTYPE_F16, 1, &m, err, sizeof err);
        ehal_model_test_fail_alloc(0);
        if (st == EHAL_STATUS_OK) {
            ehal_model_free(m);
            break;
        }
        assert_int_equal(st, EHAL_STATUS_OUT_OF_MEMORY);
        assert_non_null(strstr(err, "out of memory"));
        assert_null(m);
    }
    assert_true(n > 2 && n < 50);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_gives_same_bytes_and_seeds_differ),
        cmocka_unit_test(values_follow_the_documented_distribution),
        cmocka_unit_test(frozen_hashes_pin_cross_machine_determinism),
        cmocka_unit_test(presets_have_the_documented_shapes),
        cmocka_unit_test(generated_model_matches_its_hparams),
        cmocka_unit_test(bad_requests_are_refused_with_a_message),
        cmocka_unit_test(every_allocation_failure_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
