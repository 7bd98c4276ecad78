// Which int8 kernel this CPU can run, detected once (cpuid on x86, HWCAP on aarch64 Linux): every
// dispatching loop clamps the kernel it is asked for to this.
#include "prism_cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#define PRISM_X86 1
#endif

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
// From the kernel's asm/hwcap.h, spelled out for C libraries whose headers lack them.
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
static int arm_has_neon(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0; }
static int arm_has_dotprod(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
static int arm_has_neon(void) { return 1; }   // Advanced SIMD is part of every Apple arm64 CPU
static int arm_has_dotprod(void) {
    int v = 0;
    size_t n = sizeof v;
    return sysctlbyname("hw.optional.arm.FEAT_DotProd", &v, &n, NULL, 0) == 0 && v != 0;
}
#elif defined(__aarch64__)
static int arm_has_neon(void) { return 1; }   // mandatory in AArch64; no portable way to ask for more
static int arm_has_dotprod(void) { return 0; }
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
#ifdef __aarch64__
    if (arm_has_neon() && arm_has_dotprod()) return PRISM_KERNEL_NEON_DOTPROD;
    if (arm_has_neon()) return PRISM_KERNEL_NEON;
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
#elif defined(__aarch64__)
    switch (kernel) {
    case PRISM_KERNEL_NEON: return arm_has_neon();
    case PRISM_KERNEL_NEON_DOTPROD: return arm_has_neon() && arm_has_dotprod();
    default: return kernel == PRISM_KERNEL_PORTABLE;
    }
#else
    return kernel == PRISM_KERNEL_PORTABLE;
#endif
}
