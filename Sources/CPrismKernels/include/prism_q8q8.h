#ifndef PRISM_Q8Q8_H
#define PRISM_Q8Q8_H
#include <stdint.h>
#include "prism_cpu.h"

// int8 x int8 products for block-quantized weights and activations (the "Q8 x Q8" route):
//   w:  int8 [rows, cols] row-major, ws: f16 bits [rows, nb] (one scale per block of 32 inputs)
//   x:  int8 [tokens, cols] row-major, xs: float [tokens, nb]
//   out[t * ldo + r] = sum_b ws[r,b] * xs[t,b] * sum_{i in b} w[r,i] * x[t,i],  r in [row0, row1)
// cols must be a multiple of 32 (the block size of this route).

// Prompts: each out[t, r] is computed in one order whatever `tokens`, the row range or the
// kernel: acc = fma(ws[r,b] * xs[t,b], (float)isum_b, acc) over blocks b in order (isum_b the
// block's exact int32 sum), so a token's results never depend on the tokens beside it, and
// every kernel equals the portable loop bit for bit.
void prism_q8q8_matmul(int kernel, const int8_t *w, const uint16_t *ws, int cols,
                       const int8_t *x, const float *xs, int tokens,
                       float *out, int ldo, int row0, int row1);

// Decoding (a token per sequence, bound by reading the weights): four rows from the four
// quarters of the range per tile. x86: lanes summed at the end, the same products summed in
// another order (within float rounding of prism_q8q8_matmul, not bit-identical). aarch64 (NEON,
// NEON + sdot): each row in the order above, so bit-identical to prism_q8q8_matmul.
void prism_q8q8_matmul_decode(int kernel, const int8_t *w, const uint16_t *ws, int cols,
                              const int8_t *x, const float *xs, int tokens,
                              float *out, int ldo, int row0, int row1);

// The activations' half of the route: quantizes `count` rows of `cols` floats (cols a multiple
// of 32) per block of 32: scale = max|x| / 127, q = round-to-nearest-even(x / scale).
void prism_quantize_rows(int kernel, const float *x, int count, int cols, int8_t *q, float *scales);

#endif
