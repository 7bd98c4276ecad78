// Weight quantization for `prism convert` (int8 per block, f16 scales), its inverse for the
// dequantizing routes, and the finite check run before quantizing. Element loops that Swift's
// generic SIMD conversions (Float <-> Int8, Float16) compile to scalar calls: written as plain
// C loops, which clang vectorizes at -O3.
#include "prism_weight_quant.h"
#include "prism_cpu.h"
#include "prism_half.h"
#include <string.h>

// The quantizer's output (quants, scales and the error statistics written into the .prism file)
// must not depend on the kernel: no multiply-add is ever fused, here or in the vector loop.
#pragma STDC FP_CONTRACT OFF
// GCC ignores the standard pragma and fuses by default (-ffp-contract=fast) where the target has
// an FMA: on aarch64 it made the portable loop's `v - r * scale` and `e2 += e * e` multiply-adds,
// and would fuse the NEON loop's vmulq/vsubq (plain C operators in its arm_neon.h) as it pleased.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

// One block of n <= block values: its f16 scale, its quants, and its float error sums added to
// the row's doubles in block order. The reference every vector loop must equal bit for bit.
// Returns 1 when max|x| / 127 is beyond f16 (scale clamped to 65504), else 0.
static int quantize_block_portable(const float *x, int n, int8_t *q, uint16_t *scale_out,
                                   double *sq_err, double *sq, double *max_err) {
    int overflowed = 0;
    float amax = 0;
    for (int i = 0; i < n; i++) { float a = __builtin_fabsf(x[i]); amax = a > amax ? a : amax; }
    _Float16 s16 = (_Float16)(amax / 127.0f);   // round to nearest even, as Swift's Float16(_:)
    // Beyond 65504 the f16 scale would be inf and every quant of the block 0 or NaN.
    if (__builtin_isinf((float)s16)) { s16 = (_Float16)65504.0f; overflowed = 1; }
    __builtin_memcpy(scale_out, &s16, 2);
    float scale = prism_half_to_float(*scale_out);
    float inv = scale > 0 ? 1.0f / scale : 0.0f;
    float e2 = 0, v2 = 0, em = 0;
    for (int i = 0; i < n; i++) {
        float v = x[i];
        float r = __builtin_rintf(v * inv);
        r = r > 127 ? 127 : (r < -127 ? -127 : r);
        q[i] = (int8_t)r;
        float e = v - r * scale;
        e2 += e * e;
        v2 += v * v;
        float ae = __builtin_fabsf(e);
        em = ae > em ? ae : em;
    }
    *sq_err += e2;
    *sq += v2;
    *max_err = em > *max_err ? em : *max_err;
    return overflowed;
}

// Blocks from column c0 (block b) to the end of the row, one at a time; the row's sums go on.
static int quantize_blocks_portable(const float *x, int cols, int block, int c0, int b, int8_t *q, uint16_t *scales,
                                    double *sq_err, double *sq, double *max_err) {
    int overflowed = 0;
    for (; c0 < cols; c0 += block, b++) {
        int n = cols - c0 < block ? cols - c0 : block;
        overflowed += quantize_block_portable(x + c0, n, q + c0, scales + b, sq_err, sq, max_err);
    }
    return overflowed;
}

// A row's error sums added to the caller's statistics.
static void add_row_stats(double *stats, double sq_err, double sq, double max_err) {
    stats[0] += sq_err;
    stats[1] += sq;
    if (max_err > stats[2]) stats[2] = max_err;
}

static int quantize_row_portable(const float *x, int cols, int block, int8_t *q, uint16_t *scales, double *stats) {
    double sq_err = 0, sq = 0, max_err = 0;
    int overflowed = quantize_blocks_portable(x, cols, block, 0, 0, q, scales, &sq_err, &sq, &max_err);
    add_row_stats(stats, sq_err, sq, max_err);
    return overflowed;
}

#if defined(__x86_64__)
#include <immintrin.h>

// The vector loop takes blocks whose size is a multiple of 8, up to this (a transposed group of 8
// blocks, 8 * 256 floats, lives on the stack); other sizes take the portable loop.
#define PRISM_Q8_MAX_VECTOR_BLOCK 256

// r[k] <- column k of the 8x8 matrix whose rows are r[0..7].
__attribute__((target("avx2")))
static inline void transpose8x8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)), u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)), u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20); r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20); r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31); r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31); r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// rint(v * inv) clamped to [-127, 127], as the portable loop computes it (round_ps to nearest
// even is rintf in the default rounding mode; the values are never NaN, so min/max equal its
// comparisons).
__attribute__((target("avx2")))
static inline __m256 quant_value(__m256 v, __m256 inv) {
    __m256 r = _mm256_round_ps(_mm256_mul_ps(v, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
}

// 32 int32 quants (four vectors, in order) to 32 bytes.
__attribute__((target("avx2")))
static inline void store_quants32(int8_t *q, __m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    // packs work within 128-bit lanes: dwords come out as a0 b0 c0 d0 | a1 b1 c1 d1.
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, p);
}

// Eight consecutive full blocks of `block` values (a multiple of 8, at most
// PRISM_Q8_MAX_VECTOR_BLOCK). The statistics need each block's float sums in element order, so
// the group is transposed: lane j of every vector is block j, and each lane runs the portable
// loop's exact sequence of operations. The quants are then computed again in memory order.
__attribute__((target("avx2,f16c")))
static int quantize_8_blocks_avx2(const float *x, int block, int8_t *q, uint16_t *scales,
                                  double *sq_err, double *sq, double *max_err) {
    float xt[8 * PRISM_Q8_MAX_VECTOR_BLOCK] __attribute__((aligned(32)));   // xt[8 i + j] = x[j block + i]
    for (int i0 = 0; i0 < block; i0 += 8) {
        __m256 r[8];
        for (int j = 0; j < 8; j++) r[j] = _mm256_loadu_ps(x + j * block + i0);
        transpose8x8(r);
        for (int k = 0; k < 8; k++) _mm256_store_ps(xt + 8 * (i0 + k), r[k]);
    }
    const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps();
    __m256 amax = zero;
    for (int i = 0; i < block; i++) amax = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_load_ps(xt + 8 * i)), amax);
    __m128i h = _mm256_cvtps_ph(_mm256_div_ps(amax, _mm256_set1_ps(127.0f)), _MM_FROUND_TO_NEAREST_INT);
    // amax / 127 is >= 0, so an f16 inf is 0x7c00: clamped to 65504 (0x7bff), as the portable loop does.
    __m128i inf = _mm_cmpeq_epi16(h, _mm_set1_epi16(0x7c00));
    int overflowed = __builtin_popcount((unsigned)_mm_movemask_epi8(inf)) / 2;
    h = _mm_blendv_epi8(h, _mm_set1_epi16(0x7bff), inf);
    _mm_storeu_si128((__m128i *)scales, h);
    __m256 scale = _mm256_cvtph_ps(h);
    __m256 inv = _mm256_and_ps(_mm256_div_ps(_mm256_set1_ps(1.0f), scale), _mm256_cmp_ps(scale, zero, _CMP_GT_OQ));
    __m256 e2 = zero, v2 = zero, em = zero;
    for (int i = 0; i < block; i++) {
        __m256 v = _mm256_load_ps(xt + 8 * i);
        __m256 e = _mm256_sub_ps(v, _mm256_mul_ps(quant_value(v, inv), scale));
        e2 = _mm256_add_ps(e2, _mm256_mul_ps(e, e));
        v2 = _mm256_add_ps(v2, _mm256_mul_ps(v, v));
        em = _mm256_max_ps(_mm256_andnot_ps(sign, e), em);
    }
    float le2[8], lv2[8], lem[8];
    _mm256_storeu_ps(le2, e2); _mm256_storeu_ps(lv2, v2); _mm256_storeu_ps(lem, em);
    for (int j = 0; j < 8; j++) {   // into the row's doubles in block order, as the portable loop adds
        *sq_err += le2[j];
        *sq += lv2[j];
        *max_err = lem[j] > *max_err ? lem[j] : *max_err;
    }
    if (block % 32 == 0) {
        for (int j = 0; j < 8; j++) {
            __m256 invj = _mm256_permutevar8x32_ps(inv, _mm256_set1_epi32(j));
            const float *xb = x + j * block;
            int8_t *qb = q + j * block;
            for (int i = 0; i < block; i += 32) {
                store_quants32(qb + i, _mm256_cvtps_epi32(quant_value(_mm256_loadu_ps(xb + i), invj)),
                               _mm256_cvtps_epi32(quant_value(_mm256_loadu_ps(xb + i + 8), invj)),
                               _mm256_cvtps_epi32(quant_value(_mm256_loadu_ps(xb + i + 16), invj)),
                               _mm256_cvtps_epi32(quant_value(_mm256_loadu_ps(xb + i + 24), invj)));
            }
        }
    } else {
        for (int j = 0; j < 8; j++) {
            __m256 invj = _mm256_permutevar8x32_ps(inv, _mm256_set1_epi32(j));
            for (int i = 0; i < block; i += 8) {
                __m256i r = _mm256_cvtps_epi32(quant_value(_mm256_loadu_ps(x + j * block + i), invj));
                __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
                _mm_storel_epi64((__m128i *)(q + j * block + i), _mm_packs_epi16(p, p));
            }
        }
    }
    return overflowed;
}

// The portable row loop with groups of 8 full blocks done by the vector loop: same block order,
// same double sums, so the same bits.
__attribute__((target("avx2,f16c")))
static int quantize_row_avx2(const float *x, int cols, int block, int8_t *q, uint16_t *scales, double *stats) {
    double sq_err = 0, sq = 0, max_err = 0;
    int overflowed = 0, c0 = 0, b = 0;
    for (; c0 + 8 * block <= cols; c0 += 8 * block, b += 8)
        overflowed += quantize_8_blocks_avx2(x + c0, block, q + c0, scales + b, &sq_err, &sq, &max_err);
    overflowed += quantize_blocks_portable(x, cols, block, c0, b, q, scales, &sq_err, &sq, &max_err);
    add_row_stats(stats, sq_err, sq, max_err);
    return overflowed;
}
#endif

#if defined(__aarch64__)
#include "prism_arm.h"

// The NEON loop takes blocks whose size is a multiple of 4 (any length: the groups are transposed
// in registers, 4 x 4 at a time, with no buffer); others take the portable loop.

// r[k] <- column k of the 4x4 matrix whose rows are r[0..3].
static inline void transpose4x4(float32x4_t r[4]) {
    float32x4_t t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
    float32x4_t t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
    r[0] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    r[1] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
    r[2] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    r[3] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
}

// rint(v * inv) clamped to [-127, 127], as the portable loop computes it: frintn rounds to
// nearest even, which is rintf (frintx) in the default rounding mode; the values are never NaN
// (x is finite, inv is finite), so fmin/fmax equal its comparisons.
static inline float32x4_t quant_value_neon(float32x4_t v, float32x4_t inv) {
    float32x4_t r = vrndnq_f32(vmulq_f32(v, inv));
    return vminq_f32(vmaxq_f32(r, vdupq_n_f32(-127.0f)), vdupq_n_f32(127.0f));
}

// Quants (integral floats in [-127, 127], so the conversion is exact) to bytes.
static inline int8x8_t narrow_quants8(float32x4_t a, float32x4_t b) {
    return vmovn_s16(vcombine_s16(vmovn_s32(vcvtq_s32_f32(a)), vmovn_s32(vcvtq_s32_f32(b))));
}

// Four consecutive full blocks of `block` values (a multiple of 4). max |x| is exact in any order,
// so it is taken in memory order; the statistics need each block's float sums in element order,
// so lane j of every vector is block j (4 x 4 transposes) and runs the portable loop's exact
// sequence of operations. The quants are then computed again in memory order.
static int quantize_4_blocks_neon(const float *x, int block, int8_t *q, uint16_t *scales,
                                  double *sq_err, double *sq, double *max_err) {
    float am[4];
    for (int j = 0; j < 4; j++) {
        float32x4_t a = vdupq_n_f32(0);
        for (int i = 0; i < block; i += 4) a = vmaxq_f32(vabsq_f32(vld1q_f32(x + j * block + i)), a);
        am[j] = vmaxvq_f32(a);
    }
    // fcvtn rounds to nearest even (the default FPCR mode), as the portable (_Float16) cast; an
    // amax / 127 beyond f16 becomes inf (0x7c00, it is >= 0): clamped to 65504 (0x7bff) and counted.
    uint16x4_t h = vreinterpret_u16_f16(vcvt_f16_f32(vdivq_f32(vld1q_f32(am), vdupq_n_f32(127.0f))));
    uint16x4_t inf = vceq_u16(h, vdup_n_u16(0x7c00));
    int overflowed = vaddv_u16(vand_u16(inf, vdup_n_u16(1)));
    h = vbsl_u16(inf, vdup_n_u16(0x7bff), h);
    vst1_u16(scales, h);
    float32x4_t scale = vcvt_f32_f16(vreinterpret_f16_u16(h));
    uint32x4_t positive = vcgtq_f32(scale, vdupq_n_f32(0));
    float32x4_t inv = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(vdivq_f32(vdupq_n_f32(1.0f), scale)), positive));
    float32x4_t e2 = vdupq_n_f32(0), v2 = vdupq_n_f32(0), em = vdupq_n_f32(0);
    for (int i0 = 0; i0 < block; i0 += 4) {
        float32x4_t r[4];
        for (int j = 0; j < 4; j++) r[j] = vld1q_f32(x + j * block + i0);
        transpose4x4(r);
        for (int k = 0; k < 4; k++) {
            float32x4_t v = r[k];
            float32x4_t e = vsubq_f32(v, vmulq_f32(quant_value_neon(v, inv), scale));
            e2 = vaddq_f32(e2, vmulq_f32(e, e));
            v2 = vaddq_f32(v2, vmulq_f32(v, v));
            em = vmaxq_f32(vabsq_f32(e), em);
        }
    }
    float le2[4], lv2[4], lem[4], linv[4];
    vst1q_f32(le2, e2); vst1q_f32(lv2, v2); vst1q_f32(lem, em); vst1q_f32(linv, inv);
    for (int j = 0; j < 4; j++) {   // into the row's doubles in block order, as the portable loop adds
        *sq_err += le2[j];
        *sq += lv2[j];
        *max_err = lem[j] > *max_err ? lem[j] : *max_err;
    }
    for (int j = 0; j < 4; j++) {
        float32x4_t invj = vdupq_n_f32(linv[j]);
        const float *xb = x + j * block;
        int8_t *qb = q + j * block;
        int i = 0;
        for (; i + 16 <= block; i += 16) {
            int8x8_t lo = narrow_quants8(quant_value_neon(vld1q_f32(xb + i), invj), quant_value_neon(vld1q_f32(xb + i + 4), invj));
            int8x8_t hi = narrow_quants8(quant_value_neon(vld1q_f32(xb + i + 8), invj), quant_value_neon(vld1q_f32(xb + i + 12), invj));
            vst1q_s8(qb + i, vcombine_s8(lo, hi));
        }
        for (; i < block; i += 4) {   // 4, 8 or 12 left
            float32x4_t r = quant_value_neon(vld1q_f32(xb + i), invj);
            int32_t four = vget_lane_s32(vreinterpret_s32_s8(narrow_quants8(r, r)), 0);
            memcpy(qb + i, &four, 4);   // 4 bytes at any alignment
        }
    }
    return overflowed;
}

// The portable row loop with groups of 4 full blocks done by the vector loop: same block order,
// same double sums, so the same bits.
static int quantize_row_neon(const float *x, int cols, int block, int8_t *q, uint16_t *scales, double *stats) {
    double sq_err = 0, sq = 0, max_err = 0;
    int overflowed = 0, c0 = 0, b = 0;
    for (; c0 + 4 * block <= cols; c0 += 4 * block, b += 4)
        overflowed += quantize_4_blocks_neon(x + c0, block, q + c0, scales + b, &sq_err, &sq, &max_err);
    overflowed += quantize_blocks_portable(x, cols, block, c0, b, q, scales, &sq_err, &sq, &max_err);
    add_row_stats(stats, sq_err, sq, max_err);
    return overflowed;
}
#endif

// The vector loop prism_quantize_weight_row_kernel runs for `kernel` and `block`, or NULL for the
// portable one.
static const char *quantize_vector_loop(int kernel, int block) {
#if defined(__x86_64__)
    if (kernel >= PRISM_KERNEL_AVX2 && prism_best_kernel() >= PRISM_KERNEL_AVX2 && block > 0 && block % 8 == 0 &&
        block <= PRISM_Q8_MAX_VECTOR_BLOCK)
        return "avx2";
#elif defined(__aarch64__)
    if (prism_runnable_kernel(kernel) >= PRISM_KERNEL_NEON && block > 0 && block % 4 == 0) return "neon";
#else
    (void)kernel; (void)block;
#endif
    return NULL;
}

const char *prism_quantize_weight_row_loop(int kernel, int block) {
    const char *name = quantize_vector_loop(kernel, block);
    return name ? name : "portable";
}

int prism_quantize_weight_row_kernel(int kernel, const float *x, int cols, int block, int8_t *q, uint16_t *scales, double *stats) {
    if (quantize_vector_loop(kernel, block)) {
#if defined(__x86_64__)
        return quantize_row_avx2(x, cols, block, q, scales, stats);
#elif defined(__aarch64__)
        return quantize_row_neon(x, cols, block, q, scales, stats);
#endif
    }
    return quantize_row_portable(x, cols, block, q, scales, stats);
}

int prism_quantize_weight_row(const float *x, int cols, int block, int8_t *q, uint16_t *scales, double *stats) {
    return prism_quantize_weight_row_kernel(prism_best_kernel(), x, cols, block, q, scales, stats);
}

// bf16 bits to f32 (a 16-bit shift) and whether each is NaN or inf (exponent all ones), in one
// pass: `prism convert` widens and checks every source row of a bf16 checkpoint.
static long bf16_widen_portable(const uint16_t *src, float *dst, long n) {
    long bad = 0;
    for (long i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)src[i] << 16;
        __builtin_memcpy(&dst[i], &bits, 4);
        bad += (src[i] & 0x7f80u) == 0x7f80u;
    }
    return bad;
}

#if defined(__x86_64__)
__attribute__((target("avx2")))
static long bf16_widen_avx2(const uint16_t *src, float *dst, long n) {
    const __m256i expo = _mm256_set1_epi16(0x7f80);
    __m256i any = _mm256_setzero_si256();
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i h = _mm256_loadu_si256((const __m256i *)(src + i));
        any = _mm256_or_si256(any, _mm256_cmpeq_epi16(_mm256_and_si256(h, expo), expo));
        __m256i a = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(h)), 16);
        __m256i b = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(h, 1)), 16);
        _mm256_storeu_si256((__m256i *)(dst + i), a);
        _mm256_storeu_si256((__m256i *)(dst + i + 8), b);
    }
    long bad = bf16_widen_portable(src + i, dst + i, n - i);
    // NaN and inf are rare: counted again by the portable loop only when there are some.
    if (!_mm256_testz_si256(any, any)) bad += bf16_widen_portable(src, dst, i);
    return bad;
}
#endif

long prism_bf16_widen_count_non_finite(int kernel, const uint16_t *src, float *dst, long n) {
#if defined(__x86_64__)
    if (kernel >= PRISM_KERNEL_AVX2 && prism_best_kernel() >= PRISM_KERNEL_AVX2) return bf16_widen_avx2(src, dst, n);
#endif
    return bf16_widen_portable(src, dst, n);
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
