/*
 * Instruction-set levels the CPU kernels are compiled for, detected at run
 * time. Each level implies the ones below it on its architecture
 * (x86: scalar < avx2 (AVX2+FMA+F16C) < avx512vnni (AVX-512 F/BW/VL/VNNI);
 * ARM: scalar < neon < dotprod < i8mm). The environment variable
 * EHAL_CPU_ISA=scalar|avx2|avx512vnni|neon|dotprod|i8mm caps the level the
 * dispatch may pick (for testing fallbacks and benchmarking); a cap the
 * machine does not reach changes nothing.
 *
 * Thread-safety: detection runs once per call and only reads cpuid/auxv and
 * the environment; safe from any thread.
 */
#ifndef EHAL_CPU_ISA_H
#define EHAL_CPU_ISA_H

typedef enum cpu_isa {
    CPU_ISA_SCALAR = 0,
    CPU_ISA_AVX2,
    CPU_ISA_AVX512VNNI,
    CPU_ISA_NEON,
    CPU_ISA_DOTPROD,
    CPU_ISA_I8MM,
    CPU_ISA_COUNT_
} cpu_isa;

#define CPU_ISA_ENV "EHAL_CPU_ISA"

/* "scalar", "avx2", ... */
const char *cpu_isa_name(cpu_isa isa);
/* 1 if this machine can execute code built for isa (ignores the cap). */
int cpu_isa_supported(cpu_isa isa);
/* 1 if isa is supported and not above the EHAL_CPU_ISA cap. */
int cpu_isa_enabled(cpu_isa isa);

#endif
