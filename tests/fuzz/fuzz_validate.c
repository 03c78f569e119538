/*
 * libFuzzer target: the op catalog's validator over subgraphs decoded from
 * the input (fuzz_input.h). Every node is checked; a refusal must carry a
 * one-line message.
 */
#include <stdlib.h>
#include <string.h>

#include "edgehal/ops.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_in f = {data, size};
    fz_graph g;
    fz_graph_decode(&f, &g, NULL, 0);
    for (uint32_t i = 0; i < g.sg.n_nodes + 1; i++) { /* one index past the end too */
        char msg[256] = "";
        ehal_status_t st = ehal_op_validate(&g.sg, i, msg, sizeof msg);
        if (st != EHAL_STATUS_OK && (!msg[0] || strchr(msg, '\n')))
            abort();
    }
    return 0;
}
