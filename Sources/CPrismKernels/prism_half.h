// f16 bits to f32 without F16C or the compiler-rt call that `(float)_Float16` becomes without
// it: the portable loops' conversion (the AVX2 paths use _cvtsh_ss / _mm256_cvtph_ps).
#ifndef PRISM_HALF_H
#define PRISM_HALF_H
#include <stdint.h>
#include <string.h>

static inline float prism_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while ((man & 0x400) == 0) { man <<= 1; exp--; }
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7f800000 | (man << 13);
    else bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

#endif
