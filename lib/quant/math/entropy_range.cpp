#include "quant/math/entropy_range.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace vitq {
namespace {

// Moves a little mass onto the empty bins so that KL stays finite (ONNX Runtime's smoothing: eps
// per empty bin, taken evenly from the non-empty ones).
void smooth(std::vector<double>& d) {
  constexpr double kEps = 1e-4;
  size_t zeros = 0;
  for (double v : d) zeros += v == 0 ? 1 : 0;
  if (zeros == 0 || zeros == d.size()) return;
  const double taken = kEps * static_cast<double>(zeros) / static_cast<double>(d.size() - zeros);
  for (double& v : d) v = v == 0 ? kEps : v - taken;
}

// KL(P || Q) of the clipped window [first, last) of \p counts quantized to \p levels levels.
double windowDivergence(const std::vector<double>& counts, size_t first, size_t last, size_t levels) {
  const size_t width = last - first;
  const std::vector<double> inside(counts.begin() + static_cast<std::ptrdiff_t>(first),
                                   counts.begin() + static_cast<std::ptrdiff_t>(last));
  // P carries the clipped mass in its edge bins; Q is built from the window alone, so that
  // clipping costs what it loses.
  std::vector<double> p = inside;
  for (size_t i = 0; i < first; ++i) p.front() += counts[i];
  for (size_t i = last; i < counts.size(); ++i) p.back() += counts[i];
  std::vector<double> q(width, 0.0);
  for (size_t level = 0; level < levels; ++level) {
    const size_t begin = level * width / levels, end = (level + 1) * width / levels;
    double mass = 0;
    size_t nonempty = 0;
    for (size_t i = begin; i < end; ++i) {
      mass += inside[i];
      nonempty += inside[i] > 0 ? 1 : 0;
    }
    for (size_t i = begin; i < end && nonempty; ++i) q[i] = inside[i] > 0 ? mass / static_cast<double>(nonempty) : 0.0;
  }
  smooth(p);
  smooth(q);
  double p_total = 0, q_total = 0;
  for (size_t i = 0; i < width; ++i) {
    p_total += p[i];
    q_total += q[i];
  }
  double kl = 0;
  for (size_t i = 0; i < width; ++i) {
    if (p[i] == 0) continue;
    const double pi = p[i] / p_total, qi = q[i] / q_total;
    kl += qi > 0 ? pi * std::log(pi / qi) : std::numeric_limits<double>::infinity();  // q empty: no candidate
  }
  return kl;
}

}  // namespace

std::pair<float, float> klDivergenceRange(const HistogramView& h, const QuantSpec& spec) {
  const size_t bins = h.bins;
  const size_t levels = static_cast<size_t>(spec.qmax() - spec.qmin()) + 1;
  if (bins <= levels || !(h.hi > h.lo)) return {h.lo, h.hi};
  std::vector<double> counts(h.counts, h.counts + bins);
  // The bin holding 0 (or the nearer end when the data is one-signed) anchors the shrinking.
  const double width = (static_cast<double>(h.hi) - h.lo) / static_cast<double>(bins);
  const double zero = std::clamp(-static_cast<double>(h.lo) / width, 0.0, static_cast<double>(bins));
  double best_kl = std::numeric_limits<double>::infinity();
  std::pair<float, float> best{h.lo, h.hi};
  for (size_t kept = bins; kept >= levels; --kept) {
    const double factor = static_cast<double>(kept) / static_cast<double>(bins);
    const size_t first = static_cast<size_t>(std::lround(zero * (1.0 - factor)));
    const size_t last = std::min(bins, first + kept);
    const double kl = windowDivergence(counts, first, last, levels);
    if (kl < best_kl) {
      best_kl = kl;
      best = {static_cast<float>(h.lo + width * static_cast<double>(first)),
              static_cast<float>(h.lo + width * static_cast<double>(last))};
    }
  }
  return best;
}

}  // namespace vitq
