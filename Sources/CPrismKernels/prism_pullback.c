// The prisms' pull-back U W for int8 block-quantized weights: a panel of rows is widened to
// fp32 once (each block's scale folded in), in a buffer that stays in cache, and every target
// direction then runs at the FMA rate over it (AVX2 + FMA on x86-64, NEON on aarch64; with
// AVX-512 the widening happens in registers instead); no BLAS call. The sums stay fp32 over the stored
// (dequantized) weights: the exact product up to float rounding.
#include "prism_pullback.h"
#include "prism_cpu.h"
#include "prism_half.h"
#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define PRISM_X86 1
#endif
#if defined(__aarch64__)
#include "prism_arm.h"
#endif

// Targets per pass: bounds the portable path's coefficient table (panel rows x this many floats).
#define PB_TARGETS 24

// Rows per panel and columns per widened chunk: each row's 512 bytes are read as one sequential
// run, and the widened chunk (64 x 512 floats, 130 KiB) stays in L2 while every target group
// passes over it; partial sums go to `out` once per panel. Single-thread microbenchmark on a
// 2048 x 16384 matrix, 10 targets: 64 x 512 beat 128 x 64, 64 x 256, 128 x 256, 32 x 512, 32 x 1024.
#define PB_PANEL 64
#define PB_CHUNK 512

// Columns [c0, c1) of rows [0, rows) of a panel, one column at a time (the reference every
// other path is tested against). `first`: write the sums, else add them to `out`.
static void pb_columns_strided(const int8_t *q, long stride, int rows, const float *coef, int ldc, int kc, int c0, int c1,
                               float *out, int ldo, int first) {
    for (int c = c0; c < c1; c++) {
        for (int k = 0; k < kc; k++) {
            float acc = 0;
            for (int r = 0; r < rows; r++) acc += coef[(long)r * ldc + k] * (float)q[(long)r * stride + c];
            out[(long)k * ldo + c] = first ? acc : out[(long)k * ldo + c] + acc;
        }
    }
}

// Floats per widened strip of `rows` rows: one line of padding, so a row's stores to successive
// strips spread over cache sets instead of landing a power of two apart.
#define PB_STRIP(rows) ((long)(rows) * 16 + 16)

// One strip's loop for 1..6 targets, for `pb_strip_groups`.
typedef void (*pb_strip_fn)(const float *p, int rows, const float *ut, int ldut, float *out, int ldo, int first);

// Targets [0, kc) over one widened strip, in groups of up to 6 (AVX2: 12 accumulators, 2 weight
// registers and a broadcast fit in 16; NEON keeps the same groups); 7..10 targets as two even
// groups. `strip[m - 1]` runs m targets.
static void pb_strip_groups(const pb_strip_fn strip[6], const float *p, int rows, const float *ut, int ldut, int kc, float *out,
                            int ldo, int first) {
    for (int k = 0; k < kc;) {
        int m = kc - k;
        if (m > 6) m = m <= 10 ? (m + 1) / 2 : 6;
        strip[m - 1](p, rows, ut + k, ldut, out + (long)k * ldo, ldo, first);
        k += m;
    }
}

#ifdef PRISM_X86

// Widens rows [0, rows) x columns [c0, c0 + 16 * strips) of the int8 weights into fp32 with each
// block's scale folded in: panel[strip][row][16]. Done once per weight, for every target; the
// multiply-adds then read floats (converting inside them, as the first fused kernel did, ran at
// 20 GMAC/s on one core where the float loop alone runs at 45). `next`: bytes of each row to
// prefetch beyond the chunk, into L2 while this chunk's products run.
__attribute__((target("avx2,fma,f16c")))
static void pb_widen(const int8_t *q, long stride, const uint16_t *scales, long nb, int block, int rows, int c0, int strips,
                     float *panel, int next) {
    int b0 = c0 / block, nblk = (c0 + 16 * strips - 1) / block - b0 + 1;
    int bj[PB_CHUNK / 16];   // each strip's block in the chunk, out of the row loop
    for (int j = 0; j < strips; j++) bj[j] = (c0 + 16 * j) / block - b0;
    float sf[PB_CHUNK / 16 + 8];
    for (int r = 0; r < rows; r++) {
        const int8_t *wr = q + (long)r * stride + c0;
        const uint16_t *sr = scales + (long)r * nb + b0;
        for (int b = 0; b < next; b += 64) _mm_prefetch((const char *)(wr + 16 * strips + b), _MM_HINT_T1);
        if (next > 0) _mm_prefetch((const char *)(sr + nblk), _MM_HINT_T1);
        // This row's block scales, 8 at a time (a scalar conversion per strip had chained each
        // strip on the one before through a partial register write).
        int i = 0;
        for (; i + 8 <= nblk; i += 8) _mm256_storeu_ps(sf + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(sr + i))));
        for (; i < nblk; i++) sf[i] = prism_half_to_float(sr[i]);
        for (int j = 0; j < strips; j++) {
            __m256 s = _mm256_broadcast_ss(sf + bj[j]);
            __m128i raw = _mm_loadu_si128((const __m128i *)(wr + 16 * j));
            float *p = panel + (long)j * PB_STRIP(rows) + (long)r * 16;
            _mm256_store_ps(p, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(raw)), s));
            _mm256_store_ps(p + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(raw, 8))), s));
        }
    }
}

// One widened strip of 16 columns x M targets in 2M accumulators: per row two loads and M
// broadcasts of the target coefficients ut[r, k]. `first`: write the sums, else add them to `out`.
#define DEFINE_STRIP(M)                                                                                           \
__attribute__((target("avx2,fma")))                                                                             \
static void pb_strip16_##M(const float *p, int rows, const float *ut, int ldut, float *out, int ldo, int first) {  \
    __m256 a0[M], a1[M];                                                                                         \
    for (int i = 0; i < M; i++) { a0[i] = _mm256_setzero_ps(); a1[i] = _mm256_setzero_ps(); }                    \
    for (int r = 0; r < rows; r++) {                                                                             \
        __m256 w0 = _mm256_load_ps(p + (long)r * 16), w1 = _mm256_load_ps(p + (long)r * 16 + 8);                 \
        const float *cr = ut + (long)r * ldut;                                                                   \
        for (int i = 0; i < M; i++) {                                                                            \
            __m256 cv = _mm256_broadcast_ss(cr + i);                                                             \
            a0[i] = _mm256_fmadd_ps(cv, w0, a0[i]);                                                              \
            a1[i] = _mm256_fmadd_ps(cv, w1, a1[i]);                                                              \
        }                                                                                                        \
    }                                                                                                            \
    for (int i = 0; i < M; i++) {                                                                                \
        float *o = out + (long)i * ldo;                                                                          \
        if (!first) {                                                                                            \
            a0[i] = _mm256_add_ps(a0[i], _mm256_loadu_ps(o));                                                    \
            a1[i] = _mm256_add_ps(a1[i], _mm256_loadu_ps(o + 8));                                                \
        }                                                                                                        \
        _mm256_storeu_ps(o, a0[i]);                                                                              \
        _mm256_storeu_ps(o + 8, a1[i]);                                                                          \
    }                                                                                                            \
}
DEFINE_STRIP(1)
DEFINE_STRIP(2)
DEFINE_STRIP(3)
DEFINE_STRIP(4)
DEFINE_STRIP(5)
DEFINE_STRIP(6)

static void pb_strip_targets(const float *p, int rows, const float *ut, int ldut, int kc, float *out, int ldo, int first) {
    static const pb_strip_fn strip[6] = {pb_strip16_1, pb_strip16_2, pb_strip16_3, pb_strip16_4, pb_strip16_5, pb_strip16_6};
    pb_strip_groups(strip, p, rows, ut, ldut, kc, out, ldo, first);
}

// AVX-512 (with its 32 registers): no widened panel. Each row's 16 or 32 weights of a strip are
// widened in registers (sign-extend, convert, times the row's block scale: the same exact floats
// pb_widen stores) and serve up to 12 targets at once, so a weight is converted once for 10
// targets; the sums run in pb_strip16's order (per column, rows in order from zero, then added to
// `out`), so the results equal the AVX2 loop's bit for bit. One thread, 2048 x 16384 matrices
// streamed from memory, 10 targets: 25 GMAC/s with the widened panel, 37 fused with the prefetch
// below (FMA peak here: 58). `pf` != 0: bytes from each row's weights to the same row's in the
// chunk read next, to prefetch.
#define PB_GROUP512 12
typedef void (*pb_fused_fn)(const int8_t *q, long stride, const uint16_t *sc, long nb, int rows, const float *ut, int ldut,
                            float *out, int ldo, int first, long pf);
#define DEFINE_FUSED512(NW, M)                                                                                    \
__attribute__((target("avx512f,f16c")))                                                                         \
static void pb_fused512_##NW##_##M(const int8_t *q, long stride, const uint16_t *sc, long nb, int rows, const float *ut, \
                                   int ldut, float *out, int ldo, int first, long pf) {                           \
    __m512 a[NW][M];                                                                                             \
    for (int v = 0; v < NW; v++) for (int i = 0; i < M; i++) a[v][i] = _mm512_setzero_ps();                      \
    for (int r = 0; r < rows; r++) {                                                                             \
        const int8_t *wr = q + (long)r * stride;                                                                 \
        if (pf != 0) _mm_prefetch((const char *)(wr + pf), _MM_HINT_T0);                                          \
        __m512 s = _mm512_set1_ps(_cvtsh_ss(sc[(long)r * nb]));                                                  \
        __m512 w[NW];                                                                                            \
        for (int v = 0; v < NW; v++)                                                                             \
            w[v] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(wr + 16 * v)))), s); \
        const float *cr = ut + (long)r * ldut;                                                                   \
        for (int i = 0; i < M; i++) {                                                                            \
            __m512 cv = _mm512_set1_ps(cr[i]);                                                                   \
            for (int v = 0; v < NW; v++) a[v][i] = _mm512_fmadd_ps(cv, w[v], a[v][i]);                           \
        }                                                                                                        \
    }                                                                                                            \
    for (int i = 0; i < M; i++) {                                                                                \
        float *o = out + (long)i * ldo;                                                                          \
        for (int v = 0; v < NW; v++) {                                                                           \
            if (!first) a[v][i] = _mm512_add_ps(a[v][i], _mm512_loadu_ps(o + 16 * v));                           \
            _mm512_storeu_ps(o + 16 * v, a[v][i]);                                                               \
        }                                                                                                        \
    }                                                                                                            \
}
#define DEFINE_FUSED512_ALL(NW) \
    DEFINE_FUSED512(NW, 1) DEFINE_FUSED512(NW, 2) DEFINE_FUSED512(NW, 3) DEFINE_FUSED512(NW, 4) \
    DEFINE_FUSED512(NW, 5) DEFINE_FUSED512(NW, 6) DEFINE_FUSED512(NW, 7) DEFINE_FUSED512(NW, 8) \
    DEFINE_FUSED512(NW, 9) DEFINE_FUSED512(NW, 10) DEFINE_FUSED512(NW, 11) DEFINE_FUSED512(NW, 12)
DEFINE_FUSED512_ALL(1)
DEFINE_FUSED512_ALL(2)

// A chunk's `strips` full strips of 16 columns from c0, two at a time where both lie in one block,
// every target in groups of up to PB_GROUP512 (more than 12: even groups). `ahead`: bytes from
// this chunk to the one read next (the next chunk of the panel, or the next panel's first), 0 if
// none: its lines are prefetched while this chunk's products run.
static void pb_fused512_strips(const int8_t *qp, int cols, const uint16_t *sp, long nb, int block, int rows, int c0, int strips,
                               long ahead, const float *up, int ldut, int kc, float *o, int ldo, int first) {
    static const pb_fused_fn one[PB_GROUP512] = {pb_fused512_1_1, pb_fused512_1_2, pb_fused512_1_3,  pb_fused512_1_4,
                                                 pb_fused512_1_5, pb_fused512_1_6, pb_fused512_1_7,  pb_fused512_1_8,
                                                 pb_fused512_1_9, pb_fused512_1_10, pb_fused512_1_11, pb_fused512_1_12};
    static const pb_fused_fn two[PB_GROUP512] = {pb_fused512_2_1, pb_fused512_2_2, pb_fused512_2_3,  pb_fused512_2_4,
                                                 pb_fused512_2_5, pb_fused512_2_6, pb_fused512_2_7,  pb_fused512_2_8,
                                                 pb_fused512_2_9, pb_fused512_2_10, pb_fused512_2_11, pb_fused512_2_12};
    int groups = (kc + PB_GROUP512 - 1) / PB_GROUP512;
    for (int j = 0; j < strips;) {
        int cc = c0 + 16 * j;
        int pair = j + 1 < strips && cc / block == (cc + 31) / block;
        // One prefetch per 64-byte line of each row, the same line of the chunk read next.
        long pf = (cc - c0) % 64 == 0 ? ahead : 0;
        for (int g = 0, k = 0; g < groups; g++) {
            int m = (kc - k) / (groups - g);
            (pair ? two : one)[m - 1](qp + cc, cols, sp + cc / block, nb, rows, up + k, ldut, o + (long)k * ldo + cc, ldo, first,
                                      g == 0 ? pf : 0);
            k += m;
        }
        j += pair ? 2 : 1;
    }
}
#endif

#if defined(__aarch64__)
// The same structure on aarch64 with Advanced SIMD (part of every AArch64 CPU): the panel widened
// to fp32 once, then strips of 16 columns (four q registers per row) with up to 6 targets in 24
// accumulators; with the 4 weight registers and a broadcast that is 29 of the 32 registers.

// Rows [0, rows) x columns [c0, c0 + 16 * strips) of the int8 weights widened into fp32 with each
// block's scale folded in: panel[strip][row][16], as pb_widen on x86. int8 x an f16 scale is
// exact in fp32, so the panel holds the dequantized weights themselves.
static void pb_widen_neon(const int8_t *q, long stride, const uint16_t *scales, long nb, int block, int rows, int c0, int strips,
                          float *panel, int next) {
    int b0 = c0 / block, nblk = (c0 + 16 * strips - 1) / block - b0 + 1;
    int bj[PB_CHUNK / 16];   // each strip's block in the chunk, out of the row loop
    for (int j = 0; j < strips; j++) bj[j] = (c0 + 16 * j) / block - b0;
    float sf[PB_CHUNK / 16 + 4];
    for (int r = 0; r < rows; r++) {
        const int8_t *wr = q + (long)r * stride + c0;
        const uint16_t *sr = scales + (long)r * nb + b0;
        for (int b = 0; b < next; b += 64) __builtin_prefetch(wr + 16 * strips + b, 0, 2);
        // This row's block scales, 4 at a time.
        int i = 0;
        for (; i + 4 <= nblk; i += 4) vst1q_f32(sf + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(sr + i))));
        for (; i < nblk; i++) sf[i] = prism_half_to_float_neon(sr[i]);
        for (int j = 0; j < strips; j++) {
            float32x4_t s = vdupq_n_f32(sf[bj[j]]);
            int8x16_t raw = vld1q_s8(wr + 16 * j);
            int16x8_t lo = vmovl_s8(vget_low_s8(raw)), hi = vmovl_high_s8(raw);
            float *p = panel + (long)j * PB_STRIP(rows) + (long)r * 16;
            vst1q_f32(p, vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), s));
            vst1q_f32(p + 4, vmulq_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), s));
            vst1q_f32(p + 8, vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), s));
            vst1q_f32(p + 12, vmulq_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), s));
        }
    }
}

// One widened strip of 16 columns x M targets in 4M accumulators: per row four loads and M
// load-broadcasts (ld1r) of the target coefficients ut[r, k]. `first`: write the sums, else add
// them to `out`.
#define DEFINE_STRIP_NEON(M)                                                                                      \
static void pb_strip16_neon_##M(const float *p, int rows, const float *ut, int ldut, float *out, int ldo, int first) { \
    float32x4_t a0[M], a1[M], a2[M], a3[M];                                                                      \
    for (int i = 0; i < M; i++) a0[i] = a1[i] = a2[i] = a3[i] = vdupq_n_f32(0);                                   \
    for (int r = 0; r < rows; r++) {                                                                             \
        const float *pr = p + (long)r * 16;                                                                      \
        float32x4_t w0 = vld1q_f32(pr), w1 = vld1q_f32(pr + 4), w2 = vld1q_f32(pr + 8), w3 = vld1q_f32(pr + 12);  \
        const float *cr = ut + (long)r * ldut;                                                                   \
        for (int i = 0; i < M; i++) {                                                                            \
            float32x4_t cv = vld1q_dup_f32(cr + i);                                                              \
            a0[i] = vfmaq_f32(a0[i], cv, w0);                                                                    \
            a1[i] = vfmaq_f32(a1[i], cv, w1);                                                                    \
            a2[i] = vfmaq_f32(a2[i], cv, w2);                                                                    \
            a3[i] = vfmaq_f32(a3[i], cv, w3);                                                                    \
        }                                                                                                        \
    }                                                                                                            \
    for (int i = 0; i < M; i++) {                                                                                \
        float *o = out + (long)i * ldo;                                                                          \
        if (!first) {                                                                                            \
            a0[i] = vaddq_f32(a0[i], vld1q_f32(o));                                                              \
            a1[i] = vaddq_f32(a1[i], vld1q_f32(o + 4));                                                          \
            a2[i] = vaddq_f32(a2[i], vld1q_f32(o + 8));                                                          \
            a3[i] = vaddq_f32(a3[i], vld1q_f32(o + 12));                                                         \
        }                                                                                                        \
        vst1q_f32(o, a0[i]);                                                                                     \
        vst1q_f32(o + 4, a1[i]);                                                                                 \
        vst1q_f32(o + 8, a2[i]);                                                                                 \
        vst1q_f32(o + 12, a3[i]);                                                                                \
    }                                                                                                            \
}
DEFINE_STRIP_NEON(1)
DEFINE_STRIP_NEON(2)
DEFINE_STRIP_NEON(3)
DEFINE_STRIP_NEON(4)
DEFINE_STRIP_NEON(5)
DEFINE_STRIP_NEON(6)

// Targets [0, kc) in groups of up to 6, as on x86.
static void pb_strip_targets_neon(const float *p, int rows, const float *ut, int ldut, int kc, float *out, int ldo, int first) {
    static const pb_strip_fn strip[6] = {pb_strip16_neon_1, pb_strip16_neon_2, pb_strip16_neon_3,
                                         pb_strip16_neon_4, pb_strip16_neon_5, pb_strip16_neon_6};
    pb_strip_groups(strip, p, rows, ut, ldut, kc, out, ldo, first);
}
#endif

#if defined(PRISM_X86) || defined(__aarch64__)
#define PB_VECTOR 1
// A chunk's `strips` full strips of 16 columns from c0: widened into `wide` once, then every
// target over each strip, with this CPU's vector loop (chosen by the caller).
static void pb_vector_strips(const int8_t *qp, int cols, const uint16_t *sp, long nb, int block, int rows, int c0, int strips,
                             float *wide, int next, long ahead, const float *up, int ldut, int kc, float *o, int ldo, int first,
                             int fused) {
#ifdef PRISM_X86
    if (fused) {
        pb_fused512_strips(qp, cols, sp, nb, block, rows, c0, strips, ahead, up, ldut, kc, o, ldo, first);
        return;
    }
    pb_widen(qp, cols, sp, nb, block, rows, c0, strips, wide, next);
    for (int j = 0; j < strips; j++) pb_strip_targets(wide + (long)j * PB_STRIP(rows), rows, up, ldut, kc, o + c0 + 16 * j, ldo, first);
#else
    (void)fused;
    (void)ahead;
    pb_widen_neon(qp, cols, sp, nb, block, rows, c0, strips, wide, next);
    for (int j = 0; j < strips; j++)
        pb_strip_targets_neon(wide + (long)j * PB_STRIP(rows), rows, up, ldut, kc, o + c0 + 16 * j, ldo, first);
#endif
}
#endif

static void pb_coef_portable(const uint16_t *scales, long nb, int b, const float *ut, int ldut, int rows, int kc, float *coef) {
    for (int r = 0; r < rows; r++) {
        float s = prism_half_to_float(scales[(long)r * nb + b]);
        for (int k = 0; k < kc; k++) coef[(long)r * kc + k] = ut[(long)r * ldut + k] * s;
    }
}

// Columns [c0, c1) of block b over a panel's rows, the portable way: coef[r, k] = ut[r, k] *
// scale[r, b] (the block's scale folded into each direction), then one column at a time.
static void pb_block_portable(const int8_t *qp, int cols, const uint16_t *sp, long nb, int b, const float *up, int ldut,
                              int rows, int kc, float *coef, int c0, int c1, float *o, int ldo, int first) {
    pb_coef_portable(sp, nb, b, up, ldut, rows, kc, coef);
    pb_columns_strided(qp, cols, rows, coef, kc, kc, c0, c1, o, ldo, first);
}

static const char pb_avx512_loop[] = "avx512-fma";

// The vector loop prism_q8_pullback runs for these arguments, or NULL for the portable one.
// Widened strips of 16 columns must each lie in one block (one scale per row).
static const char *pb_vector_loop(int kernel, int block, int col0) {
    if (block <= 0 || block % 16 != 0 || col0 % 16 != 0) return NULL;
#ifdef PRISM_X86
    if (kernel >= PRISM_KERNEL_AVX512VNNI && prism_runnable_kernel(PRISM_KERNEL_AVX512VNNI) == PRISM_KERNEL_AVX512VNNI)
        return pb_avx512_loop;
    if (kernel >= PRISM_KERNEL_AVX2 && prism_best_kernel() >= PRISM_KERNEL_AVX2) return "avx2-fma";
#elif defined(__aarch64__)
    if (prism_runnable_kernel(kernel) >= PRISM_KERNEL_NEON) return "neon";
#else
    (void)kernel;
#endif
    return NULL;
}

const char *prism_q8_pullback_loop(int kernel, int block, int col0) {
    const char *name = pb_vector_loop(kernel, block, col0);
    return name ? name : "portable";
}

void prism_q8_pullback(int kernel, const int8_t *q, const uint16_t *scales, int rows, int cols, int block,
                       const float *u, int count, int ldu, float *out, int ldo, int col0, int col1) {
    if (rows <= 0 || cols <= 0 || block <= 0 || count <= 0 || col0 >= col1) return;
    int nb = (cols + block - 1) / block;
    int kmax = count < PB_TARGETS ? count : PB_TARGETS;
    int panel = rows < PB_PANEL ? rows : PB_PANEL;
    // ut[r, k] = u[k, r]: each row's directions side by side, for broadcasts and coefficient tables.
    int ldut = count;
    float *ut = calloc((size_t)rows * (size_t)ldut, sizeof(float));
    float *coef = malloc(sizeof(float) * (size_t)panel * (size_t)kmax);
    const char *loop = pb_vector_loop(kernel, block, col0);
    int use_vector = loop != NULL, fused = loop == pb_avx512_loop;
    float *wide = NULL;
    if (use_vector && !fused) wide = aligned_alloc(32, sizeof(float) * PB_STRIP(PB_PANEL) * (PB_CHUNK / 16));
    if (!ut || !coef || (use_vector && !fused && !wide)) {
        // No room for the tables: the same sums, the scale applied per element.
        for (int k = 0; k < count; k++)
            for (int c = col0; c < col1; c++) {
                float acc = 0;
                for (int r = 0; r < rows; r++)
                    acc += u[(long)k * ldu + r] * prism_half_to_float(scales[(long)r * nb + c / block]) * (float)q[(long)r * cols + c];
                out[(long)k * ldo + c] = acc;
            }
        free(ut);
        free(coef);
        free(wide);
        return;
    }
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < count; k++) ut[(long)r * ldut + k] = u[(long)k * ldu + r];
    for (int k0 = 0; k0 < count; k0 += PB_TARGETS) {
        int kc = count - k0 < PB_TARGETS ? count - k0 : PB_TARGETS;
        float *o = out + (long)k0 * ldo;
        for (int r0 = 0; r0 < rows; r0 += panel) {
            int pr = rows - r0 < panel ? rows - r0 : panel;
            const int8_t *qp = q + (long)r0 * cols;
            const uint16_t *sp = scales + (long)r0 * nb;
            const float *up = ut + (long)r0 * ldut + k0;
            int first = r0 == 0;
#ifdef PB_VECTOR
            if (use_vector) {
                for (int c = col0; c < col1; c += PB_CHUNK) {
                    int width = col1 - c < PB_CHUNK ? col1 - c : PB_CHUNK;
                    int strips = width / 16;
                    if (strips > 0) {
                        int next = col1 - (c + width) < PB_CHUNK ? col1 - (c + width) : PB_CHUNK;
                        // The chunk read after this one: the panel's next, or the next panel's first.
                        long ahead = next > 0 ? PB_CHUNK : r0 + pr < rows ? (long)pr * cols - (c - col0) : 0;
                        pb_vector_strips(qp, cols, sp, nb, block, pr, c, strips, wide, next, ahead, up, ldut, kc, o, ldo, first, fused);
                    }
                    // A last partial strip (fewer than 16 columns left) lies in one block.
                    int t0 = c + 16 * strips;
                    if (t0 < c + width) pb_block_portable(qp, cols, sp, nb, t0 / block, up, ldut, pr, kc, coef, t0, c + width, o, ldo, first);
                }
                continue;
            }
#endif
            for (int b = col0 / block; b < nb && b * block < col1; b++) {
                int c0 = b * block > col0 ? b * block : col0;
                int c1 = (b + 1) * block < col1 ? (b + 1) * block : col1;
                pb_block_portable(qp, cols, sp, nb, b, up, ldut, pr, kc, coef, c0, c1, o, ldo, first);
            }
        }
    }
    free(ut);
    free(coef);
    free(wide);
}
