/*
 * Helpers shared by every `edgehal` subcommand: a small long-option parser,
 * number parsing with range checks, and opening a context from the common
 * options (--backends, --backend-path, --option, -v).
 *
 * A command is a file tools/edgehal/cmd_<name>.c defining
 *     EHAL_CLI_COMMAND(name, "one-line summary");
 *     int ehal_cmd_<name>(int argc, char **argv)   (argv[0] is "<name>")
 * The build globs cmd_*.c into the command table; nothing else is edited.
 *
 * Exit codes every command uses: 0 success, 1 a runtime failure (one line on
 * stderr naming the thing and the value), 2 a command-line error (one line
 * plus the usage on stderr). `--help`/`-h` prints the usage on stdout, exit 0.
 *
 * A typical command:
 *
 *     enum { OPT_JSON = 1, OPT_N };
 *     static const ehal_cli_opt opts[] = {
 *         {"json", 0, 0, OPT_JSON},
 *         {"n", 'n', 1, OPT_N},
 *         {0},
 *     };
 *     ehal_cli_common common;
 *     ehal_cli_parser p;
 *     ehal_cli_parser_init(&p, argc, argv, opts, usage_fn);
 *     ehal_cli_common_init(&common);
 *     p.common = &common;            // accept the common options too
 *     int id;
 *     while ((id = ehal_cli_next(&p)) > 0) {
 *         switch (id) {
 *         case OPT_JSON: json = 1; break;
 *         case OPT_N:
 *             if (ehal_cli_value_u64(&p, 1, 1000, &n) != 0) return 2;
 *             break;
 *         default: return ehal_cli_unexpected(&p);   // a positional argument
 *         }
 *     }
 *     if (id != EHAL_CLI_END) return ehal_cli_exit_code(id);
 *     ehal_context *ctx;
 *     if (ehal_cli_open_context(p.cmd, &common, 0, &ctx) != 0) return 1;
 *
 * Nothing here is thread-safe; it is for the command's main thread.
 */
#ifndef EHAL_TOOLS_CLI_H
#define EHAL_TOOLS_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "edgehal/edgehal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Declares a command's entry point and defines its one-line summary. */
#define EHAL_CLI_COMMAND(name, summary)            \
    int ehal_cmd_##name(int argc, char **argv);    \
    extern const char ehal_cmd_##name##_summary[]; \
    const char ehal_cmd_##name##_summary[] = summary

/* ---- option parser ----------------------------------------------------- */

typedef struct ehal_cli_opt {
    const char *name; /* long name without "--": "n-predict" */
    char short_name;  /* 'v' for -v, or 0 */
    int has_value;    /* 1: takes "--name VALUE", "--name=VALUE" or "-x VALUE" */
    int id;           /* > 0 and < EHAL_CLI_ARG; returned by ehal_cli_next */
} ehal_cli_opt;       /* tables end with an entry whose name is NULL */

/* ehal_cli_next results besides the option ids. */
#define EHAL_CLI_END 0      /* all arguments consumed */
#define EHAL_CLI_HELP (-1)  /* --help/-h: usage printed on stdout */
#define EHAL_CLI_ERROR (-2) /* message and usage printed on stderr */
#define EHAL_CLI_ARG 0x7fff /* a positional argument, in p->value */

#define EHAL_CLI_MAX_OPTIONS 32  /* --option entries */
#define EHAL_CLI_OPTION_TEXT 256 /* bytes of one "backend.key=value" */

/* Values of the common options; filled by the parser when p->common is set. */
typedef struct ehal_cli_common {
    const char *backends;     /* --backends LIST; NULL: EHAL_BACKENDS or all */
    const char *backend_path; /* --backend-path PATHS; searched before the env's */
    int verbose;              /* -v: 1 (log info), -vv or -v -v: 2 (debug) */
    uint32_t n_options;
    ehal_option options[EHAL_CLI_MAX_OPTIONS]; /* point into text[] */
    char text[EHAL_CLI_MAX_OPTIONS][EHAL_CLI_OPTION_TEXT];
} ehal_cli_common;

typedef void (*ehal_cli_usage_fn)(FILE *out);

typedef struct ehal_cli_parser {
    const char *cmd; /* argv[0]: names the command in messages */
    int argc;
    char **argv;
    int index;                /* next argv element to read */
    const ehal_cli_opt *opts; /* the command's own options */
    ehal_cli_usage_fn usage;  /* prints the command's full usage */
    ehal_cli_common *common;  /* non-NULL: also accept the common options */
    const char *value;        /* value of the last option, or the positional */
    const char *opt_name;     /* "--name" or "-x" as given, for messages */
    int only_args;            /* after "--": everything is positional */
    const char *short_group;  /* rest of a "-vv" group being read */
    char opt_buf[64];         /* storage behind opt_name */
} ehal_cli_parser;

/* argv[0] is the command name. The parser keeps pointers into argv. */
void ehal_cli_parser_init(ehal_cli_parser *p, int argc, char **argv, const ehal_cli_opt *opts,
                          ehal_cli_usage_fn usage);

/* Reads the next argument: an option id (> 0), EHAL_CLI_ARG for a
 * positional (in p->value), EHAL_CLI_END, EHAL_CLI_HELP or EHAL_CLI_ERROR.
 * Unknown options, a missing value, or a value given to a flag print
 * "edgehal <cmd>: ..." and the usage on stderr and return EHAL_CLI_ERROR. */
int ehal_cli_next(ehal_cli_parser *p);

/* Exit code for EHAL_CLI_HELP (0) and EHAL_CLI_ERROR (2). */
int ehal_cli_exit_code(int result);

/* Reports p->value as an unexpected positional argument (message + usage on
 * stderr); returns 2. */
int ehal_cli_unexpected(ehal_cli_parser *p);

/* Prints "edgehal <cmd>: <message>" and the usage on stderr; returns 2. */
int ehal_cli_usage_error(ehal_cli_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The help text of the common options, for a command's usage. */
extern const char ehal_cli_common_usage[];

/* ---- numbers ------------------------------------------------------------
 * Parse text as a whole number (decimal, or 0x hex) or a finite double within
 * [min, max]. On failure print one line naming the command, the option and
 * the value ("edgehal run: --n-predict '0' is out of range [1, 4096]") and
 * return -1; *out is untouched. */
int ehal_cli_parse_u64(const char *cmd, const char *opt, const char *text, uint64_t min,
                       uint64_t max, uint64_t *out);
int ehal_cli_parse_i64(const char *cmd, const char *opt, const char *text, int64_t min, int64_t max,
                       int64_t *out);
int ehal_cli_parse_double(const char *cmd, const char *opt, const char *text, double min,
                          double max, double *out);

/* The same for the value of the option just returned by ehal_cli_next. */
int ehal_cli_value_u64(const ehal_cli_parser *p, uint64_t min, uint64_t max, uint64_t *out);
int ehal_cli_value_i64(const ehal_cli_parser *p, int64_t min, int64_t max, int64_t *out);
int ehal_cli_value_double(const ehal_cli_parser *p, double min, double max, double *out);

/* ---- common options and the context --------------------------------------- */

void ehal_cli_common_init(ehal_cli_common *c);

/* Adds "backend.key=value" (what --option takes). Returns 0, or -1 with a
 * message on stderr naming the text when it is malformed or too many. */
int ehal_cli_common_add_option(ehal_cli_common *c, const char *cmd, const char *text);

#define EHAL_CLI_NO_SKIPPED_REPORT 1u /* do not print skipped plugins */

/* Opens a context from the common options (c may be NULL: defaults) and,
 * unless flags has EHAL_CLI_NO_SKIPPED_REPORT, prints each skipped plugin
 * on stderr as "edgehal: skipped <path>: <reason>". On failure prints
 * "edgehal <cmd>: cannot create context: <status>: <message>" and returns
 * -1. The caller destroys *out with ehal_context_destroy. */
int ehal_cli_open_context(const char *cmd, const ehal_cli_common *c, uint32_t flags,
                          ehal_context **out);

/* "cpu", "gpu", "npu", "other". */
const char *ehal_cli_device_kind_name(uint32_t kind);

#ifdef __cplusplus
}
#endif
#endif /* EHAL_TOOLS_CLI_H */
