#include "quant/math/range_search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "quant/math/quantize.h"

namespace vitq {
namespace {

constexpr int kShrinkSteps = 30;
constexpr double kShrinkFactor = 0.92;  // 30 steps reach 8 % of the observed end

double binCenter(const HistogramView& h, size_t b) {
  const double width = (static_cast<double>(h.hi) - h.lo) / static_cast<double>(h.bins);
  return h.lo + width * (static_cast<double>(b) + 0.5);
}

double expectedUniformError(const HistogramView& h, float lo, float hi, const QuantSpec& spec) {
  float s;
  int32_t z;
  chooseParams(lo, hi, spec, s, z);
  const double grid_lo = static_cast<double>(spec.qmin() - z) * s;
  const double grid_hi = static_cast<double>(spec.qmax() - z) * s;
  const double rounding = static_cast<double>(s) * s / 12.0;
  double err = 0;
  for (size_t b = 0; b < h.bins; ++b) {
    if (!h.counts[b]) continue;
    const double x = binCenter(h, b), n = static_cast<double>(h.counts[b]);
    if (x < grid_lo) err += n * (grid_lo - x) * (grid_lo - x);
    else if (x > grid_hi) err += n * (x - grid_hi) * (x - grid_hi);
    else err += n * rounding;
  }
  return err;
}

}  // namespace

std::pair<float, float> mseUniformRange(const HistogramView& h, const QuantSpec& spec) {
  if (h.bins == 0 || !(h.hi > h.lo)) return {h.lo, h.hi};
  std::pair<float, float> best{h.lo, h.hi};
  double best_err = std::numeric_limits<double>::infinity();
  // A symmetric grid is set by max(|lo|, |hi|): search one factor for both ends.
  const int lo_steps = spec.symmetric ? 1 : kShrinkSteps;
  for (int i = 0; i < lo_steps; ++i) {
    for (int j = 0; j < kShrinkSteps; ++j) {
      const float hi_f = static_cast<float>(std::pow(kShrinkFactor, j));
      const float lo_f = spec.symmetric ? hi_f : static_cast<float>(std::pow(kShrinkFactor, i));
      const float lo = h.lo * lo_f, hi = h.hi * hi_f;
      const double err = expectedUniformError(h, lo, hi, spec);
      if (err < best_err) {
        best_err = err;
        best = {lo, hi};
      }
    }
  }
  return best;
}

float logSqrt2FakeQuant(float x, float s, int bits) {
  if (!(x > 0.0f)) return 0.0f;
  const float code = std::nearbyint(std::log(x / s) * static_cast<float>(-2.0 / M_LN2));
  const float levels = static_cast<float>(1 << bits);
  if (code >= levels) return 0.0f;
  return s * std::exp2(-0.5f * std::max(code, 0.0f));
}

float mseLogSqrt2Scale(const HistogramView& h, int bits) {
  const float top = std::max(h.hi, 0.0f);
  if (h.bins == 0 || !(top > 0.0f)) return 1.0f;
  float best = top;
  double best_err = std::numeric_limits<double>::infinity();
  for (int k = 0; k <= 16; ++k) {
    const float s = top * std::exp2(-0.25f * static_cast<float>(k));
    double err = 0;
    for (size_t b = 0; b < h.bins; ++b) {
      if (!h.counts[b]) continue;
      const double x = binCenter(h, b);
      const double d = logSqrt2FakeQuant(static_cast<float>(x), s, bits) - x;
      err += static_cast<double>(h.counts[b]) * d * d;
    }
    if (err < best_err) {
      best_err = err;
      best = s;
    }
  }
  return best;
}

QuantParams mseWeightParams(const Tensor& w, const QuantSpec& spec) {
  const int64_t axis = spec.axis;
  const int64_t channels = axis >= 0 ? w.dim(axis) : 1;
  int64_t inner = 1;
  for (int64_t d = axis + 1; axis >= 0 && d < w.rank(); ++d) inner *= w.dim(d);
  const int64_t outer = w.numel() / (channels * inner);
  const float* p = w.data<float>();
  // Gather each channel's values once (channels are strided for axis > 0).
  std::vector<std::vector<float>> values(static_cast<size_t>(channels));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const float* row = p + (o * channels + c) * inner;
      values[static_cast<size_t>(c)].insert(values[static_cast<size_t>(c)].end(), row, row + inner);
    }
  }
  QuantParams params;
  params.axis = axis;
  for (const auto& v : values) {
    float amax = 0.0f;
    for (float x : v) amax = std::max(amax, std::fabs(x));
    float best_s = 1.0f;
    int32_t best_z = 0;
    double best_err = std::numeric_limits<double>::infinity();
    for (int step = 0; step <= 50; ++step) {
      const float clip = amax * (1.0f - 0.01f * static_cast<float>(step));
      float s;
      int32_t z;
      chooseParams(-clip, clip, spec, s, z);
      double err = 0;
      for (float x : v) {
        const double d = dequantizeValue(quantizeValue(x, s, z, spec.qmin(), spec.qmax()), s, z) - x;
        err += d * d;
      }
      if (err < best_err) {
        best_err = err;
        best_s = s;
        best_z = z;
      }
    }
    params.scale.push_back(best_s);
    params.zero_point.push_back(best_z);
  }
  return params;
}

}  // namespace vitq
