// Which int8 kernel this CPU can run, detected once with cpuid: every dispatching loop clamps
// the kernel it is asked for to this.
#include "prism_cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#define PRISM_X86 1
#endif

static int detect_kernel(void);
static int cpu_has(int kernel);

// The kernel to run for `kernel`: itself when the CPU has it, else the best one below it that
// the CPU has (AVX512-VNNI does not imply AVX-VNNI: asking for the latter there would fault).
int prism_runnable_kernel(int kernel) {
    if (kernel > prism_best_kernel()) kernel = prism_best_kernel();
    while (kernel > PRISM_KERNEL_PORTABLE && !cpu_has(kernel)) kernel--;
    return kernel;
}

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

static int cpu_has(int kernel) {
#ifdef PRISM_X86
    __builtin_cpu_init();
    int base = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    switch (kernel) {
    case PRISM_KERNEL_AVX2: return base;
    case PRISM_KERNEL_AVXVNNI: return base && __builtin_cpu_supports("avxvnni");
    case PRISM_KERNEL_AVX512VNNI: return base && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl");
    default: return kernel == PRISM_KERNEL_PORTABLE;
    }
#else
    return kernel == PRISM_KERNEL_PORTABLE;
#endif
}
