#include "ir/memory_limit.h"

#include <unistd.h>

#include <cstdio>

namespace vitq {
namespace {

std::string gigabytes(size_t bytes) {
  const double gb = static_cast<double>(bytes) / 1e9;
  char text[32];
  std::snprintf(text, sizeof(text), gb < 10 ? "%.2f GB" : "%.0f GB", gb);
  return text;
}

}  // namespace

size_t tensorByteLimit() {
  static const size_t limit = [] {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page_size = ::sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page_size <= 0) return static_cast<size_t>(-1);  // unknown: no limit of ours
    return static_cast<size_t>(pages) * static_cast<size_t>(page_size) / 2;
  }();
  return limit;
}

std::string tensorTooLargeMessage(size_t bytes) {
  return "needs " + gigabytes(bytes) + ", more than half of this machine's memory (" + gigabytes(tensorByteLimit()) +
         ")";
}

}  // namespace vitq
