/*
 * `edgehal conformance`: runs the conformance suite against one backend
 * (by name, or a plugin file by path) and exits 0 only when the chosen
 * profile is met. docs/conformance.md explains cases, metrics and reports.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "edgehal/conformance.h"

EHAL_CLI_COMMAND(conformance,
                 "check a backend against the reference kernels (profiles llm-core, llm-full)");

enum {
    OPT_BACKEND = 1,
    OPT_PROFILE,
    OPT_LIST,
    OPT_FILTER,
    OPT_REPRO,
    OPT_JOBS,
    OPT_GROUP,
    OPT_SEED,
    OPT_TIMEOUT,
    OPT_QUICK,
    OPT_NO_FORK,
    OPT_JSON,
    OPT_JUNIT,
    OPT_XFAIL,
    OPT_VERIFY_XFAIL,
    OPT_OPTION,
    OPT_VERBOSE,
    OPT_PROGRESS,
};

static const ehal_cli_opt conf_opts[] = {
    {"backend", 'b', 1, OPT_BACKEND},
    {"profile", 'p', 1, OPT_PROFILE},
    {"list", 0, 0, OPT_LIST},
    {"filter", 'f', 1, OPT_FILTER},
    {"repro", 0, 1, OPT_REPRO},
    {"jobs", 'j', 1, OPT_JOBS},
    {"group", 0, 1, OPT_GROUP},
    {"seed", 0, 1, OPT_SEED},
    {"timeout", 0, 1, OPT_TIMEOUT},
    {"quick", 0, 0, OPT_QUICK},
    {"no-fork", 0, 0, OPT_NO_FORK},
    {"json", 0, 1, OPT_JSON},
    {"junit", 0, 1, OPT_JUNIT},
    {"xfail", 0, 1, OPT_XFAIL},
    {"verify-xfail", 0, 0, OPT_VERIFY_XFAIL},
    {"option", 'o', 1, OPT_OPTION},
    {"verbose", 'v', 0, OPT_VERBOSE},
    {"progress", 0, 1, OPT_PROGRESS},
    {NULL, 0, 0, 0},
};

static void conf_usage(FILE *out) {
    fprintf(
        out,
        "usage: edgehal conformance [--backend NAME|PATH.so] [--profile llm-core|llm-full]\n"
        "                           [--list] [--filter GLOB] [--repro ID] [--quick]\n"
        "                           [--jobs N] [--seed N] [--timeout S] [--no-fork]\n"
        "                           [--json FILE] [--junit FILE] [--xfail FILE [--verify-xfail]]\n"
        "\n"
        "Runs the conformance suite (version %s) on one backend: every case of the\n"
        "profile is computed by the backend and by the ops/ reference kernels and\n"
        "compared (NMSE, max relative error) against one tolerance table; outputs are\n"
        "guarded against out-of-bounds writes; each case runs in a child process so a\n"
        "crash or a hang fails that case only. Exit 0 only when the profile is met:\n"
        "every case passes and none is unsupported (an --xfail entry that fails is\n"
        "allowed). A failing case prints the command that re-runs it alone.\n"
        "\n"
        "Options:\n"
        "  -b, --backend NAME|PATH  backend name (default cpu), or a plugin file: only\n"
        "                           that plugin is loaded\n"
        "  -p, --profile NAME       llm-core (default: what a Llama decoder needs) or\n"
        "                           llm-full (every case)\n"
        "      --list               print the selected case ids and exit\n"
        "  -f, --filter GLOB        only case ids matching GLOB (* ? [..])\n"
        "      --repro ID           run exactly this case (its seed is in the id)\n"
        "      --quick              a small subset of the profile\n"
        "  -j, --jobs N             cases in parallel (default 1)\n"
        "      --group N            cases per child process (default 8)\n"
        "      --seed N             seed of the generated inputs (default 1)\n"
        "      --timeout S          seconds before a case counts as hung (default 30;\n"
        "                           120 in sanitizer builds)\n"
        "      --no-fork            run in this process (debugging; no isolation)\n"
        "      --json FILE          write every case with its errors to FILE\n"
        "      --junit FILE         write JUnit XML to FILE\n"
        "      --xfail FILE         expected failures: one id or glob per line, # comments\n"
        "      --verify-xfail       an expected failure that passes fails the run\n"
        "  -o, --option K=V         backend option, e.g. cpu.threads=2 (repeatable)\n"
        "  -v, --verbose            print every case, not only failures\n"
        "      --progress MODE      auto (default), line (\\r-updated) or plain\n",
        EHAL_CONF_SUITE_VERSION);
}

int ehal_cmd_conformance(int argc, char **argv) {
    ehal_conf_options o;
    memset(&o, 0, sizeof o);
    o.progress = -1;
    static char bopts[1024];
    size_t bl = 0;
    ehal_cli_parser p;
    ehal_cli_parser_init(&p, argc, argv, conf_opts, conf_usage);
    uint64_t u;
    double d;
    int id;
    while ((id = ehal_cli_next(&p)) > 0) {
        switch (id) {
        case OPT_BACKEND: o.backend = p.value; break;
        case OPT_PROFILE:
            if (strcmp(p.value, "llm-core") != 0 && strcmp(p.value, "llm-full") != 0)
                return ehal_cli_usage_error(&p, "--profile '%s' is not llm-core or llm-full",
                                            p.value);
            o.profile = p.value;
            break;
        case OPT_LIST: o.list = 1; break;
        case OPT_FILTER: o.filter = p.value; break;
        case OPT_REPRO: o.repro = p.value; break;
        case OPT_JOBS:
            if (ehal_cli_value_u64(&p, 1, 64, &u) != 0)
                return 2;
            o.jobs = (uint32_t)u;
            break;
        case OPT_GROUP:
            if (ehal_cli_value_u64(&p, 1, 64, &u) != 0)
                return 2;
            o.group = (uint32_t)u;
            break;
        case OPT_SEED:
            if (ehal_cli_value_u64(&p, 1, UINT32_MAX, &u) != 0)
                return 2;
            o.seed = u;
            break;
        case OPT_TIMEOUT:
            if (ehal_cli_value_double(&p, 0.1, 86400.0, &d) != 0)
                return 2;
            o.timeout_s = d;
            break;
        case OPT_QUICK: o.quick = 1; break;
        case OPT_NO_FORK: o.no_fork = 1; break;
        case OPT_JSON: o.json_path = p.value; break;
        case OPT_JUNIT: o.junit_path = p.value; break;
        case OPT_XFAIL: o.xfail_path = p.value; break;
        case OPT_VERIFY_XFAIL: o.verify_xfail = 1; break;
        case OPT_VERBOSE: o.verbose = 1; break;
        case OPT_PROGRESS:
            if (strcmp(p.value, "auto") == 0)
                o.progress = -1;
            else if (strcmp(p.value, "line") == 0)
                o.progress = 1;
            else if (strcmp(p.value, "plain") == 0)
                o.progress = 0;
            else
                return ehal_cli_usage_error(&p, "--progress '%s' is not auto, line or plain",
                                            p.value);
            break;
        case OPT_OPTION: {
            size_t n = strlen(p.value);
            if (!strchr(p.value, '=') || bl + n + 2 > sizeof bopts)
                return ehal_cli_usage_error(&p, "--option '%s' is not KEY=VALUE (or too long)",
                                            p.value);
            if (bl)
                bopts[bl++] = ',';
            memcpy(bopts + bl, p.value, n + 1);
            bl += n;
            o.backend_options = bopts;
            break;
        }
        default: return ehal_cli_unexpected(&p);
        }
    }
    if (id != EHAL_CLI_END)
        return ehal_cli_exit_code(id);
    if (o.verify_xfail && !o.xfail_path)
        return ehal_cli_usage_error(&p, "--verify-xfail needs --xfail FILE");
    return ehal_conf_run(&o, NULL);
}
