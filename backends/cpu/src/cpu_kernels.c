/*
 * The CPU kernel table: one kernel per op id, chosen at init from a list of
 * variants. Today every op has exactly one variant, the reference kernel of
 * ehal_ops (plain scalar C), so the plugin computes exactly what the
 * conformance oracle computes.
 *
 * Issue #4 (SIMD kernels, thread pool) extends the `variants` list below
 * rather than this file's logic: a faster variant is one line placed ABOVE
 * the reference line of its op, named dtype_op__isa (STYLE.md 8), e.g.
 *     {EHAL_OP_MATMUL, "q4_0_f32_matmul__avx2", cpu_has_avx2, cpu_matmul_q4_0__avx2},
 * The first variant whose `available` check passes on this machine wins;
 * the reference lines come last and are always available, so every catalog
 * op keeps a kernel. A variant that covers only some instances of its op
 * (one weight dtype, say) is entered as a per-op dispatcher that picks among
 * its own sub-table and falls back to the reference kernel.
 */
#include <stdio.h>

#include "cpu_internal.h"

typedef struct cpu_kernel_variant {
    uint32_t op;            /* ehal_op id */
    const char *name;       /* dtype_op__isa; "__ref" is the reference kernel */
    int (*available)(void); /* 1 if this machine can run it; NULL: always */
    ehal_kernel_fn fn;
} cpu_kernel_variant;

static const cpu_kernel_variant variants[] = {
/* Issue #4: SIMD variants go here, above the reference lines. */

/* Reference kernels, one per catalog op (derived from EHAL_OP_LIST, so a new
 * catalog op gets its reference kernel here without an edit). */
#define CPU_REF_VARIANT(N, id, s, ni, no, P) {EHAL_OP_##N, s "__ref", NULL, ehal_ref_##N},
    EHAL_OP_LIST(CPU_REF_VARIANT)
#undef CPU_REF_VARIANT
};

void cpu_kernels_select(ehal_backend_impl *be)
{
    char chosen[480] = "";
    size_t len = 0;
    for (uint32_t op = 0; op < EHAL_OP_ID_LIMIT_; op++)
        be->kernels[op] = NULL;
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        const cpu_kernel_variant *v = &variants[i];
        if (v->op >= EHAL_OP_ID_LIMIT_ || v->fn == NULL || be->kernels[v->op] != NULL)
            continue;
        if (v->available != NULL && !v->available())
            continue;
        be->kernels[v->op] = v->fn;
        if (len < sizeof chosen) {
            int w = snprintf(chosen + len, sizeof chosen - len, "%s%s", len ? " " : "", v->name);
            len += w > 0 ? (size_t)w : 0;
        }
    }
    ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "kernels: %s", chosen);
}
