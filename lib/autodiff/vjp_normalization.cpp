// VJPs of Softmax, LayerNormalization, BatchNormalization and the reductions.
//   Softmax       dx = y * (dy - sum_axis(dy * y)); before opset 13 the "axis" is the flattened
//                 block [axis, rank) as in the kernel.
//   LayerNorm     with xh = (x - mean) * inv over [axis, rank) and g = dy * scale:
//                 dx = inv * (g - mean(g) - xh * mean(g * xh)), dscale = sum_rows(dy * xh),
//                 dbias = sum_rows(dy), both summed to the parameter's (broadcast) shape.
//                 Gradients reaching the optional Mean / InvStdDev outputs are not supported.
//   ReduceMean/Sum  dx = dy broadcast back over the reduced axes (divided by their size for mean);
//                 ReduceMax/Min send it to the elements equal to the result (ties share it).
//   BatchNorm     inference mode: an affine map per channel (see batchNormVjp).
#include <cmath>
#include <vector>

#include "autodiff/vjp.h"
#include "exec/kernels/broadcast.h"
#include "exec/kernels/layout.h"

namespace vitq {
namespace {

Status softmaxVjp(VjpContext& ctx) {
  if (!ctx.wants(0)) return Status::ok();
  const Tensor& y = ctx.output(0);
  const bool legacy = ctx.forward.opset < 13;
  VITQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx.forward, ctx.attrs().intOr("axis", legacy ? 1 : -1), y.rank()));
  const Shape& s = y.shape();
  const size_t a = static_cast<size_t>(axis);
  const int64_t outer = product(s, 0, a);
  const int64_t len = legacy ? product(s, a, s.size()) : s.empty() ? 1 : s[a];
  const int64_t inner = legacy ? 1 : product(s, a + 1, s.size());
  const float* py = y.data<float>();
  const float* pg = ctx.outputGrad(0).data<float>();
  Tensor dx(DataType::kFloat, s);
  float* out = dx.data<float>();
#pragma omp parallel for schedule(static) if (outer * inner > 256)
  for (int64_t oi = 0; oi < outer * inner; ++oi) {
    const int64_t base = oi / inner * len * inner + oi % inner;
    double dot = 0;
    for (int64_t j = 0; j < len; ++j) dot += double{pg[base + j * inner]} * py[base + j * inner];
    for (int64_t j = 0; j < len; ++j) {
      const int64_t e = base + j * inner;
      out[e] = static_cast<float>(py[e] * (pg[e] - dot));
    }
  }
  ctx.setInputGrad(0, std::move(dx));
  return Status::ok();
}

Status layerNormVjp(VjpContext& ctx) {
  for (size_t i = 1; i < ctx.has_output_grad.size(); ++i) {
    if (ctx.has_output_grad[i]) return ctx.error("gradients through the Mean and InvStdDev outputs are not supported");
  }
  const Tensor& x = ctx.input(0);
  VITQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx.forward, ctx.attrs().intOr("axis", -1), x.rank()));
  const double eps = ctx.attrs().floatOr("epsilon", 1e-5f);
  const size_t a = static_cast<size_t>(axis);
  const int64_t outer = product(x.shape(), 0, a), len = product(x.shape(), a, x.shape().size());
  const Shape inner_shape(x.shape().begin() + axis, x.shape().end());
  std::vector<float> gamma(static_cast<size_t>(len), 1.0f);
  if (ctx.hasInput(1)) {
    const float* ps = ctx.input(1).data<float>();
    forEachBroadcast(inner_shape, {ctx.input(1).shape()}, [&](int64_t j, const int64_t* o) { gamma[static_cast<size_t>(j)] = ps[o[0]]; });
  }
  const float* px = x.data<float>();
  const float* pg = ctx.outputGrad(0).data<float>();
  Tensor dx(DataType::kFloat, x.shape());
  std::vector<double> dgamma(static_cast<size_t>(len), 0.0), dbeta(static_cast<size_t>(len), 0.0);
  std::vector<double> xh(static_cast<size_t>(len));
  for (int64_t o = 0; o < outer; ++o) {
    const float* src = px + o * len;
    const float* dy = pg + o * len;
    double mean = 0, var = 0;
    for (int64_t j = 0; j < len; ++j) mean += src[j];
    mean /= static_cast<double>(len);
    for (int64_t j = 0; j < len; ++j) var += (src[j] - mean) * (src[j] - mean);
    const double inv = 1.0 / std::sqrt(var / static_cast<double>(len) + eps);
    double mean_g = 0, mean_gx = 0;
    for (int64_t j = 0; j < len; ++j) {
      const size_t u = static_cast<size_t>(j);
      xh[u] = (src[j] - mean) * inv;
      const double gj = dy[j] * double{gamma[u]};
      mean_g += gj;
      mean_gx += gj * xh[u];
      dgamma[u] += dy[j] * xh[u];
      dbeta[u] += dy[j];
    }
    mean_g /= static_cast<double>(len);
    mean_gx /= static_cast<double>(len);
    float* out = dx.data<float>() + o * len;
    for (int64_t j = 0; j < len; ++j) {
      const size_t u = static_cast<size_t>(j);
      out[j] = static_cast<float>(inv * (dy[j] * double{gamma[u]} - mean_g - xh[u] * mean_gx));
    }
  }
  if (ctx.wants(0)) ctx.setInputGrad(0, dx);
  const std::vector<double>* param_grads[] = {&dgamma, &dbeta};
  for (size_t k = 1; k <= 2; ++k) {
    if (!ctx.wants(k)) continue;
    Tensor full(DataType::kFloat, inner_shape);
    for (int64_t j = 0; j < len; ++j) full.data<float>()[j] = static_cast<float>((*param_grads[k - 1])[static_cast<size_t>(j)]);
    ctx.setInputGrad(k, sumToShape(full, ctx.input(k).shape()));
  }
  return Status::ok();
}

enum class Reduction { kSum, kMean, kExtremum };

// ReduceMean / ReduceSum: the output with keepdims broadcasts back onto the input. ReduceMax /
// ReduceMin: to the elements that equal the result, shared evenly among ties.
Status reduceVjp(VjpContext& ctx, Reduction reduction) {
  if (!ctx.wants(0)) return Status::ok();
  const Tensor& x = ctx.input(0);
  const size_t rank = x.shape().size();
  VITQ_ASSIGN_OR_RETURN(auto axes, readIntsInputOrAttr(ctx.forward, 1, "axes"));
  std::vector<bool> reduced(rank, true);
  if (!axes || axes->empty()) {
    if (ctx.attrs().intOr("noop_with_empty_axes", 0) != 0) reduced.assign(rank, false);
  } else {
    reduced.assign(rank, false);
    for (int64_t ax : *axes) {
      VITQ_ASSIGN_OR_RETURN(int64_t n, normalizeAxis(ctx.forward, ax, x.rank()));
      reduced[static_cast<size_t>(n)] = true;
    }
  }
  Shape kept = x.shape();
  int64_t count = 1;
  for (size_t d = 0; d < rank; ++d) {
    if (reduced[d]) {
      count *= kept[d];
      kept[d] = 1;
    }
  }
  const float scale = reduction == Reduction::kMean ? 1.0f / static_cast<float>(count) : 1.0f;
  const Tensor dy = ctx.outputGrad(0).reshaped(kept);
  const float* pg = dy.data<float>();
  Tensor dx(DataType::kFloat, x.shape());
  float* out = dx.data<float>();
  if (reduction != Reduction::kExtremum) {
    forEachBroadcast(x.shape(), {kept}, [&](int64_t i, const int64_t* o) { out[i] = pg[o[0]] * scale; });
    ctx.setInputGrad(0, std::move(dx));
    return Status::ok();
  }
  const float* px = x.data<float>();
  const float* py = ctx.output(0).data<float>();  // the result, laid out as `kept`
  forEachBroadcast(x.shape(), {kept}, [&](int64_t i, const int64_t* o) { out[i] = px[i] == py[o[0]] ? 1.0f : 0.0f; });
  const Tensor ties = sumToShape(dx, kept);
  const float* pt = ties.data<float>();
  forEachBroadcast(x.shape(), {kept}, [&](int64_t i, const int64_t* o) { out[i] = out[i] != 0 ? pg[o[0]] / pt[o[0]] : 0.0f; });
  ctx.setInputGrad(0, std::move(dx));
  return Status::ok();
}

// BatchNormalization in inference mode, per channel c (dim 1) with a = scale / sqrt(var + eps):
// y = (x - mean) a + B, so dx = dy a, dscale = sum dy (x - mean) / sqrt(var + eps), dB = sum dy,
// dmean = -a sum dy, dvar = -a / (2 (var + eps)) sum dy (x - mean).
Status batchNormVjp(VjpContext& ctx) {
  if (ctx.attrs().intOr("training_mode", 0) != 0) return ctx.error("no gradient in training mode");
  const Tensor& x = ctx.input(0);
  const int64_t channels = x.dim(1), n = x.dim(0), spatial = product(x.shape(), 2, x.shape().size());
  const double eps = ctx.attrs().floatOr("epsilon", 1e-5f);
  const float* px = x.data<float>();
  const float* pg = ctx.outputGrad(0).data<float>();
  const float* scale = ctx.input(1).data<float>();
  const float* mean = ctx.input(3).data<float>();
  const float* var = ctx.input(4).data<float>();
  Tensor dx(DataType::kFloat, x.shape());
  std::vector<Tensor> params;  // dscale, dB, dmean, dvar
  for (size_t k = 1; k <= 4; ++k) params.emplace_back(DataType::kFloat, ctx.input(k).shape());
  for (int64_t c = 0; c < channels; ++c) {
    const double inv = 1.0 / std::sqrt(double{var[c]} + eps), a = scale[c] * inv;
    double sum_g = 0, sum_gx = 0;  // sum dy, sum dy (x - mean)
    for (int64_t b = 0; b < n; ++b) {
      const int64_t base = (b * channels + c) * spatial;
      for (int64_t i = 0; i < spatial; ++i) {
        const double g = pg[base + i];
        sum_g += g;
        sum_gx += g * (px[base + i] - double{mean[c]});
        dx.data<float>()[base + i] = static_cast<float>(g * a);
      }
    }
    params[0].data<float>()[c] = static_cast<float>(sum_gx * inv);
    params[1].data<float>()[c] = static_cast<float>(sum_g);
    params[2].data<float>()[c] = static_cast<float>(-a * sum_g);
    params[3].data<float>()[c] = static_cast<float>(-0.5 * a * inv * inv * sum_gx);
  }
  if (ctx.wants(0)) ctx.setInputGrad(0, std::move(dx));
  for (size_t k = 1; k <= 4; ++k) {
    if (ctx.wants(k)) ctx.setInputGrad(k, params[k - 1]);
  }
  return Status::ok();
}

}  // namespace

void registerNormalizationVjps(VjpRegistry& r) {
  r.add("Softmax", softmaxVjp);
  r.add("LayerNormalization", layerNormVjp);
  r.add("BatchNormalization", batchNormVjp);
  r.add("ReduceMean", [](VjpContext& ctx) { return reduceVjp(ctx, Reduction::kMean); });
  r.add("ReduceSum", [](VjpContext& ctx) { return reduceVjp(ctx, Reduction::kSum); });
  r.add("ReduceMax", [](VjpContext& ctx) { return reduceVjp(ctx, Reduction::kExtremum); });
  r.add("ReduceMin", [](VjpContext& ctx) { return reduceVjp(ctx, Reduction::kExtremum); });
}

}  // namespace vitq
