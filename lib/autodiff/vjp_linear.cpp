// VJPs of the matrix products, all through the executor's sgemm:
//   MatMul  Y = A B (batched, broadcast):  dA = dY B^T, dB = A^T dY, each accumulated (beta = 1)
//           into the operand's batch slot, which sums over the broadcast batch dims.
//   Gemm    Y = alpha op(A) op(B) + beta C: dop(A) = alpha dY op(B)^T, dop(B) = alpha op(A)^T dY,
//           transposed back where transA/transB; dC = beta dY summed to C's shape.
//   Conv    per image and group, with the kernel's im2col columns X_col [cg*k, out]:
//           dW += dY X_col^T, dX_col = W^T dY scattered back by the adjoint of im2col (the shared
//           forEachTap index map), dB = dY summed over batch and space.
#include <algorithm>
#include <vector>

#include "autodiff/vjp.h"
#include "exec/gemm.h"
#include "exec/kernels/im2col.h"
#include "exec/kernels/kernel_utils.h"
#include "exec/kernels/pool.h"

namespace vitq {
namespace {

/// Offset (in matrices) of each of the \p batch products into an operand with batch dims \p own.
std::vector<int64_t> batchOffsets(const Shape& batch, const Shape& own) {
  const std::vector<int64_t> strides = broadcastStrides(own, batch);
  std::vector<int64_t> out(static_cast<size_t>(product(batch)));
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t rem = static_cast<int64_t>(i), off = 0;
    for (size_t d = batch.size(); d-- > 0;) {
      off += rem % batch[d] * strides[d];
      rem /= batch[d];
    }
    out[i] = off;
  }
  return out;
}

Status matmulVjp(VjpContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  // The kernel promotes 1-D operands to [1, k] and [k, 1]; the gradients have the same memory.
  const Shape as = a.rank() == 1 ? Shape{1, a.dim(0)} : a.shape();
  const Shape bs = b.rank() == 1 ? Shape{b.dim(0), 1} : b.shape();
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  VITQ_ASSIGN_OR_RETURN(Shape batch, broadcastShapes(ctx.forward, a_batch, b_batch));
  const std::vector<int64_t> ao = batchOffsets(batch, a_batch), bo = batchOffsets(batch, b_batch);
  const float* dy = ctx.outputGrad(0).data<float>();
  Tensor ga(DataType::kFloat, a.shape()), gb(DataType::kFloat, b.shape());
  for (size_t i = 0; i < ao.size(); ++i) {
    const float* dyi = dy + static_cast<int64_t>(i) * m * n;
    if (ctx.wants(0)) {
      sgemm(false, true, m, k, n, 1.0f, dyi, n, b.data<float>() + bo[i] * k * n, n, 1.0f,
            ga.data<float>() + ao[i] * m * k, k);
    }
    if (ctx.wants(1)) {
      sgemm(true, false, k, n, m, 1.0f, a.data<float>() + ao[i] * m * k, k, dyi, n, 1.0f,
            gb.data<float>() + bo[i] * k * n, n);
    }
  }
  if (ctx.wants(0)) ctx.setInputGrad(0, ga);
  if (ctx.wants(1)) ctx.setInputGrad(1, gb);
  return Status::ok();
}

Status gemmVjp(VjpContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const bool ta = ctx.attrs().intOr("transA", 0) != 0, tb = ctx.attrs().intOr("transB", 0) != 0;
  const float alpha = ctx.attrs().floatOr("alpha", 1.0f), beta = ctx.attrs().floatOr("beta", 1.0f);
  const int64_t m = ta ? a.dim(1) : a.dim(0), k = ta ? a.dim(0) : a.dim(1), n = tb ? b.dim(0) : b.dim(1);
  const Tensor& dy = ctx.outputGrad(0);
  const float* g = dy.data<float>();
  if (ctx.wants(0)) {
    Tensor ga(DataType::kFloat, a.shape());
    if (ta) sgemm(tb, true, k, m, n, alpha, b.data<float>(), b.dim(1), g, n, 0.0f, ga.data<float>(), m);
    else sgemm(false, !tb, m, k, n, alpha, g, n, b.data<float>(), b.dim(1), 0.0f, ga.data<float>(), k);
    ctx.setInputGrad(0, ga);
  }
  if (ctx.wants(1)) {
    Tensor gb(DataType::kFloat, b.shape());
    if (tb) sgemm(true, ta, n, k, m, alpha, g, n, a.data<float>(), a.dim(1), 0.0f, gb.data<float>(), k);
    else sgemm(!ta, false, k, n, m, alpha, a.data<float>(), a.dim(1), g, n, 0.0f, gb.data<float>(), n);
    ctx.setInputGrad(1, gb);
  }
  if (ctx.wants(2)) {
    // The kernel ignores C when beta is 0, so its gradient is then zero too.
    Tensor gc = sumToShape(dy, ctx.input(2).shape()).clone();
    for (int64_t i = 0; i < gc.numel(); ++i) gc.data<float>()[i] *= beta;
    ctx.setInputGrad(2, gc);
  }
  return Status::ok();
}

/// The adjoint of im2col: adds columns [channels * kernelSize, outSpatialSize] back into the image.
void col2imAdd(const ConvGeometry& g, const float* columns, int64_t channels, float* image) {
  const int64_t ks = g.kernelSize(), os = g.outSpatialSize(), is = g.inSpatialSize();
  for (int64_t c = 0; c < channels; ++c) {
    const float* src = columns + c * ks * os;
    float* dst = image + c * is;
    forEachTap(g, g.out_spatial, g.in_spatial, [&](int64_t k, int64_t o, int64_t off) {
      if (off >= 0) dst[off] += src[k * os + o];
    });
  }
}

Status convVjp(VjpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  VITQ_ASSIGN_OR_RETURN(ConvGeometry g, convGeometry(ctx.forward, x.shape(), w.shape()));
  const int64_t ks = g.kernelSize(), is = g.inSpatialSize(), os = g.outSpatialSize();
  const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const float* dy = ctx.outputGrad(0).data<float>();
  const bool want_x = ctx.wants(0), want_w = ctx.wants(1);
  Tensor gx(DataType::kFloat, x.shape()), gw(DataType::kFloat, w.shape());
  std::vector<float> columns(static_cast<size_t>(cg * ks * os));
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      const float* dyg = dy + (n * g.out_channels + grp * mg) * os;
      const float* wg = w.data<float>() + grp * mg * cg * ks;
      const int64_t image = (n * g.in_channels + grp * cg) * is;
      if (want_w) {
        im2col(g, x.data<float>() + image, cg, 0.0f, columns.data());
        sgemm(false, true, mg, cg * ks, os, 1.0f, dyg, os, columns.data(), os, 1.0f, gw.data<float>() + grp * mg * cg * ks,
              cg * ks);
      }
      if (want_x) {
        sgemm(true, false, cg * ks, os, mg, 1.0f, wg, cg * ks, dyg, os, 0.0f, columns.data(), os);
        col2imAdd(g, columns.data(), cg, gx.data<float>() + image);
      }
    }
  }
  if (want_x) ctx.setInputGrad(0, gx);
  if (want_w) ctx.setInputGrad(1, gw);
  if (ctx.wants(2)) {
    Tensor gb(DataType::kFloat, ctx.input(2).shape());
    for (int64_t c = 0; c < g.out_channels; ++c) {
      double sum = 0;
      for (int64_t n = 0; n < g.batch; ++n) {
        for (int64_t i = 0; i < os; ++i) sum += dy[(n * g.out_channels + c) * os + i];
      }
      gb.data<float>()[c] = static_cast<float>(sum);
    }
    ctx.setInputGrad(2, gb);
  }
  return Status::ok();
}

// AveragePool is linear in its input: the pooling kernel's own geometry spreads the gradient back.
Status averagePoolVjp(VjpContext& ctx) {
  if (!ctx.wants(0)) return Status::ok();
  VITQ_ASSIGN_OR_RETURN(Tensor gx, averagePoolBackward(ctx.forward, ctx.outputGrad(0)));
  ctx.setInputGrad(0, std::move(gx));
  return Status::ok();
}

// GlobalAveragePool: every input of a (batch, channel) plane gets the plane's gradient / its size.
Status globalAveragePoolVjp(VjpContext& ctx) {
  if (!ctx.wants(0)) return Status::ok();
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) return ctx.error("input must be [N, C, ...]");
  const int64_t planes = x.dim(0) * x.dim(1);
  if (ctx.outputGrad(0).numel() != planes) return ctx.error("output gradient has the wrong size");
  const int64_t plane = planes ? x.numel() / planes : 0;
  Tensor gx(DataType::kFloat, x.shape());
  const float* dy = ctx.outputGrad(0).data<float>();
  float* dx = gx.data<float>();
  for (int64_t p = 0; p < planes; ++p) {
    const float share = dy[p] / static_cast<float>(plane);
    std::fill(dx + p * plane, dx + (p + 1) * plane, share);
  }
  ctx.setInputGrad(0, std::move(gx));
  return Status::ok();
}

}  // namespace

void registerLinearVjps(VjpRegistry& r) {
  r.add("MatMul", matmulVjp);
  r.add("Gemm", gemmVjp);
  r.add("Conv", convVjp);
  r.add("AveragePool", averagePoolVjp);
  r.add("GlobalAveragePool", globalAveragePoolVjp);
}

}  // namespace vitq
