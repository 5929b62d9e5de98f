#include "core/check.h"

#include <cstdio>
#include <cstdlib>

namespace vitq::detail {

CheckFailure::CheckFailure(const char* condition, const char* file, int line) {
  stream_ << "vitq internal error: check failed: " << condition << " at " << file << ":" << line
          << ": ";
}

CheckFailure::~CheckFailure() {
  std::fprintf(stderr, "%s\n", stream_.str().c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace vitq::detail
