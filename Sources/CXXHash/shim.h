// Debian's libxxhash-dev. XXH_STATIC_LINKING_ONLY publishes the streaming state's layout, so
// Swift can hold an XXH64_state_t by value (no allocation, value semantics when copied);
// the functions still come from the shared library.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
