#include "FuzzDriver.h"

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
// Defined by each target (Swift, @_cdecl) as libFuzzer expects.
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// libFuzzer may hand an empty input as a null pointer; the Swift targets take a non-optional one.
static int run_one(const uint8_t *data, size_t size) {
    static const uint8_t empty = 0;
    return LLVMFuzzerTestOneInput(data ? data : &empty, size);
}

int prism_fuzz_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, run_one);
}
