#include "calib/observer.h"

#include <algorithm>
#include <cmath>
#include <limits>

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
  explicit MinMaxObserver(int64_t axis) { stats_.axis = axis; }

  Status observe(const Tensor& t) override {
    if (t.dtype() != DataType::kFloat) return unsupported("only float tensors can be observed");
    if (t.numel() == 0) return Status::ok();
    float lo, hi;
    minMax(t, lo, hi);
    VITQ_RETURN_IF_ERROR(checkFinite(lo, hi));
    stats_.min = stats_.count ? std::min(stats_.min, lo) : lo;
    stats_.max = stats_.count ? std::max(stats_.max, hi) : hi;
    stats_.count += t.numel();
    if (stats_.axis >= 0) VITQ_RETURN_IF_ERROR(observeChannels(t));
    return Status::ok();
  }

  TensorStats stats() const override { return stats_; }

 private:
  Status observeChannels(const Tensor& t) {
    if (stats_.axis >= t.rank()) return invalidArgument("channel axis " + std::to_string(stats_.axis) + " is out of range");
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

  TensorStats stats_;
};

class HistogramObserver : public Observer {
 public:
  explicit HistogramObserver(int bins) : bins_(bins), range_(-1) {}

  int numPasses() const override { return 2; }
  void beginPass(int pass) override {
    pass_ = pass;
    if (pass == 1) {
      const TensorStats s = range_.stats();
      stats_ = s;
      stats_.hist_min = s.min;
      stats_.hist_max = s.max;
      stats_.histogram.assign(static_cast<size_t>(bins_), 0);
    }
  }

  Status observe(const Tensor& t) override {
    if (pass_ == 0) return range_.observe(t);
    const float lo = stats_.hist_min, hi = stats_.hist_max;
    const float width = (hi - lo) / static_cast<float>(bins_);
    const float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (!std::isfinite(p[i])) return invalidArgument("the tensor contains NaN or Inf values");
      int64_t b = width > 0 ? static_cast<int64_t>((p[i] - lo) / width) : 0;
      b = std::clamp<int64_t>(b, 0, bins_ - 1);  // values past the first pass's range land in the edge bins
      ++stats_.histogram[static_cast<size_t>(b)];
    }
    return Status::ok();
  }

  TensorStats stats() const override { return pass_ == 0 ? range_.stats() : stats_; }

 private:
  int bins_;
  int pass_ = 0;
  MinMaxObserver range_;
  TensorStats stats_;
};

}  // namespace

std::unique_ptr<Observer> makeMinMaxObserver(int64_t channel_axis) {
  return std::make_unique<MinMaxObserver>(channel_axis);
}

std::unique_ptr<Observer> makeHistogramObserver(int bins) { return std::make_unique<HistogramObserver>(bins); }

}  // namespace vitq
