// The fuzzers' assertion: a broken invariant aborts, which libFuzzer reports as a crash and
// saves the input for. It names the line first, since the abort is inlined into
// LLVMFuzzerTestOneInput and the stack trace does not.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace fuzz {

inline void check(bool ok, int line = __builtin_LINE(), const char* file = __builtin_FILE()) {
    if (ok) return;
    std::fprintf(stderr, "invariant broken at %s:%d\n", file, line);
    std::abort();
}

}  // namespace fuzz
