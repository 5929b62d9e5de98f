// VJPs of the matrix products, all through the executor's sgemm:
//   MatMul  Y = A B (batched, broadcast):  dA = dY B^T, dB = A^T dY, each accumulated (beta = 1)
//           into the operand's batch slot, which sums over the broadcast batch dims.
//   Gemm    Y = alpha op(A) op(B) + beta C: dop(A) = alpha dY op(B)^T, dop(B) = alpha op(A)^T dY,
//           transposed back where transA/transB; dC = beta dY summed to C's shape.
//   Conv    per image and group, with the kernel's im2col columns X_col [cg*k, out]:
//           dW += dY X_col^T, dX_col = W^T dY scattered back by the adjoint of im2col, dB = dY
//           summed over batch and space; pointwise convs use the image as X_col, depthwise 2-D
//           ones direct loops over the taps.
//   ConvTranspose  the adjoint of its col2im is im2col: dX and dW from the im2col columns of dY.
#include <algorithm>
#include <utility>
#include <vector>

#include "autodiff/vjp.h"
#include "exec/gemm.h"
#include "exec/kernels/depthwise.h"
#include "exec/kernels/im2col.h"
#include "exec/kernels/kernel_utils.h"

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
/// Every image value receives its taps in ascending tap order on both paths.
void col2imAdd(const ConvGeometry& g, const float* columns, int64_t channels, float* image) {
  const int64_t ks = g.kernelSize(), os = g.outSpatialSize(), is = g.inSpatialSize();
  if (g.in_spatial.size() == 2) {  // the 2-D loops of im2col, with the copy reversed
    const int64_t ih = g.in_spatial[0], iw = g.in_spatial[1], oh = g.out_spatial[0], ow = g.out_spatial[1];
    for (int64_t c = 0; c < channels; ++c) {
      float* dst = image + c * is;
      for (int64_t ky = 0; ky < g.kernel[0]; ++ky) {
        for (int64_t kx = 0; kx < g.kernel[1]; ++kx) {
          const float* src = columns + ((c * g.kernel[0] + ky) * g.kernel[1] + kx) * os;
          for (int64_t y = 0; y < oh; ++y) {
            const int64_t iy = y * g.stride[0] - g.pad_begin[0] + ky * g.dilation[0];
            if (iy < 0 || iy >= ih) continue;
            for (int64_t x = 0; x < ow; ++x) {
              const int64_t ix = x * g.stride[1] - g.pad_begin[1] + kx * g.dilation[1];
              if (ix >= 0 && ix < iw) dst[iy * iw + ix] += src[y * ow + x];
            }
          }
        }
      }
    }
    return;
  }
  for (int64_t c = 0; c < channels; ++c) {
    const float* src = columns + c * ks * os;
    float* dst = image + c * is;
    forEachTap(g, g.out_spatial, g.in_spatial, [&](int64_t k, int64_t o, int64_t off) {
      if (off >= 0) dst[off] += src[k * os + o];
    });
  }
}

/// The output columns [lo, hi) whose tap at input column offset \p shift (= kx * dilation - pad)
/// lands inside [0, width) with column stride \p stride.
std::pair<int64_t, int64_t> validColumns(int64_t shift, int64_t stride, int64_t width, int64_t outputs) {
  const int64_t lo = shift >= 0 ? 0 : (-shift + stride - 1) / stride;
  const int64_t hi = width - shift <= 0 ? 0 : std::min(outputs, (width - shift - 1) / stride + 1);
  return {lo, std::max(lo, hi)};
}

/// Depthwise 2-D by direct loops (the im2col route multiplies one-row matrices per channel):
/// dW[c, t] = sum_o dY[c, o] x[c, o + t], dX[c, o + t] += W[c, t] dY[c, o].
void depthwiseVjp(const ConvGeometry& g, const float* x, const float* w, const float* dy, float* gx, float* gw) {
  const int64_t ih = g.in_spatial[0], iw = g.in_spatial[1], oh = g.out_spatial[0], ow = g.out_spatial[1];
  const int64_t kh = g.kernel[0], kw = g.kernel[1], sy = g.stride[0], sx = g.stride[1];
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t c = 0; c < g.out_channels; ++c) {
      const int64_t plane = n * g.out_channels + c;
      const float* xc = x + plane * ih * iw;
      const float* dyc = dy + plane * oh * ow;
      float* gxc = gx ? gx + plane * ih * iw : nullptr;
      for (int64_t ky = 0; ky < kh; ++ky) {
        for (int64_t kx = 0; kx < kw; ++kx) {
          const int64_t shift = kx * g.dilation[1] - g.pad_begin[1];
          const auto [lo, hi] = validColumns(shift, sx, iw, ow);
          const float wt = w[(c * kh + ky) * kw + kx];
          double dw = 0;
          for (int64_t oy = 0; oy < oh; ++oy) {
            const int64_t iy = oy * sy - g.pad_begin[0] + ky * g.dilation[0];
            if (iy < 0 || iy >= ih) continue;
            const float* d = dyc + oy * ow;
            const int64_t base = iy * iw + shift;  // + ox * sx: the input column, inside for lo <= ox < hi
            if (gw) {
              float row = 0;
              for (int64_t ox = lo; ox < hi; ++ox) row += d[ox] * xc[base + ox * sx];
              dw += row;
            }
            if (gxc) {
              for (int64_t ox = lo; ox < hi; ++ox) gxc[base + ox * sx] += wt * d[ox];
            }
          }
          if (gw) gw[(c * kh + ky) * kw + kx] += static_cast<float>(dw);
        }
      }
    }
  }
}

/// dL/dB of a convolution's per-channel bias: dY summed over the batch and the output image.
Tensor biasGradient(const ConvGeometry& g, const float* dy, const Shape& bias_shape) {
  const int64_t os = g.outSpatialSize();
  Tensor gb(DataType::kFloat, bias_shape);
  for (int64_t c = 0; c < g.out_channels; ++c) {
    double sum = 0;
    for (int64_t n = 0; n < g.batch; ++n) {
      for (int64_t i = 0; i < os; ++i) sum += dy[(n * g.out_channels + c) * os + i];
    }
    gb.data<float>()[c] = static_cast<float>(sum);
  }
  return gb;
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
  if (isDepthwise2d(g)) {
    depthwiseVjp(g, x.data<float>(), w.data<float>(), dy, want_x ? gx.data<float>() : nullptr,
                 want_w ? gw.data<float>() : nullptr);
  } else {
    const bool pointwise = g.isPointwise();
    std::vector<float> columns(pointwise ? 0 : static_cast<size_t>(cg * ks * os));
    for (int64_t n = 0; n < g.batch; ++n) {
      for (int64_t grp = 0; grp < g.group; ++grp) {
        const float* dyg = dy + (n * g.out_channels + grp * mg) * os;
        const float* wg = w.data<float>() + grp * mg * cg * ks;
        const int64_t image = (n * g.in_channels + grp * cg) * is;
        if (want_w) {
          const float* cols = x.data<float>() + image;
          if (!pointwise) {
            im2col(g, cols, cg, 0.0f, columns.data());
            cols = columns.data();
          }
          sgemm(false, true, mg, cg * ks, os, 1.0f, dyg, os, cols, os, 1.0f, gw.data<float>() + grp * mg * cg * ks,
                cg * ks);
        }
        if (want_x && pointwise) {
          sgemm(true, false, cg, os, mg, 1.0f, wg, cg, dyg, os, 0.0f, gx.data<float>() + image, os);
        } else if (want_x) {
          sgemm(true, false, cg * ks, os, mg, 1.0f, wg, cg * ks, dyg, os, 0.0f, columns.data(), os);
          col2imAdd(g, columns.data(), cg, gx.data<float>() + image);
        }
      }
    }
  }
  if (want_x) ctx.setInputGrad(0, gx);
  if (want_w) ctx.setInputGrad(1, gw);
  if (ctx.wants(2)) ctx.setInputGrad(2, biasGradient(g, dy, ctx.input(2).shape()));
  return Status::ok();
}

// ConvTranspose, per image and group with W_g [cg, mg*k]: Y = col2im(W_g^T X). Its adjoint is a
// convolution of dY with the same strides, pads and dilations: dcols = im2col of dY over the
// output image (the geometry with input and output grids swapped), dX = W_g dcols,
// dW_g += X dcols^T.
Status convTransposeVjp(VjpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  VITQ_ASSIGN_OR_RETURN(ConvGeometry g, convTransposeGeometry(ctx.forward, x.shape(), w.shape()));
  ConvGeometry adjoint = g;
  std::swap(adjoint.in_spatial, adjoint.out_spatial);
  const int64_t ks = g.kernelSize(), is = g.inSpatialSize(), os = g.outSpatialSize();
  const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const float* dy = ctx.outputGrad(0).data<float>();
  Tensor gx(DataType::kFloat, x.shape()), gw(DataType::kFloat, w.shape());
  std::vector<float> columns(static_cast<size_t>(mg * ks * is));
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      im2col(adjoint, dy + (n * g.out_channels + grp * mg) * os, mg, 0.0f, columns.data());
      const int64_t image = (n * g.in_channels + grp * cg) * is;
      const int64_t weights = grp * cg * mg * ks;
      if (ctx.wants(0)) {
        sgemm(false, false, cg, is, mg * ks, 1.0f, w.data<float>() + weights, mg * ks, columns.data(), is, 0.0f,
              gx.data<float>() + image, is);
      }
      if (ctx.wants(1)) {
        sgemm(false, true, cg, mg * ks, is, 1.0f, x.data<float>() + image, is, columns.data(), is, 1.0f,
              gw.data<float>() + weights, mg * ks);
      }
    }
  }
  if (ctx.wants(0)) ctx.setInputGrad(0, gx);
  if (ctx.wants(1)) ctx.setInputGrad(1, gw);
  if (ctx.wants(2)) ctx.setInputGrad(2, biasGradient(g, dy, ctx.input(2).shape()));
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
  r.add("ConvTranspose", convTransposeVjp);
  r.add("GlobalAveragePool", globalAveragePoolVjp);
}

}  // namespace vitq
