#include "calib/stats_merge.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace vitq {
namespace {

// Elements of one part's histogram at or below x, with each bin's mass spread evenly over it. A
// zero-width histogram (a constant activation) is a point mass at its minimum.
class Cumulative {
 public:
  explicit Cumulative(const TensorStats& s) : lo_(s.hist_min), hi_(s.hist_max), prefix_(s.histogram.size() + 1, 0.0) {
    for (size_t b = 0; b < s.histogram.size(); ++b) prefix_[b + 1] = prefix_[b] + static_cast<double>(s.histogram[b]);
  }
  double at(double x) const {
    if (x < lo_) return 0.0;
    if (x >= hi_) return prefix_.back();
    const double position = (x - lo_) / (hi_ - lo_) * static_cast<double>(prefix_.size() - 1);  // in bins
    const auto whole = static_cast<size_t>(position);
    return prefix_[whole] + (prefix_[whole + 1] - prefix_[whole]) * (position - static_cast<double>(whole));
  }

 private:
  double lo_, hi_;
  std::vector<double> prefix_;
};

}  // namespace

TensorStats mergeTensorStats(const std::vector<const TensorStats*>& parts, int bins) {
  TensorStats merged;
  bool first = true;
  for (const TensorStats* p : parts) {
    if (p->count == 0) continue;
    merged.min = first ? p->min : std::min(merged.min, p->min);
    merged.max = first ? p->max : std::max(merged.max, p->max);
    merged.count += p->count;
    merged.sample_min_sum += p->sample_min_sum;
    merged.sample_max_sum += p->sample_max_sum;
    merged.observations += p->observations;
    first = false;
  }
  merged.hist_min = merged.min;
  merged.hist_max = merged.max;
  merged.histogram.assign(static_cast<size_t>(bins), 0);
  if (merged.count == 0) return merged;
  if (merged.max == merged.min) {  // every part a point mass at the same place
    merged.histogram[0] = static_cast<uint64_t>(merged.count);
    return merged;
  }
  // Counts from the rounded cumulative sum at each upper edge; the last edge takes all.
  std::vector<Cumulative> cumulative_of;
  for (const TensorStats* p : parts) {
    if (p->count) cumulative_of.emplace_back(*p);
  }
  const double lo = merged.min, width = (static_cast<double>(merged.max) - lo) / bins;
  uint64_t taken = 0;
  for (int b = 0; b < bins; ++b) {
    uint64_t upto = static_cast<uint64_t>(merged.count);
    if (b + 1 < bins) {
      double cumulative = 0.0;
      for (const Cumulative& c : cumulative_of) cumulative += c.at(lo + width * (b + 1));
      upto = std::min(static_cast<uint64_t>(std::llround(cumulative)), static_cast<uint64_t>(merged.count));
    }
    upto = std::max(upto, taken);
    merged.histogram[static_cast<size_t>(b)] = upto - taken;
    taken = upto;
  }
  return merged;
}

StatusOr<CalibrationStats> mergeStats(const std::vector<CalibrationStats>& parts, const std::vector<std::string>& labels) {
  if (parts.empty()) return invalidArgument("no statistics files to merge");
  const CalibrationStats& head = parts.front();
  auto differs = [&labels](size_t i, const std::string& what) {
    return invalidArgument("statistics files '" + labels.front() + "' and '" + labels[i] + "' " + what);
  };
  std::set<size_t> seen;
  CalibrationStats merged;
  merged.fingerprint = head.fingerprint;
  merged.model = head.model;
  merged.bins = head.bins;
  for (size_t i = 0; i < parts.size(); ++i) {
    const CalibrationStats& p = parts[i];
    if (p.fingerprint != head.fingerprint) return differs(i, "belong to different models");
    if (p.bins != head.bins) return differs(i, "have different histogram bins");
    if (p.shards.front().count != head.shards.front().count) return differs(i, "come from different shard splits");
    if (p.values.size() != head.values.size() ||
        !std::equal(p.values.begin(), p.values.end(), head.values.begin(),
                    [](const auto& a, const auto& b) { return a.first == b.first; })) {
      return differs(i, "observe different activations (calibrated with other placement options?)");
    }
    for (const StatsShard& s : p.shards) {
      if (!seen.insert(s.index).second) {
        return invalidArgument("statistics file '" + labels[i] + "' repeats shard " + std::to_string(s.index) + " of " +
                               std::to_string(s.count) + " (each shard may be merged once)");
      }
      merged.shards.push_back(s);
    }
  }
  std::sort(merged.shards.begin(), merged.shards.end(),
            [](const StatsShard& a, const StatsShard& b) { return a.index < b.index; });
  // Parts in shard order, so that the floating-point sums do not depend on the argument order.
  std::vector<const CalibrationStats*> ordered;
  for (const CalibrationStats& p : parts) ordered.push_back(&p);
  std::sort(ordered.begin(), ordered.end(), [](const CalibrationStats* a, const CalibrationStats* b) {
    return a->shards.front().index < b->shards.front().index;
  });
  for (const auto& [name, unused] : head.values) {
    std::vector<const TensorStats*> of_value;
    for (const CalibrationStats* p : ordered) of_value.push_back(&p->values.at(name));
    merged.values[name] = mergeTensorStats(of_value, merged.bins);
  }
  return merged;
}

}  // namespace vitq
