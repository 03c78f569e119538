/*
 * libFuzzer target: the --pin parser (graph/partition/pins.c) over the
 * built-in "tiny" model's decoder graph. Input lines are pins; a refusal
 * must carry a one-line message; an accepted set must map every node to a
 * listed backend or none.
 */
#include <stdlib.h>
#include <string.h>

#include "edgehal/graph.h"
#include "edgehal/model.h"
#include "pins.h"

static ehal_graph *graph;
static ehal_model *model;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    ehal_model_hparams hp;
    char err[256];
    ehal_llama_options o = {.n_tokens = 1, .kv_capacity = 16};
    if (ehal_model_preset_hparams("tiny", &hp) != EHAL_STATUS_OK ||
        ehal_model_generate(&hp, EHAL_DTYPE_Q8_0, 1, &model, err, sizeof err) != EHAL_STATUS_OK ||
        ehal_graph_build_llama(model, &o, &graph, err, sizeof err) != EHAL_STATUS_OK)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    const char *pins[16];
    uint32_t n = 0;
    for (char *p = s; n < 16;) {
        pins[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    static const char *const backends[] = {"cpu", "vulkan", "npu_sim"};
    uint32_t nodes = ehal_graph_node_count(graph);
    uint32_t *pinned = malloc(sizeof *pinned * (nodes ? nodes : 1));
    char err[256] = "";
    if (pinned) {
        ehal_status_t st =
            ehal_pins_apply(graph, pins, n, backends, 3, pinned, err, sizeof err);
        if (st != EHAL_STATUS_OK) {
            if (!err[0] || strchr(err, '\n'))
                abort();
        } else {
            for (uint32_t i = 0; i < nodes; i++)
                if (pinned[i] >= 3 && pinned[i] != EHAL_GRAPH_NONE)
                    abort();
        }
    }
    free(pinned);
    free(s);
    return 0;
}
