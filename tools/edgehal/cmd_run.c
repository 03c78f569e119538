/*
 * `edgehal run`: partition a Llama-family model (a GGUF file, or the
 * built-in deterministic model) across the loaded backends, run a prompt
 * and a greedy or top-k decode, and report the plan and where time went.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "edgehal/edgehal.h"
#include "edgehal/graph.h"
#include "edgehal/model.h"
#include "edgehal/ops.h"

EHAL_CLI_COMMAND(run, "run a Llama-family model partitioned across the backends");

enum {
    OPT_MODEL = 1,
    OPT_PROMPT,
    OPT_NPRED,
    OPT_PIN,
    OPT_EXPLAIN,
    OPT_KVTYPE,
    OPT_KVWIN,
    OPT_KVSINK,
    OPT_LOGITS,
    OPT_TRACE,
    OPT_CHECK,
    OPT_THREADS,
    OPT_TOPK,
    OPT_SEED,
    OPT_QUANT,
    OPT_CTX,
    OPT_QUIET,
    OPT_TRACE_OPS,
    OPT_CALIBRATE
};

static const ehal_cli_opt run_opts[] = {
    {"model", 'm', 1, OPT_MODEL},       {"prompt-tokens", 'p', 1, OPT_PROMPT},
    {"n-predict", 'n', 1, OPT_NPRED},   {"pin", 0, 1, OPT_PIN},
    {"explain", 0, 0, OPT_EXPLAIN},     {"kv-type", 0, 1, OPT_KVTYPE},
    {"kv-window", 0, 1, OPT_KVWIN},     {"kv-sinks", 0, 1, OPT_KVSINK},
    {"logits", 0, 1, OPT_LOGITS},       {"trace", 0, 1, OPT_TRACE},
    {"check", 0, 0, OPT_CHECK},         {"threads", 't', 1, OPT_THREADS},
    {"top-k", 0, 1, OPT_TOPK},          {"seed", 0, 1, OPT_SEED},
    {"quant", 0, 1, OPT_QUANT},         {"ctx", 0, 1, OPT_CTX},
    {"quiet", 'q', 0, OPT_QUIET},       {"trace-ops", 0, 0, OPT_TRACE_OPS},
    {"calibrate", 0, 0, OPT_CALIBRATE}, {NULL, 0, 0, 0},
};

static void run_usage(FILE *out) {
    fprintf(out,
            "usage: edgehal run [options] [common options]\n"
            "\n"
            "Runs a prompt and a decode loop through the partitioned model and prints the\n"
            "plan, the generated token ids, prefill/decode tokens/s, each backend's time\n"
            "share, transfer bytes per token, KV-cache bytes, peak RSS and the executor's\n"
            "own overhead. Pins and the plan format: docs/partitioning.md.\n"
            "\n"
            "Options:\n"
            "  -m, --model FILE.gguf  model file (default: the built-in model)\n"
            "  --quant TYPE           built-in model weights: f32|f16|q8_0|q4_0 (q8_0)\n"
            "  -p, --prompt-tokens L  comma-separated token ids (default 1,15,27,42,7,99,3,64)\n"
            "  -n, --n-predict N      tokens to generate (default 16)\n"
            "  --pin 'SEL=BACKEND'    pin node groups: 'layers 0-7=vulkan', 'attention=cpu',\n"
            "                         'lm_head=cpu', 'ffn=opencl', 'op:matmul=cpu' (repeatable)\n"
            "  --explain              print each group's chosen backend and alternatives' cost\n"
            "  --calibrate            before planning, time a step on each backend alone and\n"
            "                         scale its cost estimates by measured / estimated\n"
            "  --kv-type TYPE         KV cache dtype: f16|q8_0|q4_0 (f16)\n"
            "  --kv-window N          sliding window (0: full cache)\n"
            "  --kv-sinks S           sink tokens kept with a window\n"
            "  --ctx N                KV cache capacity (default: the model's context)\n"
            "  --logits FILE          raw little-endian f32 logits, one vocab row per position\n"
            "  --trace FILE.json      Chrome trace (Perfetto): one track per backend, a slice\n"
            "                         per partition execute\n"
            "  --trace-ops            with --trace: run each node as its own execute and add\n"
            "                         a slice per op (measured; adds dispatch overhead)\n"
            "  --check                rerun every token on the reference path and compare\n"
            "  -t, --threads N        cpu backend threads (sets cpu.threads)\n"
            "  --top-k K              sample from the K most likely (default greedy)\n"
            "  --seed S               sampling seed (default 1)\n"
            "  -q, --quiet            only the token ids and figures\n"
            "\n");
    fputs(ehal_cli_common_usage, out);
}

#define MAX_PINS 16

typedef struct run_args {
    const char *model, *prompt, *logits, *trace;
    const char *pins[MAX_PINS];
    uint32_t n_pins;
    uint64_t n_predict, kv_window, kv_sinks, top_k, seed, ctx;
    uint32_t kv_type, quant;
    int explain, check, quiet, trace_ops, calibrate;
} run_args;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int parse_prompt(const char *s, uint32_t vocab, int32_t **out, uint32_t *n) {
    uint32_t cap = 16, cnt = 0;
    int32_t *v = malloc(cap * sizeof *v);
    const char *p = s;
    while (v && *p) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 0 || (uint64_t)x >= vocab) {
            fprintf(stderr, "edgehal run: --prompt-tokens '%s': token '%.*s' is not in [0, %u)\n",
                    s, (int)strcspn(p, ","), p, vocab);
            free(v);
            return -1;
        }
        if (cnt == cap) {
            int32_t *nv = realloc(v, (cap *= 2) * sizeof *nv);
            if (!nv) {
                free(v);
                return -1;
            }
            v = nv;
        }
        v[cnt++] = (int32_t)x;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') {
            fprintf(stderr, "edgehal run: --prompt-tokens '%s': unexpected '%c'\n", s, *end);
            free(v);
            return -1;
        }
    }
    if (!v || cnt == 0) {
        fprintf(stderr, "edgehal run: --prompt-tokens '%s': no tokens\n", s);
        free(v);
        return -1;
    }
    *out = v;
    *n = cnt;
    return 0;
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static int32_t sample(const float *l, uint32_t vocab, uint64_t k, uint64_t *rng) {
    uint32_t best = 0;
    float bv = l[0];
    for (uint32_t i = 1; i < vocab; i++)
        if (l[i] > bv)
            bv = l[i], best = i;
    if (k <= 1)
        return (int32_t)best;
    if (k > 64)
        k = 64;
    uint32_t top[64];
    uint32_t nt = 0;
    for (uint32_t i = 0; i < vocab; i++) { /* insertion into a sorted top-k */
        uint32_t j = nt < k ? nt++ : (uint32_t)k;
        if (j == k && l[i] <= l[top[k - 1]])
            continue;
        if (j == k)
            j = (uint32_t)k - 1;
        while (j > 0 && l[top[j - 1]] < l[i]) {
            top[j] = top[j - 1];
            j--;
        }
        top[j] = i;
    }
    double w[64], sum = 0;
    for (uint32_t i = 0; i < nt; i++)
        sum += w[i] = exp((double)l[top[i]] - (double)l[top[0]]);
    double u = (double)(rng_next(rng) >> 11) / 9007199254740992.0 * sum;
    for (uint32_t i = 0; i < nt; i++)
        if ((u -= w[i]) <= 0)
            return (int32_t)top[i];
    return (int32_t)top[nt - 1];
}

static uint32_t argmax(const float *l, uint32_t n) {
    uint32_t b = 0;
    for (uint32_t i = 1; i < n; i++)
        if (l[i] > l[b])
            b = i;
    return b;
}

static uint32_t dtype_arg(const char *cmd, const char *opt, const char *v) {
    uint32_t d = ehal_dtype_from_name(v);
    if (d == UINT32_MAX || d == EHAL_DTYPE_I32) {
        fprintf(stderr, "edgehal %s: %s '%s' is not a dtype (f32, f16, q8_0, q4_0)\n", cmd, opt, v);
        return UINT32_MAX;
    }
    return d;
}

static void print_figures(const ehal_session *s, ehal_context *ctx, double prefill_s,
                          uint32_t n_prompt, double decode_s, uint32_t n_decode,
                          const ehal_session_stats *dec) {
    ehal_session_stats st;
    ehal_session_get_stats(s, &st);
    printf("prefill: %u tokens in %.3f ms = %.1f tokens/s\n", n_prompt, prefill_s * 1e3,
           prefill_s > 0 ? n_prompt / prefill_s : 0.0);
    if (n_decode)
        printf("decode:  %u tokens in %.3f ms = %.1f tokens/s\n", n_decode, decode_s * 1e3,
               decode_s > 0 ? n_decode / decode_s : 0.0);
    uint64_t total = 0;
    for (uint32_t b = 0; b < 16; b++)
        total += st.backend_ns[b];
    printf("time share:");
    for (uint32_t b = 0; b < 16 && b < ehal_backend_count(ctx); b++) {
        ehal_backend_props pr = {.struct_size = sizeof pr};
        pr.device.struct_size = sizeof pr.device;
        ehal_backend_props_get(ehal_backend_get(ctx, b), &pr);
        printf(" %s %.1f%%", pr.name ? pr.name : "?",
               total ? 100.0 * (double)st.backend_ns[b] / (double)total : 0.0);
    }
    printf(" (kernels %.3f ms, transfers %.3f ms)\n", (double)st.exec_ns / 1e6,
           (double)st.transfer_ns / 1e6);
    if (dec && dec->tokens) {
        printf("transfer: %.0f bytes per decoded token copied between backends, %.0f read in "
               "place (zero copy)\n",
               (double)dec->transfer_bytes / (double)dec->tokens,
               (double)dec->zero_copy_bytes / (double)dec->tokens);
        double oh = dec->wall_ns
                        ? 100.0 * (double)(dec->wall_ns - dec->exec_ns - dec->transfer_ns) /
                              (double)dec->wall_ns
                        : 0;
        printf("executor overhead: %.2f%% of decode time\n", oh < 0 ? 0 : oh);
    }
    if (st.replans) {
        printf("recovered: %u lost backend%s (", st.replans, st.replans == 1 ? "" : "s");
        for (uint32_t b = 0, first = 1; b < 16 && b < ehal_backend_count(ctx); b++)
            if (st.lost_mask >> b & 1u) {
                ehal_backend_props pr = {.struct_size = sizeof pr};
                pr.device.struct_size = sizeof pr.device;
                ehal_backend_props_get(ehal_backend_get(ctx, b), &pr);
                printf("%s%s", first ? "" : ", ", pr.name);
                first = 0;
            }
        /* The session's last line starts with the cause ("backend X kept
         * failing (status)"), then says what it did, as this line does. */
        const char *why = ehal_session_last_error(s);
        int cause_len = why ? (int)strcspn(why, ";") : 0;
        printf("); re-planned over the rest and replayed the token history");
        if (cause_len > 0)
            printf(" (cause: %.*s)", cause_len, why);
        printf("\n");
    }
    printf("memory: weights %.2f MiB as held by the backends, KV caches %.2f MiB, "
           "activations %.2f MiB",
           (double)st.weight_bytes / 1048576.0, (double)st.kv_bytes / 1048576.0,
           (double)st.arena_bytes / 1048576.0);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        printf(", peak RSS %.2f MiB", (double)ru.ru_maxrss / 1024.0);
    printf("\n");
}

static int parse_args(int argc, char **argv, run_args *a, ehal_cli_common *common,
                      ehal_cli_parser *p) {
    memset(a, 0, sizeof *a);
    a->n_predict = 16;
    a->seed = 1;
    a->kv_type = EHAL_DTYPE_F16;
    a->quant = EHAL_DTYPE_Q8_0;
    a->prompt = "1,15,27,42,7,99,3,64";
    ehal_cli_parser_init(p, argc, argv, run_opts, run_usage);
    ehal_cli_common_init(common);
    p->common = common;
    int id;
    char thr[64];
    while ((id = ehal_cli_next(p)) > 0) {
        switch (id) {
        case OPT_MODEL: a->model = p->value; break;
        case OPT_PROMPT:
            a->prompt = p->value;
            if (!*a->prompt || strspn(a->prompt, "0123456789,") != strlen(a->prompt))
                return ehal_cli_usage_error(p,
                                            "--prompt-tokens '%s' is not a comma-separated "
                                            "list of token ids",
                                            a->prompt);
            break;
        case OPT_NPRED:
            if (ehal_cli_value_u64(p, 0, 1u << 20, &a->n_predict) != 0)
                return 2;
            break;
        case OPT_PIN:
            if (a->n_pins == MAX_PINS)
                return ehal_cli_usage_error(p, "at most %d --pin rules", MAX_PINS);
            a->pins[a->n_pins++] = p->value;
            break;
        case OPT_EXPLAIN: a->explain = 1; break;
        case OPT_KVTYPE:
            if ((a->kv_type = dtype_arg("run", "--kv-type", p->value)) == UINT32_MAX)
                return 2;
            break;
        case OPT_QUANT:
            if ((a->quant = dtype_arg("run", "--quant", p->value)) == UINT32_MAX)
                return 2;
            break;
        case OPT_KVWIN:
            if (ehal_cli_value_u64(p, 0, 1u << 24, &a->kv_window) != 0)
                return 2;
            break;
        case OPT_KVSINK:
            if (ehal_cli_value_u64(p, 0, 1u << 24, &a->kv_sinks) != 0)
                return 2;
            break;
        case OPT_CTX:
            if (ehal_cli_value_u64(p, 1, 1u << 24, &a->ctx) != 0)
                return 2;
            break;
        case OPT_LOGITS: a->logits = p->value; break;
        case OPT_TRACE: a->trace = p->value; break;
        case OPT_CHECK: a->check = 1; break;
        case OPT_QUIET: a->quiet = 1; break;
        case OPT_TRACE_OPS: a->trace_ops = 1; break;
        case OPT_CALIBRATE: a->calibrate = 1; break;
        case OPT_THREADS: {
            uint64_t t;
            if (ehal_cli_value_u64(p, 1, 1024, &t) != 0)
                return 2;
            snprintf(thr, sizeof thr, "cpu.threads=%" PRIu64, t);
            if (ehal_cli_common_add_option(common, "run", thr) != 0)
                return 2;
            break;
        }
        case OPT_TOPK:
            if (ehal_cli_value_u64(p, 1, 64, &a->top_k) != 0)
                return 2;
            break;
        case OPT_SEED:
            if (ehal_cli_value_u64(p, 0, UINT64_MAX, &a->seed) != 0)
                return 2;
            break;
        default: return ehal_cli_unexpected(p);
        }
    }
    if (id != EHAL_CLI_END)
        return ehal_cli_exit_code(id);
    if (a->kv_type != EHAL_DTYPE_F16 && a->kv_type != EHAL_DTYPE_Q8_0 &&
        a->kv_type != EHAL_DTYPE_Q4_0)
        return ehal_cli_usage_error(p, "--kv-type '%s' must be f16, q8_0 or q4_0",
                                    ehal_dtype_name(a->kv_type));
    return -1;
}

typedef struct checker {
    ehal_refrun *ref;
    float *buf;
    double max_diff, max_ref;
    double max_gap; /* largest reference-logit gap of a top-1 mismatch */
    uint32_t agree, ties, steps;
} checker;

static int check_step(checker *c, const int32_t *toks, uint32_t n, const float *logits,
                      uint32_t rows, uint32_t vocab) {
    char err[256];
    if (ehal_refrun_eval(c->ref, toks, n, c->buf, err, sizeof err) != EHAL_STATUS_OK) {
        fprintf(stderr, "edgehal run: --check: %s\n", err);
        return -1;
    }
    for (uint32_t r = 0; r < rows; r++) {
        const float *a = logits + (size_t)r * vocab, *b = c->buf + (size_t)r * vocab;
        for (uint32_t i = 0; i < vocab; i++) {
            double d = fabs((double)a[i] - (double)b[i]);
            if (d > c->max_diff || d != d)
                c->max_diff = d != d ? INFINITY : d;
            if (fabs((double)b[i]) > c->max_ref)
                c->max_ref = fabs((double)b[i]);
        }
        uint32_t ga = argmax(a, vocab), wa = argmax(b, vocab);
        if (ga == wa) {
            c->agree++;
        } else {
            /* A flip between two tokens whose reference logits differ by
             * less than the tolerance is a near-tie, judged at the end. */
            double gap = (double)b[wa] - (double)b[ga];
            c->ties++;
            if (gap > c->max_gap)
                c->max_gap = gap;
        }
        c->steps++;
    }
    return 0;
}

int ehal_cmd_run(int argc, char **argv) {
    run_args a;
    ehal_cli_common common;
    ehal_cli_parser p;
    int rc = parse_args(argc, argv, &a, &common, &p);
    if (rc >= 0)
        return rc;
    rc = 1;
    char err[320];
    ehal_model *m = NULL;
    ehal_context *ctx = NULL;
    ehal_session *s = NULL;
    checker chk = {0};
    int32_t *prompt = NULL, *out_tok = NULL;
    float *logits = NULL;
    FILE *lf = NULL;
    uint32_t n_prompt = 0;
    ehal_status_t st;
    if (a.model) {
        st = ehal_model_load_gguf(a.model, &m, err, sizeof err);
    } else {
        ehal_model_hparams hp;
        st = ehal_model_preset_hparams("builtin", &hp);
        /* With tied embeddings, small random layers leave the residual close
         * to the input token's embedding, so greedy decoding repeats the last
         * token forever; a separate output matrix gives a varied stream, which
         * makes comparisons of token streams (--check, recovery) meaningful.
         * Same model as `mkmodel --preset builtin --seed 42 --untied`. */
        hp.tied_embeddings = 0;
        if (st == EHAL_STATUS_OK)
            st = ehal_model_generate(&hp, a.quant, 42, &m, err, sizeof err);
        else
            snprintf(err, sizeof err, "no built-in preset");
    }
    if (st != EHAL_STATUS_OK) {
        fprintf(stderr, "edgehal run: model '%s': %s\n", a.model ? a.model : "builtin", err);
        goto out;
    }
    const ehal_model_hparams *hp = ehal_model_get_hparams(m);
    if (parse_prompt(a.prompt, hp->vocab, &prompt, &n_prompt) != 0)
        goto out;
    uint32_t head_dim = hp->n_heads ? hp->dim / hp->n_heads : 0;
    if (head_dim % ehal_dtype_block_values(a.kv_type) != 0) {
        fprintf(stderr,
                "edgehal run: --kv-type %s: the model's head dim %u is not a multiple of the "
                "%s block (%u values); use --kv-type f16\n",
                ehal_dtype_name(a.kv_type), head_dim, ehal_dtype_name(a.kv_type),
                ehal_dtype_block_values(a.kv_type));
        goto out;
    }
    uint64_t cap = a.ctx ? a.ctx : hp->context;
    if (!a.kv_window && n_prompt + a.n_predict > cap) {
        fprintf(stderr,
                "edgehal run: %u prompt tokens + --n-predict %" PRIu64
                " exceed the KV capacity %" PRIu64 " (use --ctx or --kv-window)\n",
                n_prompt, a.n_predict, cap);
        goto out;
    }
    if (ehal_cli_open_context("run", &common, 0, &ctx) != 0)
        goto out;
    ehal_session_options so = {sizeof so,
                               a.pins,
                               a.n_pins,
                               a.kv_type,
                               (uint32_t)a.ctx,
                               (uint32_t)a.kv_window,
                               (uint32_t)a.kv_sinks,
                               a.logits != NULL,
                               a.trace != NULL,
                               (uint32_t)a.explain,
                               (uint32_t)(a.trace_ops && a.trace),
                               (uint32_t)a.calibrate};
    st = ehal_session_create(ctx, m, &so, &s, err, sizeof err);
    if (st == EHAL_STATUS_OK && a.check)
        st = ehal_refrun_create(m, &so, &chk.ref, err, sizeof err);
    if (st != EHAL_STATUS_OK) {
        fprintf(stderr, "edgehal run: %s\n", err);
        goto out;
    }
    const size_t rows_max = a.logits ? n_prompt : 1; /* logits rows one step returns */
    logits = malloc(sizeof *logits * hp->vocab * rows_max);
    chk.buf = a.check ? malloc(sizeof *chk.buf * hp->vocab * rows_max) : NULL;
    out_tok = malloc(sizeof *out_tok * (a.n_predict + 1));
    if (!logits || (a.check && !chk.buf) || !out_tok) {
        fprintf(stderr, "edgehal run: out of host memory for %u x %u logits\n", n_prompt,
                hp->vocab);
        goto out;
    }
    if (a.logits && !(lf = fopen(a.logits, "wb"))) {
        fprintf(stderr, "edgehal run: --logits '%s': cannot open for writing\n", a.logits);
        goto out;
    }
    /* plans (planned and prepared up front so timings measure steps) */
    /* Planning one T can drop a backend (e.g. out of device memory) and
     * re-plan, which frees the plans handed out before: ask again until a
     * round passes without a re-plan (each one drops a backend). */
    const ehal_plan *pp = NULL, *dp = NULL;
    double scale_p[16] = {0};
    for (;;) {
        ehal_session_stats before;
        ehal_session_get_stats(s, &before);
        pp = ehal_session_plan(s, n_prompt);
        for (uint32_t b = 0; b < ehal_backend_count(ctx) && b < 16; b++)
            scale_p[b] = ehal_session_cost_scale(s, b);
        dp = pp && a.n_predict ? ehal_session_plan(s, 1) : NULL;
        ehal_session_stats after;
        ehal_session_get_stats(s, &after);
        if (!pp || (a.n_predict && !dp) || after.replans == before.replans)
            break;
    }
    if (!pp || (a.n_predict && !dp)) {
        fprintf(stderr, "edgehal run: planning: %s\n", ehal_session_last_error(s));
        goto out;
    }
    if (!a.quiet) {
        printf("model: %s, dim %u, %u layers, %u/%u heads, ffn %u, vocab %u\n",
               a.model ? a.model : "builtin", hp->dim, hp->n_layers, hp->n_heads, hp->n_kv_heads,
               hp->ffn_dim, hp->vocab);
        for (uint32_t b = 0; b < ehal_backend_count(ctx); b++) {
            ehal_backend_props pr = {.struct_size = sizeof pr};
            pr.device.struct_size = sizeof pr.device;
            ehal_backend_props_get(ehal_backend_get(ctx, b), &pr);
            printf("backend#%u: %s (%s)\n", b, pr.name, pr.device.name);
        }
        if (a.calibrate) {
            printf("calibration (measured / estimated step, prefill T=%u | decode):", n_prompt);
            for (uint32_t b = 0; b < ehal_backend_count(ctx) && b < 16; b++) {
                ehal_backend_props pr = {.struct_size = sizeof pr};
                pr.device.struct_size = sizeof pr.device;
                ehal_backend_props_get(ehal_backend_get(ctx, b), &pr);
                printf(" %s x%.3g|x%.3g (%.0f us per partition)", pr.name, scale_p[b],
                       ehal_session_cost_scale(s, b), (double)ehal_session_overhead_ns(s, b) / 1e3);
            }
            printf("\n");
        }
        printf("prefill (T=%u) ", n_prompt);
        ehal_plan_print(pp, stdout);
        if (a.explain)
            ehal_plan_explain(pp, stdout);
        if (dp && dp != pp) {
            printf("decode (T=1) ");
            ehal_plan_print(dp, stdout);
            if (a.explain)
                ehal_plan_explain(dp, stdout);
        }
    }
    ehal_session_reset_stats(s);
    double t0 = now_s();
    st = ehal_session_eval(s, prompt, n_prompt, logits);
    double prefill_s = now_s() - t0;
    if (st != EHAL_STATUS_OK) {
        fprintf(stderr, "edgehal run: prefill: %s\n", ehal_session_last_error(s));
        goto out;
    }
    uint32_t rows = a.logits ? n_prompt : 1;
    if (lf)
        fwrite(logits, sizeof *logits, (size_t)hp->vocab * rows, lf);
    if (chk.ref && check_step(&chk, prompt, n_prompt, logits, rows, hp->vocab) != 0)
        goto out;
    uint64_t rng = a.seed * 0x9E3779B97F4A7C15ull + 1;
    const float *last = logits + (size_t)(rows - 1) * hp->vocab;
    out_tok[0] = sample(last, hp->vocab, a.top_k, &rng);
    ehal_session_stats after_prefill;
    ehal_session_get_stats(s, &after_prefill);
    int tty = isatty(fileno(stderr));
    double t1 = now_s(), excluded_s = 0;
    uint32_t n_dec = 0;
    for (uint64_t i = 0; i + 1 < a.n_predict; i++) {
        st = ehal_session_eval(s, &out_tok[i], 1, logits);
        if (st != EHAL_STATUS_OK) {
            fprintf(stderr, "%sedgehal run: decode step %" PRIu64 ": %s\n", tty ? "\n" : "", i,
                    ehal_session_last_error(s));
            goto out;
        }
        n_dec++;
        double c0 = now_s();
        if (lf)
            fwrite(logits, sizeof *logits, hp->vocab, lf);
        if (chk.ref && check_step(&chk, &out_tok[i], 1, logits, 1, hp->vocab) != 0)
            goto out;
        if (lf)
            fflush(lf);
        excluded_s += now_s() - c0; /* the check and the file are not decode time */
        out_tok[i + 1] = sample(logits, hp->vocab, a.top_k, &rng);
        if (tty && !a.quiet && (i % 8 == 7 || i + 2 == a.n_predict))
            fprintf(stderr, "\rdecode %" PRIu64 "/%" PRIu64 "", i + 2, a.n_predict);
    }
    double decode_s = now_s() - t1 - excluded_s;
    if (tty && !a.quiet && n_dec >= 7)
        fprintf(stderr, "\n");
    ehal_session_stats all, dec;
    ehal_session_get_stats(s, &all);
    dec = all;
    dec.tokens -= after_prefill.tokens;
    dec.wall_ns -= after_prefill.wall_ns;
    dec.exec_ns -= after_prefill.exec_ns;
    dec.transfer_ns -= after_prefill.transfer_ns;
    dec.transfer_bytes -= after_prefill.transfer_bytes;
    dec.zero_copy_bytes -= after_prefill.zero_copy_bytes;
    printf("tokens:");
    for (uint64_t i = 0; i < a.n_predict; i++)
        printf("%s%d", i ? "," : " ", out_tok[i]);
    printf("\n");
    print_figures(s, ctx, prefill_s, n_prompt, decode_s, n_dec, &dec);
    if (a.trace) {
        st = ehal_session_write_trace(s, a.trace);
        if (st != EHAL_STATUS_OK) {
            fprintf(stderr, "edgehal run: --trace '%s': cannot write\n", a.trace);
            goto out;
        }
        printf("trace: %s\n", a.trace);
    }
    if (a.logits)
        printf("logits: %u rows of %u f32 in %s\n", n_prompt + n_dec, hp->vocab, a.logits);
    rc = 0;
    if (chk.ref) {
        /* Tolerance (docs/partitioning.md): 2% of the largest reference
         * logit, at least 0.02; backends may quantize activations. A Q4_0
         * cache rounds K/V in steps of 1/8 of a block's largest value, so
         * a slightly different K rounds a whole step apart: 4x that. */
        double rel = a.kv_type == EHAL_DTYPE_Q4_0 ? 0.08 : 0.02;
        double tol = rel * (chk.max_ref > 1 ? chk.max_ref : 1);
        /* A top-1 mismatch passes only as a near-tie: the reference
         * ranks the backend's pick within the tolerance of its own. */
        int ok = chk.max_diff <= tol && (chk.ties == 0 || chk.max_gap <= tol);
        char ties[96] = "";
        if (chk.ties)
            snprintf(ties, sizeof ties, " (%u near-tie%s, reference gap at most %.3g)", chk.ties,
                     chk.ties == 1 ? "" : "s", chk.max_gap);
        printf("check: max |logit diff| %.3g (tolerance %.3g) over %u positions, top-1 "
               "agreement %u/%u%s: %s\n",
               chk.max_diff, tol, chk.steps, chk.agree, chk.steps, ties, ok ? "PASS" : "FAIL");
        if (!ok)
            rc = 1;
    }
out:
    if (lf && fclose(lf) != 0 && rc == 0) {
        fprintf(stderr, "edgehal run: --logits '%s': write failed\n", a.logits);
        rc = 1;
    }
    free(prompt), free(out_tok), free(logits), free(chk.buf);
    ehal_refrun_free(chk.ref);
    ehal_session_free(s);
    ehal_context_destroy(ctx);
    ehal_model_free(m);
    return rc;
}
