// Conv (im2col + GEMM per group; a direct loop for depthwise 2-D) and ConvTranspose (GEMM + col2im).
#include <algorithm>
#include <cstring>
#include <vector>

#include "exec/gemm.h"
#include "exec/kernel_registry.h"
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

// One output channel per input channel, 2-D: direct accumulation beats im2col on tiny GEMMs.
// Each channel is first copied into a zero-padded plane split by column phase (column x goes to
// phase x mod stride at x / stride), so no tap needs a bounds check and every tap reads
// consecutive values whatever the column stride; blocks of kColumns outputs then stay in
// registers across all taps (loaded and stored once instead of once per tap). Every output sums
// bias and taps in the same order (rows, then columns of the kernel) on either path.
constexpr int64_t kColumns = 16;
// Eight floats as one value (GCC/Clang vector extension: one ymm register on x86).
using Float8 = float __attribute__((vector_size(32)));

inline Float8 load8(const float* p) {
  Float8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Input planes [stride][rows][width] and where each kernel tap starts in them (tap at row 0).
struct PhasePlanes {
  int64_t width;                // of one phase plane
  const float* data;
  std::vector<int64_t> taps;    // per (ky, kx): offset of the input value under output (0, 0)
};

void depthwiseChannel(const ConvGeometry& g, const PhasePlanes& in, const float* k, float b, float* dst) {
  const int64_t oh = g.out_spatial[0], ow = g.out_spatial[1], kh = g.kernel[0], kw = g.kernel[1];
  const int64_t taps = kh * kw, row_step = g.stride[0] * in.width;
  const int64_t* tap = in.taps.data();
  for (int64_t oy = 0; oy < oh; ++oy) {
    const float* base = in.data + oy * row_step;
    float* out = dst + oy * ow;
    int64_t ox = 0;
    for (; ox + kColumns <= ow; ox += kColumns) {
      Float8 low = Float8{} + b, high = Float8{} + b;
      for (int64_t t = 0; t < taps; ++t) {
        const float* src = base + tap[t] + ox;
        low += k[t] * load8(src);
        high += k[t] * load8(src + 8);
      }
      std::memcpy(out + ox, &low, sizeof(low));
      std::memcpy(out + ox + 8, &high, sizeof(high));
    }
    for (; ox < ow; ++ox) {
      float acc = b;
      for (int64_t t = 0; t < taps; ++t) acc += k[t] * base[tap[t] + ox];
      out[ox] = acc;
    }
  }
}

void depthwise2d(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y) {
  const int64_t ih = g.in_spatial[0], iw = g.in_spatial[1], oh = g.out_spatial[0], ow = g.out_spatial[1];
  const int64_t py = g.pad_begin[0], px = g.pad_begin[1], sx = g.stride[1];
  // Rows and columns every tap of every output can reach (at least the padded input).
  const int64_t rows = std::max(ih + py + g.pad_end[0], (oh - 1) * g.stride[0] + (g.kernel[0] - 1) * g.dilation[0] + 1);
  const int64_t cols = std::max(iw + px + g.pad_end[1], (ow - 1) * sx + (g.kernel[1] - 1) * g.dilation[1] + 1);
  const int64_t width = (cols + sx - 1) / sx;
  const int64_t channels = g.batch * g.out_channels;
#pragma omp parallel
  {
    std::vector<float> planes(static_cast<size_t>(sx * rows * width), 0.0f);
    PhasePlanes in{width, planes.data(), {}};
    for (int64_t ky = 0; ky < g.kernel[0]; ++ky) {
      for (int64_t kx = 0; kx < g.kernel[1]; ++kx) {
        const int64_t column = kx * g.dilation[1];
        in.taps.push_back(((column % sx) * rows + ky * g.dilation[0]) * width + column / sx);
      }
    }
#pragma omp for schedule(static)
    for (int64_t nc = 0; nc < channels; ++nc) {
      const int64_t c = nc % g.out_channels;
      const float* src = x + nc * ih * iw;
      for (int64_t iy = 0; iy < ih; ++iy) {  // the border stays zero from the allocation
        float* row = planes.data() + (iy + py) * width;
        if (sx == 1) {
          std::copy(src + iy * iw, src + (iy + 1) * iw, row + px);
          continue;
        }
        for (int64_t ix = 0; ix < iw; ++ix) {
          const int64_t column = ix + px;
          row[(column % sx) * rows * width + column / sx] = src[iy * iw + ix];
        }
      }
      depthwiseChannel(g, in, w + c * g.kernel[0] * g.kernel[1], bias ? bias[c] : 0.0f, y + nc * oh * ow);
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
  if (g.group == g.in_channels && g.group == g.out_channels && g.in_spatial.size() == 2) {
    depthwise2d(g, x.data<float>(), w.data<float>(), bias, y.data<float>());
    ctx.setOutput(0, std::move(y));
    return Status::ok();
  }
  bool pointwise = true;  // 1x1, stride 1, no padding: the input already is the column matrix
  for (size_t i = 0; i < g.kernel.size(); ++i) {
    pointwise = pointwise && g.kernel[i] == 1 && g.stride[i] == 1 && g.pad_begin[i] == 0 && g.pad_end[i] == 0;
  }
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
  if (x.rank() < 3 || w.rank() != x.rank()) return ctx.error("input and weight ranks do not match");
  const size_t nd = static_cast<size_t>(x.rank()) - 2;
  ConvGeometry g;
  g.batch = x.dim(0);
  g.in_channels = x.dim(1);
  g.group = ctx.attrs().intOr("group", 1);
  if (g.group <= 0 || w.dim(0) != g.in_channels || g.in_channels % g.group != 0) {
    return ctx.error("weight " + shapeToString(w.shape()) + " does not match input channels " +
                     std::to_string(g.in_channels) + " with group " + std::to_string(g.group));
  }
  g.out_channels = w.dim(1) * g.group;
  g.in_spatial.assign(x.shape().begin() + 2, x.shape().end());
  g.kernel.assign(w.shape().begin() + 2, w.shape().end());
  g.stride = ctx.attrs().getInts("strides").value_or(std::vector<int64_t>(nd, 1));
  g.dilation = ctx.attrs().getInts("dilations").value_or(std::vector<int64_t>(nd, 1));
  auto pads = ctx.attrs().getInts("pads").value_or(std::vector<int64_t>(2 * nd, 0));
  auto out_pad = ctx.attrs().getInts("output_padding").value_or(std::vector<int64_t>(nd, 0));
  const auto out_shape_attr = ctx.attrs().getInts("output_shape");
  const std::string auto_pad = ctx.attrs().stringOr("auto_pad", "NOTSET");
  if (g.stride.size() != nd || g.dilation.size() != nd || pads.size() != 2 * nd || out_pad.size() != nd) {
    return ctx.error("strides, dilations, pads or output_padding have the wrong length");
  }
  g.pad_begin.resize(nd);
  g.pad_end.resize(nd);
  g.out_spatial.resize(nd);
  for (size_t i = 0; i < nd; ++i) {
    const int64_t extent = g.dilation[i] * (g.kernel[i] - 1) + 1;
    const int64_t full = g.stride[i] * (g.in_spatial[i] - 1) + out_pad[i] + extent;
    if (out_shape_attr || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t target = g.in_spatial[i] * g.stride[i];
      if (out_shape_attr) {
        const auto& os = *out_shape_attr;
        target = os.size() == nd ? os[i] : os.size() == nd + 2 ? os[i + 2] : -1;
        if (target < 0) return ctx.error("output_shape has the wrong length");
      }
      const int64_t total = std::max<int64_t>(0, full - target);
      const bool lower = auto_pad == "SAME_LOWER";
      g.pad_begin[i] = lower ? total - total / 2 : total / 2;
      g.pad_end[i] = total - g.pad_begin[i];
      g.out_spatial[i] = target;
    } else {
      g.pad_begin[i] = auto_pad == "VALID" ? 0 : pads[i];
      g.pad_end[i] = auto_pad == "VALID" ? 0 : pads[i + nd];
      g.out_spatial[i] = full - g.pad_begin[i] - g.pad_end[i];
    }
    if (g.out_spatial[i] <= 0) return ctx.error("output size would be empty");
  }
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
