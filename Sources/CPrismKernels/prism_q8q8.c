// The int8 route: activations quantized to int8 per block of 32, then int8 x int8 products with
// run-time dispatch. Swift SIMD cannot emit vpmaddubsw / vpdpbusd / sdot, so these few loops are C with
// intrinsics, each in a function compiled for its own target, chosen at run time from the CPU's
// features. The portable loop is the reference the tests compare every other kernel with.
#include "prism_q8q8.h"
#include "prism_cpu.h"
#include "prism_half.h"
#include <stdlib.h>
#include <string.h>
#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PRISM_X86 1
#endif

#if defined(__aarch64__)
#include "prism_arm.h"
#define PRISM_ARM 1
#endif


static void matmul_portable(const int8_t *w, const uint16_t *ws, int cols, const int8_t *x, const float *xs,
                            int tokens, float *out, int ldo, int row0, int row1) {
    int nb = cols / 32;
    for (int r = row0; r < row1; r++) {
        const int8_t *wr = w + (long)r * cols;
        for (int t = 0; t < tokens; t++) {
            const int8_t *xt = x + (long)t * cols;
            float acc = 0;
            for (int b = 0; b < nb; b++) {
                int32_t s = 0;
                for (int i = 0; i < 32; i++) s += (int32_t)wr[b * 32 + i] * (int32_t)xt[b * 32 + i];
                // The canonical order every prompt kernel follows: one fused multiply-add per
                // block of (weight scale * activation scale) with the block's exact int32 sum.
                acc = fmaf(prism_half_to_float(ws[(long)r * nb + b]) * xs[(long)t * nb + b], (float)s, acc);
            }
            out[(long)t * ldo + r] = acc;
        }
    }
}

#ifdef PRISM_X86
// One block of 32 given |w| (unsigned) and x with w's sign: pairwise to int16, then to int32.
#define DOT_AVX2(aw, sx) _mm256_madd_epi16(_mm256_maddubs_epi16((aw), (sx)), _mm256_set1_epi16(1))
#define DOT_AVXVNNI(aw, sx) _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), (aw), (sx))
#define DOT_AVX512VNNI(aw, sx) _mm256_dpbusd_epi32(_mm256_setzero_si256(), (aw), (sx))

__attribute__((target("avx2,fma")))
static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

// A tile of 4 weight rows stays in L1 while the chunk's tokens stream past it, two tokens at
// a time: each weight load and |w| serves both. The products of the rows' and tokens' block
// scales are computed a vector at a time into a table (P) per token pair, so the inner loop
// broadcasts each from memory instead of multiplying and broadcasting scalars (~15% faster).
// Tables live on the heap: their size follows the matrix width, which comes from a file.
#define DEFINE_MATMUL(NAME, TARGET, DOT)                                                                       \
__attribute__((target(TARGET)))                                                                               \
static void NAME##_tile(const int8_t *const *wr, const float *sf, int nb, const int8_t *x, const float *xs,   \
                        long cols, int tokens, float *out, int ldo, int ros, float *P) {                      \
    int t = 0;                                                                                                \
    for (; t + 2 <= tokens; t += 2) {                                                                         \
        const int8_t *x0 = x + (long)t * cols, *x1 = x0 + cols;                                               \
        const float *xs0 = xs + (long)t * nb, *xs1 = xs0 + nb;                                                \
        for (int i = 0; i < 4; i++)                                                                           \
            for (int b = 0; b < nb; b++) {                                                                    \
                P[(2 * i) * nb + b] = sf[i * nb + b] * xs0[b];                                                \
                P[(2 * i + 1) * nb + b] = sf[i * nb + b] * xs1[b];                                            \
            }                                                                                                 \
        __m256 a[4][2];                                                                                       \
        for (int i = 0; i < 4; i++) { a[i][0] = _mm256_setzero_ps(); a[i][1] = _mm256_setzero_ps(); }        \
        for (int b = 0; b < nb; b++) {                                                                        \
            __m256i xv0 = _mm256_loadu_si256((const __m256i *)(x0 + b * 32));                                 \
            __m256i xv1 = _mm256_loadu_si256((const __m256i *)(x1 + b * 32));                                 \
            for (int i = 0; i < 4; i++) {                                                                     \
                __m256i wv = _mm256_loadu_si256((const __m256i *)(wr[i] + b * 32)), aw = _mm256_sign_epi8(wv, wv); \
                a[i][0] = _mm256_fmadd_ps(_mm256_broadcast_ss(P + (2 * i) * nb + b),                          \
                                          _mm256_cvtepi32_ps(DOT(aw, _mm256_sign_epi8(xv0, wv))), a[i][0]);   \
                a[i][1] = _mm256_fmadd_ps(_mm256_broadcast_ss(P + (2 * i + 1) * nb + b),                      \
                                          _mm256_cvtepi32_ps(DOT(aw, _mm256_sign_epi8(xv1, wv))), a[i][1]);   \
            }                                                                                                 \
        }                                                                                                     \
        float *o0 = out + (long)t * ldo, *o1 = o0 + ldo;                                                      \
        for (int i = 0; i < 4; i++) { o0[i * ros] = hsum256(a[i][0]); o1[i * ros] = hsum256(a[i][1]); }      \
    }                                                                                                         \
    /* One token (decoding, odd counts): the sign goes onto the weights, so |x| is taken once per */  \
    /* block for all four rows; the loop is bound by reading the weights, keep it lean. */              \
    for (; t < tokens; t++) {                                                                                 \
        const int8_t *x0 = x + (long)t * cols;                                                                \
        const float *xs0 = xs + (long)t * nb;                                                                 \
        for (int i = 0; i < 4; i++)                                                                           \
            for (int b = 0; b < nb; b++) P[i * nb + b] = sf[i * nb + b] * xs0[b];                             \
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
        for (int b = 0; b < nb; b++) {                                                                        \
            __m256i xv0 = _mm256_loadu_si256((const __m256i *)(x0 + b * 32));                                 \
            __m256i ax = _mm256_sign_epi8(xv0, xv0);                                                          \
            for (int i = 0; i < 4; i++) {                                                                     \
                __m256i wv = _mm256_loadu_si256((const __m256i *)(wr[i] + b * 32));                            \
                acc[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(P + i * nb + b),                                 \
                                         _mm256_cvtepi32_ps(DOT(ax, _mm256_sign_epi8(wv, xv0))), acc[i]);     \
            }                                                                                                 \
        }                                                                                                     \
        float *o0 = out + (long)t * ldo;                                                                      \
        for (int i = 0; i < 4; i++) o0[i * ros] = hsum256(acc[i]);                                            \
    }                                                                                                         \
}                                                                                                             \
__attribute__((target(TARGET)))                                                                               \
static void NAME(const int8_t *w, const uint16_t *ws, int cols, const int8_t *x, const float *xs,            \
                 int tokens, float *out, int ldo, int row0, int row1) {                                      \
    int nb = cols / 32;                                                                                       \
    float *sf = malloc(sizeof(float) * 4 * (size_t)nb), *P = malloc(sizeof(float) * 8 * (size_t)nb);        \
    int r = row0;                                                                                             \
    if (sf && P) {                                                                                            \
        /* Decoding reads each weight once: a tile's four rows come from the four quarters of the */          \
        /* range, so the loads form four long sequential streams the prefetchers follow (measured 2x */       \
        /* over four adjacent rows of 2048 bytes, whose short streams restart every tile). Prompts */         \
        /* reuse each tile for every token: adjacent rows. `stride` is the distance between its rows. */      \
        int stride = tokens == 1 ? (row1 - row0) / 4 : 1;                                                     \
        int tiles = tokens == 1 ? stride : (row1 - row0) / 4;                                                 \
        for (int k = 0; k < tiles; k++) {                                                                     \
            long base = tokens == 1 ? row0 + k : row0 + 4L * k;                                               \
            const int8_t *wr[4];                                                                              \
            for (int i = 0; i < 4; i++) {                                                                     \
                long ri = base + (long)i * stride;                                                            \
                wr[i] = w + ri * cols;                                                                        \
                int b = 0;                                                                                    \
                for (; b + 8 <= nb; b += 8)                                                                   \
                    _mm256_storeu_ps(sf + i * nb + b, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(ws + ri * nb + b))));\
                for (; b < nb; b++) sf[i * nb + b] = _cvtsh_ss(ws[ri * nb + b]);                              \
            }                                                                                                 \
            NAME##_tile(wr, sf, nb, x, xs, cols, tokens, out + base, ldo, stride, P);                         \
        }                                                                                                     \
        r = row0 + 4 * tiles;                                                                                 \
    }                                                                                                         \
    free(sf);                                                                                                 \
    free(P);                                                                                                  \
    if (r < row1) matmul_portable(w, ws, cols, x, xs, tokens, out, ldo, r, row1);                            \
}

// Prompts (any number of tokens): eight rows at a time, interleaved once per tile into a scratch
// block where register g holds bytes 4g..4g+3 of each of the eight rows (an 8x8 transpose of
// 32-bit groups). A token's 4 bytes are broadcast against it, so each product lands in the
// lane of its row: the block's sums are whole int32 vectors, one float conversion and one
// fused multiply-add with the eight rows' scales serve eight rows, and no horizontal sums
// remain. NT tokens share each load of the tile: three with AVX2's 16 vector registers
// (microbenchmark on this machine, one thread: 36 -> 50 GMAC/s against the 4-row tile above).
// A token's sums do not depend on NT: each (token, row) is summed in the same order. AVX2 uses
// this one; the VNNI kernels have their own below (unsigned weights, in-place accumulation).
// Block b (32 bytes) of rows r..r+7 as eight registers: register g holds bytes 4g..4g+3 of each
// of the eight rows (an 8x8 transpose of 32-bit groups), for the interleaved prompt kernels.
__attribute__((target("avx2"), always_inline))
static inline void interleave8(const int8_t *w, long cols, int r, int b, __m256i g[8]) {
    __m256i v[8];
    for (int i = 0; i < 8; i++) v[i] = _mm256_loadu_si256((const __m256i *)(w + (long)(r + i) * cols + b * 32));
    __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]), t1 = _mm256_unpackhi_epi32(v[0], v[1]);
    __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]), t3 = _mm256_unpackhi_epi32(v[2], v[3]);
    __m256i t4 = _mm256_unpacklo_epi32(v[4], v[5]), t5 = _mm256_unpackhi_epi32(v[4], v[5]);
    __m256i t6 = _mm256_unpacklo_epi32(v[6], v[7]), t7 = _mm256_unpackhi_epi32(v[6], v[7]);
    __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
    __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
    g[0] = _mm256_permute2x128_si256(u0, u4, 0x20); g[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
    g[2] = _mm256_permute2x128_si256(u2, u6, 0x20); g[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
    g[4] = _mm256_permute2x128_si256(u0, u4, 0x31); g[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
    g[6] = _mm256_permute2x128_si256(u2, u6, 0x31); g[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

#define DEFINE_INTERLEAVED(NAME, TARGET, DOT, NT)                                                                  \
__attribute__((target(TARGET)))                                                                               \
static void NAME##_pack(const int8_t *w, const uint16_t *ws, long cols, int nb, int r, __m256i *W, __m256i *A, float *S) { \
    for (int b = 0; b < nb; b++) {                                                                            \
        __m256i g[8];                                                                                         \
        interleave8(w, cols, r, b, g);                                                                        \
        for (int k = 0; k < 8; k++) { W[b * 8 + k] = g[k]; A[b * 8 + k] = _mm256_sign_epi8(g[k], g[k]); }   \
        for (int i = 0; i < 8; i++) S[b * 8 + i] = _cvtsh_ss(ws[(long)(r + i) * nb + b]);                   \
    }                                                                                                         \
}                                                                                                             \
/* nt (at most NT) tokens from t against the packed tile; out rows r..r+7 of each token. */                               \
__attribute__((target(TARGET)))                                                                               \
static inline void NAME##_tokens(const __m256i *W, const __m256i *A, const float *S, int nb, const int8_t *x, \
                                 const float *xs, long cols, int t, int nt, float *out, int ldo) {            \
    __m256 f[NT];                                                                                             \
    for (int j = 0; j < nt; j++) f[j] = _mm256_setzero_ps();                                                  \
    for (int b = 0; b < nb; b++) {                                                                            \
        __m256i acc[NT];                                                                                      \
        for (int j = 0; j < nt; j++) acc[j] = _mm256_setzero_si256();                                         \
        for (int k = 0; k < 8; k++) {                                                                         \
            __m256i wg = _mm256_load_si256(W + b * 8 + k), ag = _mm256_load_si256(A + b * 8 + k);             \
            for (int j = 0; j < nt; j++) {                                                                    \
                int32_t x4;                                                                                   \
                memcpy(&x4, x + (long)(t + j) * cols + b * 32 + 4 * k, 4);                                    \
                acc[j] = _mm256_add_epi32(acc[j], DOT(ag, _mm256_sign_epi8(_mm256_set1_epi32(x4), wg)));      \
            }                                                                                                 \
        }                                                                                                     \
        __m256 s = _mm256_load_ps(S + b * 8);                                                                 \
        for (int j = 0; j < nt; j++)                                                                          \
            f[j] = _mm256_fmadd_ps(_mm256_mul_ps(s, _mm256_set1_ps(xs[(long)(t + j) * nb + b])), _mm256_cvtepi32_ps(acc[j]), f[j]); \
    }                                                                                                         \
    for (int j = 0; j < nt; j++) _mm256_storeu_ps(out + (long)(t + j) * ldo, f[j]);                           \
}                                                                                                             \
__attribute__((target(TARGET)))                                                                               \
static int NAME(const int8_t *w, const uint16_t *ws, int cols, const int8_t *x, const float *xs,             \
                int tokens, float *out, int ldo, int row0, int row1) {                                       \
    int nb = cols / 32;                                                                                       \
    __m256i *W = aligned_alloc(32, (size_t)nb * 8 * 32), *A = aligned_alloc(32, (size_t)nb * 8 * 32);        \
    float *S = aligned_alloc(32, (size_t)nb * 8 * 4);                                                         \
    int r = row0;                                                                                             \
    if (W && A && S) {                                                                                        \
        for (; r + 8 <= row1; r += 8) {                                                                       \
            NAME##_pack(w, ws, cols, nb, r, W, A, S);                                                         \
            int t = 0;                                                                                        \
            for (; t + NT <= tokens; t += NT) NAME##_tokens(W, A, S, nb, x, xs, cols, t, NT, out + r, ldo);   \
            if (t < tokens) NAME##_tokens(W, A, S, nb, x, xs, cols, t, tokens - t, out + r, ldo);             \
        }                                                                                                     \
    }                                                                                                         \
    free(W);                                                                                                  \
    free(A);                                                                                                  \
    free(S);                                                                                                  \
    return r;                                                                                                 \
}

DEFINE_INTERLEAVED(interleaved_avx2, "avx2,fma,f16c", DOT_AVX2, 3)

// The VNNI prompt kernels: the interleaved tile above, but each weight byte is offset to unsigned
// once per tile (w + 128: a flip of its top bit), so a (4-byte group, token) pair is one vpdpbusd
// that accumulates in place with the token's four bytes broadcast (with AVX512-VL an embedded
// {1to8} broadcast), instead of a broadcast, a sign flip, a product into zero and an add. The
// offset's share, 128 x (the token's block sum), is where each block's accumulator starts: the
// block's int32 sum is exact (|sum| < 2^21), equal to the sign-flip kernels', and the float steps
// after it are the same, so the results equal the portable loop bit for bit. NT tokens share each
// tile load: eight with AVX-512VL's 32 registers (one thread, 32 x 2048 x 2048, clang -O3: 81 ->
// 130 GMAC/s over the sign-flip tile; NT 4: 119, 12: 91), four with AVX-VNNI's 16 (accumulators
// and sums must fit: 2 NT + 2). AVX-VNNI's instance is this source with the VEX intrinsic; it is
// checked here through the AVX512-VNNI instance built with NT 4 (`-DPRISM_VNNI512_NT=4`,
// `tools/kernel_check.sh`), since no CPU here has AVX-VNNI.
#ifndef PRISM_VNNI512_NT
#define PRISM_VNNI512_NT 8
#endif
#define DEFINE_UNSIGNED_INTERLEAVED(NAME, TARGET, DPBUSD, NT)                                                      \
__attribute__((target(TARGET)))                                                                               \
static void NAME##_pack(const int8_t *w, const uint16_t *ws, long cols, int nb, int r, __m256i *W, float *S) { \
    const __m256i flip = _mm256_set1_epi8((char)0x80);                                                        \
    for (int b = 0; b < nb; b++) {                                                                            \
        __m256i g[8];                                                                                         \
        interleave8(w, cols, r, b, g);                                                                        \
        for (int k = 0; k < 8; k++) W[b * 8 + k] = _mm256_xor_si256(g[k], flip);                              \
        for (int i = 0; i < 8; i++) S[b * 8 + i] = _cvtsh_ss(ws[(long)(r + i) * nb + b]);                   \
    }                                                                                                         \
}                                                                                                             \
/* nt (at most NT) tokens from t against the packed tile; out rows r..r+7 of each. */                       \
/* `start[t * nb + b]` = -128 x (token t's block b sum). */                                                  \
__attribute__((target(TARGET)))                                                                               \
static inline void NAME##_tokens(const __m256i *W, const float *S, int nb, const int8_t *x, const float *xs,   \
                                 const int32_t *start, long cols, int t, int nt, float *out, int ldo) {       \
    __m256 f[NT];                                                                                             \
    for (int j = 0; j < nt; j++) f[j] = _mm256_setzero_ps();                                                  \
    for (int b = 0; b < nb; b++) {                                                                            \
        __m256i acc[NT];                                                                                      \
        for (int j = 0; j < nt; j++) acc[j] = _mm256_set1_epi32(start[(long)(t + j) * nb + b]);               \
        for (int k = 0; k < 8; k++) {                                                                         \
            __m256i wg = _mm256_load_si256(W + b * 8 + k);                                                    \
            for (int j = 0; j < nt; j++) {                                                                    \
                int32_t x4;                                                                                   \
                memcpy(&x4, x + (long)(t + j) * cols + b * 32 + 4 * k, 4);                                    \
                acc[j] = DPBUSD(acc[j], wg, _mm256_set1_epi32(x4));                                           \
            }                                                                                                 \
        }                                                                                                     \
        __m256 s = _mm256_load_ps(S + b * 8);                                                                 \
        for (int j = 0; j < nt; j++)                                                                          \
            f[j] = _mm256_fmadd_ps(_mm256_mul_ps(s, _mm256_set1_ps(xs[(long)(t + j) * nb + b])), _mm256_cvtepi32_ps(acc[j]), f[j]); \
    }                                                                                                         \
    for (int j = 0; j < nt; j++) _mm256_storeu_ps(out + (long)(t + j) * ldo, f[j]);                           \
}                                                                                                             \
__attribute__((target(TARGET)))                                                                               \
static int NAME(const int8_t *w, const uint16_t *ws, int cols, const int8_t *x, const float *xs,             \
                int tokens, float *out, int ldo, int row0, int row1) {                                       \
    int nb = cols / 32;                                                                                       \
    __m256i *W = aligned_alloc(32, (size_t)nb * 8 * 32);                                                      \
    float *S = aligned_alloc(32, (size_t)nb * 8 * 4);                                                         \
    int32_t *start = malloc(sizeof(int32_t) * (size_t)nb * (size_t)tokens);                                   \
    int r = row0;                                                                                             \
    if (W && S && start) {                                                                                    \
        for (long i = 0; i < (long)nb * tokens; i++) {                                                        \
            const int8_t *xb = x + (i / nb) * (long)cols + (i % nb) * 32;                                     \
            int32_t sum = 0;                                                                                  \
            for (int e = 0; e < 32; e++) sum += xb[e];                                                        \
            start[i] = -128 * sum;                                                                            \
        }                                                                                                     \
        /* Tokens in blocks whose activations (4 MiB) stay in cache while every tile passes over */     \
        /* them: re-packing a tile per block costs ~1%, where 1536 tokens x 16384 columns (24 MiB) */     \
        /* read from memory for every tile ran at 99 GMAC/s against 130. */                               \
        int block = (int)((4L << 20) / cols) / NT * NT;                                                       \
        if (block < NT) block = NT;                                                                           \
        int rows8 = row0 + (row1 - row0) / 8 * 8;                                                             \
        for (int t0 = 0; t0 < tokens; t0 += block) {                                                          \
            int t1 = tokens - t0 < block ? tokens : t0 + block;                                               \
            for (r = row0; r < rows8; r += 8) {                                                               \
                NAME##_pack(w, ws, cols, nb, r, W, S);                                                        \
                int t = t0;                                                                                   \
                for (; t + NT <= t1; t += NT) NAME##_tokens(W, S, nb, x, xs, start, cols, t, NT, out + r, ldo); \
                if (t < t1) NAME##_tokens(W, S, nb, x, xs, start, cols, t, t1 - t, out + r, ldo);             \
            }                                                                                                 \
        }                                                                                                     \
        r = rows8;                                                                                            \
    }                                                                                                         \
    free(W);                                                                                                  \
    free(S);                                                                                                  \
    free(start);                                                                                              \
    return r;                                                                                                 \
}

DEFINE_UNSIGNED_INTERLEAVED(interleaved_avx512vnni, "avx2,fma,f16c,avx512f,avx512vnni,avx512vl", _mm256_dpbusd_epi32, PRISM_VNNI512_NT)
DEFINE_UNSIGNED_INTERLEAVED(interleaved_avxvnni, "avx2,fma,f16c,avxvnni", _mm256_dpbusd_avx_epi32, 4)

DEFINE_MATMUL(matmul_avx2, "avx2,fma,f16c", DOT_AVX2)
DEFINE_MATMUL(matmul_avxvnni, "avx2,fma,f16c,avxvnni", DOT_AVXVNNI)
DEFINE_MATMUL(matmul_avx512vnni, "avx2,fma,f16c,avx512vnni,avx512vl", DOT_AVX512VNNI)

// Activations to int8 per block of 32, rounding to nearest even as the portable loop does.
__attribute__((target("avx2,fma")))
static void quantize_avx2(const float *x, int count, int cols, int8_t *q, float *scales) {
    int nb = cols / 32;
    const __m256 signmask = _mm256_set1_ps(-0.0f);
    for (int t = 0; t < count; t++) {
        for (int b = 0; b < nb; b++) {
            const float *p = x + (long)t * cols + b * 32;
            __m256 v0 = _mm256_loadu_ps(p), v1 = _mm256_loadu_ps(p + 8), v2 = _mm256_loadu_ps(p + 16), v3 = _mm256_loadu_ps(p + 24);
            __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(signmask, v0), _mm256_andnot_ps(signmask, v1)),
                                     _mm256_max_ps(_mm256_andnot_ps(signmask, v2), _mm256_andnot_ps(signmask, v3)));
            __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
            h = _mm_max_ps(h, _mm_movehl_ps(h, h));
            h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
            float amax = _mm_cvtss_f32(h);
            float scale = amax / 127.0f;
            float inv = scale > 0 ? 1.0f / scale : 0.0f;
            scales[(long)t * nb + b] = scale;
            __m256 vi = _mm256_set1_ps(inv);
            // cvtps rounds to nearest even under the default MXCSR mode.
            __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, vi)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, vi));
            __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, vi)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, vi));
            __m256i s01 = _mm256_packs_epi32(i0, i1), s23 = _mm256_packs_epi32(i2, i3);
            __m256i s = _mm256_packs_epi16(s01, s23);
            // packs interleave 128-bit lanes: restore element order.
            s = _mm256_permutevar8x32_epi32(s, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(q + (long)t * cols + b * 32), s);
        }
    }
}
#endif

#ifdef PRISM_ARM
// aarch64. Each block's int32 sum is exact whatever the instructions (smull + sadalp, or sdot),
// and four rows' sums land in the four lanes of one vector, so a lane runs the portable loop's
// sequence for its row: acc = fma(ws * xs, (float)isum, acc) over the blocks in order. Both the
// prompt and the decode kernels therefore equal the portable loop bit for bit.

// One row's block of 32 against a token's: partial int32 sums in four lanes (add them for the
// block's sum). smull widens each product to int16 (|w x| <= 16384 even for -128), sadalp adds
// pairs into int32: exact for every int8 value.
static inline int32x4_t dot32_neon(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
    int32x4_t s = vpaddlq_s16(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)));
    s = vpadalq_s16(s, vmull_high_s8(w0, x0));
    s = vpadalq_s16(s, vmull_s8(vget_low_s8(w1), vget_low_s8(x1)));
    return vpadalq_s16(s, vmull_high_s8(w1, x1));
}

PRISM_TARGET_DOTPROD
static inline int32x4_t dot32_dotprod(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1);
}

// Four rows' lane partials to the four rows' block sums, row i in lane i.
static inline int32x4_t sum4_rows(int32x4_t p0, int32x4_t p1, int32x4_t p2, int32x4_t p3) {
    return vpaddq_s32(vpaddq_s32(p0, p1), vpaddq_s32(p2, p3));
}

// A tile of four weight rows (wr, at a distance of `ros` floats in `out`), their block scales
// sf[b * 4 + i] (row i, block b), against every token; two tokens share each weight load.
#define DEFINE_NEON_TILE(NAME, ATTR, DOT)                                                                     \
ATTR static void NAME(const int8_t *const *wr, const float *sf, int nb, const int8_t *x, const float *xs,    \
                      long cols, int tokens, float *out, int ldo, int ros) {                                 \
    int t = 0;                                                                                                \
    for (; t + 2 <= tokens; t += 2) {                                                                         \
        const int8_t *x0 = x + (long)t * cols, *x1 = x0 + cols;                                               \
        const float *xs0 = xs + (long)t * nb, *xs1 = xs0 + nb;                                                \
        float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);                                                 \
        for (int b = 0; b < nb; b++) {                                                                        \
            int8x16_t xa0 = vld1q_s8(x0 + b * 32), xb0 = vld1q_s8(x0 + b * 32 + 16);                          \
            int8x16_t xa1 = vld1q_s8(x1 + b * 32), xb1 = vld1q_s8(x1 + b * 32 + 16);                          \
            int32x4_t p0[4], p1[4];                                                                           \
            for (int i = 0; i < 4; i++) {                                                                     \
                int8x16_t w0 = vld1q_s8(wr[i] + b * 32), w1 = vld1q_s8(wr[i] + b * 32 + 16);                  \
                p0[i] = DOT(w0, w1, xa0, xb0);                                                                \
                p1[i] = DOT(w0, w1, xa1, xb1);                                                                \
            }                                                                                                 \
            float32x4_t s = vld1q_f32(sf + 4 * b);                                                            \
            a0 = vfmaq_f32(a0, vmulq_n_f32(s, xs0[b]), vcvtq_f32_s32(sum4_rows(p0[0], p0[1], p0[2], p0[3]))); \
            a1 = vfmaq_f32(a1, vmulq_n_f32(s, xs1[b]), vcvtq_f32_s32(sum4_rows(p1[0], p1[1], p1[2], p1[3]))); \
        }                                                                                                     \
        float o0[4], o1[4];                                                                                   \
        vst1q_f32(o0, a0);                                                                                    \
        vst1q_f32(o1, a1);                                                                                    \
        for (int i = 0; i < 4; i++) { out[(long)t * ldo + i * ros] = o0[i]; out[(long)(t + 1) * ldo + i * ros] = o1[i]; } \
    }                                                                                                         \
    for (; t < tokens; t++) {                                                                                 \
        const int8_t *x0 = x + (long)t * cols;                                                                \
        const float *xs0 = xs + (long)t * nb;                                                                 \
        float32x4_t a0 = vdupq_n_f32(0);                                                                      \
        for (int b = 0; b < nb; b++) {                                                                        \
            int8x16_t xa0 = vld1q_s8(x0 + b * 32), xb0 = vld1q_s8(x0 + b * 32 + 16);                          \
            int32x4_t p0[4];                                                                                  \
            for (int i = 0; i < 4; i++) p0[i] = DOT(vld1q_s8(wr[i] + b * 32), vld1q_s8(wr[i] + b * 32 + 16), xa0, xb0); \
            a0 = vfmaq_f32(a0, vmulq_n_f32(vld1q_f32(sf + 4 * b), xs0[b]), vcvtq_f32_s32(sum4_rows(p0[0], p0[1], p0[2], p0[3]))); \
        }                                                                                                     \
        float o0[4];                                                                                          \
        vst1q_f32(o0, a0);                                                                                    \
        for (int i = 0; i < 4; i++) out[(long)t * ldo + i * ros] = o0[i];                                     \
    }                                                                                                         \
}

DEFINE_NEON_TILE(tile_neon, , dot32_neon)
DEFINE_NEON_TILE(tile_dotprod, PRISM_TARGET_DOTPROD, dot32_dotprod)

// Rows [row0, row1) in tiles of four, the rest (fewer than four) through the portable loop.
// `quarters`: a tile's rows come from the four quarters of the range (decoding reads each weight
// once: four long sequential streams), else four adjacent rows (prompts reuse a tile for every
// token). Either way each row's sum runs in the portable order, so the layout changes no result.
static void matmul_neon(int dotprod, int quarters, const int8_t *w, const uint16_t *ws, int cols, const int8_t *x,
                        const float *xs, int tokens, float *out, int ldo, int row0, int row1) {
    int nb = cols / 32;
    float *sf = malloc(sizeof(float) * 4 * (size_t)nb);   // its size follows the matrix width, from a file
    int r = row0;
    if (sf) {
        int stride = quarters ? (row1 - row0) / 4 : 1;
        int tiles = quarters ? stride : (row1 - row0) / 4;
        for (int k = 0; k < tiles; k++) {
            long base = quarters ? row0 + k : row0 + 4L * k;
            const int8_t *wr[4];
            for (int i = 0; i < 4; i++) {
                long ri = base + (long)i * stride;
                wr[i] = w + ri * cols;
                for (int b = 0; b < nb; b++) sf[4 * b + i] = prism_half_to_float_neon(ws[ri * nb + b]);
            }
            if (dotprod) tile_dotprod(wr, sf, nb, x, xs, cols, tokens, out + base, ldo, stride);
            else tile_neon(wr, sf, nb, x, xs, cols, tokens, out + base, ldo, stride);
        }
        r = row0 + 4 * tiles;
    }
    free(sf);
    if (r < row1) matmul_portable(w, ws, cols, x, xs, tokens, out, ldo, r, row1);
}

// Activations to int8 per block of 32, as the portable loop: the same scalar scale and inverse,
// fcvtns rounds to nearest even (rintf's default mode), then the clamp to [-127, 127].
static void quantize_neon(const float *x, int count, int cols, int8_t *q, float *scales) {
    int nb = cols / 32;
    const int32x4_t lo = vdupq_n_s32(-127), hi = vdupq_n_s32(127);
    for (int t = 0; t < count; t++) {
        for (int b = 0; b < nb; b++) {
            const float *p = x + (long)t * cols + b * 32;
            float32x4_t v[8];
            for (int i = 0; i < 8; i++) v[i] = vld1q_f32(p + 4 * i);
            float32x4_t m = vmaxq_f32(vmaxq_f32(vabsq_f32(v[0]), vabsq_f32(v[1])), vmaxq_f32(vabsq_f32(v[2]), vabsq_f32(v[3])));
            m = vmaxq_f32(m, vmaxq_f32(vmaxq_f32(vabsq_f32(v[4]), vabsq_f32(v[5])), vmaxq_f32(vabsq_f32(v[6]), vabsq_f32(v[7]))));
            float amax = vmaxvq_f32(m);
            float scale = amax / 127.0f;
            float inv = scale > 0 ? 1.0f / scale : 0.0f;
            scales[(long)t * nb + b] = scale;
            int16x8_t h[4];
            for (int i = 0; i < 4; i++) {
                int32x4_t i0 = vminq_s32(vmaxq_s32(vcvtnq_s32_f32(vmulq_n_f32(v[2 * i], inv)), lo), hi);
                int32x4_t i1 = vminq_s32(vmaxq_s32(vcvtnq_s32_f32(vmulq_n_f32(v[2 * i + 1], inv)), lo), hi);
                h[i] = vcombine_s16(vmovn_s32(i0), vmovn_s32(i1));
            }
            int8_t *o = q + (long)t * cols + b * 32;
            vst1q_s8(o, vcombine_s8(vmovn_s16(h[0]), vmovn_s16(h[1])));
            vst1q_s8(o + 16, vcombine_s8(vmovn_s16(h[2]), vmovn_s16(h[3])));
        }
    }
}
#endif

static void quantize_portable(const float *x, int count, int cols, int8_t *q, float *scales) {
    int nb = cols / 32;
    for (int t = 0; t < count; t++) {
        for (int b = 0; b < nb; b++) {
            const float *p = x + (long)t * cols + b * 32;
            float amax = 0;
            for (int i = 0; i < 32; i++) { float a = p[i] < 0 ? -p[i] : p[i]; if (a > amax) amax = a; }
            float scale = amax / 127.0f;
            float inv = scale > 0 ? 1.0f / scale : 0.0f;
            scales[(long)t * nb + b] = scale;
            for (int i = 0; i < 32; i++) {
                float v = __builtin_rintf(p[i] * inv);
                if (v > 127) v = 127;
                if (v < -127) v = -127;
                q[(long)t * cols + b * 32 + i] = (int8_t)v;
            }
        }
    }
}

void prism_quantize_rows(int kernel, const float *x, int count, int cols, int8_t *q, float *scales) {
#ifdef PRISM_X86
    if (kernel >= PRISM_KERNEL_AVX2 && prism_best_kernel() >= PRISM_KERNEL_AVX2) { quantize_avx2(x, count, cols, q, scales); return; }
#endif
#ifdef PRISM_ARM
    if (prism_runnable_kernel(kernel) >= PRISM_KERNEL_NEON) { quantize_neon(x, count, cols, q, scales); return; }
#endif
    quantize_portable(x, count, cols, q, scales);
}

void prism_q8q8_matmul(int kernel, const int8_t *w, const uint16_t *ws, int cols, const int8_t *x, const float *xs,
                       int tokens, float *out, int ldo, int row0, int row1) {
#ifdef PRISM_X86
    // Never run a kernel the CPU lacks, whatever the caller asked for.
    kernel = prism_runnable_kernel(kernel);
    // Every token through the interleaved eight-row kernel, whatever their number, and the last
    // rows (fewer than eight) through the portable loop, which follows the same order: a token's
    // results do not depend on which other tokens share the product.
    switch (kernel) {
    case PRISM_KERNEL_AVX512VNNI: row0 = interleaved_avx512vnni(w, ws, cols, x, xs, tokens, out, ldo, row0, row1); break;
    case PRISM_KERNEL_AVXVNNI: row0 = interleaved_avxvnni(w, ws, cols, x, xs, tokens, out, ldo, row0, row1); break;
    case PRISM_KERNEL_AVX2: row0 = interleaved_avx2(w, ws, cols, x, xs, tokens, out, ldo, row0, row1); break;
    default: break;
    }
    if (row0 >= row1) return;
#endif
#ifdef PRISM_ARM
    kernel = prism_runnable_kernel(kernel);
    if (kernel >= PRISM_KERNEL_NEON) {
        matmul_neon(kernel == PRISM_KERNEL_NEON_DOTPROD, 0, w, ws, cols, x, xs, tokens, out, ldo, row0, row1);
        return;
    }
#endif
    matmul_portable(w, ws, cols, x, xs, tokens, out, ldo, row0, row1);
}

void prism_q8q8_matmul_decode(int kernel, const int8_t *w, const uint16_t *ws, int cols, const int8_t *x, const float *xs,
                              int tokens, float *out, int ldo, int row0, int row1) {
#ifdef PRISM_X86
    kernel = prism_runnable_kernel(kernel);
    switch (kernel) {
    case PRISM_KERNEL_AVX512VNNI: matmul_avx512vnni(w, ws, cols, x, xs, tokens, out, ldo, row0, row1); return;
    case PRISM_KERNEL_AVXVNNI: matmul_avxvnni(w, ws, cols, x, xs, tokens, out, ldo, row0, row1); return;
    case PRISM_KERNEL_AVX2: matmul_avx2(w, ws, cols, x, xs, tokens, out, ldo, row0, row1); return;
    default: break;
    }
#endif
#ifdef PRISM_ARM
    kernel = prism_runnable_kernel(kernel);
    if (kernel >= PRISM_KERNEL_NEON) {
        matmul_neon(kernel == PRISM_KERNEL_NEON_DOTPROD, tokens == 1, w, ws, cols, x, xs, tokens, out, ldo, row0, row1);
        return;
    }
#endif
    matmul_portable(w, ws, cols, x, xs, tokens, out, ldo, row0, row1);
}
