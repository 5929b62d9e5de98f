// Softmax family (Softmax, LogSoftmax, Hardmax), LayerNormalization, BatchNormalization (inference),
// InstanceNormalization and LpNormalization.
#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <vector>

#include "exec/kernel_registry.h"
#include "exec/kernels/kernel_utils.h"
#include "exec/kernels/vector_math.h"

namespace vitq {
namespace {

enum class SoftmaxKind { kSoftmax, kLogSoftmax, kHardmax };

// One contiguous softmax row, every step vectorized: Eigen's max and float sum (a fixed order, so
// the same bits for any thread count), SIMD exp.
void softmaxRow(const float* src, float* dst, int64_t len) {
  if (len == 0) return;
  const float mx = Eigen::Map<const Eigen::ArrayXf>(src, len).maxCoeff();
  for (int64_t j = 0; j < len; ++j) dst[j] = src[j] - mx;
  vec::exp(dst, dst, len);
  const float inv = 1.0f / Eigen::Map<const Eigen::ArrayXf>(dst, len).sum();
  for (int64_t j = 0; j < len; ++j) dst[j] *= inv;
}

// Before opset 13 the input is coerced to 2-D at `axis` (default 1); since 13 the op runs along
// one axis (default -1).
Status softmaxKernel(KernelContext& ctx, SoftmaxKind kind) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::kFloat) return ctx.error("only float input is supported");
  const bool legacy = ctx.opset < 13;
  VITQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, ctx.attrs().intOr("axis", legacy ? 1 : -1), x.rank()));
  const Shape& s = x.shape();
  const int64_t outer = product(s, 0, static_cast<size_t>(axis));
  const int64_t len = legacy ? product(s, static_cast<size_t>(axis), s.size()) : s.empty() ? 1 : s[static_cast<size_t>(axis)];
  const int64_t inner = legacy ? 1 : product(s, static_cast<size_t>(axis) + 1, s.size());
  Tensor y = Tensor::uninitialized(DataType::kFloat, s);
  const float* in = x.data<float>();
  float* out = y.data<float>();
#pragma omp parallel for schedule(static) if (outer * inner > 256)
  for (int64_t oi = 0; oi < outer * inner; ++oi) {
    const int64_t o = oi / inner, i = oi % inner;
    const float* src = in + o * len * inner + i;
    float* dst = out + o * len * inner + i;
    if (kind == SoftmaxKind::kSoftmax && inner == 1) {
      softmaxRow(src, dst, len);
      continue;
    }
    float mx = -std::numeric_limits<float>::infinity();
    int64_t arg = 0;
    for (int64_t j = 0; j < len; ++j) {
      if (src[j * inner] > mx) {
        mx = src[j * inner];
        arg = j;
      }
    }
    if (kind == SoftmaxKind::kHardmax) {
      for (int64_t j = 0; j < len; ++j) dst[j * inner] = j == arg ? 1.0f : 0.0f;
      continue;
    }
    // exp in float, the sum in double.
    double sum = 0;
    for (int64_t j = 0; j < len; ++j) {
      const float e = std::exp(src[j * inner] - mx);
      if (kind == SoftmaxKind::kSoftmax) dst[j * inner] = e;
      sum += e;
    }
    if (kind == SoftmaxKind::kSoftmax) {
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < len; ++j) dst[j * inner] *= inv;
    } else {
      const double lse = std::log(sum);
      for (int64_t j = 0; j < len; ++j) dst[j * inner] = static_cast<float>(src[j * inner] - mx - lse);
    }
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

// Normalizes over dims [axis, rank); optional outputs Mean and InvStdDev keep the reduced dims.
Status layerNormKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::kFloat) return ctx.error("only float input is supported");
  VITQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, ctx.attrs().intOr("axis", -1), x.rank()));
  const float eps = ctx.attrs().floatOr("epsilon", 1e-5f);
  const int64_t outer = product(x.shape(), 0, static_cast<size_t>(axis));
  const int64_t len = product(x.shape(), static_cast<size_t>(axis), x.shape().size());
  const Shape inner_shape(x.shape().begin() + axis, x.shape().end());
  auto broadcastParam = [&](size_t i, std::vector<float>& out, float fallback) -> Status {
    out.assign(static_cast<size_t>(len), fallback);
    if (!ctx.hasInput(i)) return Status::ok();
    const Tensor& p = ctx.input(i);
    if (p.dtype() != DataType::kFloat) return ctx.error("scale and bias must be float");
    VITQ_ASSIGN_OR_RETURN(Shape b, broadcastShapes(ctx, p.shape(), inner_shape));
    if (b != inner_shape) return ctx.error("parameter " + shapeToString(p.shape()) + " does not broadcast to " + shapeToString(inner_shape));
    const auto strides = broadcastStrides(p.shape(), inner_shape);
    const auto own = stridesOf(inner_shape);
    for (int64_t j = 0; j < len; ++j) {
      int64_t off = 0;
      for (size_t d = 0; d < inner_shape.size(); ++d) off += (j / own[d]) % inner_shape[d] * strides[d];
      out[static_cast<size_t>(j)] = p.data<float>()[off];
    }
    return Status::ok();
  };
  std::vector<float> gamma, beta;
  VITQ_RETURN_IF_ERROR(broadcastParam(1, gamma, 1.0f));
  VITQ_RETURN_IF_ERROR(broadcastParam(2, beta, 0.0f));
  Tensor y = Tensor::uninitialized(DataType::kFloat, x.shape());
  Shape stat_shape = x.shape();
  for (size_t d = static_cast<size_t>(axis); d < stat_shape.size(); ++d) stat_shape[d] = 1;
  Tensor mean_t(DataType::kFloat, stat_shape), inv_t(DataType::kFloat, stat_shape);
  const float* in = x.data<float>();
  float* out = y.data<float>();
  const Eigen::Map<const Eigen::ArrayXf> g(gamma.data(), len), b(beta.data(), len);
#pragma omp parallel for schedule(static) if (outer > 16)
  for (int64_t o = 0; o < outer; ++o) {
    // Mean, then variance, in float (ONNX Runtime also accumulates in float) with Eigen's
    // vectorized sums: a fixed order, the same bits for any thread count.
    const Eigen::Map<const Eigen::ArrayXf> row(in + o * len, len);
    const float mean = row.sum() / static_cast<float>(len);
    const float var = (row - mean).square().sum() / static_cast<float>(len);
    const float inv = 1.0f / std::sqrt(var + eps);
    Eigen::Map<Eigen::ArrayXf>(out + o * len, len) = (row - mean) * inv * g + b;
    mean_t.data<float>()[o] = mean;
    inv_t.data<float>()[o] = inv;
  }
  ctx.setOutput(0, std::move(y));
  if (ctx.node.numOutputs() > 1) ctx.setOutput(1, std::move(mean_t));
  if (ctx.node.numOutputs() > 2) ctx.setOutput(2, std::move(inv_t));
  return Status::ok();
}

Status batchNormKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::kFloat || x.rank() < 2) return ctx.error("input must be float of rank >= 2");
  const int64_t c = x.dim(1);
  for (size_t i = 1; i <= 4; ++i) {
    if (!ctx.hasInput(i) || ctx.input(i).numel() != c || ctx.input(i).dtype() != DataType::kFloat) {
      return ctx.error("scale, B, mean and var must be float with one value per channel (" + std::to_string(c) + ")");
    }
  }
  if (ctx.attrs().intOr("training_mode", 0) != 0) return ctx.error("training_mode=1 is not supported");
  const double eps = ctx.attrs().floatOr("epsilon", 1e-5f);
  const float* scale = ctx.input(1).data<float>();
  const float* bias = ctx.input(2).data<float>();
  const float* mean = ctx.input(3).data<float>();
  const float* var = ctx.input(4).data<float>();
  const int64_t n = x.dim(0), spatial = product(x.shape(), 2, x.shape().size());
  Tensor y(DataType::kFloat, x.shape());
  const float* in = x.data<float>();
  float* out = y.data<float>();
  for (int64_t ch = 0; ch < c; ++ch) {
    const float a = static_cast<float>(scale[ch] / std::sqrt(static_cast<double>(var[ch]) + eps));
    const float b = bias[ch] - a * mean[ch];
    for (int64_t b0 = 0; b0 < n; ++b0) {
      const int64_t base = (b0 * c + ch) * spatial;
      for (int64_t i = 0; i < spatial; ++i) out[base + i] = in[base + i] * a + b;
    }
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status instanceNormKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::kFloat || x.rank() < 3) return ctx.error("input must be float of rank >= 3");
  const int64_t n = x.dim(0), c = x.dim(1), spatial = product(x.shape(), 2, x.shape().size());
  if (ctx.input(1).numel() != c || ctx.input(2).numel() != c) return ctx.error("scale and B need one value per channel");
  const double eps = ctx.attrs().floatOr("epsilon", 1e-5f);
  Tensor y(DataType::kFloat, x.shape());
  for (int64_t i = 0; i < n * c; ++i) {
    const float* src = x.data<float>() + i * spatial;
    float* dst = y.data<float>() + i * spatial;
    double mean = 0, var = 0;
    for (int64_t j = 0; j < spatial; ++j) mean += src[j];
    mean /= static_cast<double>(spatial);
    for (int64_t j = 0; j < spatial; ++j) var += (src[j] - mean) * (src[j] - mean);
    var /= static_cast<double>(spatial);
    const double inv = 1.0 / std::sqrt(var + eps);
    const float s = ctx.input(1).data<float>()[i % c], b = ctx.input(2).data<float>()[i % c];
    for (int64_t j = 0; j < spatial; ++j) dst[j] = static_cast<float>((src[j] - mean) * inv) * s + b;
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status lpNormKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::kFloat) return ctx.error("only float input is supported");
  VITQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, ctx.attrs().intOr("axis", -1), x.rank()));
  const int64_t p = ctx.attrs().intOr("p", 2);
  if (p != 1 && p != 2) return ctx.error("p must be 1 or 2");
  const int64_t outer = product(x.shape(), 0, static_cast<size_t>(axis));
  const int64_t len = x.dim(axis), inner = product(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  Tensor y(DataType::kFloat, x.shape());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* src = x.data<float>() + o * len * inner + i;
      float* dst = y.data<float>() + o * len * inner + i;
      double norm = 0;
      for (int64_t j = 0; j < len; ++j) norm += p == 1 ? std::fabs(src[j * inner]) : src[j * inner] * src[j * inner];
      if (p == 2) norm = std::sqrt(norm);
      for (int64_t j = 0; j < len; ++j) dst[j * inner] = norm == 0 ? 0.0f : static_cast<float>(src[j * inner] / norm);
    }
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

}  // namespace

void registerNormalizationKernels(KernelRegistry& r) {
  r.add("Softmax", [](KernelContext& ctx) { return softmaxKernel(ctx, SoftmaxKind::kSoftmax); });
  r.add("LogSoftmax", [](KernelContext& ctx) { return softmaxKernel(ctx, SoftmaxKind::kLogSoftmax); });
  r.add("Hardmax", [](KernelContext& ctx) { return softmaxKernel(ctx, SoftmaxKind::kHardmax); });
  r.add("LayerNormalization", layerNormKernel);
  r.add("BatchNormalization", batchNormKernel);
  r.add("InstanceNormalization", instanceNormKernel);
  r.add("LpNormalization", lpNormKernel);
}

}  // namespace vitq
