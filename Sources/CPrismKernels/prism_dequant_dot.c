// The fp32-activation product with int8 weights, dequantized in registers: the decode steps'
// few tokens and the exact rows (W_O, W_down rows the prisms split), bound by reading the
// weights once.
#include "prism_dequant_dot.h"
#include "prism_cpu.h"
#include "prism_half.h"
#include <math.h>

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

#if defined(__aarch64__)
#include "prism_arm.h"
// Bit for bit the portable loop below: lane i of a vector is row i of a quad, and runs its exact
// sequence, part = fma(q, x, part) over the block's 32 values in order, then acc = fma(part,
// scale, acc). The four rows' bytes are interleaved (zip) so that one vector holds a value of
// each row. A quad's sum is a chain of dependent fmas, so two quads run side by side; each row
// of a quad comes from one quarter of the range (four long sequential streams, as on x86).

// The 32 values of block b of four rows (q[i]), interleaved and widened, into part (4 rows).
static inline float32x4_t block_part_neon(const int8_t *const *q, const float *xb) {
    float32x4_t part = vdupq_n_f32(0);
    for (int h = 0; h < 32; h += 16) {
        int8x16_t a = vld1q_s8(q[0] + h), b = vld1q_s8(q[1] + h), c = vld1q_s8(q[2] + h), d = vld1q_s8(q[3] + h);
        int16x8_t ab0 = vreinterpretq_s16_s8(vzip1q_s8(a, b)), ab1 = vreinterpretq_s16_s8(vzip2q_s8(a, b));
        int16x8_t cd0 = vreinterpretq_s16_s8(vzip1q_s8(c, d)), cd1 = vreinterpretq_s16_s8(vzip2q_s8(c, d));
        // g[k]: values 4k..4k+3 of the half, each as the four rows' bytes side by side.
        int8x16_t g[4] = {vreinterpretq_s8_s16(vzip1q_s16(ab0, cd0)), vreinterpretq_s8_s16(vzip2q_s16(ab0, cd0)),
                          vreinterpretq_s8_s16(vzip1q_s16(ab1, cd1)), vreinterpretq_s8_s16(vzip2q_s16(ab1, cd1))};
        for (int k = 0; k < 4; k++) {
            float32x4_t xv = vld1q_f32(xb + h + 4 * k);
            int16x8_t lo = vmovl_s8(vget_low_s8(g[k])), hi = vmovl_high_s8(g[k]);
            part = vfmaq_laneq_f32(part, vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), xv, 0);
            part = vfmaq_laneq_f32(part, vcvtq_f32_s32(vmovl_high_s16(lo)), xv, 1);
            part = vfmaq_laneq_f32(part, vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), xv, 2);
            part = vfmaq_laneq_f32(part, vcvtq_f32_s32(vmovl_high_s16(hi)), xv, 3);
        }
    }
    return part;
}

// Two quads (rows rows[0..3] and rows[4..7]) over every block; out[rows[i]] their sums.
static void quads_dot_neon(const int8_t *q, const uint16_t *scales, int cols, int nb, const float *x, const long *rows, float *out) {
    const int8_t *qr[8];
    for (int i = 0; i < 8; i++) qr[i] = q + rows[i] * cols;
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    for (int b = 0; b < nb; b++) {
        const int8_t *q0[4] = {qr[0] + b * 32, qr[1] + b * 32, qr[2] + b * 32, qr[3] + b * 32};
        const int8_t *q1[4] = {qr[4] + b * 32, qr[5] + b * 32, qr[6] + b * 32, qr[7] + b * 32};
        float s0[4], s1[4];
        for (int i = 0; i < 4; i++) {
            s0[i] = prism_half_to_float_neon(scales[rows[i] * nb + b]);
            s1[i] = prism_half_to_float_neon(scales[rows[4 + i] * nb + b]);
        }
        float32x4_t p0 = block_part_neon(q0, x + b * 32), p1 = block_part_neon(q1, x + b * 32);
        acc0 = vfmaq_f32(acc0, p0, vld1q_f32(s0));
        acc1 = vfmaq_f32(acc1, p1, vld1q_f32(s1));
    }
    float o[8];
    vst1q_f32(o, acc0);
    vst1q_f32(o + 4, acc1);
    for (int i = 0; i < 8; i++) out[rows[i]] = o[i];
}

// Rows [row0, row0 + 4 quarter) in quads, two at a time (an odd last quad paired with itself);
// returns the first row left for the portable loop.
static int rows_dot_neon(const int8_t *q, const uint16_t *scales, int cols, const float *x, int row0, int row1, float *out) {
    int nb = cols / 32;
    int quarter = (row1 - row0) / 4;
    for (int rr = row0; rr < row0 + quarter; rr += 2) {
        int second = rr + 1 < row0 + quarter ? rr + 1 : rr;
        long rows[8];
        for (int i = 0; i < 4; i++) {
            rows[i] = rr + (long)i * quarter;
            rows[4 + i] = second + (long)i * quarter;
        }
        quads_dot_neon(q, scales, cols, nb, x, rows, out);
    }
    return row0 + 4 * quarter;
}
#endif

// a * b + c as the portable loop computes it. On aarch64, fused: what GCC and clang emit there
// anyway (they contract `part += q * x`), written out so the NEON kernel can follow it exactly
// whatever the compiler's contraction setting. Elsewhere two roundings, as before (no FMA on
// baseline x86-64).
#if defined(__aarch64__)
#define PORTABLE_MULADD(a, b, c) fmaf((a), (b), (c))
#else
#define PORTABLE_MULADD(a, b, c) ((c) + (a) * (b))
#endif

void prism_q8_rows_dot_f32(int kernel, const int8_t *q, const uint16_t *scales, int cols, int block, const float *x,
                           int row0, int row1, float *out) {
#if defined(__x86_64__)
    if (block == 32 && cols % 32 == 0 && kernel >= PRISM_KERNEL_AVX2 && prism_best_kernel() >= PRISM_KERNEL_AVX2) {
        rows_dot_avx2(q, scales, cols, x, row0, row1, out);
        return;
    }
#endif
#if defined(__aarch64__)
    if (block == 32 && cols % 32 == 0 && prism_runnable_kernel(kernel) >= PRISM_KERNEL_NEON)
        row0 = rows_dot_neon(q, scales, cols, x, row0, row1, out);
#endif
    int nb = (cols + block - 1) / block;
    for (int r = row0; r < row1; r++) {
        const int8_t *qr = q + (long)r * cols;
        float acc = 0;
        for (int c0 = 0, b = 0; c0 < cols; c0 += block, b++) {
            int n = cols - c0 < block ? cols - c0 : block;
            float part = 0;
            for (int i = 0; i < n; i++) part = PORTABLE_MULADD((float)qr[c0 + i], x[c0 + i], part);
            acc = PORTABLE_MULADD(part, prism_half_to_float(scales[(long)r * nb + b]), acc);
        }
        out[r] = acc;
    }
}
