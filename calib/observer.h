// Observers collect the statistics of one tensor over many calibration batches. MinMax needs one
// pass; Histogram needs two (range first, then a fixed-range histogram), so that percentile,
// entropy and MSE clipping can be chosen from it afterwards.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/tensor.h"

namespace vitq {

struct TensorStats {
  float min = 0.0f;
  float max = 0.0f;
  int64_t count = 0;                // elements observed
  // Sums of each observed tensor's own min and max (one tensor per calibration sample), for
  // ranges averaged over samples (NNCF's MEAN_MINMAX) rather than taken at the extremes.
  double sample_min_sum = 0.0;
  double sample_max_sum = 0.0;
  int64_t observations = 0;
  std::vector<float> channel_min;   // per channel along `axis` when asked for
  std::vector<float> channel_max;
  int64_t axis = -1;
  std::vector<uint64_t> histogram;  // bins over [hist_min, hist_max]
  float hist_min = 0.0f;
  float hist_max = 0.0f;
  // Per-channel histograms (channel c: bins [c * channel_bins, (c + 1) * channel_bins) over
  // [channel_min[c], channel_max[c]]), when asked for.
  std::vector<uint64_t> channel_histogram;
  int channel_bins = 0;
  // Sampled rows of the last axis (row_width values each), when asked for.
  std::vector<float> rows;
  int64_t row_width = 0;
};

class Observer {
 public:
  virtual ~Observer() = default;
  virtual int numPasses() const { return 1; }
  virtual void beginPass(int pass) { (void)pass; }
  /// Adds a float tensor; fails on NaN/Inf so that bad activations are reported, not absorbed.
  virtual Status observe(const Tensor& t) = 0;
  virtual TensorStats stats() const = 0;
};

/// Global min/max, and per-channel min/max along \p channel_axis when given (negative counts
/// from the last axis; TensorStats::axis holds the resolved one).
std::unique_ptr<Observer> makeMinMaxObserver(std::optional<int64_t> channel_axis = std::nullopt);
/// Two passes: min/max, then a \p bins histogram over that range.
std::unique_ptr<Observer> makeHistogramObserver(int bins = 2048);
/// Two passes: per-channel min/max along \p channel_axis (negative from the end), then a \p bins histogram per channel
/// (and the per-tensor min/max).
std::unique_ptr<Observer> makeChannelHistogramObserver(int64_t channel_axis, int bins = 256);
/// Keeps up to \p max_rows rows of the last axis drawn uniformly from everything observed
/// (reservoir sampling, the same rows for the same data and \p seed): inputs for searches that
/// replay a layer on real activations.
std::unique_ptr<Observer> makeRowSampleObserver(size_t max_rows, uint64_t seed);

}  // namespace vitq
