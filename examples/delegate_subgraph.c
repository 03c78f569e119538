/*
 * delegate_subgraph: load a model, delegate part of it (a layer range, or
 * only the attention nodes) to a chosen backend, run a prompt and a few
 * greedy steps, and print the plan and tokens.
 *
 *   delegate_subgraph [MODEL.gguf|builtin] [BACKEND] [layers A-B|attention]
 *
 * The rest of the graph goes wherever the partitioner finds it cheapest.
 * Everything here is public API: edgehal.h (context), model.h (weights),
 * graph.h (sessions and plans).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgehal/edgehal.h"
#include "edgehal/graph.h"
#include "edgehal/model.h"

int main(int argc, char **argv) {
    const char *model_path = argc > 1 ? argv[1] : "builtin";
    const char *backend = argc > 2 ? argv[2] : "cpu";
    const char *what = argc > 3 ? argv[3] : "layers 0-1";
    char err[320];
    ehal_model *m = NULL;
    ehal_status_t st;
    if (strcmp(model_path, "builtin") == 0) {
        ehal_model_hparams hp;
        st = ehal_model_preset_hparams("builtin", &hp);
        if (st == EHAL_STATUS_OK)
            st = ehal_model_generate(&hp, EHAL_DTYPE_Q8_0, 42, &m, err, sizeof err);
    } else {
        st = ehal_model_load_gguf(model_path, &m, err, sizeof err);
    }
    if (st != EHAL_STATUS_OK) {
        fprintf(stderr, "delegate_subgraph: model '%s': %s\n", model_path, err);
        return 1;
    }
    /* Load every plugin found; the delegated backend must be among them. */
    ehal_context *ctx = NULL;
    if (ehal_context_create(NULL, &ctx) != EHAL_STATUS_OK || !ehal_backend_find(ctx, backend)) {
        fprintf(stderr, "delegate_subgraph: backend '%s' is not loaded\n", backend);
        ehal_context_destroy(ctx);
        ehal_model_free(m);
        return 1;
    }
    char pin[128];
    snprintf(pin, sizeof pin, "%s=%s", what, backend);
    const char *pins[1] = {pin};
    ehal_session_options so;
    memset(&so, 0, sizeof so);
    so.struct_size = sizeof so;
    so.pins = pins;
    so.n_pins = 1;
    so.kv_capacity = 256;
    ehal_session *s = NULL;
    if (ehal_session_create(ctx, m, &so, &s, err, sizeof err) != EHAL_STATUS_OK) {
        fprintf(stderr, "delegate_subgraph: %s\n", err);
        ehal_context_destroy(ctx);
        ehal_model_free(m);
        return 1;
    }
    const int32_t prompt[4] = {1, 2, 3, 4};
    const uint32_t vocab = ehal_model_get_hparams(m)->vocab;
    float *logits = malloc(sizeof *logits * vocab);
    int rc = 0;
    const ehal_plan *plan = ehal_session_plan(s, 4);
    if (!logits || !plan) {
        fprintf(stderr, "delegate_subgraph: %s\n", ehal_session_last_error(s));
        rc = 1;
        goto out;
    }
    printf("pin '%s'\n", pin);
    ehal_plan_print(plan, stdout);
    int32_t tok = 0;
    printf("tokens:");
    for (int step = 0; step < 8; step++) {
        st = step == 0 ? ehal_session_eval(s, prompt, 4, logits)
                       : ehal_session_eval(s, &tok, 1, logits);
        if (st != EHAL_STATUS_OK) {
            fprintf(stderr, "\ndelegate_subgraph: %s\n", ehal_session_last_error(s));
            rc = 1;
            goto out;
        }
        uint32_t best = 0;
        for (uint32_t i = 1; i < vocab; i++)
            if (logits[i] > logits[best])
                best = i;
        tok = (int32_t)best;
        printf(" %d", tok);
    }
    printf("\n");
out:
    free(logits);
    ehal_session_free(s);
    ehal_context_destroy(ctx);
    ehal_model_free(m);
    return rc;
}
