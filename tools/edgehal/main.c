/*
 * `edgehal <command> [options]`: dispatches to ehal_cmd_<command>. The table
 * comes from ehal_commands.inc, which the build generates from the
 * tools/edgehal/cmd_*.c files, so adding a command never edits this file.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define EHAL_CMD(name)                          \
    int ehal_cmd_##name(int argc, char **argv); \
    extern const char ehal_cmd_##name##_summary[];
#include "ehal_commands.inc"
#undef EHAL_CMD

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
#define EHAL_CMD(name) {#name, ehal_cmd_##name, ehal_cmd_##name##_summary},
#include "ehal_commands.inc"
#undef EHAL_CMD
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

#ifndef EHAL_VERSION
#define EHAL_VERSION "unknown"
#endif

static void usage(FILE *out) {
    fprintf(out, "usage: edgehal <command> [options]\n"
                 "       edgehal help <command>\n"
                 "       edgehal --version\n"
                 "\n"
                 "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n"
                 "Run 'edgehal <command> --help' for a command's options.\n"
                 "Environment: EHAL_BACKEND_PATH (extra plugin dirs or .so files),\n"
                 "EHAL_BACKENDS (e.g. cpu,vulkan or -opencl), EHAL_LOG (error|warn|info|debug),\n"
                 "EHAL_CPU_THREADS (threads of the cpu backend).\n");
}

static const command *find(const char *name) {
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int unknown_command(const char *name) {
    fprintf(stderr, "edgehal: unknown command '%s'\n", name);
    usage(stderr);
    return 2;
}

int main(int argc, char **argv) {
    const command *c;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        (strcmp(argv[1], "help") == 0 && argc == 2)) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("edgehal %s (backend ABI %u, loads revisions %u..%u)\n", EHAL_VERSION,
               EHAL_ABI_VERSION, EHAL_ABI_VERSION_MIN, EHAL_ABI_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--commands") == 0) { /* for scripts and completion */
        for (size_t i = 0; i < N_COMMANDS; i++)
            printf("%s\n", commands[i].name);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0) { /* help <command> == <command> --help */
        char help[] = "--help";
        char *sub[3];
        if (argc > 3) {
            fprintf(stderr, "edgehal help: expected one command, got %d\n", argc - 2);
            return 2;
        }
        c = find(argv[2]);
        if (!c)
            return unknown_command(argv[2]);
        sub[0] = argv[2];
        sub[1] = help;
        sub[2] = NULL;
        return c->run(2, sub);
    }
    if (argv[1][0] == '-') {
        fprintf(stderr, "edgehal: unknown option '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    c = find(argv[1]);
    if (!c)
        return unknown_command(argv[1]);
    return c->run(argc - 1, argv + 1);
}
