#ifndef PRISM_DEQUANT_DOT_H
#define PRISM_DEQUANT_DOT_H
#include <stdint.h>
#include "prism_cpu.h"

// out[r] = sum_c W[r, c] x[c] for rows [row0, row1) of an int8 block-quantized matrix
// (scales: f16 bits [rows, ceil(cols / block)]), fp32 x: the weights dequantized in registers.
// Each row is summed in one order whatever the row range. `kernel` as for the int8 products:
// AVX2 and above take the vector loop (blocks of 32, whole blocks only; within float rounding of
// the portable loop), NEON the aarch64 loop (blocks of 32; bit-identical to the portable loop),
// else the portable one.
void prism_q8_rows_dot_f32(int kernel, const int8_t *q, const uint16_t *scales, int cols, int block, const float *x,
                           int row0, int row1, float *out);

#endif
