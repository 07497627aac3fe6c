#include "cpc/detail/check.hpp"

#include <cstdio>
#include <cstdlib>

namespace cpc::detail {

void check_failed(const char* condition, const char* what, const char* file, int line) noexcept {
    std::fprintf(stderr, "cpc: precondition violated: %s\n  check: %s\n  at %s:%d\n", what,
                 condition, file, line);
    std::fflush(stderr);
    std::abort();
}

}  // namespace cpc::detail
