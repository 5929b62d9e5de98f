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

// Running sums over the bins in order (count, count x, count x^2), so that the squared error of the
// mass outside any interval is a difference of two entries: each candidate range costs two binary
// searches instead of a pass over the bins (RepQ-ViT calibrates thousands of channel histograms).
class BinMoments {
 public:
  explicit BinMoments(const HistogramView& h) {
    for (size_t b = 0; b < h.bins; ++b) {
      if (!h.counts[b]) continue;
      const double x = binCenter(h, b), n = static_cast<double>(h.counts[b]);
      centers_.push_back(x);
      n_.push_back(n_.back() + n);
      nx_.push_back(nx_.back() + n * x);
      nxx_.push_back(nxx_.back() + n * x * x);
    }
  }

  /// Expected squared error of the grid [grid_lo, grid_hi] with rounding noise \p rounding per
  /// element inside it.
  double error(double grid_lo, double grid_hi, double rounding) const {
    const size_t below = static_cast<size_t>(std::lower_bound(centers_.begin(), centers_.end(), grid_lo) - centers_.begin());
    const size_t inside_end = static_cast<size_t>(std::upper_bound(centers_.begin(), centers_.end(), grid_hi) - centers_.begin());
    const size_t end = centers_.size();
    // sum n (g - x)^2 = g^2 sum n - 2 g sum n x + sum n x^2, clamped at 0 against cancellation.
    const double under = std::max(0.0, grid_lo * grid_lo * n_[below] - 2.0 * grid_lo * nx_[below] + nxx_[below]);
    const double over_n = n_[end] - n_[inside_end], over_nx = nx_[end] - nx_[inside_end];
    const double over = std::max(0.0, grid_hi * grid_hi * over_n - 2.0 * grid_hi * over_nx + (nxx_[end] - nxx_[inside_end]));
    return under + over + rounding * (n_[inside_end] - n_[below]);
  }

 private:
  std::vector<double> centers_;
  std::vector<double> n_{0.0}, nx_{0.0}, nxx_{0.0};  // sums over the first k non-empty bins
};

double expectedUniformError(const BinMoments& m, float lo, float hi, const QuantSpec& spec) {
  float s;
  int32_t z;
  chooseParams(lo, hi, spec, s, z);
  const double grid_lo = static_cast<double>(spec.qmin() - z) * s;
  const double grid_hi = static_cast<double>(spec.qmax() - z) * s;
  return m.error(grid_lo, grid_hi, static_cast<double>(s) * s / 12.0);
}

}  // namespace

std::pair<float, float> mseUniformRange(const HistogramView& h, const QuantSpec& spec) {
  if (h.bins == 0 || !(h.hi > h.lo)) return {h.lo, h.hi};
  const BinMoments moments(h);
  std::pair<float, float> best{h.lo, h.hi};
  double best_err = std::numeric_limits<double>::infinity();
  // A symmetric grid is set by max(|lo|, |hi|): search one factor for both ends.
  const int lo_steps = spec.symmetric ? 1 : kShrinkSteps;
  for (int i = 0; i < lo_steps; ++i) {
    for (int j = 0; j < kShrinkSteps; ++j) {
      const float hi_f = static_cast<float>(std::pow(kShrinkFactor, j));
      const float lo_f = spec.symmetric ? hi_f : static_cast<float>(std::pow(kShrinkFactor, i));
      const float lo = h.lo * lo_f, hi = h.hi * hi_f;
      const double err = expectedUniformError(moments, lo, hi, spec);
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
  params.scale.assign(static_cast<size_t>(channels), 1.0f);
  params.zero_point.assign(static_cast<size_t>(channels), 0);
  const int32_t qmin = spec.qmin(), qmax = spec.qmax();
  // Channels are independent: each thread writes its own entries, so any thread count gives the
  // same parameters.
#pragma omp parallel for schedule(dynamic, 4) if (channels > 1)
  for (int64_t c = 0; c < channels; ++c) {
    const std::vector<float>& v = values[static_cast<size_t>(c)];
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
        const double d = dequantizeValue(quantizeValue(x, s, z, qmin, qmax), s, z) - x;
        err += d * d;
      }
      if (err < best_err) {
        best_err = err;
        best_s = s;
        best_z = z;
      }
    }
    params.scale[static_cast<size_t>(c)] = best_s;
    params.zero_point[static_cast<size_t>(c)] = best_z;
  }
  return params;
}

}  // namespace vitq
