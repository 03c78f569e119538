/*
 * The partitioner's core: an exact dynamic programme over a node order
 * with an injected cost model, independent of plugins (so tests can check
 * it against brute force with synthetic cost tables). Internal to
 * ehal_graph; docs/partitioning.md explains the model.
 *
 * Objective for an assignment a[0..n):
 *   sum_i cost[i][a_i]                                    (compute)
 * + sum_i overhead[a_i] where i == 0 or a_i != a_{i-1}     (one per partition)
 * + sum_edges (p -> c): a_p != a_c ? xfer(a_p, a_c, bytes) (every crossing
 *   edge is charged, even when one tensor feeds several nodes on the same
 *   backend: conservative, the executor copies it once)
 * Edges with `tied` set forbid a_p != a_c (a KV cache and its readers).
 * cost[i][b] == EHAL_PART_INF forbids b for node i (unsupported or pinned).
 * Memory: sum of mem[i][a_i] over nodes on b must stay <= mem_limit[b]
 * (0: no limit), enforced by pricing memory (Lagrangian relaxation): the DP
 * is exact for each price; prices rise until every backend fits, then a
 * greedy repair moves nodes back while that helps and still fits. With
 * binding limits the result is feasible, not guaranteed optimal.
 */
#ifndef EHAL_PART_CORE_H
#define EHAL_PART_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "edgehal/backend_abi.h"

#define EHAL_PART_INF UINT64_MAX
#define EHAL_PART_MAX_BACKENDS 16

typedef struct ehal_part_edge {
    uint32_t producer, consumer; /* node indices, producer < consumer */
    uint64_t bytes;
    uint32_t tied;
} ehal_part_edge;

typedef struct ehal_part_problem {
    uint32_t n_nodes, n_backends;
    const uint64_t *cost;           /* [n_nodes * n_backends] ns, or EHAL_PART_INF */
    const uint64_t *overhead;       /* [n_backends] ns per partition */
    const double *xfer_ns_per_byte; /* [n_backends * n_backends], from a to b */
    const uint64_t *xfer_fixed_ns;  /* [n_backends * n_backends], per crossing */
    const ehal_part_edge *edges;
    uint32_t n_edges;
    const uint64_t *mem;              /* [n_nodes * n_backends] bytes; NULL: none */
    const uint64_t *mem_limit;        /* [n_backends], 0 = unlimited; NULL: none */
    const char *const *backend_names; /* for messages; may be NULL */
    const char *const *node_names;    /* for messages; may be NULL */
} ehal_part_problem;

/* Cost of one crossing from a to b (0 when a == b). */
uint64_t ehal_part_xfer_cost(const ehal_part_problem *p, uint32_t a, uint32_t b, uint64_t bytes);

/* The objective for `assign`, or EHAL_PART_INF if it is forbidden (ignores
 * memory limits; see ehal_part_fits). */
uint64_t ehal_part_evaluate(const ehal_part_problem *p, const uint32_t *assign);
/* 1 if assign respects every memory limit. */
int ehal_part_fits(const ehal_part_problem *p, const uint32_t *assign);

/* Minimizes the objective under the memory limits. Writes the assignment
 * to assign[n_nodes] and its (unpriced) objective to *cost. Fails with
 * UNSUPPORTED naming the node when no backend may run a node, and with
 * OUT_OF_MEMORY naming the backend when the limits cannot be met. */
ehal_status_t ehal_part_solve(const ehal_part_problem *p, uint32_t *assign, uint64_t *cost,
                              char *err, size_t err_size);

#endif
