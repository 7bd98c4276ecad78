// Weight quantization for `prism convert` (int8 per block, f16 scales), its inverse for the
// dequantizing routes, and the finite check run before quantizing. Element loops that Swift's
// generic SIMD conversions (Float <-> Int8, Float16) compile to scalar calls: written as plain
// C loops, which clang vectorizes at -O3.
#include "prism_weight_quant.h"
#include "prism_half.h"
#include <string.h>

int prism_quantize_weight_row(const float *x, int cols, int block, int8_t *q, uint16_t *scales, double *stats) {
    double sq_err = 0, sq = 0, max_err = 0;
    int overflowed = 0;
    for (int c0 = 0, b = 0; c0 < cols; c0 += block, b++) {
        int n = cols - c0 < block ? cols - c0 : block;
        float amax = 0;
        for (int i = 0; i < n; i++) { float a = __builtin_fabsf(x[c0 + i]); amax = a > amax ? a : amax; }
        _Float16 s16 = (_Float16)(amax / 127.0f);   // round to nearest even, as Swift's Float16(_:)
        // Beyond 65504 the f16 scale would be inf and every quant of the block 0 or NaN.
        if (__builtin_isinf((float)s16)) { s16 = (_Float16)65504.0f; overflowed++; }
        __builtin_memcpy(&scales[b], &s16, 2);
        float scale = prism_half_to_float(scales[b]);
        float inv = scale > 0 ? 1.0f / scale : 0.0f;
        float e2 = 0, v2 = 0, em = 0;
        for (int i = 0; i < n; i++) {
            float v = x[c0 + i];
            float r = __builtin_rintf(v * inv);
            r = r > 127 ? 127 : (r < -127 ? -127 : r);
            q[c0 + i] = (int8_t)r;
            float e = v - r * scale;
            e2 += e * e;
            v2 += v * v;
            float ae = __builtin_fabsf(e);
            em = ae > em ? ae : em;
        }
        sq_err += e2;
        sq += v2;
        max_err = em > max_err ? em : max_err;
    }
    stats[0] += sq_err;
    stats[1] += sq;
    if (max_err > stats[2]) stats[2] = max_err;
    return overflowed;
}

long prism_count_non_finite(const float *x, long n, long *first, long *nans) {
    long count = 0, nan = 0, at = -1;
    for (long i = 0; i < n; i++) {
        uint32_t bits;
        __builtin_memcpy(&bits, &x[i], 4);
        // Exponent all ones: inf (mantissa 0) or NaN. Integer test, so it vectorizes under -O3.
        int bad = (bits & 0x7f800000u) == 0x7f800000u;
        count += bad;
        nan += bad & ((bits & 0x007fffffu) != 0);
    }
    if (count > 0) {
        for (long i = 0; i < n; i++) {
            if (!__builtin_isfinite(x[i])) { at = i; break; }
        }
    }
    *first = at;
    *nans = nan;
    return count;
}

void prism_q8_dequantize_row(const int8_t *q, const uint16_t *scales, int cols, int block, float *out) {
    for (int c0 = 0, b = 0; c0 < cols; c0 += block, b++) {
        int n = cols - c0 < block ? cols - c0 : block;
        float s = prism_half_to_float(scales[b]);
        for (int i = 0; i < n; i++) out[c0 + i] = (float)q[c0 + i] * s;
    }
}
