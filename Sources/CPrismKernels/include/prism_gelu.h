#ifndef PRISM_GELU_H
#define PRISM_GELU_H
#include "prism_cpu.h"

// GELU (tanh approximation) over n floats, in place allowed; `kernel` as for the int8 products
// (AVX2 and above, or NEON, take the vector loop: within a few ulp of libm's tanhf form, and the
// same values on both architectures).
void prism_gelu_tanh(int kernel, const float *x, float *out, long n);

#endif
