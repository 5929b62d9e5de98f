#include "quant/math/entropy_range.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace vitq {
namespace {

// ONNX Runtime's smoothing: eps per empty bin, taken evenly from the non-empty ones, so that KL
// stays finite. It keeps each distribution's total.
constexpr double kEps = 1e-4;

// What smoothing takes from each non-empty bin of a window of \p width bins with \p zeros empty.
double smoothingTake(size_t zeros, size_t width) {
  return zeros == 0 || zeros >= width ? 0.0 : kEps * static_cast<double>(zeros) / static_cast<double>(width - zeros);
}

void smooth(std::vector<double>& d) {
  size_t zeros = 0;
  for (double v : d) zeros += v == 0 ? 1 : 0;
  const double taken = smoothingTake(zeros, d.size());
  if (taken == 0) return;
  for (double& v : d) v = v == 0 ? kEps : v - taken;
}

// Per-bin sums over the histogram, as prefix sums, so that any run of bins is two lookups: the
// counts, the non-empty bins, and over the non-empty bins c log c, log c, 1/c, 1/c^2 (the terms of
// (c - t) log(c - t) expanded in t, below).
struct PrefixSums {
  std::vector<double> count, nonempty, c_log_c, log_c, inv_c, inv_c2;

  explicit PrefixSums(const std::vector<double>& counts) {
    const size_t n = counts.size() + 1;
    for (auto* v : {&count, &nonempty, &c_log_c, &log_c, &inv_c, &inv_c2}) v->assign(n, 0.0);
    for (size_t i = 0; i < counts.size(); ++i) {
      const double c = counts[i];
      const bool full = c > 0;
      count[i + 1] = count[i] + c;
      nonempty[i + 1] = nonempty[i] + (full ? 1 : 0);
      c_log_c[i + 1] = c_log_c[i] + (full ? c * std::log(c) : 0);
      log_c[i + 1] = log_c[i] + (full ? std::log(c) : 0);
      inv_c[i + 1] = inv_c[i] + (full ? 1 / c : 0);
      inv_c2[i + 1] = inv_c2[i] + (full ? 1 / (c * c) : 0);
    }
  }
};

// Sum of (c - t) log(c - t) over the non-empty bins of [b, e): with x = t/c, log(c - t) = log c -
// x - x^2/2 - O(x^3), which leaves c log c - t log c - t + t^2/(2c) + t^3/(2c^2) per bin. Counts
// are whole numbers, so c >= 1 and the error per bin is below t^3/3.
double shiftedEntropySum(const PrefixSums& s, size_t b, size_t e, double t) {
  const double n = s.nonempty[e] - s.nonempty[b];
  return (s.c_log_c[e] - s.c_log_c[b]) - t * (s.log_c[e] - s.log_c[b]) - n * t +
         0.5 * t * t * (s.inv_c[e] - s.inv_c[b]) + 0.5 * t * t * t * (s.inv_c2[e] - s.inv_c2[b]);
}

double shiftedEntropy(double c, double t) { return (c - t) * std::log(c - t); }

// The series above is used while the smoothing take stays below this (error < 4e-7 per bin);
// nearly empty windows take more and go through the direct sum.
constexpr double kSeriesTakeLimit = 1e-2;

}  // namespace

namespace detail {

double windowDivergenceDirect(const std::vector<double>& counts, size_t first, size_t last, size_t levels) {
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

}  // namespace detail

namespace {

// KL(P || Q) of the window [first, last) in O(levels): both distributions keep their totals under
// smoothing (P: all the mass, Q: the window's), so KL = sum p' (log p' - log q') / P + log(Q / P),
// where a bin empty in both contributes eps (log eps - log eps) = 0, a level's non-empty bins share
// q' = mass / n - t_q, and only the two edge bins, which carry the clipped mass, differ from the
// window's own counts.
double windowDivergence(const std::vector<double>& counts, const PrefixSums& s, size_t first, size_t last,
                        size_t levels) {
  const size_t width = last - first;
  const double total = s.count.back(), kept = s.count[last] - s.count[first];
  if (!(kept > 0)) return std::numeric_limits<double>::infinity();
  const double below = s.count[first], above = total - s.count[last];
  const size_t front = first, back = last - 1;
  const auto q_zeros = width - static_cast<size_t>(s.nonempty[last] - s.nonempty[first]);
  const size_t p_zeros = q_zeros - (counts[front] == 0 && below > 0 ? 1 : 0) - (counts[back] == 0 && above > 0 ? 1 : 0);
  const double tp = smoothingTake(p_zeros, width), tq = smoothingTake(q_zeros, width);
  if (tp > kSeriesTakeLimit) return detail::windowDivergenceDirect(counts, first, last, levels);

  // The levels partition the window, so the p' log p' part is one run; only log q' is per level.
  double sum = shiftedEntropySum(s, first, last, tp), log_q_front = std::log(kEps), log_q_back = std::log(kEps);
  for (size_t level = 0; level < levels; ++level) {
    const size_t b = first + level * width / levels, e = first + (level + 1) * width / levels;
    const double n = s.nonempty[e] - s.nonempty[b];
    if (n == 0) continue;
    const double mass = s.count[e] - s.count[b];
    const double log_q = std::log(mass / n - tq);
    sum -= (mass - n * tp) * log_q;
    if (level == 0 && counts[front] > 0) log_q_front = log_q;
    if (level + 1 == levels && counts[back] > 0) log_q_back = log_q;
  }
  // The edge bins: swap the window's own term for the one with the clipped mass added.
  const auto edge = [&](size_t bin, double clipped, double log_q) {
    if (clipped == 0) return;
    const double c = counts[bin];
    if (c > 0) sum -= shiftedEntropySum(s, bin, bin + 1, tp) - (c - tp) * log_q;
    sum += shiftedEntropy(c + clipped, tp) - (c + clipped - tp) * log_q;
  };
  edge(front, below, log_q_front);
  edge(back, above, log_q_back);
  return sum / total + std::log(kept / total);
}

// ReLU, ReLU6 and Softmax outputs pile most of their mass into the bin holding 0. Zero is exact on
// every grid (it is the zero point), so that mass costs nothing at any range; but Q spreads each
// level's mass evenly over its bins, which charges the spike for sharing a level with its
// neighbours and drives the search to the narrowest windows (on the Fashion-MNIST hybrid: ReLU6
// outputs clipped to a fifth of their range, attention probabilities to a quarter). As NVIDIA's
// entropy calibrator does, the zero bin gets a neighbour's count instead.
void flattenZeroSpike(std::vector<double>& counts, double zero) {
  if (counts.size() < 2) return;
  const auto bin = std::min(static_cast<size_t>(zero), counts.size() - 1);
  const bool left = bin > 0, right = bin + 1 < counts.size();
  const double neighbours = (left ? counts[bin - 1] : 0) + (right ? counts[bin + 1] : 0);
  counts[bin] = std::min(counts[bin], std::round(neighbours / ((left ? 1 : 0) + (right ? 1 : 0))));
}

}  // namespace

namespace detail {

double windowDivergencePrefixed(const std::vector<double>& counts, size_t first, size_t last, size_t levels) {
  return windowDivergence(counts, PrefixSums(counts), first, last, levels);
}

}  // namespace detail

std::pair<float, float> klDivergenceRange(const HistogramView& h, const QuantSpec& spec) {
  const size_t bins = h.bins;
  const size_t levels = static_cast<size_t>(spec.qmax() - spec.qmin()) + 1;
  if (bins <= levels || !(h.hi > h.lo)) return {h.lo, h.hi};
  // The bin holding 0 (or the nearer end when the data is one-signed) anchors the shrinking.
  const double width = (static_cast<double>(h.hi) - h.lo) / static_cast<double>(bins);
  const double zero = std::clamp(-static_cast<double>(h.lo) / width, 0.0, static_cast<double>(bins));
  std::vector<double> counts(h.counts, h.counts + bins);
  flattenZeroSpike(counts, zero);
  const PrefixSums sums(counts);
  if (!(sums.count.back() > 0)) return {h.lo, h.hi};
  double best_kl = std::numeric_limits<double>::infinity();
  std::pair<float, float> best{h.lo, h.hi};
  for (size_t kept = bins; kept >= levels; --kept) {
    const double factor = static_cast<double>(kept) / static_cast<double>(bins);
    const size_t first = static_cast<size_t>(std::lround(zero * (1.0 - factor)));
    const size_t last = std::min(bins, first + kept);
    const double kl = windowDivergence(counts, sums, first, last, levels);
    if (kl < best_kl) {
      best_kl = kl;
      best = {static_cast<float>(h.lo + width * static_cast<double>(first)),
              static_cast<float>(h.lo + width * static_cast<double>(last))};
    }
  }
  return best;
}

}  // namespace vitq
