/*
 * `edgehal mkmodel`: writes a deterministic random-weight llama model as a
 * GGUF v3 file (presets and the weight distribution in docs/gguf.md). The
 * weights are generated one tensor at a time while writing, so the 1b
 * preset needs memory for its largest tensor only.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, isatty */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "edgehal/model.h"
#include "edgehal/model_tools.h"
#include "edgehal/ops.h"

EHAL_CLI_COMMAND(mkmodel, "write a deterministic random-weight llama model as a GGUF file");

enum { OPT_PRESET = 1, OPT_QUANT, OPT_OUT, OPT_SEED, OPT_TIED, OPT_UNTIED, OPT_QUIET };

static const ehal_cli_opt mkmodel_opts[] = {
    {"preset", 'p', 1, OPT_PRESET}, {"quant", 'q', 1, OPT_QUANT},
    {"out", 'o', 1, OPT_OUT},       {"seed", 's', 1, OPT_SEED},
    {"tied", 0, 0, OPT_TIED},       {"untied", 0, 0, OPT_UNTIED},
    {"quiet", 0, 0, OPT_QUIET},     {NULL, 0, 0, 0},
};

#define DEFAULT_SEED 1u

static void mkmodel_usage(FILE *out) {
    fprintf(out,
            "usage: edgehal mkmodel --preset NAME --out FILE.gguf [--quant TYPE] [--seed N]\n"
            "                       [--tied | --untied] [--quiet]\n"
            "\n"
            "Writes a llama model with deterministic random weights as a GGUF v3 file\n"
            "that `edgehal run --model` and other GGUF tools read. The same preset, type\n"
            "and seed give the same bytes on every machine. See docs/gguf.md.\n"
            "\n"
            "Options:\n"
            "  -p, --preset NAME  tiny (24.4M params), small (99.5M), 1b (1.10B),\n"
            "                     builtin (0.80M, the model `edgehal run` uses by default)\n"
            "  -q, --quant TYPE   type of every matrix and the embeddings: f32, f16, q8_0,\n"
            "                     q4_0 (default f16); norm weights are always f32\n"
            "  -o, --out FILE     output path; written to FILE.tmp-<pid>, then renamed\n"
            "  -s, --seed N       weight seed (default %u)\n"
            "  --tied             no output.weight: the LM head reuses token_embd\n"
            "                     (the default for builtin)\n"
            "  --untied           a separate output.weight (the default for the others)\n"
            "  --quiet            no progress line\n",
            DEFAULT_SEED);
}

typedef struct progress {
    int enabled, tty, last_pct;
} progress;

static void on_progress(void *user, uint64_t done, uint64_t total) {
    progress *p = user;
    if (!p->enabled || total == 0)
        return;
    int pct = (int)(done * 100 / total);
    if (p->tty) {
        if (pct != p->last_pct)
            fprintf(stderr, "\rmkmodel: %3d%% (%" PRIu64 " / %" PRIu64 " MB)", pct, done >> 20,
                    total >> 20);
        if (done == total)
            fputc('\n', stderr);
    } else if (pct / 10 != p->last_pct / 10 || done == total) {
        fprintf(stderr, "mkmodel: %3d%% (%" PRIu64 " / %" PRIu64 " MB)\n", pct, done >> 20,
                total >> 20);
    }
    p->last_pct = pct;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void format_params(uint64_t n, char *buf, size_t size) {
    if (n >= 1000000000ull)
        snprintf(buf, size, "%.2fB", (double)n / 1e9);
    else if (n >= 1000000ull)
        snprintf(buf, size, "%.1fM", (double)n / 1e6);
    else
        snprintf(buf, size, "%" PRIu64, n);
}

int ehal_cmd_mkmodel(int argc, char **argv) {
    const char *preset = NULL, *out = NULL, *quant = "f16";
    uint64_t seed = DEFAULT_SEED;
    int tied = -1, quiet = 0;
    ehal_cli_parser p;
    ehal_cli_parser_init(&p, argc, argv, mkmodel_opts, mkmodel_usage);
    int id;
    while ((id = ehal_cli_next(&p)) > 0) {
        switch (id) {
        case OPT_PRESET: preset = p.value; break;
        case OPT_QUANT: quant = p.value; break;
        case OPT_OUT: out = p.value; break;
        case OPT_SEED:
            if (ehal_cli_value_u64(&p, 0, UINT64_MAX, &seed) != 0)
                return 2;
            break;
        case OPT_TIED: tied = 1; break;
        case OPT_UNTIED: tied = 0; break;
        case OPT_QUIET: quiet = 1; break;
        default: return ehal_cli_unexpected(&p);
        }
    }
    if (id != EHAL_CLI_END)
        return ehal_cli_exit_code(id);
    if (!preset)
        return ehal_cli_usage_error(&p, "--preset is required (tiny, small, 1b or builtin)");
    if (!out || !out[0])
        return ehal_cli_usage_error(&p, "--out is required");
    ehal_model_hparams hp;
    if (ehal_model_preset_hparams(preset, &hp) != EHAL_STATUS_OK)
        return ehal_cli_usage_error(&p, "--preset '%s' is not one of tiny, small, 1b, builtin",
                                    preset);
    uint32_t dtype = ehal_dtype_from_name(quant);
    if (dtype != EHAL_DTYPE_F32 && dtype != EHAL_DTYPE_F16 && dtype != EHAL_DTYPE_Q8_0 &&
        dtype != EHAL_DTYPE_Q4_0)
        return ehal_cli_usage_error(&p, "--quant '%s' is not one of f32, f16, q8_0, q4_0", quant);
    if (tied >= 0)
        hp.tied_embeddings = (uint32_t)tied;

    char err[512];
    ehal_model *m = NULL;
    if (ehal_model_generate_lazy(&hp, dtype, seed, &m, err, sizeof err) != EHAL_STATUS_OK) {
        fprintf(stderr, "edgehal mkmodel: %s\n", err);
        return 1;
    }
    char name[96];
    snprintf(name, sizeof name, "edgehal-%s-%s-seed%" PRIu64, preset, quant, seed);
    progress pr = {!quiet && ehal_model_data_bytes(m) > (64u << 20), isatty(2), -1};
    ehal_model_write_opts wo = {name, on_progress, &pr};
    double t0 = now_s();
    ehal_status_t st = ehal_model_write_gguf_ex(m, out, &wo, err, sizeof err);
    double dt = now_s() - t0;
    uint64_t params = ehal_model_param_count(&hp);
    ehal_model_free(m);
    if (st != EHAL_STATUS_OK) {
        fprintf(stderr, "edgehal mkmodel: %s\n", err);
        return 1;
    }
    long long bytes = -1;
    FILE *f = fopen(out, "rb");
    if (f && fseek(f, 0, SEEK_END) == 0)
        bytes = (long long)ftell(f);
    if (f)
        fclose(f);
    char ptext[32];
    format_params(params, ptext, sizeof ptext);
    printf("wrote %s: preset %s, %s, %s params, %lld bytes, seed %" PRIu64 ", %s, %.1f s\n", out,
           preset, quant, ptext, bytes, seed,
           hp.tied_embeddings ? "tied embeddings" : "separate output.weight", dt);
    return 0;
}
