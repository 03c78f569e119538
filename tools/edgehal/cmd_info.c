/*
 * `edgehal info`: the loaded backends, their devices, the plugins that were
 * skipped and why, and each backend's op x dtype support matrix; --json
 * gives the same as one JSON document (format in docs/cli.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "edgehal/edgehal.h"
#include "edgehal/ops.h"
#include "json_writer.h"

EHAL_CLI_COMMAND(info, "show backends, devices, skipped plugins and the op x dtype support matrix");

enum { OPT_JSON = 1, OPT_COMPACT };

static const ehal_cli_opt info_opts[] = {
    {"json", 0, 0, OPT_JSON},
    {"compact", 0, 0, OPT_COMPACT},
    {NULL, 0, 0, 0},
};

static void info_usage(FILE *out) {
    fprintf(out, "usage: edgehal info [--json [--compact]] [common options]\n"
                 "\n"
                 "Lists the loaded backends with their negotiated ABI revision and device\n"
                 "(kind, name, driver, memory, flags), the plugins that were found but\n"
                 "skipped with the reason, and per backend which catalog op runs with which\n"
                 "dtype: P preferred, S supported, - unsupported, blank where the catalog\n"
                 "does not define the op for that dtype. Exits 0 even when plugins were\n"
                 "skipped; 1 only when no context can be created.\n"
                 "\n"
                 "Options:\n"
                 "  --json                 print one JSON document instead (see docs/cli.md)\n"
                 "  --compact              with --json: on one line\n"
                 "\n");
    fputs(ehal_cli_common_usage, out);
}

static const char *support_name(uint32_t s) {
    switch (s) {
    case EHAL_SUPPORT_PREFERRED: return "preferred";
    case EHAL_SUPPORT_SUPPORTED: return "supported";
    default: return "unsupported";
    }
}

static char support_letter(uint32_t s) {
    switch (s) {
    case EHAL_SUPPORT_PREFERRED: return 'P';
    case EHAL_SUPPORT_SUPPORTED: return 'S';
    default: return '-';
    }
}

static const struct {
    uint32_t bit;
    const char *name;
} device_flags[] = {
    {EHAL_DEVICE_HOST_SHARED, "host_shared"},
    {EHAL_DEVICE_STATIC_SHAPES, "static_shapes"},
    {EHAL_DEVICE_ASYNC, "async"},
};
#define N_DEVICE_FLAGS (sizeof(device_flags) / sizeof(device_flags[0]))

static void format_bytes(char *buf, size_t size, uint64_t bytes, const char *zero) {
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    if (bytes == 0) {
        snprintf(buf, size, "%s", zero);
        return;
    }
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, size, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
}

static int get_props(ehal_backend *be, ehal_backend_props *props) {
    memset(props, 0, sizeof(*props));
    props->struct_size = sizeof(*props);
    props->device.struct_size = sizeof(props->device);
    return ehal_backend_props_get(be, props) == EHAL_STATUS_OK ? 0 : -1;
}

/* ---- text ----------------------------------------------------------------- */

static void print_device(const ehal_device_info *d) {
    char mem[32], maxbuf[32], link[32];
    format_bytes(mem, sizeof(mem), d->memory_bytes, "unknown");
    format_bytes(maxbuf, sizeof(maxbuf), d->max_buffer_bytes, "no limit");
    format_bytes(link, sizeof(link), d->link_bytes_per_s, "unknown");
    printf("  device    %s: %s\n", ehal_cli_device_kind_name(d->kind),
           d->name[0] ? d->name : "(unnamed)");
    printf("  driver    %s\n", d->driver[0] ? d->driver : "(unknown)");
    printf("  memory    %s%s; largest buffer %s\n", mem,
           (d->flags & EHAL_DEVICE_HOST_SHARED) ? ", shared with host" : "", maxbuf);
    printf("  transfer  %s%s; dispatch overhead %" PRIu64 " ns\n", link,
           d->link_bytes_per_s ? "/s" : "", d->dispatch_overhead_ns);
    printf("  flags    ");
    if (d->flags == 0)
        printf(" none");
    for (size_t i = 0; i < N_DEVICE_FLAGS; i++)
        if (d->flags & device_flags[i].bit)
            printf(" %s", device_flags[i].name);
    if (d->flags &
        ~(uint32_t)(EHAL_DEVICE_HOST_SHARED | EHAL_DEVICE_STATIC_SHAPES | EHAL_DEVICE_ASYNC))
        printf(" (unknown bits 0x%x)",
               (unsigned)(d->flags & ~(uint32_t)(EHAL_DEVICE_HOST_SHARED |
                                                 EHAL_DEVICE_STATIC_SHAPES | EHAL_DEVICE_ASYNC)));
    printf("\n");
}

static void print_matrix(ehal_backend *be, const char *name) {
    const uint32_t *ops, *dtypes;
    uint32_t n_ops = ehal_op_list(&ops);
    uint32_t n_dtypes = ehal_dtype_list(&dtypes);
    printf("\n%-12s", name);
    for (uint32_t d = 0; d < n_dtypes; d++)
        printf(d + 1 < n_dtypes ? " %-5s" : " %s", ehal_dtype_name(dtypes[d]));
    printf("\n");
    for (uint32_t o = 0; o < n_ops; o++) {
        char line[256];
        size_t len;
        int n = snprintf(line, sizeof(line), "  %-10s", ehal_op_name(ops[o]));
        for (uint32_t d = 0; d < n_dtypes && n > 0 && (size_t)n < sizeof(line); d++) {
            char cell = ' ';
            if (ehal_op_dtype_defined(ops[o], dtypes[d]))
                cell = support_letter(ehal_backend_op_support(be, ops[o], dtypes[d]));
            n += snprintf(line + n, sizeof(line) - (size_t)n, "   %c  ", cell);
        }
        len = strlen(line);
        while (len > 0 && line[len - 1] == ' ')
            line[--len] = '\0';
        printf("%s\n", line);
    }
}

static void print_text(ehal_context *ctx) {
    uint32_t n_be = ehal_backend_count(ctx);
    uint32_t n_skip = ehal_skipped_count(ctx);
    printf("edgehal %s, backend ABI %u (loads revisions %u..%u)\n", EHAL_VERSION, EHAL_ABI_VERSION,
           EHAL_ABI_VERSION_MIN, EHAL_ABI_VERSION);
    printf("\nBackends: %u loaded, %u skipped\n", n_be, n_skip);
    for (uint32_t i = 0; i < n_be; i++) {
        ehal_backend_props props;
        if (get_props(ehal_backend_get(ctx, i), &props) != 0) {
            printf("\nbackend #%u: properties unavailable: %s\n", i, ehal_last_error(ctx));
            continue;
        }
        printf("\n%s (ABI %u)  %s\n", props.name ? props.name : "?", props.abi_version,
               props.path ? props.path : "?");
        print_device(&props.device);
    }
    if (n_skip > 0) {
        printf("\nSkipped plugins:\n");
        for (uint32_t i = 0; i < n_skip; i++)
            printf("  %s: %s\n", ehal_skipped_path(ctx, i), ehal_skipped_reason(ctx, i));
    }
    if (n_be == 0) {
        printf("\nNo backend loaded. Check --backends / EHAL_BACKENDS and the skipped plugins;\n"
               "-vv shows every file the loader tried.\n");
        return;
    }
    printf("\nOp support: P preferred, S supported, - unsupported, blank: not defined by the\n"
           "catalog. The dtype is the weight's for matmul and get_rows, the cache's for\n"
           "kv_write and attention, the destination's for copy, the data's elsewhere.\n");
    for (uint32_t i = 0; i < n_be; i++) {
        ehal_backend_props props;
        ehal_backend *be = ehal_backend_get(ctx, i);
        if (get_props(be, &props) == 0)
            print_matrix(be, props.name ? props.name : "?");
    }
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_device(ehal_json_writer *w, const ehal_device_info *d) {
    ehal_json_begin_object(w);
    ehal_json_kv_string(w, "kind", ehal_cli_device_kind_name(d->kind));
    ehal_json_kv_string(w, "name", d->name);
    ehal_json_kv_string(w, "driver", d->driver);
    ehal_json_kv_uint(w, "memory_bytes", d->memory_bytes);
    ehal_json_kv_uint(w, "max_buffer_bytes", d->max_buffer_bytes);
    ehal_json_kv_uint(w, "link_bytes_per_s", d->link_bytes_per_s);
    ehal_json_kv_uint(w, "dispatch_overhead_ns", d->dispatch_overhead_ns);
    ehal_json_kv_bool(w, "shared_with_host", (d->flags & EHAL_DEVICE_HOST_SHARED) != 0);
    ehal_json_key(w, "flags");
    ehal_json_begin_array(w);
    for (size_t i = 0; i < N_DEVICE_FLAGS; i++)
        if (d->flags & device_flags[i].bit)
            ehal_json_string(w, device_flags[i].name);
    ehal_json_end_array(w);
    ehal_json_kv_uint(w, "flags_value", d->flags);
    ehal_json_end_object(w);
}

static void json_ops(ehal_json_writer *w, ehal_backend *be) {
    const uint32_t *ops, *dtypes;
    uint32_t n_ops = ehal_op_list(&ops);
    uint32_t n_dtypes = ehal_dtype_list(&dtypes);
    ehal_json_begin_object(w);
    for (uint32_t o = 0; o < n_ops; o++) {
        ehal_json_key(w, ehal_op_name(ops[o]));
        ehal_json_begin_object(w);
        for (uint32_t d = 0; d < n_dtypes; d++)
            if (ehal_op_dtype_defined(ops[o], dtypes[d]))
                ehal_json_kv_string(w, ehal_dtype_name(dtypes[d]),
                                    support_name(ehal_backend_op_support(be, ops[o], dtypes[d])));
        ehal_json_end_object(w);
    }
    ehal_json_end_object(w);
}

static int print_json(ehal_context *ctx, int compact) {
    ehal_json_writer w;
    const uint32_t *dtypes;
    uint32_t n_dtypes = ehal_dtype_list(&dtypes);
    uint32_t n_be = ehal_backend_count(ctx);
    uint32_t n_skip = ehal_skipped_count(ctx);
    int ok;
    ehal_json_init_file(&w, stdout, compact ? 0 : EHAL_JSON_PRETTY);
    ehal_json_begin_object(&w);
    ehal_json_kv_string(&w, "edgehal_version", EHAL_VERSION);
    ehal_json_key(&w, "abi");
    ehal_json_begin_object(&w);
    ehal_json_kv_uint(&w, "version", EHAL_ABI_VERSION);
    ehal_json_kv_uint(&w, "min_version", EHAL_ABI_VERSION_MIN);
    ehal_json_end_object(&w);
    ehal_json_key(&w, "dtypes");
    ehal_json_begin_array(&w);
    for (uint32_t d = 0; d < n_dtypes; d++)
        ehal_json_string(&w, ehal_dtype_name(dtypes[d]));
    ehal_json_end_array(&w);
    ehal_json_key(&w, "backends");
    ehal_json_begin_array(&w);
    for (uint32_t i = 0; i < n_be; i++) {
        ehal_backend *be = ehal_backend_get(ctx, i);
        ehal_backend_props props;
        if (get_props(be, &props) != 0) {
            fprintf(stderr, "edgehal info: backend #%u: properties unavailable: %s\n", i,
                    ehal_last_error(ctx));
            continue;
        }
        ehal_json_begin_object(&w);
        ehal_json_kv_string(&w, "name", props.name);
        ehal_json_kv_string(&w, "path", props.path);
        ehal_json_kv_uint(&w, "abi_version", props.abi_version);
        ehal_json_key(&w, "device");
        json_device(&w, &props.device);
        ehal_json_key(&w, "ops");
        json_ops(&w, be);
        ehal_json_end_object(&w);
    }
    ehal_json_end_array(&w);
    ehal_json_key(&w, "skipped");
    ehal_json_begin_array(&w);
    for (uint32_t i = 0; i < n_skip; i++) {
        ehal_json_begin_object(&w);
        ehal_json_kv_string(&w, "path", ehal_skipped_path(ctx, i));
        ehal_json_kv_string(&w, "reason", ehal_skipped_reason(ctx, i));
        ehal_json_end_object(&w);
    }
    ehal_json_end_array(&w);
    ehal_json_end_object(&w);
    ok = ehal_json_finish(&w) == 0;
    if (ok && compact)
        putchar('\n'); /* the pretty form ends with one already */
    if (!ok || fflush(stdout) != 0) {
        fprintf(stderr, "edgehal info: writing the JSON document to stdout failed\n");
        return 1;
    }
    return 0;
}

int ehal_cmd_info(int argc, char **argv) {
    ehal_cli_parser p;
    ehal_cli_common common;
    ehal_context *ctx = NULL;
    int json = 0, compact = 0, id, rc;
    ehal_cli_parser_init(&p, argc, argv, info_opts, info_usage);
    ehal_cli_common_init(&common);
    p.common = &common;
    while ((id = ehal_cli_next(&p)) > 0) {
        switch (id) {
        case OPT_JSON: json = 1; break;
        case OPT_COMPACT: compact = 1; break;
        default: return ehal_cli_unexpected(&p);
        }
    }
    if (id != EHAL_CLI_END)
        return ehal_cli_exit_code(id);
    if (compact && !json)
        return ehal_cli_usage_error(&p, "--compact needs --json");
    /* The text report lists skipped plugins itself; with --json, stdout is
     * the document, so the reasons also go to stderr for a human reader. */
    if (ehal_cli_open_context(p.cmd, &common, json ? 0 : EHAL_CLI_NO_SKIPPED_REPORT, &ctx) != 0)
        return 1;
    if (json) {
        rc = print_json(ctx, compact);
    } else {
        print_text(ctx);
        rc = fflush(stdout) == 0 ? 0 : 1;
    }
    ehal_context_destroy(ctx);
    return rc;
}
