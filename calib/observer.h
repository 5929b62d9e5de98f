// Observers collect the statistics of one tensor over many calibration batches. MinMax needs one
// pass; Histogram needs two (range first, then a fixed-range histogram), so that percentile,
// entropy and MSE clipping can be chosen from it afterwards.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/tensor.h"

namespace vitq {

struct TensorStats {
  float min = 0.0f;
  float max = 0.0f;
  int64_t count = 0;                // elements observed
  std::vector<float> channel_min;   // per channel along `axis` when asked for
  std::vector<float> channel_max;
  int64_t axis = -1;
  std::vector<uint64_t> histogram;  // bins over [hist_min, hist_max]
  float hist_min = 0.0f;
  float hist_max = 0.0f;
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

/// Global min/max, and per-channel min/max along \p channel_axis when it is >= 0.
std::unique_ptr<Observer> makeMinMaxObserver(int64_t channel_axis = -1);
/// Two passes: min/max, then a \p bins histogram over that range.
std::unique_ptr<Observer> makeHistogramObserver(int bins = 2048);

}  // namespace vitq
