/*
 * libFuzzer target: the plugin-facing argument checks. Subgraphs decoded
 * from the input (fuzz_input.h), with tensors on two real plugin buffers
 * at fuzzed offsets, go through ehal_prepare (the core's validation, then
 * the plugin's); what is accepted is executed too. The plugin is the hal
 * tests' mock (host memory, reference kernels): the cpu plugin does not
 * build with clang 14 today (docs/robustness.md).
 * A refusal must leave a one-line last error; nothing may read or write
 * outside the buffers (ASan).
 */
#include <stdlib.h>
#include <string.h>

#include "edgehal/edgehal.h"
#include "fuzz_input.h"

static ehal_context *ctx;
static ehal_backend *be;
static ehal_buffer *bufs[2];
static ehal_buffer_impl *handles[2];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    ehal_context_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.flags = EHAL_CONTEXT_NO_DEFAULT_PATHS | EHAL_CONTEXT_NO_ENV;
    o.backend_path = FUZZ_PLUGIN;
    o.log_level = EHAL_LOG_ERROR;
    if (ehal_context_create(&o, &ctx) != EHAL_STATUS_OK || ehal_backend_count(ctx) != 1 ||
        !(be = ehal_backend_get(ctx, 0)))
        abort();
    for (int i = 0; i < 2; i++) {
        if (ehal_buffer_alloc(be, 4096, 0, &bufs[i]) != EHAL_STATUS_OK)
            abort();
        uint8_t fill[4096];
        for (int j = 0; j < 4096; j++)
            fill[j] = (uint8_t)(j * 7 + i); /* finite halves/floats mostly */
        if (ehal_buffer_write(bufs[i], 0, fill, sizeof fill) != EHAL_STATUS_OK)
            abort();
        handles[i] = ehal_buffer_handle(bufs[i]);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_in f = {data, size};
    fz_graph g;
    fz_graph_decode(&f, &g, handles, 2);
    ehal_executable *exe = NULL;
    ehal_status_t st = ehal_prepare(be, &g.sg, &exe);
    if (st != EHAL_STATUS_OK) {
        const char *e = ehal_last_error(ctx);
        if (exe || !e || !e[0] || strchr(e, '\n'))
            abort();
        return 0;
    }
    if (ehal_execute(exe) == EHAL_STATUS_OK)
        (void)ehal_wait(exe, UINT64_MAX);
    ehal_executable_release(exe);
    return 0;
}
