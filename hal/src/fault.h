/*
 * Fault injection (EHAL_FAULT): rules parsed at context creation and a
 * wrapper function table installed in front of each matching plugin, so
 * that any backend, vendors' included, can be made to fail on demand.
 * The grammar and the statuses returned are documented in
 * docs/robustness.md. Private to libedgehal.
 */
#ifndef EDGEHAL_HAL_FAULT_H
#define EDGEHAL_HAL_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define EHAL_FAULT_MAX_RULES 16
#define EHAL_FAULT_SPEC_MAX 1024

typedef enum ehal_i_fault_entry {
    EHAL_FAULT_EXECUTE,
    EHAL_FAULT_WAIT,
    EHAL_FAULT_PREPARE,
    EHAL_FAULT_ALLOC, /* buffer_alloc, buffer_import_host and prepack */
    EHAL_FAULT_WRITE,
    EHAL_FAULT_READ,
    EHAL_FAULT_QUERY, /* query_op */
    EHAL_FAULT_MAP,   /* buffer_map */
    EHAL_FAULT_LOST,  /* counts executes; then every entry is DEVICE_LOST */
    EHAL_FAULT_N_ENTRIES
} ehal_i_fault_entry;

typedef struct ehal_i_fault_rule {
    char backend[64];    /* backend name, or "*" for every backend */
    ehal_i_fault_entry entry;
    uint64_t pass;       /* calls that succeed before the first failure */
    int once;            /* fail one call only, then pass again */
    char text[96];       /* the rule as written, for log lines */
} ehal_i_fault_rule;

/* Parses an EHAL_FAULT value: rules separated by ';' or ',', each
 * "<backend|*>:<entry>:<after=N|at=N>[:once]". Empty rules are ignored.
 * Pure (no allocation, no global state): callable from any thread and from
 * the fuzz target. On failure returns INVALID_ARGUMENT with one line in err
 * naming the rule text and what is wrong with it; *n_out is then 0. */
ehal_status_t ehal_i_fault_parse(const char *spec, ehal_i_fault_rule *rules, uint32_t max_rules,
                                 uint32_t *n_out, char *err, size_t err_size);

/* Wraps be's function table if any rule names be->name or "*". Call once,
 * after the device was opened (be->impl set). OUT_OF_MEMORY leaves be
 * unchanged. The wrapper is freed by the wrapped destroy entry. */
ehal_status_t ehal_i_fault_install(ehal_backend *be, const ehal_i_fault_rule *rules, uint32_t n);

#endif
