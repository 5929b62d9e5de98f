// Range and scale searches that minimize the expected squared quantization error, from a
// histogram of the data (activations) or from the data itself (weights). Used by the `mse`
// calibration and by RepQ-ViT's per-channel and log-sqrt2 quantizers.
#pragma once

#include <cstdint>
#include <utility>

#include "ir/tensor.h"
#include "quant/quant_spec.h"

namespace vitq {

/// Counts in equal-width bins over [lo, hi].
struct HistogramView {
  const uint64_t* counts = nullptr;
  size_t bins = 0;
  float lo = 0.0f;
  float hi = 0.0f;
};

/// The clipping range [lo, hi] for the uniform quantizer \p spec whose expected squared error on
/// \p h is smallest: s^2/12 rounding noise for the mass inside the grid, the squared distance to
/// the grid's edge for the mass outside. Candidates shrink each end geometrically from the
/// observed range (the observed range itself is always a candidate).
std::pair<float, float> mseUniformRange(const HistogramView& h, const QuantSpec& spec);

/// x^ of the log-sqrt2 quantizer with scale \p s and \p bits (see QuantScheme::kLogSqrt2).
float logSqrt2FakeQuant(float x, float s, int bits);

/// The log-sqrt2 scale with the smallest squared error on the non-negative data of \p h, searched
/// on a grid of quarter-octave steps below the observed maximum.
float mseLogSqrt2Scale(const HistogramView& h, int bits);

/// Symmetric parameters per channel along spec.axis (or per tensor), each channel's clipping
/// ratio of its |max| chosen from 1.0 down to 0.5 to minimize the squared error of its values.
QuantParams mseWeightParams(const Tensor& w, const QuantSpec& spec);

}  // namespace vitq
