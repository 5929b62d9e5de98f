// Resize (opset 10, 11-13 and 18 input layouts) and Upsample (opset 7 attribute, 9 input).
// Coordinates follow ONNX's reference implementation (resize.py), which generated the node tests:
// per axis, every output index maps to an original coordinate in double, then to 1 (nearest),
// 2 (linear) or 4 (cubic) input taps with weights. Interpolation is separable, so linear and cubic
// run one pass per resized axis (shrinking axes first); nearest is a single gather. The gradient
// (resizeBackward) runs the adjoint of the same taps.
#include "exec/kernels/resize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "exec/kernel_registry.h"
#include "exec/kernels/layout.h"

namespace vitq {
namespace {

enum class Mode { kNearest, kLinear, kCubic };

struct Options {
  Mode mode = Mode::kNearest;
  std::string coord = "half_pixel";
  std::string nearest = "round_prefer_floor";  // "legacy": opset 10 Resize and Upsample
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0.0;
};

// Taps of one output index along one axis.
struct AxisMap {
  int taps = 1;
  std::vector<int64_t> index;  // out_size * taps
  std::vector<double> weight;  // out_size * taps
  std::vector<bool> outside;   // tf_crop_and_resize: coordinate outside the input
  bool identity = false;
};

StatusOr<double> originalCoordinate(const KernelContext& ctx, const Options& o, int64_t x, double scale, int64_t in,
                                    int64_t out, double roi_start, double roi_end) {
  const double out_width = scale * static_cast<double>(in);  // as the reference: may be fractional
  const double xd = static_cast<double>(x);
  // The scale-based modes run in float, as ONNX Runtime does: which side of a .5 tie a coordinate
  // lands on (nearest) depends on it, e.g. 1.5 / 0.6f is 2.5 in float but 2.4999999 in double.
  const float xf = static_cast<float>(x), sf = static_cast<float>(scale);
  if (o.coord == "half_pixel") return static_cast<double>((xf + 0.5f) / sf - 0.5f);
  if (o.coord == "asymmetric") return static_cast<double>(xf / sf);
  // A single output pixel reads coordinate 0 (PyTorch and ONNX Runtime; the reference's -0.5 only
  // differs for cubic).
  if (o.coord == "pytorch_half_pixel") return out == 1 ? 0.0 : static_cast<double>((xf + 0.5f) / sf - 0.5f);
  if (o.coord == "tf_half_pixel_for_nn") return static_cast<double>((xf + 0.5f) / sf);
  if (o.coord == "align_corners") return out_width == 1.0 ? 0.0 : xd * static_cast<double>(in - 1) / (out_width - 1.0);
  if (o.coord == "tf_crop_and_resize") {
    const double n1 = static_cast<double>(in - 1);
    return out_width > 1.0 ? roi_start * n1 + xd * (roi_end - roi_start) * n1 / (out_width - 1.0)
                           : 0.5 * (roi_start + roi_end) * n1;
  }
  return ctx.error("unknown coordinate_transformation_mode '" + o.coord + "'");
}

void cubicCoeffs(double r, double a, double c[4]) {
  const double r1 = r + 1, r2 = 1 - r, r3 = 2 - r;
  c[0] = ((a * r1 - 5 * a) * r1 + 8 * a) * r1 - 4 * a;
  c[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
  c[2] = ((a + 2) * r2 - (a + 3)) * r2 * r2 + 1;
  c[3] = ((a * r3 - 5 * a) * r3 + 8 * a) * r3 - 4 * a;
}

StatusOr<AxisMap> axisMap(const KernelContext& ctx, const Options& o, int64_t in, int64_t out, double scale,
                          double roi_start, double roi_end) {
  AxisMap m;
  m.taps = o.mode == Mode::kNearest ? 1 : o.mode == Mode::kLinear ? 2 : 4;
  const size_t t = static_cast<size_t>(m.taps);
  m.index.resize(static_cast<size_t>(out) * t);
  m.weight.resize(static_cast<size_t>(out) * t);
  m.outside.assign(static_cast<size_t>(out), false);
  m.identity = in == out;
  auto clampIndex = [in](int64_t i) { return std::min(std::max<int64_t>(i, 0), in - 1); };
  if (in == out && scale == 1.0 && o.coord != "tf_crop_and_resize") {
    // Unscaled axes are copied (as ONNX Runtime does); tf_half_pixel_for_nn would otherwise shift
    // them by half a pixel, which with ceil rounding reads the next channel.
    for (int64_t x = 0; x < out; ++x) {
      for (size_t k = 0; k < t; ++k) {
        m.index[static_cast<size_t>(x) * t + k] = x;
        m.weight[static_cast<size_t>(x) * t + k] = k == 0 ? 1.0 : 0.0;
      }
    }
    return m;
  }
  for (int64_t x = 0; x < out; ++x) {
    VITQ_ASSIGN_OR_RETURN(double xo, originalCoordinate(ctx, o, x, scale, in, out, roi_start, roi_end));
    if (o.coord == "tf_crop_and_resize" && (xo < 0 || xo > static_cast<double>(in - 1))) {
      m.outside[static_cast<size_t>(x)] = true;
    }
    const size_t at = static_cast<size_t>(x) * t;
    const double fl = std::floor(xo);
    const double r = xo - fl;
    const int64_t i0 = static_cast<int64_t>(fl);
    if (o.mode == Mode::kNearest) {
      int64_t i = i0;
      if (r != 0.0) {
        if (o.nearest == "round_prefer_floor") i = r <= 0.5 ? i0 : i0 + 1;
        else if (o.nearest == "round_prefer_ceil") i = r < 0.5 ? i0 : i0 + 1;
        else if (o.nearest == "floor") i = i0;
        else if (o.nearest == "ceil") i = i0 + 1;
        else if (o.nearest == "legacy") i = scale < 1.0 ? i0 + 1 : i0;  // ORT's "simple" rounding
        else return ctx.error("unknown nearest_mode '" + o.nearest + "'");
      }
      m.index[at] = clampIndex(i);
      m.weight[at] = 1.0;
    } else if (o.mode == Mode::kLinear) {
      m.index[at] = clampIndex(i0);
      m.index[at + 1] = clampIndex(i0 + 1);
      m.weight[at] = 1.0 - r;
      m.weight[at + 1] = r;
    } else {
      double c[4];
      cubicCoeffs(r, o.cubic_a, c);
      double sum = 0;
      for (size_t k = 0; k < 4; ++k) {
        const int64_t i = i0 - 1 + static_cast<int64_t>(k);
        if (o.exclude_outside && (i < 0 || i >= in)) c[k] = 0;
        sum += c[k];
        m.index[at + k] = clampIndex(i);
      }
      for (size_t k = 0; k < 4; ++k) m.weight[at + k] = o.exclude_outside && sum != 0 ? c[k] / sum : c[k];
    }
    // Identity when every output reads exactly its own input index.
    double w_self = 0;
    for (size_t k = 0; k < t; ++k) w_self += m.index[at + k] == x ? m.weight[at + k] : 0.0;
    if (w_self != 1.0 || m.outside[static_cast<size_t>(x)]) m.identity = false;
    for (size_t k = 0; k < t; ++k) {
      if (m.index[at + k] != x && m.weight[at + k] != 0.0) m.identity = false;
    }
  }
  return m;
}

// One separable pass along `axis`: [outer, in, inner] -> [outer, out, inner].
template <typename T>
Tensor resampleAxis(const Tensor& x, size_t axis, int64_t out, const AxisMap& m) {
  Shape shape = x.shape();
  const int64_t in = shape[axis];
  shape[axis] = out;
  Tensor y(x.dtype(), shape);
  const int64_t outer = product(x.shape(), 0, axis), inner = product(x.shape(), axis + 1, x.shape().size());
  const T* src = x.data<T>();
  T* dst = y.data<T>();
  const int taps = m.taps;
#pragma omp parallel for schedule(static) if (y.numel() > 32768)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < out; ++j) {
      T* d = dst + (o * out + j) * inner;
      const size_t at = static_cast<size_t>(j * taps);
      if (inner == 1) {
        double acc = 0;
        for (int k = 0; k < taps; ++k) acc += m.weight[at + static_cast<size_t>(k)] * static_cast<double>(src[o * in + m.index[at + static_cast<size_t>(k)]]);
        d[0] = static_cast<T>(acc);
        continue;
      }
      // Rows of `inner` contiguous elements: weighted sum of `taps` input rows.
      const T* r0 = src + (o * in + m.index[at]) * inner;
      const T w0 = static_cast<T>(m.weight[at]);
      for (int64_t i = 0; i < inner; ++i) d[i] = w0 * r0[i];
      for (int k = 1; k < taps; ++k) {
        const T* rk = src + (o * in + m.index[at + static_cast<size_t>(k)]) * inner;
        const T wk = static_cast<T>(m.weight[at + static_cast<size_t>(k)]);
        if (wk == T(0)) continue;
        for (int64_t i = 0; i < inner; ++i) d[i] += wk * rk[i];
      }
    }
  }
  return y;
}

// Nearest: one gather with per-axis index maps (any element type).
template <typename U>
void nearestGather(const Tensor& x, Tensor& y, const std::vector<AxisMap>& maps) {
  const Shape& out = y.shape();
  const size_t r = out.size();
  const std::vector<int64_t> st = stridesOf(x.shape());
  const U* src = rawAs<U>(x);
  U* dst = rawAs<U>(y);
  const int64_t inner = out[r - 1];
  const int64_t rows = y.numel() / inner;
  const std::vector<int64_t>& last = maps[r - 1].index;
#pragma omp parallel for schedule(static) if (y.numel() > 65536)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t off = 0, rem = row;
    for (size_t d = r - 1; d-- > 0;) {
      off += maps[d].index[static_cast<size_t>(rem % out[d])] * st[d];
      rem /= out[d];
    }
    U* dr = dst + row * inner;
    const U* sr = src + off;
    for (int64_t j = 0; j < inner; ++j) dr[j] = sr[last[static_cast<size_t>(j)]];
  }
}

// tf_crop_and_resize: elements whose coordinate is outside the input on any axis get the value.
template <typename T>
void applyExtrapolation(Tensor& y, const std::vector<AxisMap>& maps, double value) {
  const Shape& out = y.shape();
  T* dst = y.data<T>();
  const std::vector<int64_t> st = stridesOf(out);
  for (int64_t i = 0; i < y.numel(); ++i) {
    bool outside = false;
    for (size_t d = 0; d < out.size() && !outside; ++d) outside = maps[d].outside[static_cast<size_t>(i / st[d] % out[d])];
    if (outside) dst[i] = static_cast<T>(value);
  }
}

StatusOr<std::vector<double>> readFloats(const KernelContext& ctx, const Tensor& t, const char* what) {
  if (t.dtype() != DataType::kFloat && t.dtype() != DataType::kDouble) {
    return ctx.error(std::string(what) + " must be float, got " + dataTypeName(t.dtype()));
  }
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.scalarAsDouble(i);
  return v;
}

// Everything the forward pass and its gradient share: options, output shape, per-axis taps, and
// the order of the separable passes (empty: an empty input or output).
struct ResizePlan {
  Options o;
  Shape out_shape;
  std::vector<AxisMap> maps;
  std::vector<size_t> order;  // linear and cubic: the resized axes, shrinking ones first
  bool empty = false;
};

StatusOr<ResizePlan> planResize(const KernelContext& ctx) {
  const bool upsample = ctx.node.opType() == "Upsample";
  const Tensor& x = ctx.input(0);
  ResizePlan plan;
  Options& o = plan.o;
  const size_t rank = x.shape().size();
  const std::string mode = ctx.attrs().stringOr("mode", "nearest");
  if (mode == "nearest") o.mode = Mode::kNearest;
  else if (mode == "linear" || mode == "bilinear" || mode == "trilinear") o.mode = Mode::kLinear;
  else if (mode == "cubic") o.mode = Mode::kCubic;
  else return ctx.error("unknown mode '" + mode + "'");
  const bool legacy = upsample || ctx.opset < 11;
  if (legacy) {
    o.coord = "asymmetric";
    o.nearest = "legacy";
  } else {
    o.coord = ctx.attrs().stringOr("coordinate_transformation_mode", "half_pixel");
    o.nearest = ctx.attrs().stringOr("nearest_mode", "round_prefer_floor");
  }
  o.cubic_a = ctx.attrs().floatOr("cubic_coeff_a", -0.75f);
  o.exclude_outside = ctx.attrs().intOr("exclude_outside", 0) != 0;
  o.extrapolation = ctx.attrs().floatOr("extrapolation_value", 0.0f);
  if (ctx.attrs().intOr("antialias", 0) != 0) return ctx.error("antialias is not supported");
  if (ctx.attrs().stringOr("keep_aspect_ratio_policy", "stretch") != "stretch") {
    return ctx.error("keep_aspect_ratio_policy other than 'stretch' is not supported");
  }
  // Inputs: Upsample-7 attr; Upsample-9 and Resize-10 (X, scales); Resize-11+ (X, roi, scales, sizes).
  std::vector<double> scales, roi;
  std::vector<int64_t> sizes;
  if (upsample && ctx.opset < 9) {
    for (float s : ctx.attrs().getFloats("scales").value_or(std::vector<float>{})) scales.push_back(s);
  } else if (legacy) {
    if (!ctx.hasInput(1)) return ctx.error("missing scales input");
    VITQ_ASSIGN_OR_RETURN(scales, readFloats(ctx, ctx.input(1), "scales"));
  } else {
    if (ctx.hasInput(1) && ctx.input(1).numel() > 0) {
      VITQ_ASSIGN_OR_RETURN(roi, readFloats(ctx, ctx.input(1), "roi"));
    }
    if (ctx.hasInput(2) && ctx.input(2).numel() > 0) {
      VITQ_ASSIGN_OR_RETURN(scales, readFloats(ctx, ctx.input(2), "scales"));
    }
    if (ctx.hasInput(3) && ctx.input(3).numel() > 0) {
      VITQ_ASSIGN_OR_RETURN(sizes, readInts(ctx, ctx.input(3), "sizes"));
    }
  }
  if (scales.empty() == sizes.empty()) return ctx.error("exactly one of scales and sizes must be given");
  // Opset 18 axes: scales/sizes/roi cover only these axes.
  std::vector<int64_t> axes;
  for (int64_t a : ctx.attrs().getInts("axes").value_or(std::vector<int64_t>{})) {
    VITQ_ASSIGN_OR_RETURN(int64_t n, normalizeAxis(ctx, a, static_cast<int64_t>(rank)));
    axes.push_back(n);
  }
  if (axes.empty()) {
    for (size_t i = 0; i < rank; ++i) axes.push_back(static_cast<int64_t>(i));
  }
  const size_t na = axes.size();
  if ((!scales.empty() && scales.size() != na) || (!sizes.empty() && sizes.size() != na)) {
    return ctx.error("scales or sizes have " + std::to_string(std::max(scales.size(), sizes.size())) +
                     " values for " + std::to_string(na) + " axes of " + shapeToString(x.shape()));
  }
  if (!roi.empty() && roi.size() != 2 * na) return ctx.error("roi must hold 2 values per axis");
  std::vector<double> scale(rank, 1.0), roi_start(rank, 0.0), roi_end(rank, 1.0);
  Shape& out_shape = plan.out_shape;
  out_shape = x.shape();
  for (size_t i = 0; i < na; ++i) {
    const size_t a = static_cast<size_t>(axes[i]);
    const double in = static_cast<double>(x.shape()[a]);
    if (!sizes.empty()) {
      if (sizes[i] <= 0) return ctx.error("sizes must be positive");
      out_shape[a] = sizes[i];
      scale[a] = in > 0 ? static_cast<double>(sizes[i]) / in : 1.0;
    } else {
      if (!(scales[i] > 0) || !std::isfinite(scales[i])) return ctx.error("scales must be positive");
      scale[a] = scales[i];
      out_shape[a] = static_cast<int64_t>(std::floor(in * scales[i]));
    }
    if (!roi.empty()) {
      roi_start[a] = roi[i];
      roi_end[a] = roi[i + na];
    }
  }
  auto count = checkedElementCount(out_shape, int64_t{1} << 34);
  if (!count.isOk()) return ctx.error("output shape " + shapeToString(out_shape) + " is too large");
  if (x.numel() == 0 || *count == 0 || rank == 0) {
    if (x.numel() == 0 && *count != 0) return ctx.error("cannot resize an empty input to a non-empty output");
    plan.empty = true;
    return plan;
  }
  for (size_t a = 0; a < rank; ++a) {
    VITQ_ASSIGN_OR_RETURN(AxisMap m, axisMap(ctx, o, x.shape()[a], out_shape[a], scale[a], roi_start[a], roi_end[a]));
    plan.maps.push_back(std::move(m));
  }
  // Separable passes, shrinking axes first so later passes touch less data.
  for (size_t a = 0; a < rank; ++a) {
    if (!plan.maps[a].identity) plan.order.push_back(a);
  }
  std::stable_sort(plan.order.begin(), plan.order.end(), [&](size_t a, size_t b) {
    return static_cast<double>(out_shape[a]) / static_cast<double>(x.shape()[a]) <
           static_cast<double>(out_shape[b]) / static_cast<double>(x.shape()[b]);
  });
  return plan;
}

Status resizeKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  VITQ_ASSIGN_OR_RETURN(const ResizePlan plan, planResize(ctx));
  const Options& o = plan.o;
  const Shape& out_shape = plan.out_shape;
  const std::vector<AxisMap>& maps = plan.maps;
  if (plan.empty) {
    ctx.setOutput(0, Tensor(x.dtype(), out_shape));
    return Status::ok();
  }
  if (o.mode == Mode::kNearest) {
    Tensor y(x.dtype(), out_shape);
    if (!dispatchBySize(x.dtype(), [&](auto tag) { nearestGather<decltype(tag)>(x, y, maps); })) {
      return ctx.error(unsupportedType(x.dtype()));
    }
    if (o.coord == "tf_crop_and_resize") {
      if (x.dtype() == DataType::kFloat) applyExtrapolation<float>(y, maps, o.extrapolation);
      else if (x.dtype() == DataType::kDouble) applyExtrapolation<double>(y, maps, o.extrapolation);
    }
    ctx.setOutput(0, std::move(y));
    return Status::ok();
  }
  Tensor y = x;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    for (size_t a : plan.order) y = resampleAxis<T>(y, a, out_shape[a], maps[a]);
    if (o.coord == "tf_crop_and_resize") applyExtrapolation<T>(y, maps, o.extrapolation);
  };
  if (x.dtype() == DataType::kFloat) run(float{});
  else if (x.dtype() == DataType::kDouble) run(double{});
  else return ctx.error("linear and cubic modes need float or double input, got " + std::string(dataTypeName(x.dtype())));
  ctx.setOutput(0, y);
  return Status::ok();
}

// The adjoint of resampleAxis along `axis`: [outer, out, inner] -> [outer, in, inner], each output
// row's gradient added back to its taps with their weights.
Tensor resampleAxisAdjoint(const Tensor& g, size_t axis, int64_t in, const AxisMap& m) {
  Shape shape = g.shape();
  const int64_t out = shape[axis];
  shape[axis] = in;
  Tensor dx(DataType::kFloat, shape);
  const int64_t outer = product(shape, 0, axis), inner = product(shape, axis + 1, shape.size());
  const float* src = g.data<float>();
  float* dst = dx.data<float>();
  const size_t taps = static_cast<size_t>(m.taps);
#pragma omp parallel for schedule(static) if (g.numel() > 32768)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < out; ++j) {
      const float* s = src + (o * out + j) * inner;
      for (size_t k = 0; k < taps; ++k) {
        const size_t at = static_cast<size_t>(j) * taps + k;
        const auto w = static_cast<float>(m.weight[at]);
        if (w == 0.0f) continue;
        float* d = dst + (o * in + m.index[at]) * inner;
        for (int64_t i = 0; i < inner; ++i) d[i] += w * s[i];
      }
    }
  }
  return dx;
}

// The adjoint of nearestGather: every output element's gradient added to the element it copied
// (serial: upsampling copies an element many times).
void nearestScatter(const Tensor& g, Tensor& dx, const std::vector<AxisMap>& maps) {
  const Shape& out = g.shape();
  const size_t r = out.size();
  const std::vector<int64_t> st = stridesOf(dx.shape());
  const float* src = g.data<float>();
  float* dst = dx.data<float>();
  const int64_t inner = out[r - 1];
  const std::vector<int64_t>& last = maps[r - 1].index;
  for (int64_t row = 0; row < g.numel() / inner; ++row) {
    int64_t off = 0, rem = row;
    for (size_t d = r - 1; d-- > 0;) {
      off += maps[d].index[static_cast<size_t>(rem % out[d])] * st[d];
      rem /= out[d];
    }
    for (int64_t j = 0; j < inner; ++j) dst[off + last[static_cast<size_t>(j)]] += src[row * inner + j];
  }
}

}  // namespace

StatusOr<Tensor> resizeBackward(const KernelContext& ctx, const Tensor& grad_y) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::kFloat) return ctx.error(unsupportedType(x.dtype()));
  VITQ_ASSIGN_OR_RETURN(const ResizePlan plan, planResize(ctx));
  if (grad_y.shape() != plan.out_shape) return ctx.error("output gradient has the wrong shape");
  Tensor dx(DataType::kFloat, x.shape());
  if (plan.empty) return dx;
  Tensor g = grad_y;
  if (plan.o.coord == "tf_crop_and_resize") {  // the elements outside the input hold a constant
    g = grad_y.clone();
    applyExtrapolation<float>(g, plan.maps, 0.0);
  }
  if (plan.o.mode == Mode::kNearest) {
    nearestScatter(g, dx, plan.maps);
    return dx;
  }
  // y = P_last ... P_first x, one linear pass per resized axis: dx = P_first^T ... P_last^T dy.
  for (auto it = plan.order.rbegin(); it != plan.order.rend(); ++it) {
    g = resampleAxisAdjoint(g, *it, x.shape()[*it], plan.maps[*it]);
  }
  return g;
}

void registerResizeKernels(KernelRegistry& r) {
  r.add("Resize", resizeKernel);
  r.add("Upsample", resizeKernel);
}

}  // namespace vitq
