// Every int8 kernel this CPU has, against the portable loop, and timed: one static binary to copy to
// any x86-64 or aarch64 Linux machine (a VNNI CPU above all: the AVX-VNNI and AVX512-VNNI paths run
// only where the CPU has them). Build and run with tools/kernel_check.sh (x86-64, native) or
// tools/kernel_check_arm.sh (aarch64, cross-compiled, run under qemu-aarch64); exit status 1 on any
// mismatch.
//
// Checked, on fixed odd shapes and on random ones that reach every tile and tail (row counts not a
// multiple of the tiles, one token, odd token counts, row ranges that start inside the matrix):
//   prism_q8q8_matmul         (prompts)       bit for bit equal to the portable loop, each token's row
//                                             equal to that token run alone, and a row range's rows
//                                             equal to the same rows of the whole product
//   prism_q8q8_matmul_decode  (decoding)      NEON: bit for bit; x86: within 1e-5 relative (another order)
//   prism_quantize_rows       (activations)   bit for bit
//   prism_q8_rows_dot_f32     (exact rows)    NEON: bit for bit equal to the portable loop; every kernel
//                                             within 1e-5 relative of a double-precision product
//   prism_q8_pullback         (the prisms)    within 1e-5 relative of a double-precision product, for 1..30
//                                             targets, partial panels, chunks and strips, any block, any
//                                             column range (the columns outside it untouched); the
//                                             AVX-512 loop bit for bit equal to the AVX2 loop
//   prism_quantize_weight_row (the converter) bit for bit: quants, f16 scales, overflow count, statistics
//                                             (ties, clamps, zero blocks, f16 overflow edge and ties, extremes)
//   prism_gelu_tanh                           within 2e-6 of the formula in double
// It prints the kernels it ran, which loop (vector or portable) each took for the pull-back and the
// weight quantizer, and, for comparing machines, hashes of results that are the same on
// every architecture (the portable prompt product; the vector GELU, equal between AVX2 and NEON;
// the portable weight quantizer, with its f16 conversion and float statistics).
//   kernel_check [--quick]    --quick: a smaller timing shape (for emulators)
#include "prism_kernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NKERNELS 6
static unsigned long long rng = 88172645463325252ULL;
static double uniform(void) {   // xorshift64*: the same data on every machine
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return (double)((rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}
static int below(int n) { return (int)(uniform() * n); }
static float normal(void) { return (float)(sqrt(-2 * log(uniform() + 1e-300)) * cos(6.283185307179586 * uniform())); }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static const char *names[NKERNELS] = {"portable", "avx2", "avx-vnni", "avx512-vnni", "neon", "neon-dotprod"};
static int failures = 0;
static int kernels[NKERNELS], nkernels = 0;   // the kernels this CPU runs as themselves
static long checks[NKERNELS];                 // checks passed or failed per kernel

// The NEON kernels follow the portable loop's order on the decode and dequantizing products too.
static int exact_everywhere(int kernel) { return kernel == PRISM_KERNEL_NEON || kernel == PRISM_KERNEL_NEON_DOTPROD; }

static void fail(const char *what, int kernel, int tokens, int rows, int cols, double err) {
    printf("FAIL %-26s %-12s tokens %3d rows %5d cols %5d: %.3g\n", what, names[kernel], tokens, rows, cols, err);
    failures++;
}

static unsigned long long fnv(const void *p, size_t n) {
    unsigned long long h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
    return h;
}

// A weight matrix quantized like the converter does: int8 with an f16 scale per block.
static void make_weights(int rows, int cols, int block, int8_t *q, uint16_t *s) {
    float *row = malloc(sizeof(float) * cols);
    double stats[3] = {0, 0, 0};
    int nb = (cols + block - 1) / block;
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) row[c] = normal() * 0.05f;
        prism_quantize_weight_row(row, cols, block, q + (long)r * cols, s + (long)r * nb, stats);
    }
    free(row);
}

static double rel(const float *a, const double *b, long n) {
    double m = 1e-30, e = 0;
    for (long i = 0; i < n; i++) { if (fabs(b[i]) > m) m = fabs(b[i]); if (fabs(a[i] - b[i]) > e) e = fabs(a[i] - b[i]); }
    return e / m;
}

// Rows [r0, r1) of every token of `part` equal those of `whole` (both [tokens, rows]).
static int same_rows(const float *part, const float *whole, int tokens, int rows, int r0, int r1) {
    for (int t = 0; t < tokens; t++)
        if (memcmp(part + (long)t * rows + r0, whole + (long)t * rows + r0, sizeof(float) * (r1 - r0))) return 0;
    return 1;
}

static void check_products(int tokens, int rows, int cols) {
    int nb = cols / 32;
    int8_t *w = malloc((size_t)rows * cols), *xq = malloc((size_t)tokens * cols);
    uint16_t *ws = malloc(sizeof(uint16_t) * rows * nb);
    float *x = malloc(sizeof(float) * tokens * cols), *xs = malloc(sizeof(float) * tokens * nb);
    float *ref = malloc(sizeof(float) * tokens * rows), *got = malloc(sizeof(float) * tokens * rows), *one = malloc(sizeof(float) * rows);
    float *part = malloc(sizeof(float) * tokens * rows), *dotref = malloc(sizeof(float) * rows);
    make_weights(rows, cols, 32, w, ws);
    for (long i = 0; i < (long)tokens * cols; i++) {   // a few outliers per block
        float v = normal();   // (two statements: the order of the draws is fixed on every compiler)
        x[i] = uniform() < 0.05 ? 40 * v : v;
    }
    prism_quantize_rows(PRISM_KERNEL_PORTABLE, x, tokens, cols, xq, xs);
    // A row range inside the matrix, as the threads split it: both ends anywhere.
    int r0 = below(rows), r1 = r0 + 1 + below(rows - r0);
    {   // every kernel's activation quantization is the portable one's, bit for bit
        int8_t *q2 = malloc((size_t)tokens * cols); float *s2 = malloc(sizeof(float) * tokens * nb);
        for (int i = 1; i < nkernels; i++) {
            int k = kernels[i];
            prism_quantize_rows(k, x, tokens, cols, q2, s2);
            checks[k]++;
            if (memcmp(q2, xq, (size_t)tokens * cols) || memcmp(s2, xs, sizeof(float) * tokens * nb)) fail("quantize_rows", k, tokens, rows, cols, 1);
        }
        free(q2); free(s2);
    }
    prism_q8q8_matmul(PRISM_KERNEL_PORTABLE, w, ws, cols, xq, xs, tokens, ref, rows, 0, rows);
    prism_q8_rows_dot_f32(PRISM_KERNEL_PORTABLE, w, ws, cols, 32, x, 0, rows, dotref);
    double *refd = malloc(sizeof(double) * tokens * rows);
    for (long i = 0; i < (long)tokens * rows; i++) refd[i] = ref[i];
    // fp32 activations against a double product over the dequantized weights
    double *exact = malloc(sizeof(double) * rows);
    for (int r = 0; r < rows; r++) {
        double sum = 0;
        for (int c = 0; c < cols; c++) {
            float scale; uint16_t h = ws[(long)r * nb + c / 32];
            // f16 -> f32 by hand (no F16C needed)
            int sign = h >> 15, ex = (h >> 10) & 31, man = h & 1023;
            scale = ex == 0 ? ldexpf((float)man, -24) : ldexpf((float)(man | 1024), ex - 25);
            if (sign) scale = -scale;
            sum += (double)w[(long)r * cols + c] * scale * x[c];
        }
        exact[r] = sum;
    }
    for (int i = 0; i < nkernels; i++) {
        int k = kernels[i];
        checks[k] += 4;
        prism_q8q8_matmul(k, w, ws, cols, xq, xs, tokens, got, rows, 0, rows);
        if (memcmp(got, ref, sizeof(float) * tokens * rows)) fail("q8q8_matmul (bitwise)", k, tokens, rows, cols, rel(got, refd, (long)tokens * rows));
        for (int t = 0; t < tokens; t++) {   // a token alone gives its row in the batch
            prism_q8q8_matmul(k, w, ws, cols, xq + (long)t * cols, xs + (long)t * nb, 1, one, rows, 0, rows);
            if (memcmp(one, got + (long)t * rows, sizeof(float) * rows)) { fail("q8q8 alone vs batch", k, tokens, rows, cols, 1); break; }
        }
        prism_q8q8_matmul(k, w, ws, cols, xq, xs, tokens, part, rows, r0, r1);
        if (!same_rows(part, ref, tokens, rows, r0, r1)) fail("q8q8_matmul (row range)", k, tokens, rows, cols, 1);
        prism_q8q8_matmul_decode(k, w, ws, cols, xq, xs, tokens, got, rows, 0, rows);
        if (exact_everywhere(k)) {
            checks[k] += 2;
            if (memcmp(got, ref, sizeof(float) * tokens * rows)) fail("q8q8_matmul_decode (bitwise)", k, tokens, rows, cols, rel(got, refd, (long)tokens * rows));
            prism_q8q8_matmul_decode(k, w, ws, cols, xq, xs, tokens, part, rows, r0, r1);
            if (!same_rows(part, ref, tokens, rows, r0, r1)) fail("q8q8_matmul_decode (range)", k, tokens, rows, cols, 1);
        }
        double e = rel(got, refd, (long)tokens * rows);
        if (e > 1e-5) fail("q8q8_matmul_decode", k, tokens, rows, cols, e);
        prism_q8_rows_dot_f32(k, w, ws, cols, 32, x, 0, rows, one);
        e = rel(one, exact, rows);
        if (e > 1e-5) fail("q8_rows_dot_f32", k, 1, rows, cols, e);
        if (exact_everywhere(k)) {
            checks[k] += 2;
            if (memcmp(one, dotref, sizeof(float) * rows)) fail("q8_rows_dot_f32 (bitwise)", k, 1, rows, cols, e);
            for (int r = 0; r < rows; r++) one[r] = NAN;
            prism_q8_rows_dot_f32(k, w, ws, cols, 32, x, r0, r1, one);
            if (memcmp(one + r0, dotref + r0, sizeof(float) * (r1 - r0))) fail("q8_rows_dot_f32 (range)", k, 1, rows, cols, 1);
        }
    }
    free(w); free(xq); free(ws); free(x); free(xs); free(ref); free(got); free(one); free(refd); free(part); free(dotref); free(exact);
}

// Which loop each kernel took for the pull-back and the weight quantizer, over all their checks.
enum { LOOP_PORTABLE, LOOP_VECTOR, NLOOPS };
static long pull_loops[NKERNELS][NLOOPS], quant_loops[NKERNELS][NLOOPS];
static const char *pull_vector[NKERNELS], *quant_vector[NKERNELS];   // the vector loop's name, once seen

static void count_loop(long loops[][NLOOPS], const char **vector, int kernel, const char *name) {
    int v = strcmp(name, "portable") != 0;
    loops[kernel][v]++;
    if (v) vector[kernel] = name;
}

// The pull-back of `count` directions (leading dimension ldu >= rows) through a [rows, cols]
// matrix quantized in blocks of `block`, columns [col0, col1) into out (leading dimension ldo):
// every kernel within 1e-5 relative of a double product over the dequantized weights, and the
// columns outside the range untouched.
static void check_pullback(int count, int rows, int cols, int block, int ldu, int col0, int col1) {
    int nb = (cols + block - 1) / block, ldo = cols + 3;
    int8_t *w = malloc((size_t)rows * cols); uint16_t *ws = malloc(sizeof(uint16_t) * rows * nb);
    float *u = malloc(sizeof(float) * count * ldu), *out = malloc(sizeof(float) * count * ldo);
    double *want = calloc((size_t)count * cols, sizeof(double));
    make_weights(rows, cols, block, w, ws);
    for (long i = 0; i < (long)count * ldu; i++) u[i] = normal();
    float *dense = malloc(sizeof(float) * cols);
    for (int r = 0; r < rows; r++) {
        prism_q8_dequantize_row(w + (long)r * cols, ws + (long)r * nb, cols, block, dense);
        for (int k = 0; k < count; k++) for (int c = 0; c < cols; c++) want[(long)k * cols + c] += (double)u[(long)k * ldu + r] * dense[c];
    }
    float *avx2 = NULL;   // the AVX2 loop's floats, which the AVX-512 loop must equal bit for bit
    for (int i = 0; i < nkernels; i++) {
        int k = kernels[i];
        checks[k]++;
        const char *loop = prism_q8_pullback_loop(k, block, col0);
        count_loop(pull_loops, pull_vector, k, loop);
        for (long j = 0; j < (long)count * ldo; j++) out[j] = NAN;
        prism_q8_pullback(k, w, ws, rows, cols, block, u, count, ldu, out, ldo, col0, col1);
        if (strcmp(loop, "avx2-fma") == 0 && (avx2 = malloc(sizeof(float) * count * ldo)))
            memcpy(avx2, out, sizeof(float) * count * ldo);
        if (strcmp(loop, "avx512-fma") == 0 && avx2 && memcmp(avx2, out, sizeof(float) * count * ldo) != 0)
            fail("q8_pullback (avx512-fma bitwise equal to avx2-fma)", k, count, rows, cols, 1);
        double m = 1e-30, e = 0;
        int outside = 0;
        for (int t = 0; t < count; t++)
            for (int c = 0; c < ldo; c++) {
                float g = out[(long)t * ldo + c];
                if (c < col0 || c >= col1) { outside += !isnan(g); continue; }
                double d = want[(long)t * cols + c];
                if (fabs(d) > m) m = fabs(d);
                if (!(fabs(g - d) <= e)) e = isnan(g) ? INFINITY : fabs(g - d);
            }
        if (e / m > 1e-5) fail("q8_pullback", k, count, rows, cols, e / m);
        if (outside) fail("q8_pullback (outside range)", k, count, rows, cols, outside);
    }
    free(w); free(ws); free(u); free(out); free(want); free(dense); free(avx2);
}

// Fixed shapes, every target count 1..30, and random ones: partial panels (64 rows) and chunks (512
// columns), a last strip of fewer than 16 columns, blocks the vector loops take (multiples of 16)
// and others, column ranges from a block boundary (as the Swift side splits them) or from any
// multiple of 16 or anywhere, to any column.
static int check_pullbacks(void) {
    int n = 0;
    int pulls[][4] = {{1, 64, 96, 32}, {5, 130, 2048, 32}, {10, 300, 520, 32}, {13, 64, 1000, 32}, {7, 65, 1040, 64},
                      {3, 1, 16, 16}, {2, 63, 17, 16}, {4, 129, 530, 48}, {6, 40, 300, 24}, {9, 70, 256, 256}};
    for (unsigned i = 0; i < sizeof pulls / sizeof pulls[0]; i++, n++)
        check_pullback(pulls[i][0], pulls[i][1], pulls[i][2], pulls[i][3], pulls[i][1], 0, pulls[i][2]);
    for (int count = 1; count <= 30; count++, n++) check_pullback(count, 67, 560 + count, 32, 67 + count % 3, 0, 560 + count);
    static const int blocks[] = {16, 32, 32, 32, 48, 64, 128, 24, 40, 8};
    for (int i = 0; i < 40; i++, n++) {
        int count = 1 + below(30), rows = 1 + below(150), block = blocks[below(10)];   // (declarators are sequenced)
        int cols = 1 + below(1300), nb = (cols + block - 1) / block;
        int col0, col1;
        switch (below(3)) {
        case 0: col0 = below(nb) * block; break;             // a block boundary
        case 1: col0 = 16 * below((cols + 15) / 16); break;  // a multiple of 16, maybe inside a block
        default: col0 = below(cols); break;                  // anywhere
        }
        col1 = col0 + 1 + below(cols - col0);
        int ldu = rows + below(3);
        check_pullback(count, rows, cols, block, ldu, col0, col1);
    }
    return n;
}

// Values of one family for the weight quantizer (the families of WeightQuantizerKernelTests, and
// more): ordinary weights, exact ties of the rounding, zeros (and -0, one all-zero block), huge
// values (f16 scale overflow), tiny ones (subnormal or zero f16 scales), a mix of scales, scales
// right at the f16 overflow edge and at (or a few ulps from) f16 rounding ties, blocks of very
// different sizes (the statistics' order of addition shows), and float extremes.
#define QUANT_FAMILIES 10
static void quant_values(int family, float *x, long count, int block) {
    for (long i = 0; i < count; i++) {
        float v = normal();
        switch (family) {
        case 0: x[i] = v * 0.02f; break;
        case 1: {   // block starts 127 s (the scale is s, an f16 value), the others (k + 1/2) s
            float s = (float)(1 + below(64)) / 64;   // (draws one per statement: the same order on every compiler)
            s = s * (float)(1 << below(8)) / 128;
            int k = below(254) - 127;
            x[i] = i % block == 0 ? 127 * s : ((float)k + 0.5f) * s;
            break;
        }
        case 2: x[i] = below(3) == 0 ? v : (below(2) ? 0.0f : -0.0f); break;
        case 3: x[i] = v * 3e7f; break;
        case 4: x[i] = v * 1e-7f * (float)below(100); break;
        case 5: x[i] = v * (float)pow(10, below(20) - 10); break;
        case 6: {   // max |x| / 127 at and around 65504 and 65520 (the f16 overflow edge)
            static const float edge[] = {65504.0f, 65519.0f, 65519.996f, 65520.0f, 65536.0f, 65488.0f};
            float e = 127 * edge[below(6)];
            x[i] = i % block == 0 ? e * (below(2) ? 1 : -1) : v * 1e6f;
            break;
        }
        case 7: {   // max |x| / 127 exactly halfway between two f16 values (normal or subnormal: a tie of the
                    // scale's rounding, 127 mid exact in float), the others halfway between two quants
            float mid;
            if (below(3) == 0) mid = ldexpf((float)(2 * below(1024) + 1), -25);   // between subnormals k, k + 1 (x 2^-24)
            else {   // between normals m, m + 1 (x 2^(e-10)); often m < 1032, where 127 mid's ulp is 64 of mid's
                     // (elsewhere 128): the nudge below then moves amax / 127 by about half an ulp of mid
                int m = below(2) ? 1024 + below(8) : 1024 + below(1024);
                mid = ldexpf((float)(2 * m + 1), below(30) - 25);
            }
            // A block start a few float ulps from 127 mid: amax / 127 just off the tie (or on it), where
            // a scale computed another way (amax * (1 / 127), say) would round to the other f16 value.
            float start = 127 * mid;
            for (int step = below(7) - 3; step != 0; step += step > 0 ? -1 : 1) start = nextafterf(start, step > 0 ? INFINITY : 0);
            x[i] = i % block == 0 ? start : ((float)(below(254) - 127) + 0.5f) * mid;
            break;
        }
        case 8: {   // one large block, then three whose squares are below half an ulp of its sum: the row's
                    // double sums then depend on the order the blocks are added in
            float big = (i / block) % 4 == 0 ? 1.0f : 0x1p-26f * (float)(1 + below(3)) / 2;
            x[i] = v * big;
            break;
        }
        default: {  // float extremes: near FLT_MAX (squares overflow to inf), subnormals, zeros
            static const float ext[] = {3.4e38f, -3.4e38f, 1e-45f, -1e-40f, 1e-38f, 0.0f, 1.0f, 1e30f};
            float e = ext[below(8)];
            x[i] = e * (below(4) ? 1.0f : (float)(2 * uniform() - 1));   // finite, as the quantizer requires
            break;
        }
        }
    }
    if (family == 2 && count >= block)
        for (int i = 0; i < block; i++) x[i] = 0;
}

static void fail_quant(const char *what, int kernel, int family, int rows, int cols, int block) {
    printf("FAIL %-26s %-12s family %d rows %d cols %5d block %d\n", what, names[kernel], family, rows, cols, block);
    failures++;
}

// Quantizes `rows` rows of x into one set of statistics (starting non-zero, as a converter's
// worker goes on), every kernel against the portable loop bit for bit: quants, f16 scales, the
// overflow count and the statistics' bits.
static void check_weight_quant(int rows, int cols, int block, int family) {
    long n = (long)rows * cols;
    int nb = (cols + block - 1) / block;
    float *x = malloc(sizeof(float) * n);
    int8_t *q0 = malloc(n), *q1 = malloc(n);
    uint16_t *s0 = malloc(sizeof(uint16_t) * rows * nb), *s1 = malloc(sizeof(uint16_t) * rows * nb);
    quant_values(family, x, n, block);
    double st0[3] = {0.125, 3.5, 1e-9};
    int over0 = 0;
    for (int r = 0; r < rows; r++)
        over0 += prism_quantize_weight_row_kernel(PRISM_KERNEL_PORTABLE, x + (long)r * cols, cols, block, q0 + (long)r * cols, s0 + (long)r * nb, st0);
    for (int i = 1; i < nkernels; i++) {
        int k = kernels[i];
        checks[k]++;
        count_loop(quant_loops, quant_vector, k, prism_quantize_weight_row_loop(k, block));
        memset(q1, 0x55, n);
        memset(s1, 0xaa, sizeof(uint16_t) * rows * nb);
        double st1[3] = {0.125, 3.5, 1e-9};
        int over1 = 0;
        for (int r = 0; r < rows; r++)
            over1 += prism_quantize_weight_row_kernel(k, x + (long)r * cols, cols, block, q1 + (long)r * cols, s1 + (long)r * nb, st1);
        if (memcmp(q0, q1, n)) fail_quant("weight_quant quants", k, family, rows, cols, block);
        if (memcmp(s0, s1, sizeof(uint16_t) * rows * nb)) fail_quant("weight_quant scales", k, family, rows, cols, block);
        if (over0 != over1) fail_quant("weight_quant overflow count", k, family, rows, cols, block);
        if (memcmp(st0, st1, sizeof st0)) fail_quant("weight_quant stats", k, family, rows, cols, block);
    }
    free(x); free(q0); free(q1); free(s0); free(s1);
}

// Ties round to even and quants clamp at +-127 with every kernel (scale 1: max |x| = 127, so the
// quant of v is rint(v)), and a block whose scale overflows is counted and clamped to 65504.
static void check_weight_quant_exact(void) {
    static const float halves[] = {0.5f, 1.5f, 2.5f, 3.5f, -0.5f, -1.5f, -2.5f, 126.5f, -126.5f, -0.0f, 0.0f};
    enum { COLS = 32 * 9 + 5 };
    float x[COLS];
    int8_t q[COLS];
    uint16_t s[10];
    for (int i = 0; i < nkernels; i++) {
        int k = kernels[i];
        checks[k]++;
        for (int c = 0; c < COLS; c++) x[c] = c % 32 == 0 ? 127 : halves[c % 11];
        double st[3] = {0, 0, 0};
        int over = prism_quantize_weight_row_kernel(k, x, COLS, 32, q, s, st);
        int bad = over != 0;
        for (int c = 0; c < COLS; c++) bad += q[c] != (int8_t)rintf(x[c]);
        for (int b = 0; b < 10; b++) bad += s[b] != 0x3c00;   // f16 1.0
        if (bad) fail("weight_quant ties", k, 0, 1, COLS, bad);
        for (int c = 0; c < COLS; c++) x[c] = (c / 32) % 3 == 0 ? 1e9f * (c % 2 ? 1 : -1) : 0.01f * (float)(c % 7);
        over = prism_quantize_weight_row_kernel(k, x, COLS, 32, q, s, st);
        bad = over != 4;   // blocks 0, 3, 6 and 9 (the partial one)
        for (int b = 0; b < 10; b++) bad += (s[b] == 0x7bff) != (b % 3 == 0);
        for (int c = 0; c < COLS; c++) if ((c / 32) % 3 == 0) bad += q[c] != (c % 2 ? 127 : -127);
        if (bad) fail("weight_quant overflow", k, 0, 1, COLS, bad);
    }
}

// A hash of the portable quantizer's output (quants, scales, overflow count and the statistics'
// bits) over every value family: the same on every machine and compiler, so the runs compare the
// f16 conversion (compiler-rt's software one on x86-64, fcvt on aarch64) and the float sums (a
// compiler that fused a multiply-add into them would change the statistics).
static void hash_weight_quant(void) {
    enum { ROWS = 2, COLS = 1000, BLOCK = 32, NB = (COLS + BLOCK - 1) / BLOCK };
    static float x[ROWS * COLS];
    static int8_t q[ROWS * COLS];
    static uint16_t sc[ROWS * NB];
    unsigned long long h = 0;
    rng = 88172645463325252ULL;
    for (int family = 0; family < QUANT_FAMILIES; family++) {
        quant_values(family, x, ROWS * COLS, BLOCK);
        double st[3] = {0, 0, 0};
        int over = 0;
        for (int r = 0; r < ROWS; r++)
            over += prism_quantize_weight_row_kernel(PRISM_KERNEL_PORTABLE, x + r * COLS, COLS, BLOCK, q + r * COLS, sc + r * NB, st);
        h = h * 31 + (fnv(q, sizeof q) ^ fnv(sc, sizeof sc) * 3 ^ fnv(st, sizeof st) * 5 ^ (unsigned long long)over);
    }
    printf("hash  weight_quant portable %d value families: %016llx (the same on every machine)\n", QUANT_FAMILIES, h);
}

// Shapes: partial last blocks, fewer blocks than a vector group, groups plus a remainder, block
// sizes each vector loop takes (NEON: multiples of 4; AVX2: multiples of 8 up to 256) or not.
static int check_weight_quants(void) {
    static const int shapes[][3] = {
        {3, 1, 32}, {2, 31, 32}, {2, 33, 32}, {3, 127, 32}, {2, 128, 32}, {4, 129, 32}, {3, 255, 32}, {2, 256, 32},
        {4, 257, 32}, {2, 263, 32}, {3, 2048, 32}, {1, 2049, 32}, {2, 16389, 32}, {3, 200, 8}, {2, 517, 16},
        {2, 1000, 24}, {2, 777, 64}, {2, 4100, 256}, {2, 300, 40}, {2, 100, 7}, {1, 3000, 264}, {2, 161, 4},
        {2, 250, 12}, {2, 333, 20}, {2, 450, 28}, {2, 999, 36}, {2, 1201, 100}, {1, 4500, 512}, {1, 5000, 1024},
        {2, 90, 6}, {3, 17, 4}};
    int n = 0;
    for (unsigned i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int family = 0; family < QUANT_FAMILIES; family++, n++) check_weight_quant(shapes[i][0], shapes[i][1], shapes[i][2], family);
    check_weight_quant_exact();
    return n;
}

static void check_gelu(void) {
    enum { N = 4099 };
    float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = (float)(i - N / 2) / 300.0f;
    for (int i = 0; i < nkernels; i++) {
        int k = kernels[i];
        checks[k]++;
        prism_gelu_tanh(k, x, y, N);
        double worst = 0;
        for (int j = 0; j < N; j++) {
            double d = x[j], want = 0.5 * d * (1 + tanh(0.7978845608028654 * (d + 0.044715 * d * d * d)));
            double e = fabs(y[j] - want) / fmax(fabs(d), 1e-3);
            if (e > worst) worst = e;
        }
        if (worst > 2e-6) fail("gelu_tanh", k, 0, N, 1, worst);
        // The first 4096 values are the vector loop's (eight at a time), the same on AVX2 and NEON.
        if (k != PRISM_KERNEL_PORTABLE) printf("hash  gelu_tanh %-12s first 4096 values: %016llx\n", names[k], fnv(y, sizeof(float) * 4096));
    }
}

// Throughput of the prompt and decode kernels, one thread: GMAC/s, median of 5.
static void time_kernels(int quick) {
    int tokens = quick ? 8 : 32, rows = quick ? 256 : 2048, cols = quick ? 1024 : 2048, nb = cols / 32;
    int8_t *w = malloc((size_t)rows * cols), *xq = malloc((size_t)tokens * cols);
    uint16_t *ws = malloc(sizeof(uint16_t) * rows * nb);
    float *x = malloc(sizeof(float) * tokens * cols), *xs = malloc(sizeof(float) * tokens * nb), *out = malloc(sizeof(float) * tokens * rows);
    rng = 88172645463325252ULL;   // the hash below must not depend on the checks before
    make_weights(rows, cols, 32, w, ws);
    for (long i = 0; i < (long)tokens * cols; i++) x[i] = normal();
    prism_quantize_rows(PRISM_KERNEL_PORTABLE, x, tokens, cols, xq, xs);
    prism_q8q8_matmul(PRISM_KERNEL_PORTABLE, w, ws, cols, xq, xs, tokens, out, rows, 0, rows);
    printf("hash  q8q8_matmul portable %d x %d x %d: %016llx (the same on every machine)\n", tokens, rows, cols, fnv(out, sizeof(float) * tokens * rows));
    for (int decode = 0; decode < 2; decode++) {
        int nt = decode ? 1 : tokens;
        for (int i = 0; i < nkernels; i++) {
            int k = kernels[i];
            double times[5];
            for (int r = 0; r < 5; r++) {
                double t = now();
                if (decode) prism_q8q8_matmul_decode(k, w, ws, cols, xq, xs, 1, out, rows, 0, rows);
                else prism_q8q8_matmul(k, w, ws, cols, xq, xs, nt, out, rows, 0, rows);
                times[r] = now() - t;
            }
            for (int a = 0; a < 5; a++) for (int b = a + 1; b < 5; b++) if (times[b] < times[a]) { double s = times[a]; times[a] = times[b]; times[b] = s; }
            printf("time  %-18s %-12s %2d x %4d x %4d, one thread: %8.3f ms, %6.2f GMAC/s (median of 5)\n", decode ? "q8q8_matmul_decode" : "q8q8_matmul",
                   names[k], nt, rows, cols, times[2] * 1e3, (double)nt * rows * cols / times[2] * 1e-9);
        }
    }
    free(w); free(xq); free(ws); free(x); free(xs); free(out);
}

// Throughput of the pull-back, one thread, 10 targets through 2048 x 16384 (gemma-2b's W_down),
// eight such matrices (256 MiB, more than any cache) taken in turn: GMAC/s, median of 5.
static void time_pullback(int quick) {
    int rows = quick ? 256 : 2048, cols = quick ? 2048 : 16384, count = 10, nb = cols / 32, mats = quick ? 1 : 8;
    int8_t *w = malloc((size_t)mats * rows * cols);
    uint16_t *ws = malloc(sizeof(uint16_t) * mats * rows * nb);
    float *u = malloc(sizeof(float) * count * rows), *out = malloc(sizeof(float) * count * cols);
    if (!w || !ws || !u || !out) { printf("time  q8_pullback: no memory for the timing\n"); free(w); free(ws); free(u); free(out); return; }
    for (int m = 0; m < mats; m++) make_weights(rows, cols, 32, w + (long)m * rows * cols, ws + (long)m * rows * nb);
    for (long i = 0; i < (long)count * rows; i++) u[i] = normal();
    for (int i = 0; i < nkernels; i++) {
        int k = kernels[i];
        if (k == PRISM_KERNEL_PORTABLE && !quick) continue;   // ~1 s a matrix
        double times[5];
        for (int r = 0; r < 5; r++) {
            double t = now();
            for (int m = 0; m < mats; m++)
                prism_q8_pullback(k, w + (long)m * rows * cols, ws + (long)m * rows * nb, rows, cols, 32, u, count, rows, out, cols, 0, cols);
            times[r] = (now() - t) / mats;
        }
        for (int a = 0; a < 5; a++) for (int b = a + 1; b < 5; b++) if (times[b] < times[a]) { double s = times[a]; times[a] = times[b]; times[b] = s; }
        printf("time  q8_pullback        %-12s %2d x %4d x %5d, one thread: %8.3f ms, %6.2f GMAC/s (median of 5, %s)\n", names[k], count, rows,
               cols, times[2] * 1e3, (double)count * rows * cols / times[2] * 1e-9, prism_q8_pullback_loop(k, 32, 0));
    }
    free(w); free(ws); free(u); free(out);
}

int main(int argc, char **argv) {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int best = prism_best_kernel();
    for (int k = 0; k < NKERNELS; k++)
        if (prism_runnable_kernel(k) == k) kernels[nkernels++] = k;
    printf("CPU's best int8 kernel: %s; checking against the portable loop:", names[best]);
    for (int i = 0; i < nkernels; i++) printf(" %s", names[kernels[i]]);
    printf("\n");
    for (int k = 1; k < NKERNELS; k++)
        if (prism_runnable_kernel(k) != k) printf("(%s is not on this CPU: asked for, it runs as %s)\n", names[k], names[prism_runnable_kernel(k)]);
    int shapes[][3] = {{1, 37, 64}, {2, 64, 96}, {3, 13, 96}, {5, 130, 2048}, {9, 70, 512}, {17, 260, 256}, {32, 257, 256}, {33, 70, 512},
                       {1, 3, 32}, {1, 4, 32}, {2, 5, 32}, {1, 9, 64}, {4, 7, 160},
                       // Activations over 4 MiB: the prompt kernels' token blocks (256 + 44; 64 + 6).
                       {300, 19, 16384}, {70, 9, 65536}};
    int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    for (int i = 0; i < nshapes; i++) check_products(shapes[i][0], shapes[i][1], shapes[i][2]);
    // Random shapes: 1..12 tokens, 1..140 rows, 1..40 blocks of 32.
    int random_shapes = 60;
    for (int i = 0; i < random_shapes; i++) {   // one draw per statement: the same shapes on every compiler
        int tokens = 1 + below(12), rows = 1 + below(140);
        int cols = 32 * (1 + below(40));
        check_products(tokens, rows, cols);
    }
    printf("products checked on %d fixed and %d random shapes\n", nshapes, random_shapes);
    int npull = check_pullbacks();
    int nquant = check_weight_quants();
    printf("pull-back checked on %d shapes, weight quantizer on %d (with %d value families)\n", npull, nquant, QUANT_FAMILIES);
    for (int i = 0; i < nkernels; i++) {
        int k = kernels[i];
        printf("loops %-12s pull-back: %s %ld, portable %ld; weight quantizer: %s %ld, portable %ld\n", names[k],
               pull_vector[k] ? pull_vector[k] : "(no vector loop)", pull_loops[k][LOOP_VECTOR], pull_loops[k][LOOP_PORTABLE],
               quant_vector[k] ? quant_vector[k] : "(no vector loop)", quant_loops[k][LOOP_VECTOR], quant_loops[k][LOOP_PORTABLE]);
    }
    check_gelu();
    hash_weight_quant();
    for (int i = 0; i < nkernels; i++) printf("ran   %-12s %5ld checks\n", names[kernels[i]], checks[kernels[i]]);
    time_kernels(quick);
    time_pullback(quick);
    printf(failures ? "%d check(s) FAILED\n" : "all kernels agree with the portable loop\n", failures);
    return failures ? 1 : 0;
}
