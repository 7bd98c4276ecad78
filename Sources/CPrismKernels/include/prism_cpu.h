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
};

// The best kernel this CPU supports (checked with cpuid at run time, once).
int prism_best_kernel(void);

// `kernel` if this CPU has it, else the best kernel below it that it has (never one that faults).
int prism_runnable_kernel(int kernel);

#endif
