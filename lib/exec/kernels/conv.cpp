// Conv (im2col + GEMM per group; a direct loop for depthwise 2-D) and ConvTranspose (GEMM + col2im).
#include <vector>

#include "exec/gemm.h"
#include "exec/kernel_registry.h"
#include "exec/kernels/depthwise.h"
#include "exec/kernels/im2col.h"
#include "exec/kernels/kernel_utils.h"

namespace vitq {
namespace {

Status checkFloat(const KernelContext& ctx) {
  for (size_t i = 0; i < ctx.numInputs(); ++i) {
    if (ctx.hasInput(i) && ctx.input(i).dtype() != DataType::kFloat) {
      return ctx.error(std::string("input ") + std::to_string(i) + " is " + dataTypeName(ctx.input(i).dtype()) +
                       "; only float is supported");
    }
  }
  return Status::ok();
}

Status convKernel(KernelContext& ctx) {
  VITQ_RETURN_IF_ERROR(checkFloat(ctx));
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  VITQ_ASSIGN_OR_RETURN(ConvGeometry g, convGeometry(ctx, x.shape(), w.shape()));
  const float* bias = nullptr;
  if (ctx.hasInput(2)) {
    if (ctx.input(2).numel() != g.out_channels) return ctx.error("bias must have one value per output channel");
    bias = ctx.input(2).data<float>();
  }
  Shape out_shape{g.batch, g.out_channels};
  out_shape.insert(out_shape.end(), g.out_spatial.begin(), g.out_spatial.end());
  Tensor y = Tensor::uninitialized(DataType::kFloat, out_shape);
  const int64_t ks = g.kernelSize(), is = g.inSpatialSize(), os = g.outSpatialSize();
  const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  if (isDepthwise2d(g)) {
    depthwise2d(g, x.data<float>(), w.data<float>(), bias, y.data<float>());
    ctx.setOutput(0, std::move(y));
    return Status::ok();
  }
  const bool pointwise = g.isPointwise();  // the input already is the column matrix
  std::vector<float> columns(pointwise ? 0 : static_cast<size_t>(cg * ks * os));
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      const float* image = x.data<float>() + (n * g.in_channels + grp * cg) * is;
      const float* cols = image;
      if (!pointwise) {
        im2col(g, image, cg, 0.0f, columns.data());
        cols = columns.data();
      }
      float* out = y.data<float>() + (n * g.out_channels + grp * mg) * os;
      sgemm(false, false, mg, os, cg * ks, 1.0f, w.data<float>() + grp * mg * cg * ks, cg * ks, cols, os, 0.0f, out, os);
      if (bias) {
        for (int64_t m = 0; m < mg; ++m) {
          const float b = bias[grp * mg + m];
          for (int64_t i = 0; i < os; ++i) out[m * os + i] += b;
        }
      }
    }
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

// Adds columns [channels * ks, in_spatial] back into an image of out_spatial (the adjoint of
// im2col, with the transposed convolution's roles: its "input" grid is our output).
void col2im(const ConvGeometry& g, const float* columns, int64_t channels, float* image) {
  const int64_t ks = g.kernelSize();
  const int64_t grid = g.inSpatialSize();  // positions of the transposed conv's input
  const int64_t img = g.outSpatialSize();  // size of its output image
  for (int64_t c = 0; c < channels; ++c) {
    float* dst = image + c * img;
    const float* src = columns + c * ks * grid;
    forEachTap(g, g.in_spatial, g.out_spatial, [&](int64_t k, int64_t p, int64_t off) {
      if (off >= 0) dst[off] += src[k * grid + p];
    });
  }
}

Status convTransposeKernel(KernelContext& ctx) {
  VITQ_RETURN_IF_ERROR(checkFloat(ctx));
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);  // [C, M/group, k...]
  VITQ_ASSIGN_OR_RETURN(ConvGeometry g, convTransposeGeometry(ctx, x.shape(), w.shape()));
  Shape out_shape{g.batch, g.out_channels};
  out_shape.insert(out_shape.end(), g.out_spatial.begin(), g.out_spatial.end());
  Tensor y(DataType::kFloat, out_shape);
  const int64_t ks = g.kernelSize(), is = g.inSpatialSize(), os = g.outSpatialSize();
  const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  std::vector<float> columns(static_cast<size_t>(mg * ks * is));
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      const float* xin = x.data<float>() + (n * g.in_channels + grp * cg) * is;
      const float* wg = w.data<float>() + grp * cg * mg * ks;  // [cg, mg*ks]
      sgemm(true, false, mg * ks, is, cg, 1.0f, wg, mg * ks, xin, is, 0.0f, columns.data(), is);
      col2im(g, columns.data(), mg, y.data<float>() + (n * g.out_channels + grp * mg) * os);
    }
  }
  if (ctx.hasInput(2)) {
    const Tensor& b = ctx.input(2);
    if (b.numel() != g.out_channels) return ctx.error("bias must have one value per output channel");
    float* out = y.data<float>();
    for (int64_t n = 0; n < g.batch; ++n) {
      for (int64_t c = 0; c < g.out_channels; ++c) {
        for (int64_t i = 0; i < os; ++i) out[(n * g.out_channels + c) * os + i] += b.data<float>()[c];
      }
    }
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

}  // namespace

void registerConvKernels(KernelRegistry& r) {
  r.add("Conv", convKernel);
  r.add("ConvTranspose", convTransposeKernel);
}

}  // namespace vitq
