#include "ir/half.h"

#include <cmath>
#include <cstring>

namespace vitq {
namespace {

uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float bitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// \p v rounded to float with round-to-odd: truncated toward zero, then the lowest mantissa bit set
// when that dropped anything. Float keeps 13 bits more than binary16 and 16 more than bfloat16,
// so rounding this float to either to nearest even gives the correctly rounded result of v.
template <typename Wide>
float roundToOddFloat(Wide v) {
  float f = static_cast<float>(v);
  if (std::isnan(v) || static_cast<Wide>(f) == v) return f;
  if (std::fabs(static_cast<Wide>(f)) > std::fabs(v)) f = std::nextafter(f, 0.0f);  // Inf included
  return bitsToFloat(floatBits(f) | 1u);
}

}  // namespace

float halfBitsToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1f) return bitsToFloat(sign | 0x7f800000u | (mantissa << 13));  // Inf, NaN
  if (exponent == 0) {  // zero or subnormal: mantissa x 2^-24, exact in float
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  return bitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t toHalfBits(float value) {
  uint32_t x = floatBits(value);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((x >> 13) & 0x3ffu));  // NaN, quieted
  if (x >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 (Inf included): Inf
  if (x >= 0x38800000u) {  // >= 2^-14: normal; round the 13 dropped bits to nearest even, rebias 127 -> 15
    const uint32_t rounded = x + 0xfffu + ((x >> 13) & 1u) - 0x38000000u;
    return static_cast<uint16_t>(sign | (rounded >> 13));
  }
  if (x < 0x33000000u) return sign;  // below 2^-25, half the smallest subnormal: zero
  // Subnormal: round(value / 2^-24); value = m x 2^(e - 150) with the implicit bit in m.
  const uint32_t m = (x & 0x7fffffu) | 0x800000u;
  const int shift = 126 - static_cast<int>(x >> 23);  // 14..24
  uint32_t q = m >> shift;
  const uint32_t rest = m & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (q & 1u))) ++q;  // may carry into the smallest normal: right
  return static_cast<uint16_t>(sign | q);
}

uint16_t toHalfBits(double value) { return toHalfBits(roundToOddFloat(value)); }
uint16_t toHalfBits(long double value) { return toHalfBits(roundToOddFloat(value)); }

float bfloat16BitsToFloat(uint16_t bits) { return bitsToFloat(static_cast<uint32_t>(bits) << 16); }

uint16_t toBFloat16Bits(float value) {
  const uint32_t x = floatBits(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // NaN, quieted
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);  // overflow carries into Inf
}

uint16_t toBFloat16Bits(double value) { return toBFloat16Bits(roundToOddFloat(value)); }
uint16_t toBFloat16Bits(long double value) { return toBFloat16Bits(roundToOddFloat(value)); }

Tensor widenToFloat(const Tensor& t) {
  if (!is16BitFloat(t.dtype())) return t;
  Tensor out = Tensor::uninitialized(DataType::kFloat, t.shape());
  const auto* in = static_cast<const uint16_t*>(t.rawData());
  float* p = out.data<float>();
  const int64_t n = t.numel();
  if (t.dtype() == DataType::kFloat16) {
    for (int64_t i = 0; i < n; ++i) p[i] = halfBitsToFloat(in[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) p[i] = bfloat16BitsToFloat(in[i]);
  }
  return out;
}

Tensor narrowFromFloat(const Tensor& t, DataType to) {
  VITQ_CHECK(is16BitFloat(to)) << "narrowFromFloat to " << dataTypeName(to);
  Tensor out = Tensor::uninitialized(to, t.shape());
  const float* in = t.data<float>();
  auto* p = static_cast<uint16_t*>(out.rawData());
  const int64_t n = t.numel();
  if (to == DataType::kFloat16) {
    for (int64_t i = 0; i < n; ++i) p[i] = toHalfBits(in[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) p[i] = toBFloat16Bits(in[i]);
  }
  return out;
}

}  // namespace vitq
