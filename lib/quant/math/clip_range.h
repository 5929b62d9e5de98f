// Clipping ranges chosen from a calibration histogram.
#pragma once

#include <utility>

#include "calib/observer.h"

namespace vitq {

/// The [lo, hi] range keeping \p percentile percent of the observed mass: (100 - percentile) / 2
/// percent is cut from each tail. Falls back to min/max without a histogram.
std::pair<float, float> percentileRange(const TensorStats& stats, double percentile);

}  // namespace vitq
