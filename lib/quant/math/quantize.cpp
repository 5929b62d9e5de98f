#include "quant/math/quantize.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/check.h"

namespace vitq {

void chooseParams(float min, float max, const QuantSpec& spec, float& scale, int32_t& zero_point) {
  min = std::min(min, 0.0f);
  max = std::max(max, 0.0f);
  const float qmin = static_cast<float>(spec.qmin()), qmax = static_cast<float>(spec.qmax());
  if (spec.symmetric) {
    const float amax = std::max(-min, max);
    // Signed: +-amax over [-qmax, qmax]. Unsigned symmetric is only meaningful for
    // non-negative data: [0, amax] over [0, qmax].
    scale = amax / qmax;
    zero_point = 0;
  } else {
    scale = (max - min) / (qmax - qmin);
    zero_point = scale > 0 ? static_cast<int32_t>(std::nearbyint(qmin - min / scale)) : 0;
    zero_point = std::clamp(zero_point, spec.qmin(), spec.qmax());
  }
  // A subnormal scale is a zero range too: products with it (a bias's input x weight scale)
  // underflow to 0.
  if (!(scale >= std::numeric_limits<float>::min()) || !std::isfinite(scale)) {
    scale = 1.0f;
    zero_point = spec.symmetric ? 0 : std::clamp(0, spec.qmin(), spec.qmax());
  }
}

QuantParams paramsFromRanges(const std::vector<float>& mins, const std::vector<float>& maxs, const QuantSpec& spec) {
  QuantParams p;
  p.axis = spec.axis;
  for (size_t i = 0; i < mins.size(); ++i) {
    float s;
    int32_t z;
    chooseParams(mins[i], maxs[i], spec, s, z);
    p.scale.push_back(s);
    p.zero_point.push_back(z);
  }
  return p;
}

ParamIndexer::ParamIndexer(const QuantParams& p, const Shape& shape) {
  if (!p.perChannel()) return;
  axis_ = p.axis;
  dim_ = shape.at(static_cast<size_t>(p.axis));
  for (size_t d = static_cast<size_t>(p.axis) + 1; d < shape.size(); ++d) inner_ *= shape[d];
  if (p.blocked()) {
    block_ = p.block_size;
    blocks_ = (dim_ + block_ - 1) / block_;
  }
}

Shape blockedScaleShape(const Shape& shape, int64_t axis, int64_t block) {
  Shape s = shape;
  s.at(static_cast<size_t>(axis)) = (s[static_cast<size_t>(axis)] + block - 1) / block;
  return s;
}

Tensor fakeQuantizeTensor(const Tensor& t, const QuantParams& p, const QuantSpec& spec) {
  Tensor out = Tensor::uninitialized(DataType::kFloat, t.shape());  // every element is written below
  const int32_t qmin = spec.qmin(), qmax = spec.qmax();
  const float* src = t.data<float>();
  float* dst = out.data<float>();
  ParamIndexer(p, t.shape()).forEachRun(t.numel(), [&](int64_t start, int64_t count, int64_t c, int64_t step) {
    for (int64_t i = start; i < start + count; ++i, c += step) {
      const float scale = p.scale[static_cast<size_t>(c)];
      const int32_t zero_point = p.zero_point[static_cast<size_t>(c)];
      dst[i] = dequantizeValue(quantizeValue(src[i], scale, zero_point, qmin, qmax), scale, zero_point);
    }
  });
  return out;
}

ErrorEnergy differenceError(const Tensor& reference, const Tensor& approx) {
  VITQ_CHECK(reference.numel() == approx.numel()) << "differenceError: sizes differ";
  ErrorEnergy e;
  const float* r = reference.data<float>();
  const float* a = approx.data<float>();
  for (int64_t i = 0; i < reference.numel(); ++i) {
    const double x = r[i], d = static_cast<double>(a[i]) - x;
    e.signal += x * x;
    e.noise += d * d;
  }
  return e;
}

}  // namespace vitq
