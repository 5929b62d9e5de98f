#include "quant/math/integer_nonlinear.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace vitq {
namespace {

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();  // 2^31 − 1, the recipes' numerator

// floor(a / b + 1/2) with ties to even, b > 0: torch.round of the mean in the PyTorch I-LayerNorm.
int64_t roundDivHalfEven(int64_t a, int64_t b) {
  int64_t q = floorDiv(a, b);
  const int64_t twice_rem = 2 * (a - q * b);
  if (twice_rem > b || (twice_rem == b && (q & 1) != 0)) ++q;
  return q;
}

// floor(e · floor((2^31 − 1) / S) / 2^shift) for every e of a row with sum S (Shiftmax and the
// sigmoid of ShiftGELU). S is clamped to 2^31 − 1 first; e ≤ S keeps e · F ≤ 2^31 − 1.
int64_t normalizeFactor(int64_t sum) { return kInt32Max / std::min(sum, kInt32Max); }

}  // namespace

uint64_t isqrt(uint64_t v) {
  if (v == 0) return 0;
  const int bitlen = 64 - __builtin_clzll(v);
  uint64_t k = uint64_t{1} << ((bitlen + 1) / 2);  // 2^ceil(bitlen/2) > sqrt(v); at most 2^32
  for (;;) {
    const uint64_t next = (k + v / k) / 2;  // k + v/k < 2^33: no overflow
    if (next >= k) return k;
    k = next;
  }
}

uint64_t isqrtFixed10(uint64_t v) {
  uint64_t k = uint64_t{1} << 16;  // never reaches 0: ten halvings of 2^16 leave at least 64
  for (int i = 0; i < 10; ++i) k = (k + v / k) / 2;
  return k;
}

StatusOr<ShiftExpPlan> planShiftExp(double s, int n) {
  if (!(s > 0) || !std::isfinite(s)) return invalidArgument("ShiftExp: input scale must be positive, got " + std::to_string(s));
  if (n < 0 || n > 30) return invalidArgument("ShiftExp: n must be in [0, 30], got " + std::to_string(n));
  const double x0 = std::floor(-1.0 / s);
  if (-x0 * std::ldexp(1.0, n) > static_cast<double>(kInt32Max))
    return invalidArgument("ShiftExp: input scale " + std::to_string(s) + " is too small for n = " + std::to_string(n) +
                           " (floor(1/s) * 2^n must stay below 2^31)");
  return ShiftExpPlan{static_cast<int32_t>(x0), n};
}

int32_t shiftExp(int64_t x, const ShiftExpPlan& p) {
  int64_t t = std::min<int64_t>(x, 0);
  t = t + (t >> 1) - (t >> 4);                    // x · log2(e), log2(e) ≈ 1.0111b; floor shifts
  t = std::max<int64_t>(t, int64_t{p.n} * p.x0);  // exponent clamped at −n
  const int64_t q = floorDiv(t, p.x0);             // integer part of −exponent, in [0, n]
  const int64_t r = t - q * p.x0;                  // fraction in (x0, 0]
  const int64_t e = ((r >> 1) - p.x0) << (p.n - q);  // 2^u ≈ 1 + u/2 on (−1, 0], times 2^(n−q)
  return static_cast<int32_t>(std::max<int64_t>(e, 0));
}

double ShiftmaxPlan::outScale() const { return std::ldexp(1.0, -(out_bits - 1)); }

StatusOr<ShiftmaxPlan> planShiftmax(double in_scale, int n, int out_bits) {
  if (out_bits < 2 || out_bits > 32) return invalidArgument("Shiftmax: output bits must be in [2, 32]");
  VITQ_ASSIGN_OR_RETURN(ShiftExpPlan exp, planShiftExp(in_scale, n));
  return ShiftmaxPlan{exp, out_bits};
}

void shiftmaxRow(const int32_t* x, size_t len, const ShiftmaxPlan& p, int32_t* out) {
  if (len == 0) return;
  const int64_t xmax = *std::max_element(x, x + len);
  int64_t sum = 0;  // each e ≥ 1, and e(0) ≥ 2^n
  for (size_t i = 0; i < len; ++i) sum += out[i] = shiftExp(x[i] - xmax, p.exp);
  const int64_t factor = normalizeFactor(sum);
  const int shift = 31 - (p.out_bits - 1);
  for (size_t i = 0; i < len; ++i) out[i] = static_cast<int32_t>((out[i] * factor) >> shift);
}

StatusOr<ShiftGeluPlan> planShiftGelu(double in_scale, int n, bool per_element_max) {
  // 1.702 folded into the scale exactly (the official code); the paper's shift-add 1.1011b is not used.
  VITQ_ASSIGN_OR_RETURN(ShiftExpPlan exp, planShiftExp(1.702 * in_scale, n));
  return ShiftGeluPlan{exp, in_scale, per_element_max};
}

void shiftGeluRow(const int32_t* x, size_t len, const ShiftGeluPlan& p, int32_t* out) {
  if (len == 0) return;
  // σ(kx) = e^{k(x−m)} / (e^{k(x−m)} + e^{−km}) holds for any m ≥ x. The official code takes the
  // token's max; we take max(that, 0) so both exponents stay ≤ 0 when every x < 0 (§1.4 edge
  // case, [ours]; identical whenever the max is ≥ 0). per_element_max uses m = max(x, 0) [ours].
  const int64_t row_m = std::max<int64_t>(*std::max_element(x, x + len), 0);
  const int64_t row_b = shiftExp(-row_m, p.exp);
  constexpr int kSigmoidShift = 24;  // 31 − (8 − 1): sigmoid codes in [0, 127], scale 2^−7
  for (size_t i = 0; i < len; ++i) {
    const int64_t m = p.per_element_max ? std::max<int64_t>(x[i], 0) : row_m;
    const int64_t a = shiftExp(x[i] - m, p.exp), b = p.per_element_max ? shiftExp(-m, p.exp) : row_b;
    const int64_t sig = (a * normalizeFactor(a + b)) >> kSigmoidShift;
    out[i] = static_cast<int32_t>(std::clamp<int64_t>(x[i] * sig, -kInt32Max - 1, kInt32Max));
  }
}

StatusOr<ILayerNormPlan> planILayerNorm(const std::vector<float>& gamma, const std::vector<float>& beta) {
  if (gamma.empty() || gamma.size() != beta.size())
    return invalidArgument("I-LayerNorm: need one gamma and one beta per channel");
  const double unit = std::sqrt(static_cast<double>(gamma.size())) / std::ldexp(1.0, 30);  // √C / 2^30
  ILayerNormPlan plan;
  for (size_t c = 0; c < gamma.size(); ++c) {
    const double g = gamma[c], bias = std::floor((static_cast<double>(beta[c]) / g) / unit);
    if (g == 0 || !std::isfinite(g) || !(std::fabs(bias) < std::ldexp(1.0, 62)))
      return invalidArgument("I-LayerNorm: channel " + std::to_string(c) + " has gamma " + std::to_string(g) +
                             ", beta " + std::to_string(beta[c]) + "; needs gamma != 0 and a finite beta/gamma");
    plan.bias.push_back(static_cast<int64_t>(bias));
    plan.out_scale.push_back(g * unit);
  }
  return plan;
}

void iLayerNormRow(const int32_t* x, const ILayerNormPlan& p, int64_t* out) {
  const size_t channels = p.channels();
  int64_t sum = 0;
  for (size_t c = 0; c < channels; ++c) sum += x[c];
  const int64_t mean = roundDivHalfEven(sum, static_cast<int64_t>(channels));
  uint64_t var_sum = 0;  // Σ (x − μ)², ≤ 2^62 under the documented input range
  for (size_t c = 0; c < channels; ++c) {
    const int64_t y = x[c] - mean;
    var_sum += static_cast<uint64_t>(y * y);
  }
  const int64_t std_int = std::max<int64_t>(static_cast<int64_t>(isqrt(var_sum)), 1);  // √C · σ; all-equal rows: y = 0
  const int64_t factor = kInt32Max / std_int;
  for (size_t c = 0; c < channels; ++c) out[c] = (((x[c] - mean) * factor) >> 1) + p.bias[c];  // floor(y·F/2)
}

}  // namespace vitq
