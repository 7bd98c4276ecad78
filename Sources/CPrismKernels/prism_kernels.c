// int8 dot products with run-time dispatch: Swift SIMD cannot emit vpmaddubsw / vpdpbusd,
// so these few loops are C with intrinsics, each in a function compiled for its own target,
// chosen at run time from the CPU's features. The portable loop is the reference the tests
// compare every other kernel with.
#include "prism_kernels.h"
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PRISM_X86 1
#endif

static inline float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) { bits = sign; }
        else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while ((man & 0x400) == 0) { man <<= 1; exp--; }
            man &= 0x3ff;
            bits = sign | (exp << 23) | (man << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000 | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void matmul_portable(const int8_t *w, const uint16_t *ws, int cols, const int8_t *x, const float *xs,
                            int tokens, float *out, int ldo, int row0, int row1) {
    int nb = cols / 32;
    for (int r = row0; r < row1; r++) {
        const int8_t *wr = w + (long)r * cols;
        for (int t = 0; t < tokens; t++) {
            const int8_t *xt = x + (long)t * cols;
            float acc = 0;
            for (int b = 0; b < nb; b++) {
                int32_t s = 0;
                for (int i = 0; i < 32; i++) s += (int32_t)wr[b * 32 + i] * (int32_t)xt[b * 32 + i];
                acc += f16_to_f32(ws[(long)r * nb + b]) * xs[(long)t * nb + b] * (float)s;
            }
            out[(long)t * ldo + r] = acc;
        }
    }
}

#ifdef PRISM_X86
// One block of 32: |w| (unsigned) times x with w's sign, pairwise to int16, then to int32.
__attribute__((target("avx2")))
static inline __m256i dot32_avx2(__m256i wv, __m256i xv) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i aw = _mm256_sign_epi8(wv, wv);
    __m256i sx = _mm256_sign_epi8(xv, wv);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), ones);
}

__attribute__((target("avx2,avxvnni")))
static inline __m256i dot32_avxvnni(__m256i wv, __m256i xv) {
    __m256i aw = _mm256_sign_epi8(wv, wv);
    __m256i sx = _mm256_sign_epi8(xv, wv);
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), aw, sx);
}

__attribute__((target("avx2,avx512vnni,avx512vl")))
static inline __m256i dot32_avx512vnni(__m256i wv, __m256i xv) {
    __m256i aw = _mm256_sign_epi8(wv, wv);
    __m256i sx = _mm256_sign_epi8(xv, wv);
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, sx);
}

__attribute__((target("avx2,fma,f16c")))
static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

// Four weight rows against one token at a time: the 4 rows (4 x cols bytes) stay in L1
// while every token of the chunk streams past them.
#define DEFINE_MATMUL(NAME, TARGET, DOT)                                                                       \
__attribute__((target(TARGET)))                                                                               \
static void NAME(const int8_t *w, const uint16_t *ws, int cols, const int8_t *x, const float *xs,            \
                 int tokens, float *out, int ldo, int row0, int row1) {                                      \
    int nb = cols / 32;                                                                                       \
    int r = row0;                                                                                             \
    for (; r + 4 <= row1; r += 4) {                                                                           \
        const int8_t *w0 = w + (long)r * cols, *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;            \
        const uint16_t *s0 = ws + (long)r * nb, *s1 = s0 + nb, *s2 = s1 + nb, *s3 = s2 + nb;                 \
        for (int t = 0; t < tokens; t++) {                                                                    \
            const int8_t *xt = x + (long)t * cols;                                                            \
            const float *xst = xs + (long)t * nb;                                                             \
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                       \
            for (int b = 0; b < nb; b++) {                                                                    \
                __m256i xv = _mm256_loadu_si256((const __m256i *)(xt + b * 32));                              \
                __m256 dx = _mm256_set1_ps(xst[b]);                                                           \
                __m256 d0 = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(s0[b])), dx);                              \
                __m256 d1 = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(s1[b])), dx);                              \
                __m256 d2 = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(s2[b])), dx);                              \
                __m256 d3 = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(s3[b])), dx);                              \
                a0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(DOT(_mm256_loadu_si256((const __m256i *)(w0 + b * 32)), xv)), a0); \
                a1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(DOT(_mm256_loadu_si256((const __m256i *)(w1 + b * 32)), xv)), a1); \
                a2 = _mm256_fmadd_ps(d2, _mm256_cvtepi32_ps(DOT(_mm256_loadu_si256((const __m256i *)(w2 + b * 32)), xv)), a2); \
                a3 = _mm256_fmadd_ps(d3, _mm256_cvtepi32_ps(DOT(_mm256_loadu_si256((const __m256i *)(w3 + b * 32)), xv)), a3); \
            }                                                                                                 \
            float *o = out + (long)t * ldo + r;                                                               \
            o[0] = hsum256(a0); o[1] = hsum256(a1); o[2] = hsum256(a2); o[3] = hsum256(a3);                  \
        }                                                                                                     \
    }                                                                                                         \
    if (r < row1) matmul_portable(w, ws, cols, x, xs, tokens, out, ldo, r, row1);                            \
}

DEFINE_MATMUL(matmul_avx2, "avx2,fma,f16c", dot32_avx2)
DEFINE_MATMUL(matmul_avxvnni, "avx2,fma,f16c,avxvnni", dot32_avxvnni)
DEFINE_MATMUL(matmul_avx512vnni, "avx2,fma,f16c,avx512vnni,avx512vl", dot32_avx512vnni)
#endif

int prism_best_kernel(void) {
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

void prism_q8q8_matmul(int kernel, const int8_t *w, const uint16_t *ws, int cols, const int8_t *x, const float *xs,
                       int tokens, float *out, int ldo, int row0, int row1) {
#ifdef PRISM_X86
    // Never run a kernel the CPU lacks, whatever the caller asked for.
    int best = prism_best_kernel();
    if (kernel > best) kernel = best;
    switch (kernel) {
    case PRISM_KERNEL_AVX512VNNI: matmul_avx512vnni(w, ws, cols, x, xs, tokens, out, ldo, row0, row1); return;
    case PRISM_KERNEL_AVXVNNI: matmul_avxvnni(w, ws, cols, x, xs, tokens, out, ldo, row0, row1); return;
    case PRISM_KERNEL_AVX2: matmul_avx2(w, ws, cols, x, xs, tokens, out, ldo, row0, row1); return;
    default: break;
    }
#endif
    matmul_portable(w, ws, cols, x, xs, tokens, out, ldo, row0, row1);
}
