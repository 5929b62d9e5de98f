#include "quant/math/clip_range.h"

#include <algorithm>
#include <numeric>

namespace vitq {

std::pair<float, float> percentileRange(const TensorStats& stats, double percentile) {
  if (stats.histogram.empty()) return {stats.min, stats.max};
  const uint64_t total = std::accumulate(stats.histogram.begin(), stats.histogram.end(), uint64_t{0});
  if (total == 0) return {stats.min, stats.max};
  const double cut = total * (100.0 - percentile) / 200.0;
  const size_t bins = stats.histogram.size();
  const double width = (static_cast<double>(stats.hist_max) - stats.hist_min) / static_cast<double>(bins);
  size_t lo = 0, hi = bins - 1;
  double acc = 0;
  for (; lo < bins; ++lo) {
    acc += static_cast<double>(stats.histogram[lo]);
    if (acc > cut) break;
  }
  acc = 0;
  for (; hi > 0; --hi) {
    acc += static_cast<double>(stats.histogram[hi]);
    if (acc > cut) break;
  }
  if (hi < lo) std::swap(hi, lo);
  return {static_cast<float>(stats.hist_min + width * static_cast<double>(lo)),
          static_cast<float>(stats.hist_min + width * static_cast<double>(hi + 1))};
}

}  // namespace vitq
