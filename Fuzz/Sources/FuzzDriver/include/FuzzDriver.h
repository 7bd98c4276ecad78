#ifndef PRISM_FUZZ_DRIVER_H
#define PRISM_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer's driver on the target's `LLVMFuzzerTestOneInput`. SwiftPM links every
/// executable with `--defsym main=<Target>_main` (so tests can link executables), which hides
/// libFuzzer's own `main`; each target therefore defines `<Target>_main` and calls this.
int prism_fuzz_main(int argc, char **argv);

#endif
