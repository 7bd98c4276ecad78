// aarch64 helpers shared by the NEON kernels (included only where __aarch64__ is defined).
// Advanced SIMD is part of every AArch64 CPU, so the NEON kernels need no target attribute; the
// dot-product ones (armv8.2 sdot) are compiled for that extension alone, function by function,
// and run only where prism_cpu.c found it (HWCAP_ASIMDDP).
#ifndef PRISM_ARM_H
#define PRISM_ARM_H
#include <arm_neon.h>
#include <stdint.h>

#if defined(__clang__)
#define PRISM_TARGET_DOTPROD __attribute__((target("dotprod")))
#else
#define PRISM_TARGET_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

// f16 bits to f32 with the hardware conversion (exact, as prism_half_to_float).
static inline float prism_half_to_float_neon(uint16_t h) {
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

#endif
