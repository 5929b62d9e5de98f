// Entropy (KL-divergence) calibration, as TensorRT introduced it and ONNX Runtime's Entropy
// calibrator does: the clipping range whose quantized histogram loses the least information.
#pragma once

#include <utility>
#include <vector>

#include "quant/math/range_search.h"
#include "quant/quant_spec.h"

namespace vitq {

/// Candidate ranges shrink both ends of the observed [lo, hi] by the same factor (so the zero
/// point stays put) in steps of one bin. For each, P is the histogram inside the range with the
/// mass outside added to its edge bins, Q is the window's own histogram (without that mass) merged
/// into the 2^bits quantization levels and spread back over each level's non-empty bins; the range
/// with the smallest KL(P || Q) wins.
std::pair<float, float> klDivergenceRange(const HistogramView& h, const QuantSpec& spec);

namespace detail {
/// KL(P || Q) of the window [first, last) of \p counts quantized to \p levels levels, bin by bin
/// (the definition; the search uses it for nearly empty windows).
double windowDivergenceDirect(const std::vector<double>& counts, size_t first, size_t last, size_t levels);
/// The same from prefix sums in O(levels), as the search computes it (tests compare the two).
double windowDivergencePrefixed(const std::vector<double>& counts, size_t first, size_t last, size_t levels);
}  // namespace detail

}  // namespace vitq
