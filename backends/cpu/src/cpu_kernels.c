/*
 * The CPU kernel table: one kernel per op id, chosen at init from a list of
 * variants, plus the per-family micro-kernel choice (cpu_matmul.c and
 * cpu_attn_*.c hold the family tables).
 *
 * A faster variant is one line placed ABOVE the reference line of its op,
 * named dtype_op__isa (STYLE.md 8). The first variant whose `available`
 * check passes on this machine wins; the reference lines come last and are
 * always available, so every catalog op keeps a kernel. A pool-aware
 * variant (`fast`) covers the instances its family tables have micro-kernels
 * for and returns UNSUPPORTED for the rest, which then run the reference.
 */
#include <stdio.h>

#include "cpu_attn.h"
#include "cpu_internal.h"
#include "cpu_vec_kernels.h"

typedef struct cpu_kernel_variant {
    uint32_t op;            /* ehal_op id */
    const char *name;       /* dtype_op__isa; "__ref" is the reference kernel */
    int (*available)(void); /* 1 if this machine can run it; NULL: always */
    ehal_kernel_fn fn;      /* plain kernel, or NULL for a pool-aware one */
    cpu_op_fn fast;         /* pool-aware kernel, or NULL */
} cpu_kernel_variant;

#if defined(__x86_64__) || defined(__i386__)
static int have_avx2(void) { return cpu_isa_enabled(CPU_ISA_AVX2); }
#endif
#if defined(__aarch64__)
static int have_neon(void) { return cpu_isa_enabled(CPU_ISA_NEON); }
#endif

/* The vectorized element-wise kernels of one row-primitive table
 * (cpu_vec.h): RMS_NORM, ROPE, ADD, MUL, SWIGLU, SOFTMAX, GET_ROWS,
 * KV_WRITE, named op__isa (their dtypes are the op's; GET_ROWS and KV_WRITE
 * cover F32, F16, Q8_0 and Q4_0 rows). */
#define CPU_VEC_VARIANT_(N, stem, isa, avail)                                                \
    {EHAL_OP_##N, #stem "__" #isa, avail, NULL, cpu_op_##stem##__##isa},

static const cpu_kernel_variant variants[] = {
    /* Dispatchers over the family tables (their choice is logged below). */
    {EHAL_OP_MATMUL, "matmul__families", NULL, NULL, cpu_op_matmul},
    {EHAL_OP_ATTENTION, "attention__families", NULL, NULL, cpu_op_attention},

#if defined(__x86_64__) || defined(__i386__)
#define CPU_VEC_VARIANT_AVX2(N, stem) CPU_VEC_VARIANT_(N, stem, avx2, have_avx2)
    CPU_VEC_OP_LIST(CPU_VEC_VARIANT_AVX2)
#undef CPU_VEC_VARIANT_AVX2
#endif
#if defined(__aarch64__)
#define CPU_VEC_VARIANT_NEON(N, stem) CPU_VEC_VARIANT_(N, stem, neon, have_neon)
    CPU_VEC_OP_LIST(CPU_VEC_VARIANT_NEON)
#undef CPU_VEC_VARIANT_NEON
#endif
#define CPU_VEC_VARIANT_SCALAR(N, stem) CPU_VEC_VARIANT_(N, stem, scalar, NULL)
    CPU_VEC_OP_LIST(CPU_VEC_VARIANT_SCALAR)
#undef CPU_VEC_VARIANT_SCALAR

/* Reference kernels, one per catalog op (derived from EHAL_OP_LIST, so a new
 * catalog op gets its reference kernel here without an edit). */
#define CPU_REF_VARIANT(N, id, s, ni, no, P) {EHAL_OP_##N, s "__ref", NULL, ehal_ref_##N, NULL},
    EHAL_OP_LIST(CPU_REF_VARIANT)
#undef CPU_REF_VARIANT
};

static void append(char *buf, size_t cap, size_t *len, const char *name)
{
    if (*len < cap) {
        int w = snprintf(buf + *len, cap - *len, "%s%s", *len ? " " : "", name);
        *len += w > 0 ? (size_t)w : 0;
    }
}

void cpu_kernels_select(ehal_backend_impl *be)
{
    char chosen[1024] = "";
    size_t len = 0;
    for (uint32_t op = 0; op < EHAL_OP_ID_LIMIT_; op++) {
        be->kernels[op] = NULL;
        be->fast[op] = NULL;
    }
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        const cpu_kernel_variant *v = &variants[i];
        if (v->op >= EHAL_OP_ID_LIMIT_ || be->kernels[v->op] != NULL)
            continue;
        if (v->available != NULL && !v->available())
            continue;
        if (v->fast != NULL) {
            if (be->fast[v->op] == NULL) {
                be->fast[v->op] = v->fast;
                append(chosen, sizeof chosen, &len, v->name);
            }
            continue;
        }
        be->kernels[v->op] = v->fn;
        append(chosen, sizeof chosen, &len, v->name);
    }
    static const uint32_t mm_types[] = {EHAL_DTYPE_Q4_0, EHAL_DTYPE_Q8_0, EHAL_DTYPE_F16};
    for (size_t i = 0; i < sizeof mm_types / sizeof mm_types[0]; i++)
        for (int kind = 0; kind < 2; kind++) {
            const cpu_mm_variant *v = cpu_mm_pick(mm_types[i], kind);
            be->mm[mm_types[i]][kind] = v;
            if (v != NULL)
                append(chosen, sizeof chosen, &len, v->name);
        }
    static const uint32_t kv_types[] = {EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0};
    for (size_t i = 0; i < sizeof kv_types / sizeof kv_types[0]; i++) {
        const cpu_attn_variant *v = cpu_attn_pick(kv_types[i]);
        be->attn[kv_types[i]] = v;
        if (v != NULL)
            append(chosen, sizeof chosen, &len, v->name);
    }
    ehal_sdk_log(be->host, EHAL_LOG_DEBUG, "kernels: %s", chosen);
}
