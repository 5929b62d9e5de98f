#include "quant/math/dyadic.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace vitq {
namespace {

__extension__ typedef __int128 Int128;  // GCC/Clang; __extension__ keeps -Wpedantic quiet

// |acc · m| < 2^63 · 2^31 = 2^94, so for c ≥ 96 the rounded value is 0 for every int64.
constexpr int kZeroShift = 96;

void checkWidth(int bits, bool is_signed) {
  VITQ_CHECK(is_signed ? bits >= 2 && bits <= 32 : bits >= 1 && bits <= 31) << "bad integer width " << bits;
}

}  // namespace

double Dyadic::value() const { return std::ldexp(static_cast<double>(multiplier), -shift); }

Dyadic dyadicFromScale(double M, int mantissa_bits) {
  VITQ_CHECK(std::isfinite(M)) << "dyadic multiplier of a non-finite scale " << M;
  VITQ_CHECK(mantissa_bits >= 1 && mantissa_bits <= 31) << "dyadic mantissa of " << mantissa_bits << " bits";
  if (M == 0) return {};
  int e = 0;
  const double f = std::frexp(std::fabs(M), &e);  // |M| = f · 2^e, f in [0.5, 1)
  // f · 2^b and the + 0.5 are exact in double (53-bit mantissa, value below 2^31).
  int64_t m = static_cast<int64_t>(std::floor(std::ldexp(f, mantissa_bits) + 0.5));
  if (m == (int64_t{1} << mantissa_bits)) {  // f rounded up to 1.0: the mantissa guard
    m >>= 1;
    ++e;
  }
  const int c = mantissa_bits - e;
  if (c >= kZeroShift) return {};
  return {static_cast<int32_t>(M < 0 ? -m : m), c};
}

std::vector<Dyadic> dyadicFromScales(const std::vector<double>& Ms) {
  std::vector<Dyadic> out;
  out.reserve(Ms.size());
  for (double M : Ms) out.push_back(dyadicFromScale(M));
  return out;
}

int64_t intRangeMin(int bits, bool is_signed) {
  checkWidth(bits, is_signed);
  return is_signed ? -(int64_t{1} << (bits - 1)) : 0;
}

int64_t intRangeMax(int bits, bool is_signed) {
  checkWidth(bits, is_signed);
  return is_signed ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1;
}

int32_t requantize(int64_t acc, Dyadic d, int bits, bool is_signed) {
  const int64_t lo = intRangeMin(bits, is_signed), hi = intRangeMax(bits, is_signed);
  const Int128 p = static_cast<Int128>(acc) * d.multiplier;
  Int128 y;
  if (p == 0 || d.shift >= kZeroShift) {
    y = 0;
  } else if (d.shift > 0) {
    y = (p + (static_cast<Int128>(1) << (d.shift - 1))) >> d.shift;  // arithmetic shift: floor
  } else if (d.shift >= -32) {
    y = p * (static_cast<Int128>(1) << -d.shift);  // |p| < 2^94: fits in 126 bits
  } else {
    y = p < 0 ? lo : hi;  // |p| ≥ 2^30, times at least 2^33: beyond every 32-bit range
  }
  return static_cast<int32_t>(std::clamp<Int128>(y, lo, hi));
}

}  // namespace vitq
