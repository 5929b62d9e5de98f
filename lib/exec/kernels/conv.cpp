// Conv (im2col + GEMM per group; a direct loop for depthwise 2-D) and ConvTranspose (GEMM + col2im).
#include <algorithm>
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

// Output rows per im2col tile in a 2-D Conv are chosen so that the tile's columns stay near this
// size: im2col's writes are then still in cache when the GEMM reads them (a whole 160x160 image
// of 96 channels at 3x3 is 88 MB of columns), and the tiles give the threads independent work.
constexpr int64_t kColumnTileBytes = 256 * 1024;

// out[m, i] += bias[m] for m < channels, i < width, rows ld apart.
void addChannelBias(const float* bias, int64_t channels, int64_t width, int64_t ld, float* out) {
  for (int64_t m = 0; m < channels; ++m) {
    const float b = bias[m];
    for (int64_t i = 0; i < width; ++i) out[m * ld + i] += b;
  }
}

// One group of one image of a 2-D Conv, im2col and GEMM over tiles of output rows. A tile's
// arithmetic does not depend on the thread count: the GEMM inside a parallel region runs on one
// thread, so the same tiles give the same bits at any --threads.
void convRowTiles(const ConvGeometry& g, const float* image, const float* weight, const float* bias, int64_t cg,
                  int64_t mg, float* out) {
  const int64_t oh = g.out_spatial[0], ow = g.out_spatial[1], os = oh * ow, depth = cg * g.kernelSize();
  const int64_t rows = std::clamp<int64_t>(kColumnTileBytes / (depth * ow * 4), 1, oh);
  const int64_t tiles = (oh + rows - 1) / rows;
#pragma omp parallel
  {
    std::vector<float> columns(static_cast<size_t>(depth * rows * ow));
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t y0 = t * rows, y1 = std::min(oh, y0 + rows), width = (y1 - y0) * ow;
      im2colRows(g, image, cg, 0.0f, y0, y1, columns.data());
      sgemm(false, false, mg, width, depth, 1.0f, weight, depth, columns.data(), width, 0.0f, out + y0 * ow, os);
      if (bias) addChannelBias(bias, mg, width, os, out + y0 * ow);
    }
  }
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
  const bool tiled = !pointwise && g.in_spatial.size() == 2 && cg * ks * os * 4 > kColumnTileBytes;
  std::vector<float> columns(pointwise || tiled ? 0 : static_cast<size_t>(cg * ks * os));
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      const float* image = x.data<float>() + (n * g.in_channels + grp * cg) * is;
      const float* weight = w.data<float>() + grp * mg * cg * ks;
      float* out = y.data<float>() + (n * g.out_channels + grp * mg) * os;
      const float* group_bias = bias ? bias + grp * mg : nullptr;
      if (tiled) {
        convRowTiles(g, image, weight, group_bias, cg, mg, out);
        continue;
      }
      const float* cols = image;
      if (!pointwise) {
        im2col(g, image, cg, 0.0f, columns.data());
        cols = columns.data();
      }
      sgemm(false, false, mg, os, cg * ks, 1.0f, weight, cg * ks, cols, os, 0.0f, out, os);
      if (group_bias) addChannelBias(group_bias, mg, os, os, out);
    }
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

// Adds columns [channels * ks, in_spatial] back into an image of out_spatial (the adjoint of
// im2col, with the transposed convolution's roles: its "input" grid is our output). Channels write
// disjoint planes, so they run in parallel with the same bits at any thread count.
void col2im2d(const ConvGeometry& g, const float* columns, int64_t channels, float* image) {
  const int64_t ih = g.in_spatial[0], iw = g.in_spatial[1], oh = g.out_spatial[0], ow = g.out_spatial[1];
  const int64_t kh = g.kernel[0], kw = g.kernel[1], sx = g.stride[1];
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < channels; ++c) {
    float* dst = image + c * oh * ow;
    for (int64_t ky = 0; ky < kh; ++ky) {
      for (int64_t kx = 0; kx < kw; ++kx) {
        const float* src = columns + ((c * kh + ky) * kw + kx) * ih * iw;
        // Input columns [x0, x1) land inside the output row at ox = x * sx + shift.
        const int64_t shift = kx * g.dilation[1] - g.pad_begin[1];
        const int64_t x0 = std::min(iw, shift >= 0 ? 0 : (-shift + sx - 1) / sx);
        const int64_t x1 = std::max(x0, std::min(iw, ow - 1 - shift < 0 ? 0 : (ow - 1 - shift) / sx + 1));
        for (int64_t y = 0; y < ih; ++y) {
          const int64_t oy = y * g.stride[0] - g.pad_begin[0] + ky * g.dilation[0];
          if (oy < 0 || oy >= oh) continue;
          const int64_t base = oy * ow + shift;
          const float* row = src + y * iw;
          if (sx == 1) {
            for (int64_t x = x0; x < x1; ++x) dst[base + x] += row[x];
          } else {
            for (int64_t x = x0; x < x1; ++x) dst[base + x * sx] += row[x];
          }
        }
      }
    }
  }
}

// Any rank: the index map is computed once and shared by the channels.
void col2imNd(const ConvGeometry& g, const float* columns, int64_t channels, float* image) {
  const int64_t ks = g.kernelSize(), grid = g.inSpatialSize(), img = g.outSpatialSize();
  std::vector<int64_t> offsets(static_cast<size_t>(ks * grid));
  forEachTap(g, g.in_spatial, g.out_spatial,
             [&](int64_t k, int64_t p, int64_t off) { offsets[static_cast<size_t>(k * grid + p)] = off; });
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < channels; ++c) {
    float* dst = image + c * img;
    const float* src = columns + c * ks * grid;
    for (int64_t i = 0; i < ks * grid; ++i) {
      const int64_t off = offsets[static_cast<size_t>(i)];
      if (off >= 0) dst[off] += src[i];
    }
  }
}

Status convTransposeKernel(KernelContext& ctx) {
  VITQ_RETURN_IF_ERROR(checkFloat(ctx));
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);  // [C, M/group, k...]
  VITQ_ASSIGN_OR_RETURN(ConvGeometry g, convTransposeGeometry(ctx, x.shape(), w.shape()));
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
  float* out = y.data<float>();
  for (int64_t n = 0; n < g.batch; ++n) {  // col2im adds onto the bias
    for (int64_t c = 0; c < g.out_channels; ++c) {
      std::fill(out + (n * g.out_channels + c) * os, out + (n * g.out_channels + c + 1) * os, bias ? bias[c] : 0.0f);
    }
  }
  std::vector<float> columns(static_cast<size_t>(mg * ks * is));
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      const float* xin = x.data<float>() + (n * g.in_channels + grp * cg) * is;
      const float* wg = w.data<float>() + grp * cg * mg * ks;  // [cg, mg*ks]
      sgemm(true, false, mg * ks, is, cg, 1.0f, wg, mg * ks, xin, is, 0.0f, columns.data(), is);
      float* image = out + (n * g.out_channels + grp * mg) * os;
      if (g.in_spatial.size() == 2) {
        col2im2d(g, columns.data(), mg, image);
      } else {
        col2imNd(g, columns.data(), mg, image);
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
