// Every int8 kernel this CPU has, against the portable loop, and timed: one static binary to copy to
// any x86-64 Linux machine (a VNNI CPU above all: the AVX-VNNI and AVX512-VNNI paths run only where
// the CPU has them). Build and run with tools/kernel_check.sh; exit status 1 on any mismatch.
//
// Checked, on odd shapes that reach every tile and tail:
//   prism_q8q8_matmul         (prompts)       bit for bit equal to the portable loop, and each token's
//                                             row equal to that token run alone
//   prism_q8q8_matmul_decode  (decoding)      within 1e-5 relative of the portable loop (another order)
//   prism_quantize_rows       (activations)   bit for bit
//   prism_q8_rows_dot_f32     (exact rows)    within 1e-5 relative of a double-precision product
//   prism_q8_pullback         (the prisms)    within 1e-5 relative of a double-precision product
//   prism_gelu_tanh                           within 2e-6 of the formula in double
#include "prism_kernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned long long rng = 88172645463325252ULL;
static double uniform(void) {   // xorshift64*: the same data on every machine
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return (double)((rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}
static float normal(void) { return (float)(sqrt(-2 * log(uniform() + 1e-300)) * cos(6.283185307179586 * uniform())); }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static const char *names[] = {"portable", "avx2", "avx-vnni", "avx512-vnni"};
static int failures = 0;

static void fail(const char *what, int kernel, int tokens, int rows, int cols, double err) {
    printf("FAIL %-22s %-12s tokens %3d rows %5d cols %5d: %.3g\n", what, names[kernel], tokens, rows, cols, err);
    failures++;
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

static void check_products(int best, int tokens, int rows, int cols) {
    int nb = cols / 32;
    int8_t *w = malloc((size_t)rows * cols), *xq = malloc((size_t)tokens * cols);
    uint16_t *ws = malloc(sizeof(uint16_t) * rows * nb);
    float *x = malloc(sizeof(float) * tokens * cols), *xs = malloc(sizeof(float) * tokens * nb);
    float *ref = malloc(sizeof(float) * tokens * rows), *got = malloc(sizeof(float) * tokens * rows), *one = malloc(sizeof(float) * rows);
    make_weights(rows, cols, 32, w, ws);
    for (long i = 0; i < (long)tokens * cols; i++) x[i] = normal();
    prism_quantize_rows(PRISM_KERNEL_PORTABLE, x, tokens, cols, xq, xs);
    {   // every kernel's activation quantization is the portable one's, bit for bit
        int8_t *q2 = malloc((size_t)tokens * cols); float *s2 = malloc(sizeof(float) * tokens * nb);
        for (int k = 1; k <= best; k++) {
            prism_quantize_rows(k, x, tokens, cols, q2, s2);
            if (memcmp(q2, xq, (size_t)tokens * cols) || memcmp(s2, xs, sizeof(float) * tokens * nb)) fail("quantize_rows", k, tokens, rows, cols, 1);
        }
        free(q2); free(s2);
    }
    prism_q8q8_matmul(PRISM_KERNEL_PORTABLE, w, ws, cols, xq, xs, tokens, ref, rows, 0, rows);
    double *refd = malloc(sizeof(double) * tokens * rows);
    for (long i = 0; i < (long)tokens * rows; i++) refd[i] = ref[i];
    for (int k = 0; k <= best; k++) {
        prism_q8q8_matmul(k, w, ws, cols, xq, xs, tokens, got, rows, 0, rows);
        if (memcmp(got, ref, sizeof(float) * tokens * rows)) fail("q8q8_matmul (bitwise)", k, tokens, rows, cols, rel(got, refd, (long)tokens * rows));
        for (int t = 0; t < tokens; t++) {   // a token alone gives its row in the batch
            prism_q8q8_matmul(k, w, ws, cols, xq + (long)t * cols, xs + (long)t * nb, 1, one, rows, 0, rows);
            if (memcmp(one, got + (long)t * rows, sizeof(float) * rows)) { fail("q8q8 alone vs batch", k, tokens, rows, cols, 1); break; }
        }
        prism_q8q8_matmul_decode(k, w, ws, cols, xq, xs, tokens, got, rows, 0, rows);
        double e = rel(got, refd, (long)tokens * rows);
        if (e > 1e-5) fail("q8q8_matmul_decode", k, tokens, rows, cols, e);
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
        prism_q8_rows_dot_f32(k, w, ws, cols, 32, x, 0, rows, one);
        e = rel(one, exact, rows);
        if (e > 1e-5) fail("q8_rows_dot_f32", k, 1, rows, cols, e);
        free(exact);
    }
    free(w); free(xq); free(ws); free(x); free(xs); free(ref); free(got); free(one); free(refd);
}

static void check_pullback(int best, int count, int rows, int cols) {
    int nb = (cols + 31) / 32;
    int8_t *w = malloc((size_t)rows * cols); uint16_t *ws = malloc(sizeof(uint16_t) * rows * nb);
    float *u = malloc(sizeof(float) * count * rows), *out = malloc(sizeof(float) * count * cols);
    double *want = calloc((size_t)count * cols, sizeof(double));
    make_weights(rows, cols, 32, w, ws);
    for (long i = 0; i < (long)count * rows; i++) u[i] = normal();
    float *dense = malloc(sizeof(float) * cols);
    for (int r = 0; r < rows; r++) {
        prism_q8_dequantize_row(w + (long)r * cols, ws + (long)r * nb, cols, 32, dense);
        for (int k = 0; k < count; k++) for (int c = 0; c < cols; c++) want[(long)k * cols + c] += (double)u[(long)k * rows + r] * dense[c];
    }
    for (int k = 0; k <= best; k++) {
        prism_q8_pullback(k, w, ws, rows, cols, 32, u, count, rows, out, cols, 0, cols);
        double e = rel(out, want, (long)count * cols);
        if (e > 1e-5) fail("q8_pullback", k, count, rows, cols, e);
    }
    free(w); free(ws); free(u); free(out); free(want); free(dense);
}

static void check_gelu(int best) {
    enum { N = 4099 };
    float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = (float)(i - N / 2) / 300.0f;
    for (int k = 0; k <= best; k++) {
        prism_gelu_tanh(k, x, y, N);
        double worst = 0;
        for (int i = 0; i < N; i++) {
            double d = x[i], want = 0.5 * d * (1 + tanh(0.7978845608028654 * (d + 0.044715 * d * d * d)));
            double e = fabs(y[i] - want) / fmax(fabs(d), 1e-3);
            if (e > worst) worst = e;
        }
        if (worst > 2e-6) fail("gelu_tanh", k, 0, N, 1, worst);
    }
}

// Throughput of the prompt kernel: GMAC/s on a prompt-shaped product, one thread.
static void time_prompt_kernel(int best) {
    int tokens = 32, rows = 2048, cols = 2048, nb = cols / 32;
    int8_t *w = malloc((size_t)rows * cols), *xq = malloc((size_t)tokens * cols);
    uint16_t *ws = malloc(sizeof(uint16_t) * rows * nb);
    float *x = malloc(sizeof(float) * tokens * cols), *xs = malloc(sizeof(float) * tokens * nb), *out = malloc(sizeof(float) * tokens * rows);
    make_weights(rows, cols, 32, w, ws);
    for (long i = 0; i < (long)tokens * cols; i++) x[i] = normal();
    prism_quantize_rows(PRISM_KERNEL_PORTABLE, x, tokens, cols, xq, xs);
    for (int k = 0; k <= best; k++) {
        double times[5];
        for (int r = 0; r < 5; r++) {
            double t = now();
            prism_q8q8_matmul(k, w, ws, cols, xq, xs, tokens, out, rows, 0, rows);
            times[r] = now() - t;
        }
        for (int i = 0; i < 5; i++) for (int j = i + 1; j < 5; j++) if (times[j] < times[i]) { double s = times[i]; times[i] = times[j]; times[j] = s; }
        printf("time  q8q8_matmul %-12s 32 x 2048 x 2048, one thread: %7.2f ms, %6.1f GMAC/s (median of 5)\n", names[k], times[2] * 1e3,
               (double)tokens * rows * cols / times[2] * 1e-9);
    }
    free(w); free(xq); free(ws); free(x); free(xs); free(out);
}

int main(void) {
    int best = prism_best_kernel();
    printf("CPU's best int8 kernel: %s; checking every kernel up to it against the portable loop\n", names[best]);
    for (int k = 1; k <= best; k++)
        if (prism_runnable_kernel(k) != k) printf("(%s is not on this CPU: asked for, it runs as %s)\n", names[k], names[prism_runnable_kernel(k)]);
    int shapes[][3] = {{1, 37, 64}, {2, 64, 96}, {3, 13, 96}, {5, 130, 2048}, {9, 70, 512}, {17, 260, 256}, {32, 257, 256}, {33, 70, 512}};
    for (unsigned i = 0; i < sizeof shapes / sizeof shapes[0]; i++) check_products(best, shapes[i][0], shapes[i][1], shapes[i][2]);
    int pulls[][3] = {{1, 64, 96}, {5, 130, 2048}, {10, 300, 520}, {13, 64, 1000}};
    for (unsigned i = 0; i < sizeof pulls / sizeof pulls[0]; i++) check_pullback(best, pulls[i][0], pulls[i][1], pulls[i][2]);
    check_gelu(best);
    time_prompt_kernel(best);
    printf(failures ? "%d check(s) FAILED\n" : "all kernels agree with the portable loop\n", failures);
    return failures ? 1 : 0;
}
