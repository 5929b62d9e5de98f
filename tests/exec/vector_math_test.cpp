#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "exec/kernels/vector_math.h"

namespace vitq {
namespace {

// Inputs over the range where each function varies, plus the tails and a length that is no
// multiple of the chunk or the SIMD width.
std::vector<float> grid(float lo, float hi) {
  std::vector<float> x;
  for (int i = 0; i < 200003; ++i) x.push_back(lo + (hi - lo) * static_cast<float>(i) / 200002.0f);
  return x;
}

template <typename V, typename S>
double maxError(const std::vector<float>& x, V vectorized, S reference, bool relative) {
  std::vector<float> y(x.size());
  vectorized(x.data(), y.data(), static_cast<int64_t>(x.size()));
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = reference(static_cast<double>(x[i]));
    const double err = std::fabs(y[i] - want) / (relative ? std::max(std::fabs(want), 1e-30) : 1.0);
    worst = std::max(worst, err);
  }
  return worst;
}

TEST_CASE("vectorized exp, erf, tanh and sigmoid stay within a few float ulp of libm", "[exec][vector_math]") {
  CHECK(maxError(grid(-87.0f, 88.0f), vec::exp, [](double v) { return std::exp(v); }, true) < 1e-6);
  CHECK(maxError(grid(-6.0f, 6.0f), vec::erf, [](double v) { return std::erf(v); }, false) < 1e-6);
  CHECK(maxError(grid(-10.0f, 10.0f), vec::tanh, [](double v) { return std::tanh(v); }, false) < 1e-6);
  CHECK(maxError(grid(-30.0f, 30.0f), vec::sigmoid, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }, false) <
        1e-6);
}

TEST_CASE("a vectorized result does not depend on where the element sits in the tensor", "[exec][vector_math]") {
  // The chunking is fixed from the tensor's start, so the same values at the same positions give
  // the same bits whether computed in one call or as part of a longer one.
  const std::vector<float> x = grid(-4.0f, 4.0f);
  std::vector<float> whole(x.size()), part(10000);
  vec::erf(x.data(), whole.data(), static_cast<int64_t>(x.size()));
  vec::erf(x.data(), part.data(), 10000);
  CHECK(std::equal(part.begin(), part.end(), whole.begin()));
}

}  // namespace
}  // namespace vitq
