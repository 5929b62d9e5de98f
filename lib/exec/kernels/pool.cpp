// Pooling: GlobalAveragePool, GlobalMaxPool, GlobalLpPool, AveragePool, MaxPool (with the optional
// Indices output and storage_order), LpPool. 1-d and 2-d pools are run as 3-d pools with leading
// unit dims, so there is one loop nest; per output element the valid kernel range is computed once,
// so the inner loops have no bounds checks. (N, C) planes run in parallel.
#include <cmath>
#include <limits>

#include "exec/kernels/pool.h"
#include "exec/kernel_registry.h"
#include "exec/kernels/layout.h"

namespace vitq {
namespace {

struct PoolGeometry {
  int64_t batch = 0, channels = 0;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, kernel[3] = {1, 1, 1}, stride[3] = {1, 1, 1},
          dil[3] = {1, 1, 1}, pad_begin[3] = {0, 0, 0}, pad_end[3] = {0, 0, 0};
  size_t nd = 0;
  int64_t inPlane() const { return in[0] * in[1] * in[2]; }
  int64_t outPlane() const { return out[0] * out[1] * out[2]; }
};

StatusOr<PoolGeometry> poolGeometry(const KernelContext& ctx, const Shape& x) {
  if (x.size() < 3 || x.size() > 5) return ctx.error("input " + shapeToString(x) + " must be [N, C, d1..dk] with k in 1..3");
  const size_t nd = x.size() - 2;
  const auto ks = ctx.attrs().getInts("kernel_shape");
  if (!ks || ks->size() != nd) return ctx.error("kernel_shape must have " + std::to_string(nd) + " values");
  const auto strides = ctx.attrs().getInts("strides").value_or(std::vector<int64_t>(nd, 1));
  const auto dilations = ctx.attrs().getInts("dilations").value_or(std::vector<int64_t>(nd, 1));
  const auto pads = ctx.attrs().getInts("pads").value_or(std::vector<int64_t>(2 * nd, 0));
  if (strides.size() != nd || dilations.size() != nd || pads.size() != 2 * nd) {
    return ctx.error("strides, dilations or pads have the wrong length for " + std::to_string(nd) + " spatial dims");
  }
  const std::string auto_pad = ctx.attrs().stringOr("auto_pad", "NOTSET");
  const bool ceil_mode = ctx.attrs().intOr("ceil_mode", 0) != 0;
  PoolGeometry g;
  g.batch = x[0];
  g.channels = x[1];
  g.nd = nd;
  const size_t off = 3 - nd;  // 1-d and 2-d pools use the trailing slots
  for (size_t i = 0; i < nd; ++i) {
    const size_t j = off + i;
    g.in[j] = x[2 + i];
    g.kernel[j] = (*ks)[i];
    g.stride[j] = strides[i];
    g.dil[j] = dilations[i];
    if (g.kernel[j] <= 0 || g.stride[j] <= 0 || g.dil[j] <= 0) {
      return ctx.error("kernel_shape, strides and dilations must be positive");
    }
    const int64_t extent = g.dil[j] * (g.kernel[j] - 1) + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      g.out[j] = (g.in[j] + g.stride[j] - 1) / g.stride[j];
      const int64_t total = std::max<int64_t>(0, (g.out[j] - 1) * g.stride[j] + extent - g.in[j]);
      g.pad_begin[j] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[j] = total - g.pad_begin[j];
      continue;
    }
    if (auto_pad == "VALID") {
      g.pad_begin[j] = g.pad_end[j] = 0;
    } else if (auto_pad == "NOTSET" || auto_pad.empty()) {
      g.pad_begin[j] = pads[i];
      g.pad_end[j] = pads[i + nd];
      if (pads[i] < 0 || pads[i + nd] < 0) return ctx.error("pads must not be negative");
    } else {
      return ctx.error("unknown auto_pad '" + auto_pad + "'");
    }
    const int64_t span = g.in[j] + g.pad_begin[j] + g.pad_end[j] - extent;
    if (span < 0) return ctx.error("kernel is larger than the padded input " + shapeToString(x));
    g.out[j] = (ceil_mode ? (span + g.stride[j] - 1) / g.stride[j] : span / g.stride[j]) + 1;
    // With ceil_mode the last window must still start inside the input or the left padding.
    if (ceil_mode && (g.out[j] - 1) * g.stride[j] >= g.in[j] + g.pad_begin[j]) --g.out[j];
  }
  return g;
}

Shape outputShape(const PoolGeometry& g) {
  Shape s{g.batch, g.channels};
  for (size_t i = 3 - g.nd; i < 3; ++i) s.push_back(g.out[i]);
  return s;
}

// Valid kernel taps [k0, k1) along one dim for a window starting at `start`.
inline void tapRange(int64_t start, int64_t k, int64_t d, int64_t n, int64_t& k0, int64_t& k1) {
  k0 = start >= 0 ? 0 : (-start + d - 1) / d;
  k1 = start + (k - 1) * d < n ? k : (n - start + d - 1) / d;
  if (k1 < k0) k1 = k0;
}

enum class Kind { kMax, kAverage, kLp };

// The forward average's divisor for a window (see poolLoop).
int64_t averageCount(const PoolGeometry& g, bool count_include_pad, const int64_t starts[3], const int64_t taps[3]) {
  if (!count_include_pad) return taps[0] * taps[1] * taps[2];
  int64_t c = 1;
  for (int j = 0; j < 3; ++j) {
    int64_t a, b;
    tapRange(starts[j] + g.pad_begin[j], g.kernel[j], g.dil[j], g.in[j] + g.pad_begin[j] + g.pad_end[j], a, b);
    c *= b - a;
  }
  return c;
}

template <typename T>
void poolLoop(const PoolGeometry& g, Kind kind, bool count_include_pad, double p, const T* src, T* dst,
              int64_t* indices, bool column_major) {
  const int64_t planes = g.batch * g.channels, in_plane = g.inPlane(), out_plane = g.outPlane();
#pragma omp parallel for schedule(static) if (planes * out_plane > 4096)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* s = src + pl * in_plane;
    T* d = dst + pl * out_plane;
    int64_t at = 0;
    for (int64_t oz = 0; oz < g.out[0]; ++oz) {
      const int64_t z0 = oz * g.stride[0] - g.pad_begin[0];
      int64_t kz0, kz1;
      tapRange(z0, g.kernel[0], g.dil[0], g.in[0], kz0, kz1);
      for (int64_t oy = 0; oy < g.out[1]; ++oy) {
        const int64_t y0 = oy * g.stride[1] - g.pad_begin[1];
        int64_t ky0, ky1;
        tapRange(y0, g.kernel[1], g.dil[1], g.in[1], ky0, ky1);
        for (int64_t ox = 0; ox < g.out[2]; ++ox, ++at) {
          const int64_t x0 = ox * g.stride[2] - g.pad_begin[2];
          int64_t kx0, kx1;
          tapRange(x0, g.kernel[2], g.dil[2], g.in[2], kx0, kx1);
          if (kind == Kind::kMax) {
            T best = std::numeric_limits<T>::lowest();
            int64_t best_at = -1;
            for (int64_t kz = kz0; kz < kz1; ++kz) {
              for (int64_t ky = ky0; ky < ky1; ++ky) {
                const int64_t row = ((z0 + kz * g.dil[0]) * g.in[1] + (y0 + ky * g.dil[1])) * g.in[2];
                for (int64_t kx = kx0; kx < kx1; ++kx) {
                  const int64_t i = row + x0 + kx * g.dil[2];
                  if (best_at < 0 || s[i] > best) {
                    best = s[i];
                    best_at = i;
                  }
                }
              }
            }
            d[at] = best;
            if (indices) {
              int64_t idx = best_at;
              if (column_major && best_at >= 0) {
                // Spatial coordinates flattened first-dim-fastest.
                const int64_t z = best_at / (g.in[1] * g.in[2]), y = best_at / g.in[2] % g.in[1], x = best_at % g.in[2];
                idx = g.nd == 3 ? z + y * g.in[0] + x * g.in[0] * g.in[1] : g.nd == 2 ? y + x * g.in[1] : x;
              }
              indices[pl * out_plane + at] = pl * in_plane + idx;
            }
            continue;
          }
          double acc = 0;
          for (int64_t kz = kz0; kz < kz1; ++kz) {
            for (int64_t ky = ky0; ky < ky1; ++ky) {
              const T* row = s + ((z0 + kz * g.dil[0]) * g.in[1] + (y0 + ky * g.dil[1])) * g.in[2] + x0;
              if (kind == Kind::kAverage) {
                for (int64_t kx = kx0; kx < kx1; ++kx) acc += static_cast<double>(row[kx * g.dil[2]]);
              } else {
                for (int64_t kx = kx0; kx < kx1; ++kx) acc += std::pow(std::fabs(static_cast<double>(row[kx * g.dil[2]])), p);
              }
            }
          }
          if (kind == Kind::kLp) {
            d[at] = static_cast<T>(std::pow(acc, 1.0 / p));
            continue;
          }
          // With count_include_pad, taps inside the padded input count, ceil_mode overhang not.
          const int64_t starts[3] = {z0, y0, x0}, taps[3] = {kz1 - kz0, ky1 - ky0, kx1 - kx0};
          const int64_t count = averageCount(g, count_include_pad, starts, taps);
          d[at] = static_cast<T>(count > 0 ? acc / static_cast<double>(count) : 0.0);
        }
      }
    }
  }
}

Status poolKernel(KernelContext& ctx, Kind kind) {
  const Tensor& x = ctx.input(0);
  VITQ_ASSIGN_OR_RETURN(PoolGeometry g, poolGeometry(ctx, x.shape()));
  const bool count_include_pad = ctx.attrs().intOr("count_include_pad", 0) != 0;
  const double p = static_cast<double>(ctx.attrs().intOr("p", 2));
  const bool want_indices = kind == Kind::kMax && ctx.outputs.size() > 1;
  const bool column_major = ctx.attrs().intOr("storage_order", 0) != 0;
  const Shape shape = outputShape(g);
  Tensor y(x.dtype(), shape);
  Tensor idx = want_indices ? Tensor(DataType::kInt64, shape) : Tensor();
  bool ok = false;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    poolLoop<T>(g, kind, count_include_pad, p, x.data<T>(), y.data<T>(), want_indices ? idx.data<int64_t>() : nullptr,
                column_major);
    ok = true;
  };
  switch (x.dtype()) {
    case DataType::kFloat: run(float{}); break;
    case DataType::kDouble: run(double{}); break;
    case DataType::kInt8: if (kind == Kind::kMax) run(int8_t{}); break;
    case DataType::kUInt8: if (kind == Kind::kMax) run(uint8_t{}); break;
    default: break;
  }
  if (!ok) return ctx.error(unsupportedType(x.dtype()));
  ctx.setOutput(0, std::move(y));
  if (want_indices) ctx.setOutput(1, std::move(idx));
  return Status::ok();
}

Status globalPoolKernel(KernelContext& ctx, Kind kind) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 3) return ctx.error("input " + shapeToString(x.shape()) + " must be [N, C, d1, ...]");
  Shape shape = x.shape();
  for (size_t i = 2; i < shape.size(); ++i) shape[i] = 1;
  const int64_t planes = x.dim(0) * x.dim(1), plane = product(x.shape(), 2, x.shape().size());
  if (plane == 0) return ctx.error("global pooling over an empty spatial extent");
  const double p = static_cast<double>(ctx.attrs().intOr("p", 2));
  Tensor y(x.dtype(), shape);
  bool ok = false;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* src = x.data<T>();
    T* dst = y.data<T>();
#pragma omp parallel for schedule(static) if (planes * plane > 65536)
    for (int64_t i = 0; i < planes; ++i) {
      const T* s = src + i * plane;
      if (kind == Kind::kMax) {
        T m = s[0];
        for (int64_t j = 1; j < plane; ++j) m = s[j] > m ? s[j] : m;
        dst[i] = m;
      } else if (kind == Kind::kAverage) {
        double acc = 0;
        for (int64_t j = 0; j < plane; ++j) acc += static_cast<double>(s[j]);
        dst[i] = static_cast<T>(acc / static_cast<double>(plane));
      } else {
        double acc = 0;
        for (int64_t j = 0; j < plane; ++j) acc += std::pow(std::fabs(static_cast<double>(s[j])), p);
        dst[i] = static_cast<T>(std::pow(acc, 1.0 / p));
      }
    }
    ok = true;
  };
  switch (x.dtype()) {
    case DataType::kFloat: run(float{}); break;
    case DataType::kDouble: run(double{}); break;
    case DataType::kInt8: if (kind == Kind::kMax) run(int8_t{}); break;
    case DataType::kUInt8: if (kind == Kind::kMax) run(uint8_t{}); break;
    default: break;
  }
  if (!ok) return ctx.error(unsupportedType(x.dtype()));
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

}  // namespace

StatusOr<Tensor> maxPoolBackward(const KernelContext& ctx, const Tensor& grad_y) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::kFloat) return ctx.error(unsupportedType(x.dtype()));
  VITQ_ASSIGN_OR_RETURN(PoolGeometry g, poolGeometry(ctx, x.shape()));
  const Shape shape = outputShape(g);
  if (grad_y.shape() != shape) return ctx.error("output gradient has the wrong shape");
  // The forward loop's own choice of each window's maximum, as row-major indices.
  Tensor y(DataType::kFloat, shape), indices(DataType::kInt64, shape);
  poolLoop<float>(g, Kind::kMax, false, 2.0, x.data<float>(), y.data<float>(), indices.data<int64_t>(), false);
  Tensor gx(DataType::kFloat, x.shape());
  float* dx = gx.data<float>();
  const float* dy = grad_y.data<float>();
  const int64_t* at = indices.data<int64_t>();
  const int64_t in_plane = g.inPlane(), out_plane = g.outPlane();
  for (int64_t i = 0; i < grad_y.numel(); ++i) {
    // A window that lies in the padding only chose no element (index -1 within its plane).
    if (at[i] >= i / out_plane * in_plane) dx[at[i]] += dy[i];
  }
  return gx;
}

StatusOr<Tensor> averagePoolBackward(const KernelContext& ctx, const Tensor& grad_y) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::kFloat) return ctx.error(unsupportedType(x.dtype()));
  VITQ_ASSIGN_OR_RETURN(PoolGeometry g, poolGeometry(ctx, x.shape()));
  if (grad_y.shape() != outputShape(g)) return ctx.error("output gradient has the wrong shape");
  const bool count_include_pad = ctx.attrs().intOr("count_include_pad", 0) != 0;
  Tensor gx(DataType::kFloat, x.shape());
  float* dx = gx.data<float>();
  std::fill(dx, dx + gx.numel(), 0.0f);
  const float* dy = grad_y.data<float>();
  const int64_t planes = g.batch * g.channels, in_plane = g.inPlane(), out_plane = g.outPlane();
  for (int64_t pl = 0; pl < planes; ++pl) {
    float* s = dx + pl * in_plane;
    const float* d = dy + pl * out_plane;
    int64_t at = 0;
    for (int64_t oz = 0; oz < g.out[0]; ++oz) {
      const int64_t z0 = oz * g.stride[0] - g.pad_begin[0];
      int64_t kz0, kz1;
      tapRange(z0, g.kernel[0], g.dil[0], g.in[0], kz0, kz1);
      for (int64_t oy = 0; oy < g.out[1]; ++oy) {
        const int64_t y0 = oy * g.stride[1] - g.pad_begin[1];
        int64_t ky0, ky1;
        tapRange(y0, g.kernel[1], g.dil[1], g.in[1], ky0, ky1);
        for (int64_t ox = 0; ox < g.out[2]; ++ox, ++at) {
          const int64_t x0 = ox * g.stride[2] - g.pad_begin[2];
          int64_t kx0, kx1;
          tapRange(x0, g.kernel[2], g.dil[2], g.in[2], kx0, kx1);
          const int64_t starts[3] = {z0, y0, x0}, taps[3] = {kz1 - kz0, ky1 - ky0, kx1 - kx0};
          const int64_t count = averageCount(g, count_include_pad, starts, taps);
          if (count <= 0) continue;
          const float share = d[at] / static_cast<float>(count);
          for (int64_t kz = kz0; kz < kz1; ++kz) {
            for (int64_t ky = ky0; ky < ky1; ++ky) {
              float* row = s + ((z0 + kz * g.dil[0]) * g.in[1] + (y0 + ky * g.dil[1])) * g.in[2] + x0;
              for (int64_t kx = kx0; kx < kx1; ++kx) row[kx * g.dil[2]] += share;
            }
          }
        }
      }
    }
  }
  return gx;
}


void registerPoolKernels(KernelRegistry& r) {
  r.add("GlobalAveragePool", [](KernelContext& ctx) { return globalPoolKernel(ctx, Kind::kAverage); });
  r.add("GlobalMaxPool", [](KernelContext& ctx) { return globalPoolKernel(ctx, Kind::kMax); });
  r.add("GlobalLpPool", [](KernelContext& ctx) { return globalPoolKernel(ctx, Kind::kLp); });
  r.add("AveragePool", [](KernelContext& ctx) { return poolKernel(ctx, Kind::kAverage); });
  r.add("MaxPool", [](KernelContext& ctx) { return poolKernel(ctx, Kind::kMax); });
  r.add("LpPool", [](KernelContext& ctx) { return poolKernel(ctx, Kind::kLp); });
}

}  // namespace vitq
