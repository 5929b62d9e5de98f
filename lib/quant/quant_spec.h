// How one tensor is quantized (QuantSpec) and the parameters chosen for it (QuantParams).
// Integer ranges: signed b-bit [-2^(b-1), 2^(b-1)-1], unsigned [0, 2^b-1]; symmetric signed
// specs use the narrow range [-(2^(b-1)-1), 2^(b-1)-1] so that +-amax both map exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace vitq {

// Uniform: q = clamp(round(x / s) + z). LogSqrt2 (RepQ-ViT's post-Softmax quantizer, for
// non-negative data): q = clamp(round(-2 log2(x / s)), 0, 2^b - 1), x^ = s 2^(-q/2), and values whose
// code would pass 2^b - 1 become 0.
enum class QuantScheme { kUniform, kLogSqrt2 };

struct QuantSpec {
  QuantScheme scheme = QuantScheme::kUniform;
  int bits = 8;
  bool is_signed = true;
  bool symmetric = true;
  int64_t axis = -1;  // per-channel axis; -1 for per-tensor
  // > 0: blocks of this many elements along `axis` share a scale (ONNX's blocked quantization,
  // weight-only group-wise quantization); the scales then have the tensor's shape with `axis`
  // reduced to ceil(dim / block_size).
  int64_t block_size = 0;

  int32_t qmin() const;
  int32_t qmax() const;
  std::string toString() const;  // "int8 sym per-channel(axis 0)"
};

struct QuantParams {
  std::vector<float> scale;        // one per channel, or one
  std::vector<int32_t> zero_point; // same length as scale
  int64_t axis = -1;
  int64_t block_size = 0;  // > 0: blocked along axis (QuantSpec::block_size)
  Shape scale_shape;       // blocked: the scale tensor's shape (row-major order of `scale`)
  bool perChannel() const { return axis >= 0; }
  bool blocked() const { return block_size > 0; }
};

}  // namespace vitq
