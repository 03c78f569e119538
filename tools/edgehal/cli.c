/* Shared command-line helpers; the contract is in cli.h. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char ehal_cli_common_usage[] =
    "Common options:\n"
    "  --backends LIST        backends to load, as EHAL_BACKENDS: \"cpu,vulkan\" keeps\n"
    "                         only those, \"-opencl\" drops one (default: all)\n"
    "  --backend-path PATHS   extra plugin directories or .so files, colon-separated,\n"
    "                         searched before EHAL_BACKEND_PATH\n"
    "  --option B.KEY=VALUE   a backend option, e.g. cpu.threads=2 (repeatable)\n"
    "  -v, --verbose          log loader decisions (info); -vv: every file tried\n"
    "  -h, --help             print this help and exit\n";

enum {
    COMMON_BACKENDS = -100,
    COMMON_BACKEND_PATH,
    COMMON_OPTION,
    COMMON_VERBOSE,
    BUILTIN_HELP,
};

static const ehal_cli_opt common_opts[] = {
    {"backends", 0, 1, COMMON_BACKENDS},
    {"backend-path", 0, 1, COMMON_BACKEND_PATH},
    {"option", 0, 1, COMMON_OPTION},
    {"verbose", 'v', 0, COMMON_VERBOSE},
    {NULL, 0, 0, 0},
};

static const ehal_cli_opt help_opt[] = {
    {"help", 'h', 0, BUILTIN_HELP},
    {NULL, 0, 0, 0},
};

void ehal_cli_parser_init(ehal_cli_parser *p, int argc, char **argv, const ehal_cli_opt *opts,
                          ehal_cli_usage_fn usage) {
    memset(p, 0, sizeof(*p));
    p->cmd = (argc > 0 && argv && argv[0]) ? argv[0] : "?";
    p->argc = argc;
    p->argv = argv;
    p->index = 1;
    p->opts = opts;
    p->usage = usage;
}

int ehal_cli_usage_error(ehal_cli_parser *p, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "edgehal %s: ", p->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (p->usage)
        p->usage(stderr);
    return 2;
}

int ehal_cli_exit_code(int result) {
    return result == EHAL_CLI_HELP ? 0 : 2;
}

int ehal_cli_unexpected(ehal_cli_parser *p) {
    return ehal_cli_usage_error(p, "unexpected argument '%s'", p->value ? p->value : "");
}

static const ehal_cli_opt *find_long(const ehal_cli_opt *t, const char *name, size_t len) {
    for (; t && t->name; t++)
        if (strlen(t->name) == len && strncmp(t->name, name, len) == 0)
            return t;
    return NULL;
}

static const ehal_cli_opt *find_short(const ehal_cli_opt *t, char c) {
    for (; t && t->name; t++)
        if (t->short_name != 0 && t->short_name == c)
            return t;
    return NULL;
}

/* Looks an option up in the command's table, then the common and built-in
 * ones; the command's own options win. */
static const ehal_cli_opt *lookup(const ehal_cli_parser *p, const char *name, size_t len,
                                  char short_name) {
    const ehal_cli_opt *tables[3] = {p->opts, p->common ? common_opts : NULL, help_opt};
    for (int i = 0; i < 3; i++) {
        const ehal_cli_opt *o =
            short_name ? find_short(tables[i], short_name) : find_long(tables[i], name, len);
        if (o)
            return o;
    }
    return NULL;
}

/* Handles a matched option whose value (if any) is in p->value. Returns the
 * id to give the caller, or 0 to go on reading. */
static int dispatch(ehal_cli_parser *p, const ehal_cli_opt *o) {
    switch (o->id) {
    case BUILTIN_HELP:
        if (p->usage)
            p->usage(stdout);
        return EHAL_CLI_HELP;
    case COMMON_BACKENDS: p->common->backends = p->value; return 0;
    case COMMON_BACKEND_PATH: p->common->backend_path = p->value; return 0;
    case COMMON_OPTION:
        if (ehal_cli_common_add_option(p->common, p->cmd, p->value) != 0) {
            if (p->usage)
                p->usage(stderr);
            return EHAL_CLI_ERROR;
        }
        return 0;
    case COMMON_VERBOSE: p->common->verbose++; return 0;
    default: return o->id;
    }
}

static int next_short(ehal_cli_parser *p) {
    char c = *p->short_group++;
    const ehal_cli_opt *o = lookup(p, NULL, 0, c);
    snprintf(p->opt_buf, sizeof(p->opt_buf), "-%c", c);
    p->opt_name = p->opt_buf;
    p->value = NULL;
    if (!o) {
        p->short_group = NULL;
        return ehal_cli_usage_error(p, "unknown option '-%c'", c), EHAL_CLI_ERROR;
    }
    if (o->has_value) {
        if (*p->short_group) {
            p->value = p->short_group; /* -n5 */
        } else if (p->index < p->argc) {
            p->value = p->argv[p->index++];
        } else {
            p->short_group = NULL;
            return ehal_cli_usage_error(p, "option '-%c' needs a value", c), EHAL_CLI_ERROR;
        }
        p->short_group = NULL;
    } else if (!*p->short_group) {
        p->short_group = NULL;
    }
    return dispatch(p, o);
}

static int next_long(ehal_cli_parser *p, const char *arg) {
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const ehal_cli_opt *o = lookup(p, name, len, 0);
    snprintf(p->opt_buf, sizeof(p->opt_buf), "--%.*s", (int)(len < 60 ? len : 60), name);
    p->opt_name = p->opt_buf;
    p->value = NULL;
    if (!o)
        return ehal_cli_usage_error(p, "unknown option '%s'", p->opt_buf), EHAL_CLI_ERROR;
    if (o->has_value) {
        if (eq) {
            p->value = eq + 1;
        } else if (p->index < p->argc) {
            p->value = p->argv[p->index++];
        } else {
            return ehal_cli_usage_error(p, "option '%s' needs a value", p->opt_buf), EHAL_CLI_ERROR;
        }
    } else if (eq) {
        return ehal_cli_usage_error(p, "option '%s' takes no value", p->opt_buf), EHAL_CLI_ERROR;
    }
    return dispatch(p, o);
}

int ehal_cli_next(ehal_cli_parser *p) {
    for (;;) {
        int r;
        if (p->short_group && *p->short_group) {
            r = next_short(p);
        } else {
            const char *arg;
            p->short_group = NULL;
            if (p->index >= p->argc)
                return EHAL_CLI_END;
            arg = p->argv[p->index++];
            if (p->only_args || arg[0] != '-' || arg[1] == '\0') {
                p->value = arg;
                p->opt_name = NULL;
                return EHAL_CLI_ARG;
            }
            if (strcmp(arg, "--") == 0) {
                p->only_args = 1;
                continue;
            }
            if (arg[1] == '-') {
                r = next_long(p, arg);
            } else {
                p->short_group = arg + 1;
                r = next_short(p);
            }
        }
        if (r != 0)
            return r;
    }
}

/* ---- numbers ---------------------------------------------------------------- */

static int number_error(const char *cmd, const char *opt, const char *text, const char *what) {
    fprintf(stderr, "edgehal %s: %s '%s' %s\n", cmd ? cmd : "?", opt ? opt : "value",
            text ? text : "", what);
    return -1;
}

static int parse_integer_text(const char *text, int allow_minus, int *neg, uint64_t *mag) {
    const char *s = text;
    char *end = NULL;
    int base = 10;
    *neg = 0;
    if (!s)
        return -1;
    if (*s == '-' && allow_minus) {
        *neg = 1;
        s++;
    } else if (*s == '+') {
        s++;
    }
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    /* strtoull would accept spaces and a sign here; we do not. */
    if (!(base == 16 ? isxdigit((unsigned char)*s) : isdigit((unsigned char)*s)))
        return -1;
    errno = 0;
    *mag = strtoull(s, &end, base);
    if (*end != '\0')
        return -1;
    if (errno == ERANGE)
        return -2;
    return 0;
}

int ehal_cli_parse_u64(const char *cmd, const char *opt, const char *text, uint64_t min,
                       uint64_t max, uint64_t *out) {
    char what[96];
    int neg;
    uint64_t v;
    int r = parse_integer_text(text, 1, &neg, &v);
    snprintf(what, sizeof(what), "is out of range [%" PRIu64 ", %" PRIu64 "]", min, max);
    if (r == -1)
        return number_error(cmd, opt, text, "is not a whole number");
    if (r == -2 || (neg && v != 0) || v < min || v > max)
        return number_error(cmd, opt, text, what);
    *out = v;
    return 0;
}

int ehal_cli_parse_i64(const char *cmd, const char *opt, const char *text, int64_t min, int64_t max,
                       int64_t *out) {
    char what[96];
    int neg;
    uint64_t mag;
    int64_t v;
    int r = parse_integer_text(text, 1, &neg, &mag);
    snprintf(what, sizeof(what), "is out of range [%" PRId64 ", %" PRId64 "]", min, max);
    if (r == -1)
        return number_error(cmd, opt, text, "is not a whole number");
    if (r == -2 || mag > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return number_error(cmd, opt, text, what);
    if (neg)
        v = mag == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)mag;
    else
        v = (int64_t)mag;
    if (v < min || v > max)
        return number_error(cmd, opt, text, what);
    *out = v;
    return 0;
}

int ehal_cli_parse_double(const char *cmd, const char *opt, const char *text, double min,
                          double max, double *out) {
    char what[96];
    char *end = NULL;
    double v;
    snprintf(what, sizeof(what), "is out of range [%g, %g]", min, max);
    if (!text || !*text || strchr(" \t\n", text[0]))
        return number_error(cmd, opt, text, "is not a number");
    errno = 0;
    v = strtod(text, &end);
    if (*end != '\0' || isnan(v))
        return number_error(cmd, opt, text, "is not a number");
    if (errno == ERANGE || isinf(v) || v < min || v > max)
        return number_error(cmd, opt, text, what);
    *out = v;
    return 0;
}

int ehal_cli_value_u64(const ehal_cli_parser *p, uint64_t min, uint64_t max, uint64_t *out) {
    return ehal_cli_parse_u64(p->cmd, p->opt_name, p->value, min, max, out);
}

int ehal_cli_value_i64(const ehal_cli_parser *p, int64_t min, int64_t max, int64_t *out) {
    return ehal_cli_parse_i64(p->cmd, p->opt_name, p->value, min, max, out);
}

int ehal_cli_value_double(const ehal_cli_parser *p, double min, double max, double *out) {
    return ehal_cli_parse_double(p->cmd, p->opt_name, p->value, min, max, out);
}

/* ---- common options and the context --------------------------------------- */

void ehal_cli_common_init(ehal_cli_common *c) {
    memset(c, 0, sizeof(*c));
}

int ehal_cli_common_add_option(ehal_cli_common *c, const char *cmd, const char *text) {
    const char *eq = text ? strchr(text, '=') : NULL;
    const char *dot = text ? strchr(text, '.') : NULL;
    char *slot;
    if (!eq || !dot || dot > eq || dot == text || dot + 1 == eq) {
        fprintf(stderr, "edgehal %s: --option '%s' is not BACKEND.KEY=VALUE\n", cmd,
                text ? text : "");
        return -1;
    }
    if (c->n_options >= EHAL_CLI_MAX_OPTIONS) {
        fprintf(stderr, "edgehal %s: --option '%s': more than %d options\n", cmd, text,
                EHAL_CLI_MAX_OPTIONS);
        return -1;
    }
    if (strlen(text) >= EHAL_CLI_OPTION_TEXT) {
        fprintf(stderr, "edgehal %s: --option '%.40s...' is longer than %d bytes\n", cmd, text,
                EHAL_CLI_OPTION_TEXT - 1);
        return -1;
    }
    slot = c->text[c->n_options];
    strcpy(slot, text);
    slot[eq - text] = '\0';
    c->options[c->n_options].key = slot;
    c->options[c->n_options].value = slot + (eq - text) + 1;
    c->n_options++;
    return 0;
}

/* The loader logs each skipped plugin as a warning "skipping <path>: ...".
 * While the context is created those lines are dropped, because the skipped
 * list is reported once, in full, after creation (or by the command itself);
 * everything else goes to stderr like the core's default logger. Static: the
 * CLI has one context at a time, on its main thread. */
static struct { int creating; } cli_log_state;

static void cli_log(void *user, int32_t level, const char *msg) {
    (void)user;
    if (cli_log_state.creating && level == EHAL_LOG_WARN && strncmp(msg, "skipping ", 9) == 0)
        return;
    fprintf(stderr, "edgehal: %s\n", msg);
}

int ehal_cli_open_context(const char *cmd, const ehal_cli_common *c, uint32_t flags,
                          ehal_context **out) {
    ehal_context_options o;
    ehal_context *ctx = NULL;
    ehal_status_t st;
    memset(&o, 0, sizeof(o));
    o.struct_size = sizeof(o);
    o.log_level = -1;
    if (c) {
        o.backends = c->backends;
        o.backend_path = c->backend_path;
        if (c->verbose > 0)
            o.log_level = c->verbose > 1 ? EHAL_LOG_DEBUG : EHAL_LOG_INFO;
        o.backend_options = c->n_options ? c->options : NULL;
        o.n_backend_options = c->n_options;
    }
    o.log = cli_log;
    *out = NULL;
    cli_log_state.creating = 1;
    st = ehal_context_create(&o, &ctx);
    cli_log_state.creating = 0;
    if (st != EHAL_STATUS_OK || !ctx) {
        const char *msg = ctx ? ehal_last_error(ctx) : "";
        fprintf(stderr, "edgehal %s: cannot create context: %s%s%s\n", cmd ? cmd : "?",
                ehal_status_string(st != EHAL_STATUS_OK ? st : EHAL_STATUS_INTERNAL),
                msg && *msg ? ": " : "", msg ? msg : "");
        if (ctx)
            ehal_context_destroy(ctx);
        return -1;
    }
    if (!(flags & EHAL_CLI_NO_SKIPPED_REPORT)) {
        uint32_t n = ehal_skipped_count(ctx);
        for (uint32_t i = 0; i < n; i++)
            fprintf(stderr, "edgehal: skipped %s: %s\n", ehal_skipped_path(ctx, i),
                    ehal_skipped_reason(ctx, i));
    }
    *out = ctx;
    return 0;
}

const char *ehal_cli_device_kind_name(uint32_t kind) {
    switch (kind) {
    case EHAL_DEVICE_CPU: return "cpu";
    case EHAL_DEVICE_GPU: return "gpu";
    case EHAL_DEVICE_NPU: return "npu";
    default: return "other";
    }
}
