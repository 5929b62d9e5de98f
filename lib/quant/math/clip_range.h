// Clipping ranges chosen from a calibration histogram.
#pragma once

#include <utility>

#include "calib/observer.h"
#include "quant/math/range_search.h"

namespace vitq {

/// The [lo, hi] range keeping \p percentile percent of the histogram's mass: (100 - percentile) / 2
/// percent is cut from each tail. An empty histogram keeps [h.lo, h.hi].
std::pair<float, float> percentileRange(const HistogramView& h, double percentile);

/// The same on a tensor's histogram; falls back to min/max without one.
std::pair<float, float> percentileRange(const TensorStats& stats, double percentile);

}  // namespace vitq
