// Activation ranges from calibration statistics by the recipe's range method, per tensor or per
// channel; shared by the calibrate step and ln-reparam's per-channel LayerNorm ranges.
#pragma once

#include <utility>
#include <vector>

#include "calib/observer.h"
#include "passes/ptq/quantize_pipeline.h"
#include "quant/math/range_search.h"

namespace vitq {

HistogramView histogramOf(const TensorStats& s);

/// The activation quantizer the options ask for (bits, signedness, symmetry).
QuantSpec activationSpec(const PipelineOptions& o);

/// One channel's (or tensor's) range from its histogram by \p method; the min/max methods keep the
/// observed range (per-sample means exist per tensor only).
std::pair<float, float> histogramRange(const HistogramView& view, const QuantSpec& spec, RangeMethod method,
                                       double percentile);

struct ChannelRanges {
  std::vector<float> lo, hi;
};

/// Per-channel ranges from per-channel statistics (histograms, or only min/max).
ChannelRanges channelRanges(const TensorStats& s, const QuantSpec& spec, RangeMethod method, double percentile);

}  // namespace vitq
