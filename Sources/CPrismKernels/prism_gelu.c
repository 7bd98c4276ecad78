// GELU (tanh form) over a row of floats: the MLP's activation, vectorized with AVX2 or NEON where
// the CPU has it.
#include "prism_gelu.h"
#include "prism_cpu.h"

// GELU, tanh form, over n floats: 0.5 x (1 + tanh(y)) = x / (1 + exp(-2y)), y = c (x + 0.044715 x^3).
// libm's tanhf per element was 6% of a prefill; this vector form is within a few ulp of it.
static void gelu_tanh_portable(const float *x, float *out, long n) {
    for (long i = 0; i < n; i++) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + __builtin_tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
// exp over 8 lanes: 2^n e^r with |r| <= ln2 / 2, e^r = 1 + r + r^2 P(r) (a degree-5 minimax P,
// as in Cephes' expf); inputs clamped to [-87.3, 88.7] where the float result stays finite and normal.
__attribute__((target("avx2,fma")))
static inline __m256 exp256(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.7f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

__attribute__((target("avx2,fma")))
static void gelu_tanh_avx2(const float *x, float *out, long n) {
    long i = 0;
    const __m256 c = _mm256_set1_ps(0.7978845608028654f), a = _mm256_set1_ps(0.044715f), one = _mm256_set1_ps(1.0f);
    const __m256 m2 = _mm256_set1_ps(-2.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 y = _mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_mul_ps(a, v), _mm256_mul_ps(v, v), v));
        __m256 e = exp256(_mm256_mul_ps(m2, y));
        _mm256_storeu_ps(out + i, _mm256_div_ps(v, _mm256_add_ps(one, e)));
    }
    gelu_tanh_portable(x + i, out + i, n - i);
}
#endif

#if defined(__aarch64__)
#include "prism_arm.h"
// The AVX2 loop above, operation for operation (frintn is round_ps to nearest, fmls is fnmadd,
// fcvtns is cvtps_epi32 in the default mode): the same results as the AVX2 kernel, bit for bit.
static inline float32x4_t exp_neon(float32x4_t x) {
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.3f)), vdupq_n_f32(88.7f));
    float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(e));
}

static void gelu_tanh_neon(const float *x, float *out, long n) {
    long i = 0;
    const float32x4_t c = vdupq_n_f32(0.7978845608028654f), a = vdupq_n_f32(0.044715f), one = vdupq_n_f32(1.0f);
    const float32x4_t m2 = vdupq_n_f32(-2.0f);
    // Eight at a time, the rest through the portable loop, as the AVX2 kernel splits a row.
    for (; i + 8 <= n; i += 8) {
        for (int h = 0; h < 8; h += 4) {
            float32x4_t v = vld1q_f32(x + i + h);
            float32x4_t y = vmulq_f32(c, vfmaq_f32(v, vmulq_f32(a, v), vmulq_f32(v, v)));
            float32x4_t e = exp_neon(vmulq_f32(m2, y));
            vst1q_f32(out + i + h, vdivq_f32(v, vaddq_f32(one, e)));
        }
    }
    gelu_tanh_portable(x + i, out + i, n - i);
}
#endif

void prism_gelu_tanh(int kernel, const float *x, float *out, long n) {
#if defined(__x86_64__)
    if (kernel >= PRISM_KERNEL_AVX2 && prism_best_kernel() >= PRISM_KERNEL_AVX2) { gelu_tanh_avx2(x, out, n); return; }
#endif
#if defined(__aarch64__)
    if (prism_runnable_kernel(kernel) >= PRISM_KERNEL_NEON) { gelu_tanh_neon(x, out, n); return; }
#endif
    gelu_tanh_portable(x, out, n);
}
