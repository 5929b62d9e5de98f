#include "quant/quant_spec.h"

namespace vitq {

int32_t QuantSpec::qmin() const {
  if (!is_signed) return 0;
  const int32_t half = int32_t{1} << (bits - 1);
  return symmetric ? -(half - 1) : -half;
}

int32_t QuantSpec::qmax() const {
  return is_signed ? (int32_t{1} << (bits - 1)) - 1 : (int32_t{1} << bits) - 1;
}

std::string QuantSpec::toString() const {
  if (scheme == QuantScheme::kLogSqrt2) return "log-sqrt2 " + std::to_string(bits) + "-bit per-tensor";
  std::string s = (is_signed ? "int" : "uint") + std::to_string(bits) + (symmetric ? " sym" : " asym");
  s += axis >= 0 ? " per-channel(axis " + std::to_string(axis) + ")" : " per-tensor";
  return s;
}

}  // namespace vitq
