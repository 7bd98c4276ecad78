// XXH64 from Debian's libxxhash-dev, compiled into the caller (XXH_INLINE_ALL, the use the
// xxHash header documents for speed): calls through libxxhash.so measured ~7 GB/s against ~10
// for the inlined code and for the project's former Swift loop (1 GiB, -Ounchecked), and
// `prism verify` 14% slower. XXH_INLINE_ALL renames every symbol through macros Swift cannot
// see, hence these wrappers, which Swift imports. The state's layout is public under
// XXH_INLINE_ALL, so Swift holds it by value (copies continue independently).
#ifndef PRISM_XXHASH_SHIM_H
#define PRISM_XXHASH_SHIM_H
#define XXH_INLINE_ALL
#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

typedef XXH64_state_t prism_xxh64_state;

// The errors these functions can return (XXH_ERROR) are for a null state, or a null input with a
// non-zero length: the Swift caller passes neither.
static inline void prism_xxh64_reset(prism_xxh64_state *state, uint64_t seed) { (void)XXH64_reset(state, seed); }

static inline void prism_xxh64_update(prism_xxh64_state *state, const void *input, size_t length) {
    (void)XXH64_update(state, input, length);
}

static inline uint64_t prism_xxh64_digest(const prism_xxh64_state *state) { return XXH64_digest(state); }

// One call; input may be null when length is 0.
static inline uint64_t prism_xxh64(const void *input, size_t length, uint64_t seed) { return XXH64(input, length, seed); }

#endif
