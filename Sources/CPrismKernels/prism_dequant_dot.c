// The fp32-activation product with int8 weights, dequantized in registers: the decode steps'
// few tokens and the exact rows (W_O, W_down rows the prisms split), bound by reading the
// weights once.
#include "prism_dequant_dot.h"
#include "prism_cpu.h"
#include "prism_half.h"

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

void prism_q8_rows_dot_f32(int kernel, const int8_t *q, const uint16_t *scales, int cols, int block, const float *x,
                           int row0, int row1, float *out) {
#if defined(__x86_64__)
    if (block == 32 && cols % 32 == 0 && kernel >= PRISM_KERNEL_AVX2 && prism_best_kernel() >= PRISM_KERNEL_AVX2) {
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
