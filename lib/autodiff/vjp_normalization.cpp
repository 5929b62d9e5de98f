// VJPs of Softmax, LayerNormalization and the mean/sum reductions.
//   Softmax       dx = y * (dy - sum_axis(dy * y)); before opset 13 the "axis" is the flattened
//                 block [axis, rank) as in the kernel.
//   LayerNorm     with xh = (x - mean) * inv over [axis, rank) and g = dy * scale:
//                 dx = inv * (g - mean(g) - xh * mean(g * xh)), dscale = sum_rows(dy * xh),
//                 dbias = sum_rows(dy), both summed to the parameter's (broadcast) shape.
//                 Gradients reaching the optional Mean / InvStdDev outputs are not supported.
//   ReduceMean/Sum  dx = dy broadcast back over the reduced axes (divided by their size for mean).
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

// ReduceMean / ReduceSum: the output with keepdims broadcasts back onto the input.
Status reduceVjp(VjpContext& ctx, bool mean) {
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
  const float scale = mean ? 1.0f / static_cast<float>(count) : 1.0f;
  const Tensor dy = ctx.outputGrad(0).reshaped(kept);
  const float* pg = dy.data<float>();
  Tensor dx(DataType::kFloat, x.shape());
  float* out = dx.data<float>();
  forEachBroadcast(x.shape(), {kept}, [&](int64_t i, const int64_t* o) { out[i] = pg[o[0]] * scale; });
  ctx.setInputGrad(0, std::move(dx));
  return Status::ok();
}

}  // namespace

void registerNormalizationVjps(VjpRegistry& r) {
  r.add("Softmax", softmaxVjp);
  r.add("LayerNormalization", layerNormVjp);
  r.add("ReduceMean", [](VjpContext& ctx) { return reduceVjp(ctx, true); });
  r.add("ReduceSum", [](VjpContext& ctx) { return reduceVjp(ctx, false); });
}

}  // namespace vitq
