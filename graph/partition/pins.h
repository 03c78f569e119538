/*
 * User pins: "SELECTOR=BACKEND" rules over node groups, applied in order
 * (a later rule overrides an earlier one for the nodes both match).
 * SELECTOR is one or more space-separated terms, all of which must match:
 *   layers A-B | layer N   nodes of those transformer layers
 *   attention              KV_WRITE and ATTENTION nodes (where caches live)
 *   attn | ffn             a layer's attention or feed-forward block
 *   embed | lm_head        token embedding; final norm + LM head
 *   op:NAME                nodes of one catalog op (op:matmul)
 *   all                    every node
 * Internal to ehal_graph.
 */
#ifndef EHAL_PINS_H
#define EHAL_PINS_H

#include <stddef.h>
#include <stdint.h>

#include "edgehal/graph.h"

/* Fills pinned[n_nodes] with a backend index per node or EHAL_GRAPH_NONE.
 * Errors (INVALID_ARGUMENT / NOT_FOUND) name the pin and the bad word. */
ehal_status_t ehal_pins_apply(const ehal_graph *g, const char *const *pins, uint32_t n_pins,
                              const char *const *backend_names, uint32_t n_backends,
                              uint32_t *pinned, char *err, size_t err_size);

#endif
