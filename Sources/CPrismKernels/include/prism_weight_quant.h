#ifndef PRISM_WEIGHT_QUANT_H
#define PRISM_WEIGHT_QUANT_H
#include <stdint.h>

// int8 quantization of one weight row, a scale (f16 bits) per block of `block` inputs (the last
// may be partial); adds the squared error, squared values and max |error| to stats[0..2].
// `x` must be finite. Returns how many blocks had max|x| / 127 beyond the f16 range: their scale is
// clamped to 65504 (never inf), so their large values are clipped; a caller should store such a row
// another way.
int prism_quantize_weight_row(const float *x, int cols, int block, int8_t *q, uint16_t *scales, double *stats);

// The same with a chosen loop (`kernel` as for the int8 products, clamped to what the CPU runs):
// AVX2 and above take the vector loop for blocks that are a multiple of 8 (up to 256), NEON for
// blocks that are a multiple of 4; each equals the portable loop bit for bit (quants, scales,
// overflow count and stats).
int prism_quantize_weight_row_kernel(int kernel, const float *x, int cols, int block, int8_t *q, uint16_t *scales, double *stats);

// The loop prism_quantize_weight_row_kernel takes for `kernel` and `block` ("avx2", "neon" or
// "portable"; a row's last blocks, fewer than a vector group, run the portable loop even then).
// For checks and reports; a static string.
const char *prism_quantize_weight_row_loop(int kernel, int block);

// How many of x[0..n) are NaN or +-inf; *first gets the index of the first one (-1 if none) and
// *nans how many of them are NaN.
long prism_count_non_finite(const float *x, long n, long *first, long *nans);

// dst[i] = src[i] as bf16 bits widened to f32, for i < n; returns how many are NaN or +-inf.
// `kernel` as above (AVX2 and above: the vector loop; same results).
long prism_bf16_widen_count_non_finite(int kernel, const uint16_t *src, float *dst, long n);

// w[c] = q[c] * scale[c / block] for one row.
void prism_q8_dequantize_row(const int8_t *q, const uint16_t *scales, int cols, int block, float *out);

#endif
