#ifndef PRISM_CPU_H
#define PRISM_CPU_H

// The int8 kernels, by instruction set. Every dispatching function takes one of these and never
// runs more than prism_best_kernel() (a kernel above it is clamped, or its loop falls back to
// the portable one).
enum {
    PRISM_KERNEL_PORTABLE = 0,
    PRISM_KERNEL_AVX2 = 1,
    PRISM_KERNEL_AVXVNNI = 2,      // AVX-VNNI (vpdpbusd on 256-bit registers)
    PRISM_KERNEL_AVX512VNNI = 3,   // AVX512-VNNI with AVX512VL (vpdpbusd, 256-bit form)
    PRISM_KERNEL_NEON = 4,         // aarch64 Advanced SIMD (armv8.0: smull + sadalp)
    PRISM_KERNEL_NEON_DOTPROD = 5, // aarch64 with the dot-product extension (armv8.2 sdot)
};
// The x86 kernels (1-3) and the aarch64 ones (4-5) are two families: a CPU has kernels of one
// only, so asking for one of the other family runs as the best kernel below it this CPU has
// (on aarch64 the x86 codes run as the portable loop; on x86 the aarch64 codes as the best x86 one).

// The best kernel this CPU supports (checked at run time, once: cpuid on x86, the auxiliary
// vector's HWCAP bits on aarch64 Linux, sysctl on Apple silicon).
int prism_best_kernel(void);

// `kernel` if this CPU has it, else the best kernel below it that it has (never one that faults).
int prism_runnable_kernel(int kernel);

#endif
