#ifndef PRISM_PULLBACK_H
#define PRISM_PULLBACK_H
#include <stdint.h>
#include "prism_cpu.h"

// The prisms' pull-back through an int8 block-quantized W [rows, cols] (block size `block`, last
// block of a row may be partial), fp32 directions u [count, ldu >= rows]:
//   out[k * ldo + c] = sum_r u[k * ldu + r] * W[r, c]   for k < count, c in [col0, col1).
// Weights are widened in registers and shared by all directions (no tile, no BLAS).
void prism_q8_pullback(int kernel, const int8_t *q, const uint16_t *scales, int rows, int cols, int block,
                       const float *u, int count, int ldu, float *out, int ldo, int col0, int col1);

// The loop prism_q8_pullback takes for these arguments ("avx512-fma", "avx2-fma", "neon" or
// "portable"): the vector loops need blocks and col0 that are multiples of 16 (a last partial
// strip of fewer than 16 columns runs the portable loop even then); "avx512-fma" and "avx2-fma"
// give the same floats bit for bit. For checks and reports; a static string.
const char *prism_q8_pullback_loop(int kernel, int block, int col0);

#endif
