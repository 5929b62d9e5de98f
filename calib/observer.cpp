#include "calib/observer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace vitq {
namespace {

Status checkFinite(float lo, float hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return invalidArgument("the tensor contains NaN or Inf values");
  return Status::ok();
}

// min/max of a float tensor; NaN makes both NaN so checkFinite catches it.
void minMax(const Tensor& t, float& lo, float& hi) {
  const float* p = t.data<float>();
  float a = std::numeric_limits<float>::infinity(), b = -a;
  bool nan = false;
  for (int64_t i = 0; i < t.numel(); ++i) {
    a = std::min(a, p[i]);
    b = std::max(b, p[i]);
    nan |= std::isnan(p[i]);
  }
  lo = nan ? NAN : a;
  hi = nan ? NAN : b;
}

class MinMaxObserver : public Observer {
 public:
  explicit MinMaxObserver(std::optional<int64_t> axis) : axis_(axis) {}

  Status observe(const Tensor& t) override {
    if (t.dtype() != DataType::kFloat) return unsupported("only float tensors can be observed");
    if (t.numel() == 0) return Status::ok();
    float lo, hi;
    minMax(t, lo, hi);
    VITQ_RETURN_IF_ERROR(checkFinite(lo, hi));
    stats_.min = stats_.count ? std::min(stats_.min, lo) : lo;
    stats_.max = stats_.count ? std::max(stats_.max, hi) : hi;
    stats_.count += t.numel();
    stats_.sample_min_sum += lo;
    stats_.sample_max_sum += hi;
    ++stats_.observations;
    if (axis_) VITQ_RETURN_IF_ERROR(observeChannels(t));
    return Status::ok();
  }

  TensorStats stats() const override { return stats_; }

 private:
  Status observeChannels(const Tensor& t) {
    const int64_t axis = *axis_ < 0 ? *axis_ + t.rank() : *axis_;
    if (axis < 0 || axis >= t.rank()) return invalidArgument("channel axis " + std::to_string(*axis_) + " is out of range");
    if (stats_.axis >= 0 && stats_.axis != axis) return invalidArgument("the tensor's rank changed between batches");
    stats_.axis = axis;
    const int64_t channels = t.dim(stats_.axis);
    int64_t inner = 1;
    for (int64_t d = stats_.axis + 1; d < t.rank(); ++d) inner *= t.dim(d);
    const int64_t outer = t.numel() / (channels * inner);
    if (stats_.channel_min.empty()) {
      stats_.channel_min.assign(static_cast<size_t>(channels), std::numeric_limits<float>::infinity());
      stats_.channel_max.assign(static_cast<size_t>(channels), -std::numeric_limits<float>::infinity());
    } else if (static_cast<int64_t>(stats_.channel_min.size()) != channels) {
      return invalidArgument("channel count changed between batches");
    }
    const float* p = t.data<float>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t c = 0; c < channels; ++c) {
        float& lo = stats_.channel_min[static_cast<size_t>(c)];
        float& hi = stats_.channel_max[static_cast<size_t>(c)];
        const float* row = p + (o * channels + c) * inner;
        for (int64_t i = 0; i < inner; ++i) {
          lo = std::min(lo, row[i]);
          hi = std::max(hi, row[i]);
        }
      }
    }
    return Status::ok();
  }

  std::optional<int64_t> axis_;
  TensorStats stats_;
};

// Adds values to equal-width bins over [lo, lo + bins * width); values past the first pass's
// range land in the edge bins.
Status addToHistogram(const float* p, int64_t n, float lo, float width, uint64_t* hist, int bins) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(p[i])) return invalidArgument("the tensor contains NaN or Inf values");
    const int64_t b = width > 0 ? static_cast<int64_t>((p[i] - lo) / width) : 0;
    ++hist[std::clamp<int64_t>(b, 0, bins - 1)];
  }
  return Status::ok();
}

// Pass 0 finds the ranges (min/max, per channel if asked); pass 1 fills histograms over them.
class TwoPassObserver : public Observer {
 public:
  TwoPassObserver(std::optional<int64_t> axis, int bins) : bins_(bins), range_(axis) {}
  int numPasses() const override { return 2; }
  void beginPass(int pass) override {
    pass_ = pass;
    if (pass == 1) {
      stats_ = range_.stats();
      startHistograms();
    }
  }
  Status observe(const Tensor& t) override { return pass_ == 0 ? range_.observe(t) : fill(t); }
  TensorStats stats() const override { return pass_ == 0 ? range_.stats() : stats_; }

 protected:
  virtual void startHistograms() = 0;
  virtual Status fill(const Tensor& t) = 0;
  int bins_;
  TensorStats stats_;

 private:
  int pass_ = 0;
  MinMaxObserver range_;
};

class HistogramObserver : public TwoPassObserver {
 public:
  explicit HistogramObserver(int bins) : TwoPassObserver(std::nullopt, bins) {}

 private:
  void startHistograms() override {
    stats_.hist_min = stats_.min;
    stats_.hist_max = stats_.max;
    stats_.histogram.assign(static_cast<size_t>(bins_), 0);
  }
  Status fill(const Tensor& t) override {
    const float width = (stats_.hist_max - stats_.hist_min) / static_cast<float>(bins_);
    return addToHistogram(t.data<float>(), t.numel(), stats_.hist_min, width, stats_.histogram.data(), bins_);
  }
};

class ChannelHistogramObserver : public TwoPassObserver {
 public:
  ChannelHistogramObserver(int64_t axis, int bins) : TwoPassObserver(axis, bins) {}

 private:
  void startHistograms() override {
    stats_.channel_bins = bins_;
    stats_.channel_histogram.assign(stats_.channel_min.size() * static_cast<size_t>(bins_), 0);
  }
  Status fill(const Tensor& t) override {
    const int64_t axis = stats_.axis;
    const int64_t channels = static_cast<int64_t>(stats_.channel_min.size());
    if (t.dtype() != DataType::kFloat || axis < 0 || axis >= t.rank() || t.dim(axis) != channels) {
      return invalidArgument("the tensor's channels changed between calibration passes");
    }
    int64_t inner = 1;
    for (int64_t d = axis + 1; d < t.rank(); ++d) inner *= t.dim(d);
    const int64_t outer = t.numel() / std::max<int64_t>(channels * inner, 1);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t c = 0; c < channels; ++c) {
        const size_t ci = static_cast<size_t>(c);
        const float width = (stats_.channel_max[ci] - stats_.channel_min[ci]) / static_cast<float>(bins_);
        VITQ_RETURN_IF_ERROR(addToHistogram(t.data<float>() + (o * channels + c) * inner, inner,
                                            stats_.channel_min[ci], width,
                                            stats_.channel_histogram.data() + c * bins_, bins_));
      }
    }
    return Status::ok();
  }
};

class RowSampleObserver : public Observer {
 public:
  RowSampleObserver(size_t max_rows, uint64_t seed) : max_rows_(max_rows), rng_(seed) {}

  Status observe(const Tensor& t) override {
    if (t.dtype() != DataType::kFloat || t.rank() == 0) return unsupported("only float tensors with an axis can be sampled");
    const int64_t width = t.shape().back();
    if (stats_.row_width && stats_.row_width != width) return invalidArgument("the row width changed between batches");
    stats_.row_width = width;
    const float* p = t.data<float>();
    for (int64_t r = 0; r < t.numel() / std::max<int64_t>(width, 1); ++r) {
      const float* row = p + r * width;
      for (int64_t i = 0; i < width; ++i) {
        if (!std::isfinite(row[i])) return invalidArgument("the tensor contains NaN or Inf values");
      }
      ++seen_;
      size_t slot = kept_;
      if (kept_ >= max_rows_) {
        slot = static_cast<size_t>(rng_() % seen_);  // keep with probability max_rows / seen
        if (slot >= max_rows_) continue;
      } else {
        stats_.rows.resize(stats_.rows.size() + static_cast<size_t>(width));
        ++kept_;
      }
      std::copy(row, row + width, stats_.rows.begin() + static_cast<int64_t>(slot) * width);
    }
    stats_.count += t.numel();
    return Status::ok();
  }
  TensorStats stats() const override { return stats_; }

 private:
  size_t max_rows_;
  size_t kept_ = 0;
  uint64_t seen_ = 0;
  std::mt19937_64 rng_;
  TensorStats stats_;
};

}  // namespace

std::unique_ptr<Observer> makeRowSampleObserver(size_t max_rows, uint64_t seed) {
  return std::make_unique<RowSampleObserver>(max_rows, seed);
}

std::unique_ptr<Observer> makeMinMaxObserver(std::optional<int64_t> channel_axis) {
  return std::make_unique<MinMaxObserver>(channel_axis);
}

std::unique_ptr<Observer> makeHistogramObserver(int bins) { return std::make_unique<HistogramObserver>(bins); }

std::unique_ptr<Observer> makeChannelHistogramObserver(int64_t channel_axis, int bins) {
  return std::make_unique<ChannelHistogramObserver>(channel_axis, bins);
}

}  // namespace vitq
