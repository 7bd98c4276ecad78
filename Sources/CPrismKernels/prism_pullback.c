// The prisms' pull-back U W for int8 block-quantized weights, fused: each weight is widened to
// float once, in registers, and serves every target direction; no dequantized tile is written
// and no BLAS call is made. The sums stay fp32 over the stored (dequantized) weights, so the
// result is the exact product up to float rounding, as the tile + sgemm route was.
#include "prism_kernels.h"
#include "prism_half.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define PRISM_X86 1
#endif

// Targets per pass over a column block: bounds the coefficient table (panel rows x this many floats).
#define PB_TARGETS 24   // a multiple of 8: every pass starts on a whole vector of ut

// Rows per panel: a panel's lines of one 64-byte column group stay in L1 while every strip and
// target group of those columns passes over them; partial sums go to `out` once per panel.
#define PB_PANEL 128

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

#ifdef PRISM_X86
// 16 columns x M targets in 2M accumulators; the panel's rows stream through, each 16 int8
// widened once. `ahead` (0 for none): prefetch each row's line that far ahead of this strip.
#define DEFINE_STRIP(M)                                                                                           \
__attribute__((target("avx2,fma")))                                                                             \
static void pb_strip16_##M(const int8_t *w, long stride, int rows, const float *coef, int kc, float *out, int ldo, \
                           int first, int ahead) {                                                               \
    __m256 a0[M], a1[M];                                                                                         \
    for (int i = 0; i < M; i++) { a0[i] = _mm256_setzero_ps(); a1[i] = _mm256_setzero_ps(); }                    \
    for (int r = 0; r < rows; r++) {                                                                             \
        const int8_t *wr = w + (long)r * stride;                                                                 \
        if (ahead) _mm_prefetch((const char *)(wr + ahead), _MM_HINT_T0);                                        \
        __m128i raw = _mm_loadu_si128((const __m128i *)wr);                                                      \
        __m256 w0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(raw));                                               \
        __m256 w1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(raw, 8)));                            \
        const float *cr = coef + (long)r * kc;                                                                   \
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

// Targets in groups of up to 6 (12 accumulators + 2 weight registers + a broadcast fit in 16).
__attribute__((target("avx2,fma")))
static void pb_columns_avx2(const int8_t *q, long stride, int rows, const float *coef, int ldc, int kc, int c0, int c1,
                            float *out, int ldo, int first, long cols) {
    int c = c0;
    for (; c + 16 <= c1; c += 16) {
        for (int k = 0; k < kc;) {
            int m = kc - k;
            // Even groups: 10 targets as 5 + 5 rather than 6 + 4.
            if (m > 6) m = m <= 10 ? (m + 1) / 2 : 6;
            // The first pass over a 64-byte column group fetches the group two ahead.
            int ahead = (k == 0 && (c & 63) == 0 && c + 128 < cols) ? 128 : 0;
            const int8_t *w = q + c;
            const float *cf = coef + k;
            float *o = out + (long)k * ldo + c;
            switch (m) {
            case 1: pb_strip16_1(w, stride, rows, cf, ldc, o, ldo, first, ahead); break;
            case 2: pb_strip16_2(w, stride, rows, cf, ldc, o, ldo, first, ahead); break;
            case 3: pb_strip16_3(w, stride, rows, cf, ldc, o, ldo, first, ahead); break;
            case 4: pb_strip16_4(w, stride, rows, cf, ldc, o, ldo, first, ahead); break;
            case 5: pb_strip16_5(w, stride, rows, cf, ldc, o, ldo, first, ahead); break;
            default: pb_strip16_6(w, stride, rows, cf, ldc, o, ldo, first, ahead); break;
            }
            k += m;
        }
    }
    if (c < c1) pb_columns_strided(q, stride, rows, coef, ldc, kc, c, c1, out, ldo, first);
}

// coef[r, k] = ut[r, k] * scale[r, b] for the rows of a panel (F16C widens the scales).
// `ldc` (the table's row stride) is kc rounded up to 8, and ut's rows are zero-padded to it:
// whole vectors, no remainder loop.
__attribute__((target("avx2,fma,f16c")))
static void pb_coef_f16c(const uint16_t *scales, long nb, int b, const float *ut, int ldut, int rows, int ldc, float *coef) {
    for (int r = 0; r < rows; r++) {
        __m256 s = _mm256_set1_ps(_cvtsh_ss(scales[(long)r * nb + b]));
        for (int k = 0; k < ldc; k += 8)
            _mm256_storeu_ps(coef + (long)r * ldc + k, _mm256_mul_ps(_mm256_loadu_ps(ut + (long)r * ldut + k), s));
    }
}
#endif

static void pb_coef_portable(const uint16_t *scales, long nb, int b, const float *ut, int ldut, int rows, int kc, float *coef) {
    for (int r = 0; r < rows; r++) {
        float s = prism_half_to_float(scales[(long)r * nb + b]);
        for (int k = 0; k < kc; k++) coef[(long)r * kc + k] = ut[(long)r * ldut + k] * s;
    }
}

void prism_q8_pullback(int kernel, const int8_t *q, const uint16_t *scales, int rows, int cols, int block,
                       const float *u, int count, int ldu, float *out, int ldo, int col0, int col1) {
    if (rows <= 0 || cols <= 0 || block <= 0 || count <= 0 || col0 >= col1) return;
    int nb = (cols + block - 1) / block;
    int kmax = count < PB_TARGETS ? count : PB_TARGETS;
    int panel = rows < PB_PANEL ? rows : PB_PANEL;
    // ut[r, k] = u[k, r]: each row's directions side by side, for the coefficient tables.
    int ldut = (count + 7) & ~7;
    float *ut = calloc((size_t)rows * (size_t)ldut, sizeof(float));
    float *coef = malloc(sizeof(float) * (size_t)panel * (size_t)((kmax + 7) & ~7));
    int use_avx2 = 0;
#ifdef PRISM_X86
    use_avx2 = kernel >= PRISM_KERNEL_AVX2 && prism_best_kernel() >= PRISM_KERNEL_AVX2;
#endif
    (void)use_avx2;
    if (!ut || !coef) {
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
            for (int b = col0 / block; b < nb && b * block < col1; b++) {
                int c0 = b * block > col0 ? b * block : col0;
                int c1 = (b + 1) * block < col1 ? (b + 1) * block : col1;
                // coef[r, k] = u[k, r0 + r] * scale[r0 + r, b]: the block's scale folded into each direction.
                const uint16_t *sp = scales + (long)r0 * nb;
                const float *up = ut + (long)r0 * ldut + k0;
#ifdef PRISM_X86
                if (use_avx2) {
                    int ldc = (kc + 7) & ~7;
                    pb_coef_f16c(sp, nb, b, up, ldut, pr, ldc, coef);
                    pb_columns_avx2(qp, cols, pr, coef, ldc, kc, c0, c1, o, ldo, r0 == 0, cols);
                    continue;
                }
#endif
                pb_coef_portable(sp, nb, b, up, ldut, pr, kc, coef);
                pb_columns_strided(qp, cols, pr, coef, kc, kc, c0, c1, o, ldo, r0 == 0);
            }
        }
    }
    free(ut);
    free(coef);
}
