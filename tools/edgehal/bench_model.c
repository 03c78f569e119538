/*
 * `edgehal bench --model`: whole-model throughput, measured the way
 * llama.cpp's llama-bench does (-p 128 -n 32), so the figures compare:
 *   ppN  one prefill step of N prompt tokens into an empty KV cache;
 *   tgN  N single-token decode steps after a one-token start.
 * Each test runs in a fresh session (the same model, weights uploaded by the
 * session), once as a warm-up and then --reps times; only the eval calls
 * are timed, after the session has built the step's program (graph, plan,
 * KV caches, arenas), as llama-bench times decode calls on a context it
 * created beforehand. Reports the median tokens/s with the min and max, and for tg
 * the weight bytes read per token times tokens/s (effective GB/s).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_model.h"
#include "cli.h"
#include "edgehal/edgehal.h"
#include "edgehal/model.h"
#include "edgehal/ops.h"
#include "json_writer.h"

enum { OPT_MODEL = 1, OPT_QUANT, OPT_PROMPT, OPT_GEN, OPT_THREADS, OPT_REPS, OPT_KV, OPT_PIN, OPT_JSON };

static const ehal_cli_opt model_opts[] = {
    {"model", 'm', 1, OPT_MODEL},  {"quant", 0, 1, OPT_QUANT},    {"n-prompt", 'p', 1, OPT_PROMPT},
    {"n-gen", 'n', 1, OPT_GEN},    {"threads", 't', 1, OPT_THREADS}, {"reps", 0, 1, OPT_REPS},
    {"kv-type", 0, 1, OPT_KV},     {"pin", 0, 1, OPT_PIN},        {"json", 0, 1, OPT_JSON},
    {NULL, 0, 0, 0},
};

static void model_usage(FILE *out) {
    fprintf(out,
            "usage: edgehal bench --model FILE.gguf|builtin [-p N] [-n N] [-t LIST] [--reps R]\n"
            "                     [--quant TYPE] [--kv-type TYPE] [--pin 'SEL=B'] [--json FILE]\n"
            "\n"
            "Whole-model throughput, as llama.cpp's `llama-bench -p 128 -n 32` measures it:\n"
            "ppN is one prefill step of N prompt tokens into an empty KV cache, tgN is N\n"
            "single-token decode steps after a one-token start. Each test runs in a fresh\n"
            "session, once to warm up and then R times; only the eval calls are timed\n"
            "(the session builds the step's program, KV caches and arenas first).\n"
            "Prints the median tokens/s with min and max, and for tg the weight bytes read\n"
            "per token x tokens/s (effective GB/s; compare `edgehal bench --bandwidth`).\n"
            "Runs on the cpu backend alone unless --backends or EHAL_BACKENDS says otherwise.\n"
            "\n"
            "Options:\n"
            "  -m, --model FILE     GGUF model, or 'builtin' (the model `edgehal run` uses)\n"
            "      --quant TYPE     builtin model weights: f32|f16|q8_0|q4_0 (q8_0)\n"
            "  -p, --n-prompt N     prompt tokens of the pp test (default 128; 0: no pp test)\n"
            "  -n, --n-gen N        tokens of the tg test (default 32; 0: no tg test)\n"
            "  -t, --threads LIST   cpu backend threads, comma-separated: each value is a\n"
            "                       row (default: the backend's default)\n"
            "      --reps R         timed repetitions per test (default 5)\n"
            "      --kv-type TYPE   KV cache dtype: f16|q8_0|q4_0 (f16)\n"
            "      --pin 'SEL=B'    pin node groups as in `edgehal run` (repeatable)\n"
            "      --json FILE      also write the results to FILE as JSON\n"
            "\n%s",
            ehal_cli_common_usage);
}

#define MAX_THREAD_ROWS 8
#define MAX_PINS 16

typedef struct model_args {
    const char *model, *json;
    uint32_t quant, kv_type;
    uint64_t n_prompt, n_gen, reps;
    uint64_t threads[MAX_THREAD_ROWS]; /* 0: the backend's default */
    int n_threads;
    const char *pins[MAX_PINS];
    uint32_t n_pins;
} model_args;

typedef struct test_result {
    uint64_t threads;
    int gen; /* 0: pp, 1: tg */
    uint64_t n;
    double median, min, max; /* tokens/s */
    double gbs;              /* tg: weight bytes per token x tokens/s / 1e9 */
} test_result;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint32_t dtype_value(ehal_cli_parser *p, int kv) {
    uint32_t d = ehal_dtype_from_name(p->value);
    int ok = d != UINT32_MAX && (kv ? d == EHAL_DTYPE_F16 || d == EHAL_DTYPE_Q8_0 ||
                                          d == EHAL_DTYPE_Q4_0
                                    : d == EHAL_DTYPE_F32 || d == EHAL_DTYPE_F16 ||
                                          d == EHAL_DTYPE_Q8_0 || d == EHAL_DTYPE_Q4_0);
    if (!ok) {
        ehal_cli_usage_error(p, "%s '%s' is not one of %s", p->opt_name, p->value,
                             kv ? "f16, q8_0, q4_0" : "f32, f16, q8_0, q4_0");
        return UINT32_MAX;
    }
    return d;
}

/* "1,2" -> threads[]; 0 or -1 with a message. */
static int parse_threads(ehal_cli_parser *p, model_args *a) {
    const char *s = p->value;
    a->n_threads = 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char tok[32];
        if (len == 0 || len >= sizeof tok || a->n_threads == MAX_THREAD_ROWS) {
            ehal_cli_usage_error(p, "--threads '%s' is not a list of at most %d counts", p->value,
                                 MAX_THREAD_ROWS);
            return -1;
        }
        memcpy(tok, s, len);
        tok[len] = '\0';
        if (ehal_cli_parse_u64("bench", "--threads", tok, 1, 256, &a->threads[a->n_threads]) != 0)
            return -1;
        a->n_threads++;
        s += len + (e != NULL);
    }
    return a->n_threads ? 0 : (ehal_cli_usage_error(p, "--threads is empty"), -1);
}

static int parse_args(int argc, char **argv, model_args *a, ehal_cli_common *common) {
    memset(a, 0, sizeof *a);
    a->quant = EHAL_DTYPE_Q8_0;
    a->kv_type = EHAL_DTYPE_F16;
    a->n_prompt = 128;
    a->n_gen = 32;
    a->reps = 5;
    a->n_threads = 1; /* threads[0] = 0: the default */
    ehal_cli_parser p;
    ehal_cli_parser_init(&p, argc, argv, model_opts, model_usage);
    ehal_cli_common_init(common);
    p.common = common;
    int id;
    while ((id = ehal_cli_next(&p)) > 0) {
        int bad = 0;
        switch (id) {
        case OPT_MODEL: a->model = p.value; break;
        case OPT_QUANT: bad = (a->quant = dtype_value(&p, 0)) == UINT32_MAX; break;
        case OPT_KV: bad = (a->kv_type = dtype_value(&p, 1)) == UINT32_MAX; break;
        case OPT_PROMPT: bad = ehal_cli_value_u64(&p, 0, 1 << 16, &a->n_prompt); break;
        case OPT_GEN: bad = ehal_cli_value_u64(&p, 0, 1 << 16, &a->n_gen); break;
        case OPT_THREADS: bad = parse_threads(&p, a); break;
        case OPT_REPS: bad = ehal_cli_value_u64(&p, 1, 1000, &a->reps); break;
        case OPT_JSON: a->json = p.value; break;
        case OPT_PIN:
            if (a->n_pins == MAX_PINS)
                return ehal_cli_usage_error(&p, "more than %d --pin options", MAX_PINS);
            a->pins[a->n_pins++] = p.value;
            break;
        default: return ehal_cli_unexpected(&p);
        }
        if (bad)
            return 2;
    }
    if (id != EHAL_CLI_END)
        return ehal_cli_exit_code(id);
    if (!a->model)
        return ehal_cli_usage_error(&p, "--model is required here");
    if (a->n_prompt == 0 && a->n_gen == 0)
        return ehal_cli_usage_error(&p, "-p 0 and -n 0 leave nothing to measure");
    return -1;
}

/* Bytes of weights one decode step reads: every tensor except the token
 * embedding table, of which one row is read (unless it is also the LM head). */
static double bytes_per_token(const ehal_model *m) {
    const ehal_model_hparams *hp = ehal_model_get_hparams(m);
    double total = 0;
    for (uint32_t i = 0; i < ehal_model_tensor_count(m); i++) {
        const ehal_model_tensor *t = ehal_model_tensor_at(m, i);
        if (!hp->tied_embeddings && !strcmp(t->name, "token_embd.weight"))
            total += (double)t->size / (hp->vocab ? hp->vocab : 1);
        else
            total += (double)t->size;
    }
    return total;
}

/* One timed test in a fresh session; *tps tokens/s. 0, or 1 with a message. */
static int run_once(ehal_context *ctx, const ehal_model *m, const model_args *a, int gen,
                    const int32_t *tokens, float *logits, double *tps) {
    ehal_session_options so = {sizeof so, a->pins, a->n_pins, a->kv_type, 0, 0, 0, 0, 0, 0, 0, 0};
    uint32_t need = (uint32_t)(gen ? a->n_gen + 1 : a->n_prompt);
    const ehal_model_hparams *hp = ehal_model_get_hparams(m);
    so.kv_capacity = need > hp->context ? need : 0;
    ehal_session *s = NULL;
    char err[320];
    if (ehal_session_create(ctx, m, &so, &s, err, sizeof err) != EHAL_STATUS_OK) {
        fprintf(stderr, "edgehal bench: %s\n", err);
        return 1;
    }
    ehal_status_t st = EHAL_STATUS_OK;
    double t0 = 0, t1 = 0;
    if (!gen) {
        /* The step's program (plan, KV caches, activation arenas, prepared
         * partitions) is built before the clock starts, as llama-bench
         * creates its context before timing: ppN times the prefill. tg's
         * one-token start builds its program the same way. */
        if (!ehal_session_plan(s, (uint32_t)a->n_prompt))
            st = EHAL_STATUS_INTERNAL;
        t0 = now_s();
        if (st == EHAL_STATUS_OK)
            st = ehal_session_eval(s, tokens, (uint32_t)a->n_prompt, logits);
        t1 = now_s();
    } else {
        st = ehal_session_eval(s, tokens, 1, logits);
        t0 = now_s();
        for (uint64_t i = 0; i < a->n_gen && st == EHAL_STATUS_OK; i++)
            st = ehal_session_eval(s, &tokens[(i + 1) % need], 1, logits);
        t1 = now_s();
    }
    if (st != EHAL_STATUS_OK)
        fprintf(stderr, "edgehal bench: %s: %s\n", gen ? "tg" : "pp", ehal_session_last_error(s));
    ehal_session_free(s);
    *tps = (double)(gen ? a->n_gen : a->n_prompt) / (t1 - t0);
    return st != EHAL_STATUS_OK;
}

static int run_test(ehal_context *ctx, const ehal_model *m, const model_args *a, int gen,
                    const int32_t *tokens, float *logits, test_result *r) {
    double v[1000];
    const int tty = isatty(STDERR_FILENO);
    for (uint64_t k = 0; k <= a->reps; k++) { /* k == 0: warm-up */
        if (tty)
            fprintf(stderr, "\rbench: threads %" PRIu64 " %s%" PRIu64 " run %" PRIu64 "/%" PRIu64,
                    r->threads, gen ? "tg" : "pp", gen ? a->n_gen : a->n_prompt, k, a->reps);
        double tps;
        if (run_once(ctx, m, a, gen, tokens, logits, &tps) != 0)
            return 1;
        if (k)
            v[k - 1] = tps;
    }
    if (tty)
        fprintf(stderr, "\r%60s\r", "");
    qsort(v, a->reps, sizeof *v, cmp_double);
    r->gen = gen;
    r->n = gen ? a->n_gen : a->n_prompt;
    r->min = v[0];
    r->max = v[a->reps - 1];
    r->median = a->reps % 2 ? v[a->reps / 2] : 0.5 * (v[a->reps / 2 - 1] + v[a->reps / 2]);
    r->gbs = gen ? r->median * bytes_per_token(m) / 1e9 : 0;
    return 0;
}

static int write_json(const char *path, const model_args *a, double weight_bytes,
                      const test_result *res, int n) {
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    ehal_json_writer w;
    ehal_json_init_file(&w, f, EHAL_JSON_PRETTY);
    ehal_json_begin_object(&w);
    ehal_json_kv_string(&w, "model", a->model);
    ehal_json_kv_double(&w, "weight_bytes_per_token", weight_bytes);
    ehal_json_kv_uint(&w, "reps", a->reps);
    ehal_json_key(&w, "results");
    ehal_json_begin_array(&w);
    for (int i = 0; i < n; i++) {
        char test[32];
        snprintf(test, sizeof test, "%s%" PRIu64, res[i].gen ? "tg" : "pp", res[i].n);
        ehal_json_begin_object(&w);
        ehal_json_kv_string(&w, "test", test);
        ehal_json_kv_uint(&w, "threads", res[i].threads);
        ehal_json_kv_double(&w, "tokens_per_s", res[i].median);
        ehal_json_kv_double(&w, "min", res[i].min);
        ehal_json_kv_double(&w, "max", res[i].max);
        if (res[i].gen)
            ehal_json_kv_double(&w, "weight_gb_per_s", res[i].gbs);
        ehal_json_end_object(&w);
    }
    ehal_json_end_array(&w);
    ehal_json_end_object(&w);
    int bad = ehal_json_finish(&w);
    return (fclose(f) != 0 || bad) ? -1 : 0;
}

int ehal_bench_model(int argc, char **argv) {
    model_args a;
    ehal_cli_common common;
    int rc = parse_args(argc, argv, &a, &common);
    if (rc >= 0)
        return rc;
    char err[320];
    ehal_model *m = NULL;
    ehal_status_t st;
    if (strcmp(a.model, "builtin") != 0) {
        st = ehal_model_load_gguf(a.model, &m, err, sizeof err);
    } else {
        ehal_model_hparams hp;
        st = ehal_model_preset_hparams("builtin", &hp);
        hp.tied_embeddings = 0; /* the model `edgehal run` uses */
        if (st == EHAL_STATUS_OK)
            st = ehal_model_generate(&hp, a.quant, 42, &m, err, sizeof err);
        else
            snprintf(err, sizeof err, "no built-in preset");
    }
    if (st != EHAL_STATUS_OK) {
        fprintf(stderr, "edgehal bench: model '%s': %s\n", a.model, err);
        return 1;
    }
    const ehal_model_hparams *hp = ehal_model_get_hparams(m);
    const uint64_t n_tok = (a.n_prompt > a.n_gen + 1 ? a.n_prompt : a.n_gen + 1);
    int32_t *tokens = malloc(sizeof *tokens * n_tok);
    float *logits = malloc(sizeof *logits * hp->vocab);
    test_result res[2 * MAX_THREAD_ROWS];
    int n_res = 0;
    rc = 1;
    if (!tokens || !logits) {
        fprintf(stderr, "edgehal bench: out of memory for %" PRIu64 " tokens\n", n_tok);
        goto out;
    }
    for (uint64_t i = 0; i < n_tok; i++) /* a fixed, spread-out prompt */
        tokens[i] = (int32_t)((i * 7919u + 1u) % hp->vocab);
    const double bpt = bytes_per_token(m);
    printf("model: %s: dim %u, %u layers, vocab %u; %.1f MiB of weights read per token\n",
           a.model, hp->dim, hp->n_layers, hp->vocab, bpt / 1048576.0);
    printf("%-8s %-7s %12s %12s %12s %10s\n", "threads", "test", "tokens/s", "min", "max",
           "GB/s");
    if (!common.backends && !getenv("EHAL_BACKENDS"))
        common.backends = "cpu"; /* the figures are for the CPU backend alone */
    for (int t = 0; t < a.n_threads; t++) {
        ehal_cli_common c = common;
        for (uint32_t i = 0; i < c.n_options; i++) /* re-point into this copy */
            c.options[i] = (ehal_option){c.text[i],
                                         c.text[i] + (common.options[i].value - common.text[i])};
        if (a.threads[t]) {
            char opt[48];
            snprintf(opt, sizeof opt, "cpu.threads=%" PRIu64, a.threads[t]);
            if (ehal_cli_common_add_option(&c, "bench", opt) != 0)
                goto out;
        }
        ehal_context *ctx = NULL;
        if (ehal_cli_open_context("bench", &c, t ? EHAL_CLI_NO_SKIPPED_REPORT : 0, &ctx) != 0)
            goto out;
        for (int gen = 0; gen < 2; gen++) {
            if (!(gen ? a.n_gen : a.n_prompt))
                continue;
            test_result *r = &res[n_res];
            r->threads = a.threads[t];
            if (run_test(ctx, m, &a, gen, tokens, logits, r) != 0) {
                ehal_context_destroy(ctx);
                goto out;
            }
            n_res++;
            char thr[16], test[24], gbs[16] = "";
            snprintf(thr, sizeof thr, "%" PRIu64, r->threads);
            snprintf(test, sizeof test, "%s%" PRIu64, gen ? "tg" : "pp", r->n);
            if (gen)
                snprintf(gbs, sizeof gbs, "%.2f", r->gbs);
            printf("%-8s %-7s %12.1f %12.1f %12.1f %10s\n", r->threads ? thr : "default", test,
                   r->median, r->min, r->max, gbs);
            fflush(stdout);
        }
        ehal_context_destroy(ctx);
    }
    if (a.json && write_json(a.json, &a, bpt, res, n_res) != 0) {
        fprintf(stderr, "edgehal bench: cannot write --json '%s'\n", a.json);
        goto out;
    }
    rc = 0;
out:
    free(tokens);
    free(logits);
    ehal_model_free(m);
    return rc;
}
