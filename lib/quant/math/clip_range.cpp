#include "quant/math/clip_range.h"

#include <algorithm>
#include <numeric>

namespace vitq {

std::pair<float, float> percentileRange(const HistogramView& h, double percentile) {
  const uint64_t total = h.bins ? std::accumulate(h.counts, h.counts + h.bins, uint64_t{0}) : 0;
  if (total == 0) return {h.lo, h.hi};
  const double cut = total * (100.0 - percentile) / 200.0;
  const double width = (static_cast<double>(h.hi) - h.lo) / static_cast<double>(h.bins);
  size_t lo = 0, hi = h.bins - 1;
  double acc = 0;
  for (; lo < h.bins; ++lo) {
    acc += static_cast<double>(h.counts[lo]);
    if (acc > cut) break;
  }
  acc = 0;
  for (; hi > 0; --hi) {
    acc += static_cast<double>(h.counts[hi]);
    if (acc > cut) break;
  }
  if (hi < lo) std::swap(hi, lo);
  return {static_cast<float>(h.lo + width * static_cast<double>(lo)),
          static_cast<float>(h.lo + width * static_cast<double>(hi + 1))};
}

std::pair<float, float> percentileRange(const TensorStats& stats, double percentile) {
  if (stats.histogram.empty()) return {stats.min, stats.max};
  return percentileRange(HistogramView{stats.histogram.data(), stats.histogram.size(), stats.hist_min, stats.hist_max},
                         percentile);
}

}  // namespace vitq
