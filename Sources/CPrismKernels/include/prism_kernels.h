#ifndef PRISM_KERNELS_H
#define PRISM_KERNELS_H
#include <stdint.h>

// int8 x int8 products for block-quantized weights and activations (the "Q8 x Q8" route):
//   w:  int8 [rows, cols] row-major, ws: f16 bits [rows, nb] (one scale per block of 32 inputs)
//   x:  int8 [tokens, cols] row-major, xs: float [tokens, nb]
//   out[t * ldo + r] = sum_b ws[r,b] * xs[t,b] * sum_{i in b} w[r,i] * x[t,i],  r in [row0, row1)
// cols must be a multiple of 32 (the block size of this route).

enum {
    PRISM_KERNEL_PORTABLE = 0,
    PRISM_KERNEL_AVX2 = 1,
    PRISM_KERNEL_AVXVNNI = 2,      // AVX-VNNI (vpdpbusd on 256-bit registers)
    PRISM_KERNEL_AVX512VNNI = 3,   // AVX512-VNNI with AVX512VL (vpdpbusd, 256-bit form)
};

// The best kernel this CPU supports (checked with cpuid at run time).
int prism_best_kernel(void);

void prism_q8q8_matmul(int kernel, const int8_t *w, const uint16_t *ws, int cols,
                       const int8_t *x, const float *xs, int tokens,
                       float *out, int ldo, int row0, int row1);

// Quantizes `count` rows of `cols` floats (cols a multiple of 32) per block of 32:
// scale = max|x| / 127, q = round-to-nearest-even(x / scale).
void prism_quantize_rows(int kernel, const float *x, int count, int cols, int8_t *q, float *scales);

// int8 quantization of one weight row, a scale (f16 bits) per block of `block` inputs (the last
// may be partial); adds the squared error, squared values and max |error| to stats[0..2].
void prism_quantize_weight_row(const float *x, int cols, int block, int8_t *q, uint16_t *scales, double *stats);

// w[c] = q[c] * scale[c / block] for one row.
void prism_q8_dequantize_row(const int8_t *q, const uint16_t *scales, int cols, int block, float *out);

// out[r] = sum_c W[r, c] x[c] for rows [row0, row1) of an int8 block-quantized matrix, fp32 x.
void prism_q8_rows_dot_f32(const int8_t *q, const uint16_t *scales, int cols, int block, const float *x,
                           int row0, int row1, float *out);

// The prisms' pull-back through an int8 block-quantized W [rows, cols] (block size `block`, last
// block of a row may be partial), fp32 directions u [count, ldu >= rows]:
//   out[k * ldo + c] = sum_r u[k * ldu + r] * W[r, c]   for k < count, c in [col0, col1).
// Weights are widened in registers and shared by all directions (no tile, no BLAS).
void prism_q8_pullback(int kernel, const int8_t *q, const uint16_t *scales, int rows, int cols, int block,
                       const float *u, int count, int ldu, float *out, int ldo, int col0, int col1);

// GELU (tanh approximation) over n floats, in place allowed; kernel as for the products.
void prism_gelu_tanh(int kernel, const float *x, float *out, long n);

// Gives the heap memory the C library keeps after frees back to the kernel (glibc: malloc_trim);
// returns 1 when some was released. A memory plan assumes the process holds only its baseline.
int prism_release_free_heap(void);

#endif
