// Pure quantization arithmetic, no graph: choosing scale and zero point from a range, and
// quantizing / dequantizing values exactly as ONNX QuantizeLinear / DequantizeLinear do
// (round half to even, saturate to the integer range).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "ir/tensor.h"
#include "quant/quant_spec.h"

namespace vitq {

/// Scale and zero point covering [min, max] (widened to include 0) for \p spec. A zero-width range
/// (or one so narrow that its scale would be subnormal) gets scale 1, so that zeros stay exact and
/// nothing divides by zero.
void chooseParams(float min, float max, const QuantSpec& spec, float& scale, int32_t& zero_point);

/// Per-tensor or per-channel parameters from observed ranges (one range per channel when
/// spec.axis >= 0).
QuantParams paramsFromRanges(const std::vector<float>& mins, const std::vector<float>& maxs, const QuantSpec& spec);

/// round_half_even(x / scale) + zero_point, saturated to [qmin, qmax]. Inline: it runs per element
/// in the fake-quantization loops.
inline int32_t quantizeValue(float x, float scale, int32_t zero_point, int32_t qmin, int32_t qmax) {
  const float q = std::nearbyint(x / scale) + static_cast<float>(zero_point);  // default rounding mode: half to even
  if (!(q >= static_cast<float>(qmin))) return qmin;  // also catches NaN
  if (q > static_cast<float>(qmax)) return qmax;
  return static_cast<int32_t>(q);
}
inline float dequantizeValue(int32_t q, float scale, int32_t zero_point) {
  return static_cast<float>(q - zero_point) * scale;
}

/// Which of a QuantParams' scales each element of a tensor of one shape uses: the one scale, the
/// channel along the axis, or the element's block (the scale tensor's row-major index).
class ParamIndexer {
 public:
  ParamIndexer(const QuantParams& p, const Shape& shape);
  size_t operator()(int64_t i) const {
    if (axis_ < 0) return 0;
    const int64_t j = (i / inner_) % dim_;
    if (block_ <= 0) return static_cast<size_t>(j);
    return static_cast<size_t>((i / (inner_ * dim_) * blocks_ + j / block_) * inner_ + i % inner_);
  }
  /// Calls fn(first element, count, first parameter, parameter step) for each run of consecutive
  /// elements of a tensor of \p numel elements whose parameter index starts at `first parameter` and
  /// advances by `step` (0: one parameter for the run, 1: one per element): the per-element loops of
  /// weight quantization without a division per element.
  template <typename Fn>
  void forEachRun(int64_t numel, Fn&& fn) const {
    if (axis_ < 0) {
      fn(int64_t{0}, numel, int64_t{0}, int64_t{0});
      return;
    }
    if (dim_ * inner_ == 0) return;
    const int64_t outer = numel / (dim_ * inner_);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < dim_; ++j) {
        const int64_t start = (o * dim_ + j) * inner_;
        if (block_ <= 0) fn(start, inner_, j, int64_t{0});
        else fn(start, inner_, (o * blocks_ + j / block_) * inner_, int64_t{1});
      }
    }
  }

 private:
  int64_t axis_ = -1, dim_ = 1, inner_ = 1, block_ = 0, blocks_ = 1;
};

/// The blocked scale tensor's shape for a tensor of \p shape: \p axis reduced to ceil(dim / block).
Shape blockedScaleShape(const Shape& shape, int64_t axis, int64_t block);

/// dequantize(quantize(t)) element by element, per channel along p.axis when per-channel.
Tensor fakeQuantizeTensor(const Tensor& t, const QuantParams& p, const QuantSpec& spec);

/// Energy of a float tensor and of an error made on it, summed in double.
struct ErrorEnergy {
  double signal = 0, noise = 0;
  /// 10 log10(signal / noise); +infinity when there is no error.
  double sqnrDb() const { return noise == 0 ? INFINITY : 10.0 * std::log10(signal / noise); }
};

/// The error of \p approx against \p reference (float tensors of one size).
ErrorEnergy differenceError(const Tensor& reference, const Tensor& approx);

}  // namespace vitq
