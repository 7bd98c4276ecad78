// Which int8 kernel this CPU can run, detected once with cpuid: every dispatching loop clamps
// the kernel it is asked for to this.
#include "prism_cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#define PRISM_X86 1
#endif

static int detect_kernel(void);

// Detected once: cpuid is not free, and the answer never changes in a process.
int prism_best_kernel(void) {
    static int best = -1;
    if (best < 0) best = detect_kernel();
    return best;
}

static int detect_kernel(void) {
#ifdef PRISM_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        return PRISM_KERNEL_AVX512VNNI;
    if (__builtin_cpu_supports("avxvnni") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c"))
        return PRISM_KERNEL_AVXVNNI;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        return PRISM_KERNEL_AVX2;
#endif
    return PRISM_KERNEL_PORTABLE;
}
