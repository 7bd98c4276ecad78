// Element loops that Swift's generic SIMD conversions (Float <-> Int8, Float16) compile to
// scalar calls: written as plain C loops, which clang vectorizes at -O3.
#include "prism_kernels.h"
#include "prism_half.h"
#include <string.h>


int prism_quantize_weight_row(const float *x, int cols, int block, int8_t *q, uint16_t *scales, double *stats) {
    double sq_err = 0, sq = 0, max_err = 0;
    int overflowed = 0;
    for (int c0 = 0, b = 0; c0 < cols; c0 += block, b++) {
        int n = cols - c0 < block ? cols - c0 : block;
        float amax = 0;
        for (int i = 0; i < n; i++) { float a = __builtin_fabsf(x[c0 + i]); amax = a > amax ? a : amax; }
        _Float16 s16 = (_Float16)(amax / 127.0f);   // round to nearest even, as Swift's Float16(_:)
        // Beyond 65504 the f16 scale would be inf and every quant of the block 0 or NaN.
        if (__builtin_isinf((float)s16)) { s16 = (_Float16)65504.0f; overflowed++; }
        __builtin_memcpy(&scales[b], &s16, 2);
        float scale = prism_half_to_float(scales[b]);
        float inv = scale > 0 ? 1.0f / scale : 0.0f;
        float e2 = 0, v2 = 0, em = 0;
        for (int i = 0; i < n; i++) {
            float v = x[c0 + i];
            float r = __builtin_rintf(v * inv);
            r = r > 127 ? 127 : (r < -127 ? -127 : r);
            q[c0 + i] = (int8_t)r;
            float e = v - r * scale;
            e2 += e * e;
            v2 += v * v;
            float ae = __builtin_fabsf(e);
            em = ae > em ? ae : em;
        }
        sq_err += e2;
        sq += v2;
        max_err = em > max_err ? em : max_err;
    }
    stats[0] += sq_err;
    stats[1] += sq;
    if (max_err > stats[2]) stats[2] = max_err;
    return overflowed;
}

long prism_count_non_finite(const float *x, long n, long *first, long *nans) {
    long count = 0, nan = 0, at = -1;
    for (long i = 0; i < n; i++) {
        uint32_t bits;
        __builtin_memcpy(&bits, &x[i], 4);
        // Exponent all ones: inf (mantissa 0) or NaN. Integer test, so it vectorizes under -O3.
        int bad = (bits & 0x7f800000u) == 0x7f800000u;
        count += bad;
        nan += bad & ((bits & 0x007fffffu) != 0);
    }
    if (count > 0) {
        for (long i = 0; i < n; i++) {
            if (!__builtin_isfinite(x[i])) { at = i; break; }
        }
    }
    *first = at;
    *nans = nan;
    return count;
}

void prism_q8_dequantize_row(const int8_t *q, const uint16_t *scales, int cols, int block, float *out) {
    for (int c0 = 0, b = 0; c0 < cols; c0 += block, b++) {
        int n = cols - c0 < block ? cols - c0 : block;
        float s = prism_half_to_float(scales[b]);
        for (int i = 0; i < n; i++) out[c0 + i] = (float)q[c0 + i] * s;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
// Blocks of 32: four groups of 8 int8 widened to int32 then float, multiplied into 8 lanes.
// Four rows at a time, taken from the four quarters of the range: four long sequential
// streams for the prefetchers (this loop is bound by reading the weights).
__attribute__((target("avx2,fma,f16c")))
static inline __m256 block_dot_avx2(const int8_t *qb, const float *xb) {
    __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)qb))), _mm256_loadu_ps(xb));
    p = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(qb + 8)))), _mm256_loadu_ps(xb + 8), p);
    p = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(qb + 16)))), _mm256_loadu_ps(xb + 16), p);
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(qb + 24)))), _mm256_loadu_ps(xb + 24), p);
}

__attribute__((target("avx2,fma,f16c")))
static inline float hsum_avx2(__m256 acc) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

__attribute__((target("avx2,fma,f16c")))
static void rows_dot_avx2(const int8_t *q, const uint16_t *scales, int cols, const float *x, int row0, int row1, float *out) {
    int nb = cols / 32;
    int quarter = (row1 - row0) / 4;
    for (int rr = row0; rr < row0 + quarter; rr++) {
        const int8_t *qr[4];
        const uint16_t *sr[4];
        for (int i = 0; i < 4; i++) {
            qr[i] = q + (long)(rr + i * quarter) * cols;
            sr[i] = scales + (long)(rr + i * quarter) * nb;
        }
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
        for (int b = 0; b < nb; b++)
            for (int i = 0; i < 4; i++)
                acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(sr[i][b])), block_dot_avx2(qr[i] + b * 32, x + b * 32), acc[i]);
        for (int i = 0; i < 4; i++) out[rr + i * quarter] = hsum_avx2(acc[i]);
    }
    for (int r = row0 + 4 * quarter; r < row1; r++) {
        const int8_t *qr = q + (long)r * cols;
        const uint16_t *sr = scales + (long)r * nb;
        __m256 acc = _mm256_setzero_ps();
        for (int b = 0; b < nb; b++) acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(sr[b])), block_dot_avx2(qr + b * 32, x + b * 32), acc);
        out[r] = hsum_avx2(acc);
    }
}
#endif

void prism_q8_rows_dot_f32(const int8_t *q, const uint16_t *scales, int cols, int block, const float *x,
                           int row0, int row1, float *out) {
#if defined(__x86_64__)
    if (block == 32 && cols % 32 == 0 && prism_best_kernel() >= PRISM_KERNEL_AVX2) {
        rows_dot_avx2(q, scales, cols, x, row0, row1, out);
        return;
    }
#endif
    int nb = (cols + block - 1) / block;
    for (int r = row0; r < row1; r++) {
        const int8_t *qr = q + (long)r * cols;
        float acc = 0;
        for (int c0 = 0, b = 0; c0 < cols; c0 += block, b++) {
            int n = cols - c0 < block ? cols - c0 : block;
            float part = 0;
            for (int i = 0; i < n; i++) part += (float)qr[c0 + i] * x[c0 + i];
            acc += part * prism_half_to_float(scales[(long)r * nb + b]);
        }
        out[r] = acc;
    }
}

// GELU, tanh form, over n floats: 0.5 x (1 + tanh(y)) = x / (1 + exp(-2y)), y = c (x + 0.044715 x^3).
// libm's tanhf per element was 6% of a prefill; this vector form is within a few ulp of it.
static void gelu_tanh_portable(const float *x, float *out, long n) {
    for (long i = 0; i < n; i++) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + __builtin_tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    }
}

#if defined(__x86_64__)
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

void prism_gelu_tanh(int kernel, const float *x, float *out, long n) {
#if defined(__x86_64__)
    if (kernel >= PRISM_KERNEL_AVX2 && prism_best_kernel() >= PRISM_KERNEL_AVX2) { gelu_tanh_avx2(x, out, n); return; }
#endif
    gelu_tanh_portable(x, out, n);
}
