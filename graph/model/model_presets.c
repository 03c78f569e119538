/* Named model shapes; parameter counts and file sizes are in docs/gguf.md. */
#include <string.h>

#include "model_internal.h"

#include "edgehal/model_tools.h"

typedef struct preset {
    const char *name;
    ehal_model_hparams hp;
} preset;

#define HP(dim, layers, heads, kv, ffn, vocab, ctx, tied)                                         \
    {                                                                                             \
        (dim), (layers), (heads), (kv), (ffn), (vocab), (ctx), EHAL_ROPE_NORMAL, 10000.0f, 1e-5f, \
            (tied)                                                                                \
    }

static const preset presets[] = {
    /* 24.4M parameters (untied; 15.2M tied): the llama2.c "stories15M" shape. */
    {"tiny", HP(288, 6, 6, 6, 768, 32000, 2048, 0)},
    /* 99.5M parameters (untied), GQA 3:1, head_dim 64. */
    {"small", HP(768, 8, 12, 4, 2048, 32000, 2048, 0)},
    /* 1.10B parameters (untied), shaped like Llama-3.2-1B (GQA 4:1, head_dim 64). */
    {"1b", HP(2048, 16, 32, 8, 8192, 32000, 4096, 0)},
    /* 0.80M parameters, tied embeddings, GQA 2:1: `edgehal run` with no file. */
    {"builtin", HP(128, 4, 4, 2, 352, 512, 512, 1)},
};

static const char *const preset_names[] = {"tiny", "small", "1b", "builtin", NULL};

const char *const *ehal_model_preset_names(void) {
    return preset_names;
}

ehal_status_t ehal_model_preset_hparams(const char *name, ehal_model_hparams *out) {
    if (!name || !out)
        return EHAL_STATUS_INVALID_ARGUMENT;
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(presets[i].name, name) == 0) {
            *out = presets[i].hp;
            return EHAL_STATUS_OK;
        }
    }
    return EHAL_STATUS_NOT_FOUND;
}
