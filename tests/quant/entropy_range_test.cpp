#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "quant/math/entropy_range.h"

namespace vitq {
namespace {

struct Histogram {
  std::vector<uint64_t> counts;
  float lo, hi;
  HistogramView view() const { return {counts.data(), counts.size(), lo, hi}; }
};

Histogram histogramOf(const std::vector<float>& xs, size_t bins) {
  Histogram h{std::vector<uint64_t>(bins, 0), *std::min_element(xs.begin(), xs.end()),
              *std::max_element(xs.begin(), xs.end())};
  for (float x : xs) {
    const auto b = static_cast<size_t>((x - h.lo) / (h.hi - h.lo) * static_cast<float>(bins));
    ++h.counts[std::min(b, bins - 1)];
  }
  return h;
}

QuantSpec uint8Spec(int bits) {
  QuantSpec spec;
  spec.bits = bits;
  spec.is_signed = false;
  spec.symmetric = false;
  return spec;
}

TEST_CASE("entropy calibration clips rare outliers and keeps the bulk", "[range][entropy]") {
  std::mt19937 gen(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> xs;
  for (int i = 0; i < 200000; ++i) xs.push_back(normal(gen));
  for (int i = 0; i < 10; ++i) xs.push_back(i % 2 ? 40.0f : -40.0f);  // rare spikes
  const Histogram h = histogramOf(xs, 2048);
  const auto [lo, hi] = klDivergenceRange(h.view(), uint8Spec(8));
  INFO("range [" << lo << ", " << hi << "]");
  CHECK(hi < 10.0f);
  CHECK(hi > 2.5f);
  CHECK(lo < -2.5f);
  CHECK(lo > -10.0f);
  // Fewer levels clip harder.
  const auto [lo4, hi4] = klDivergenceRange(h.view(), uint8Spec(4));
  CHECK(hi4 < hi);
  CHECK(lo4 > lo);
}

TEST_CASE("entropy calibration does not clip for the zeros of a ReLU", "[range][entropy]") {
  // Half the values exactly 0, half |N(0, 1)|: the zeros are exact on any grid, so the range must
  // follow the positive half as it would without them (the spike once pulled it below 1).
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> positive, relu;
  for (int i = 0; i < 100000; ++i) positive.push_back(std::fabs(normal(gen)));
  relu = positive;
  relu.insert(relu.end(), 100000, 0.0f);
  const auto [plo, phi] = klDivergenceRange(histogramOf(positive, 2048).view(), uint8Spec(8));
  const auto [lo, hi] = klDivergenceRange(histogramOf(relu, 2048).view(), uint8Spec(8));
  INFO("with zeros [" << lo << ", " << hi << "], without [" << plo << ", " << phi << "]");
  CHECK(lo == 0.0f);
  CHECK(hi > 2.5f);
  CHECK(hi > 0.8f * phi);
}

TEST_CASE("entropy calibration keeps a uniform range whole", "[range][entropy]") {
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> xs;
  for (int i = 0; i < 100000; ++i) xs.push_back(uniform(gen));
  const Histogram h = histogramOf(xs, 2048);
  const auto [lo, hi] = klDivergenceRange(h.view(), uint8Spec(8));
  CHECK(lo == h.lo);  // one-signed data: the zero end stays
  CHECK(hi > 0.95f * h.hi);
}

TEST_CASE("entropy calibration with fewer bins than levels keeps the observed range", "[range][entropy]") {
  const std::vector<uint64_t> counts(128, 1);
  const auto [lo, hi] = klDivergenceRange({counts.data(), counts.size(), -1.0f, 2.0f}, uint8Spec(8));
  CHECK(lo == -1.0f);
  CHECK(hi == 2.0f);
}

TEST_CASE("entropy calibration's prefix-sum divergence equals the bin-by-bin definition", "[range][entropy]") {
  // Histograms with empty runs, a spike at zero, long tails and clipped mass on either side.
  std::mt19937 gen(11);
  std::lognormal_distribution<double> heavy(2.0, 2.0);
  std::bernoulli_distribution empty(0.3);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> counts(512);
    for (double& c : counts) c = empty(gen) ? 0.0 : std::floor(1.0 + heavy(gen));
    if (trial % 3 == 0) counts[200] += 1e6;  // a ReLU-like spike
    if (trial % 4 == 1) std::fill(counts.begin() + 100, counts.begin() + 400, 0.0);  // a gap
    for (size_t levels : {16u, 256u}) {
      for (size_t first : {0u, 3u, 40u}) {
        for (size_t last : {512u, 500u, 300u}) {
          if (last - first < levels) continue;
          const double direct = detail::windowDivergenceDirect(counts, first, last, levels);
          const double prefixed = detail::windowDivergencePrefixed(counts, first, last, levels);
          INFO("trial " << trial << " levels " << levels << " window [" << first << ", " << last << ")");
          REQUIRE(std::isfinite(direct));
          CHECK(prefixed == Approx(direct).epsilon(1e-9).margin(1e-12));
        }
      }
    }
  }
}

TEST_CASE("entropy calibration of a nearly empty histogram matches the definition", "[range][entropy]") {
  // Few non-empty bins: smoothing takes enough from each that the series is not used.
  std::vector<double> counts(512, 0.0);
  counts[10] = 1;
  counts[300] = 2;
  counts[511] = 1;
  for (size_t last : {512u, 400u}) {
    const double direct = detail::windowDivergenceDirect(counts, 0, last, 16);
    CHECK(detail::windowDivergencePrefixed(counts, 0, last, 16) == Approx(direct).epsilon(1e-12));
  }
}

}  // namespace
}  // namespace vitq
