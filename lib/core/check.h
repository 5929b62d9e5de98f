// VITQ_CHECK: internal invariants only. A failed check is a bug in vitq, never a user error;
// it prints the condition, location and message, then aborts.
#pragma once

#include <sstream>
#include <string>

namespace vitq::detail {

class CheckFailure {
 public:
  CheckFailure(const char* condition, const char* file, int line);
  [[noreturn]] ~CheckFailure();
  template <typename T>
  CheckFailure& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

// Lets `VITQ_CHECK(c) << msg` be an expression of type void in both ternary arms.
struct Voidify {
  void operator&(CheckFailure&) {}
};

}  // namespace vitq::detail

#define VITQ_CHECK(cond) \
  (cond) ? (void)0       \
         : ::vitq::detail::Voidify() & ::vitq::detail::CheckFailure(#cond, __FILE__, __LINE__)
