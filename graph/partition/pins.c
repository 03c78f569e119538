#define _POSIX_C_SOURCE 200809L
/* Pin parsing and matching (syntax in pins.h and docs/partitioning.md). */
#include "pins.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgehal/ops.h"

#define T_ATTENTION 1u
#define T_ATTN 2u
#define T_FFN 4u
#define T_EMBED 8u
#define T_HEAD 16u

typedef struct rule {
    int32_t lo, hi; /* layer range, lo = -1: any */
    uint32_t terms; /* T_* all required */
    uint32_t op;    /* 0: any */
    uint32_t backend;
} rule;

static int parse_range(const char *s, int32_t *lo, int32_t *hi) {
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || a < 0)
        return 0;
    long b = a;
    if (*end == '-') {
        const char *t = end + 1;
        b = strtol(t, &end, 10);
        if (end == t || b < a)
            return 0;
    }
    if (*end)
        return 0;
    *lo = (int32_t)a;
    *hi = (int32_t)b;
    return 1;
}

static ehal_status_t parse_rule(const char *pin, const char *const *names, uint32_t nb, rule *r,
                                char *err, size_t err_size) {
    memset(r, 0, sizeof *r);
    r->lo = -1;
    const char *eq = strrchr(pin, '=');
    if (!eq) {
        snprintf(err, err_size, "pin '%s': expected SELECTOR=BACKEND (e.g. 'layers 0-7=vulkan')",
                 pin);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    const char *be = eq + 1;
    while (isspace((unsigned char)*be))
        be++;
    size_t bl = strlen(be);
    while (bl && isspace((unsigned char)be[bl - 1]))
        bl--;
    r->backend = UINT32_MAX;
    for (uint32_t b = 0; b < nb; b++)
        if (strlen(names[b]) == bl && strncmp(names[b], be, bl) == 0)
            r->backend = b;
    if (r->backend == UINT32_MAX) {
        char have[200] = "";
        for (uint32_t b = 0; b < nb; b++) {
            strncat(have, b ? ", " : "", sizeof have - strlen(have) - 1);
            strncat(have, names[b], sizeof have - strlen(have) - 1);
        }
        snprintf(err, err_size, "pin '%s': unknown backend '%.*s' (loaded: %s)", pin, (int)bl, be,
                 have);
        return EHAL_STATUS_NOT_FOUND;
    }
    char sel[256];
    size_t sl = (size_t)(eq - pin);
    if (sl >= sizeof sel)
        sl = sizeof sel - 1;
    memcpy(sel, pin, sl);
    sel[sl] = '\0';
    int nterms = 0;
    char *save = NULL;
    for (char *w = strtok_r(sel, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        nterms++;
        if (!strcmp(w, "layers") || !strcmp(w, "layer")) {
            char *rg = strtok_r(NULL, " \t", &save);
            if (!rg || !parse_range(rg, &r->lo, &r->hi)) {
                snprintf(err, err_size, "pin '%s': '%s' needs a range like 0-7 or 3, got '%s'", pin,
                         w, rg ? rg : "");
                return EHAL_STATUS_INVALID_ARGUMENT;
            }
        } else if (!strcmp(w, "attention")) {
            r->terms |= T_ATTENTION;
        } else if (!strcmp(w, "attn")) {
            r->terms |= T_ATTN;
        } else if (!strcmp(w, "ffn")) {
            r->terms |= T_FFN;
        } else if (!strcmp(w, "embed")) {
            r->terms |= T_EMBED;
        } else if (!strcmp(w, "lm_head") || !strcmp(w, "head")) {
            r->terms |= T_HEAD;
        } else if (!strncmp(w, "op:", 3)) {
            r->op = ehal_op_from_name(w + 3);
            if (r->op == EHAL_OP_NONE) {
                snprintf(err, err_size, "pin '%s': unknown op '%s'", pin, w + 3);
                return EHAL_STATUS_INVALID_ARGUMENT;
            }
        } else if (strcmp(w, "all") != 0) {
            snprintf(err, err_size,
                     "pin '%s': unknown selector '%s' (use layers A-B, layer N, attention, "
                     "attn, ffn, embed, lm_head, op:NAME, all)",
                     pin, w);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
    }
    if (nterms == 0) {
        snprintf(err, err_size, "pin '%s': empty selector before '='", pin);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    return EHAL_STATUS_OK;
}

static int matches(const rule *r, const ehal_graph_node *n) {
    if (r->lo >= 0 && (n->layer < r->lo || n->layer > r->hi))
        return 0;
    if (r->op && n->op != r->op)
        return 0;
    if ((r->terms & T_ATTENTION) && n->op != EHAL_OP_KV_WRITE && n->op != EHAL_OP_ATTENTION)
        return 0;
    if ((r->terms & T_ATTN) && n->section != EHAL_SECTION_ATTN)
        return 0;
    if ((r->terms & T_FFN) && n->section != EHAL_SECTION_FFN)
        return 0;
    if ((r->terms & T_EMBED) && n->section != EHAL_SECTION_EMBED)
        return 0;
    if ((r->terms & T_HEAD) && n->section != EHAL_SECTION_HEAD)
        return 0;
    return 1;
}

ehal_status_t ehal_pins_apply(const ehal_graph *g, const char *const *pins, uint32_t n_pins,
                              const char *const *backend_names, uint32_t n_backends,
                              uint32_t *pinned, char *err, size_t err_size) {
    uint32_t nn = ehal_graph_node_count(g);
    for (uint32_t i = 0; i < nn; i++)
        pinned[i] = EHAL_GRAPH_NONE;
    for (uint32_t k = 0; k < n_pins; k++) {
        rule r;
        ehal_status_t st = parse_rule(pins[k], backend_names, n_backends, &r, err, err_size);
        if (st != EHAL_STATUS_OK)
            return st;
        uint32_t hits = 0;
        for (uint32_t i = 0; i < nn; i++)
            if (matches(&r, ehal_graph_node_get(g, i))) {
                pinned[i] = r.backend;
                hits++;
            }
        if (hits == 0) {
            snprintf(err, err_size, "pin '%s': matches no node of the graph", pins[k]);
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
    }
    return EHAL_STATUS_OK;
}
