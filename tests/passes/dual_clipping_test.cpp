#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "passes/ptq/dual_clipping.h"
#include "quant/math/quantize.h"

namespace vitq {
namespace {

constexpr int64_t kChannels = 8, kOutputs = 16, kRows = 2048;

// Rows of N(0, 1) channels; channel 0 also carries rare outliers of +-\p outlier (0.3 % of rows).
std::vector<float> activationRows(float outlier, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> rows(static_cast<size_t>(kRows * kChannels));
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t c = 0; c < kChannels; ++c) {
      float x = normal(rng);
      if (c == 0 && u(rng) < 0.003f) x = u(rng) < 0.5f ? -outlier : outlier;
      rows[static_cast<size_t>(r * kChannels + c)] = x;
    }
  }
  return rows;
}

// A reader whose row 0 has small weights (channel 0 matters little to its output).
Tensor readerWeights(float row0_scale) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensor w(DataType::kFloat, {kChannels, kOutputs});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = normal(rng) * (i < kOutputs ? row0_scale : 1.0f);
  return w;
}

DualClipProblem problemFor(const std::vector<float>& rows, int bits, float row0_scale) {
  DualClipProblem p;
  p.rows = &rows;
  p.channels = kChannels;
  p.readers = {readerWeights(row0_scale)};
  p.activation.bits = bits;
  p.activation.is_signed = false;
  p.activation.symmetric = false;
  p.weight.bits = bits;
  p.weight.axis = 1;
  p.weight_mse = true;
  return p;
}

void observedRanges(const std::vector<float>& rows, std::vector<float>& lo, std::vector<float>& hi) {
  lo.assign(kChannels, 0.0f);
  hi.assign(kChannels, 0.0f);
  for (size_t i = 0; i < rows.size(); ++i) {
    const size_t c = i % kChannels;
    lo[c] = std::min(lo[c], rows[i]);
    hi[c] = std::max(hi[c], rows[i]);
  }
}

TEST_CASE("dual clipping's folded error is the per-channel quantization error seen through the readers",
          "[passes][repq][dual-clip]") {
  // With 16-bit weights the weight grid adds nothing: after the exact fold (integer z~), the
  // readers' error must be that of quantizing X per channel, |(Q_c(X) - X) W|^2 per row.
  const std::vector<float> rows = activationRows(40.0f, 1);
  DualClipProblem p = problemFor(rows, 4, 0.05f);
  p.weight.bits = 16;
  std::vector<float> lo, hi;
  observedRanges(rows, lo, hi);
  const QuantParams pc = paramsFromRanges(lo, hi, p.activation);
  const Tensor& w = p.readers[0];
  double direct = 0;
  for (int64_t r = 0; r < kRows; ++r) {
    std::vector<double> out(kOutputs, 0.0);
    for (int64_t c = 0; c < kChannels; ++c) {
      const float x = rows[static_cast<size_t>(r * kChannels + c)];
      const auto ch = static_cast<size_t>(c);
      const float xq = dequantizeValue(quantizeValue(x, pc.scale[ch], pc.zero_point[ch], p.activation.qmin(),
                                                     p.activation.qmax()),
                                       pc.scale[ch], pc.zero_point[ch]);
      for (int64_t o = 0; o < kOutputs; ++o) out[static_cast<size_t>(o)] += (xq - x) * w.data<float>()[c * kOutputs + o];
    }
    for (double e : out) direct += e * e;
  }
  direct /= kRows;
  const double folded = foldedOutputError(p, lo, hi, rows.size());
  CHECK(folded == Approx(direct).epsilon(2e-3));
}

TEST_CASE("dual clipping pulls in a channel whose rare outliers set the folded weights' grid",
          "[passes][repq][dual-clip]") {
  // Channel 0's rare outliers make its fold factor r_0 = s_0 / s~ about 30 times the others', so
  // its (small) weight row sets most output columns' 4-bit grids and the other rows round
  // coarsely. Clipping the outliers part way costs less than it frees (all the way costs more:
  // 0.3 % of rows losing ~97 through weights of 0.1).
  const std::vector<float> rows = activationRows(100.0f, 2);
  const DualClipProblem p = problemFor(rows, 4, 0.1f);
  std::vector<float> lo, hi;
  observedRanges(rows, lo, hi);
  const DualClipResult r = searchDualClipping(p, lo, hi, {});
  INFO("loss " << r.loss_before << " -> " << r.loss_after << ", channel 0 [" << r.lo[0] << ", " << r.hi[0] << "]");
  CHECK(r.loss_after < 0.85 * r.loss_before);
  CHECK(std::max(-r.lo[0], r.hi[0]) < 0.9f * std::max(-lo[0], hi[0]));
  CHECK(r.loss_after == Approx(foldedOutputError(p, r.lo, r.hi, rows.size())));
  // Same inputs, same bounds.
  const DualClipResult again = searchDualClipping(p, lo, hi, {});
  CHECK(again.lo == r.lo);
  CHECK(again.hi == r.hi);
}

TEST_CASE("dual clipping keeps the starting bounds when no channel stands out", "[passes][repq][dual-clip]") {
  // Equal channel ranges: none is wider than the median, nothing is searched.
  std::vector<float> rows = activationRows(0.0f, 3);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = std::clamp(rows[i], -2.0f, 2.0f);
  for (size_t c = 0; c < static_cast<size_t>(kChannels); ++c) {
    rows[c] = -2.0f;
    rows[kChannels + c] = 2.0f;
  }
  const DualClipProblem p = problemFor(rows, 4, 1.0f);
  std::vector<float> lo, hi;
  observedRanges(rows, lo, hi);
  const DualClipResult r = searchDualClipping(p, lo, hi, {});
  CHECK(r.clipped_channels == 0);
  CHECK(r.lo == lo);
  CHECK(r.hi == hi);
  CHECK(r.loss_after == r.loss_before);
}

}  // namespace
}  // namespace vitq
