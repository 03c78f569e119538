/*
 * Run-time CPU feature detection: __builtin_cpu_supports on x86 (which
 * checks OS support for the wider register state too; F16C from CPUID), getauxval(AT_HWCAP /
 * AT_HWCAP2) on Linux aarch64.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu_isa.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* F16C (CPUID.1:ECX bit 29): read directly, as clang's
 * __builtin_cpu_supports does not know "f16c". */
static int has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
}
#endif

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)
#endif
#endif

static const char *const isa_names[CPU_ISA_COUNT_] = {"scalar", "avx2", "avx512vnni",
                                                      "neon",   "dotprod", "i8mm"};

const char *cpu_isa_name(cpu_isa isa)
{
    return (unsigned)isa < CPU_ISA_COUNT_ ? isa_names[isa] : "unknown";
}

int cpu_isa_supported(cpu_isa isa)
{
    switch (isa) {
    case CPU_ISA_SCALAR:
        return 1;
#if defined(__x86_64__) || defined(__i386__)
    case CPU_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
    case CPU_ISA_AVX512VNNI:
        return cpu_isa_supported(CPU_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512vnni");
#endif
#if defined(__aarch64__)
    case CPU_ISA_NEON:
        return 1; /* Advanced SIMD is mandatory on AArch64 */
#if defined(__linux__)
    case CPU_ISA_DOTPROD:
        return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
    case CPU_ISA_I8MM:
        return cpu_isa_supported(CPU_ISA_DOTPROD) && (getauxval(AT_HWCAP2) & HWCAP2_I8MM) != 0;
#endif
#endif
    default:
        return 0;
    }
}

/* The cap from EHAL_CPU_ISA, as a rank on the variant's own architecture:
 * x86 levels and ARM levels are separate chains; "scalar" caps both. An
 * unknown value caps nothing. */
int cpu_isa_enabled(cpu_isa isa)
{
    if (!cpu_isa_supported(isa))
        return 0;
    const char *cap = getenv(CPU_ISA_ENV);
    if (cap == NULL || cap[0] == '\0')
        return 1;
    cpu_isa c = CPU_ISA_COUNT_;
    for (int i = 0; i < CPU_ISA_COUNT_; i++)
        if (strcmp(cap, isa_names[i]) == 0)
            c = (cpu_isa)i;
    if (c == CPU_ISA_COUNT_ || isa == CPU_ISA_SCALAR)
        return 1;
    if (c == CPU_ISA_SCALAR)
        return 0;
    int isa_arm = isa >= CPU_ISA_NEON, cap_arm = c >= CPU_ISA_NEON;
    return isa_arm == cap_arm ? isa <= c : 1;
}
