/* The plan object, shared by the planner and the executor (internal). */
#ifndef EHAL_PLAN_INTERNAL_H
#define EHAL_PLAN_INTERNAL_H

#include "edgehal/graph.h"
#include "part_core.h"

struct ehal_plan {
    const ehal_graph *g; /* borrowed: the plan must not outlive its graph */
    uint32_t n_nodes, n_backends;
    uint32_t *assign; /* [n_nodes] backend index */
    char names[EHAL_PART_MAX_BACKENDS][32];
    uint64_t cost_ns;
    uint32_t n_parts;
    uint32_t *part_start;   /* [n_parts + 1] node index */
    uint32_t *part_backend; /* [n_parts] */
    uint32_t n_groups;
    char (*group_name)[24]; /* [n_groups] */
    uint64_t *group_alt;    /* [n_groups * n_backends] plan cost with the group forced, or INF */
    uint32_t *group_nodes;  /* [n_groups * n_backends] nodes of the group on each backend */
    int has_alt;            /* group_alt computed */
};

/* As ehal_plan_create, with fixed[n_nodes] (backend index or
 * EHAL_GRAPH_NONE) forcing nodes regardless of pins (the executor uses it to
 * keep attention where a KV cache already lives); fixed may be NULL.
 * Backends in forbid_mask (bit b) get no node; pins naming them are
 * ignored (the executor's lost devices). explain != 0 computes the
 * per-group alternatives. */
ehal_status_t ehal_plan_create_ex(ehal_context *ctx, const ehal_graph *g,
                                  const ehal_plan_options *o, const uint32_t *fixed,
                                  uint32_t forbid_mask, int explain, ehal_plan **out, char *err,
                                  size_t err_size);

#endif
