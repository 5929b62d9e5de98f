// Quantization kernels: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger,
// ConvInteger, QLinearMatMul, QLinearConv. Rounding is the one ONNX and ONNX Runtime use: the
// quotient x / scale in float, rounded half to even (nearbyint in the default rounding mode), plus
// the zero point, saturated. Integer products are exact int32 sums through gemmInteger; requantization
// multiplies the int32 accumulator by (s_a * s_b / s_y) computed in float, as ONNX Runtime does,
// so outputs are bit-exact with it.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "exec/gemm.h"
#include "exec/kernel_registry.h"
#include "exec/kernels/depthwise.h"
#include "exec/kernels/im2col.h"
#include "exec/kernels/layout.h"
#include "ir/quantized_codes.h"

namespace vitq {
namespace {

// ---- per-tensor / per-axis / blocked parameters -----------------------------------------------

// Maps element (o, j, i) of x viewed as [outer, dim, inner] around `axis` to its scale index.
struct ParamLayout {
  int64_t outer = 1, dim = 1, inner = 1, block = 0, scale_dim = 1;
  enum { kTensor, kAxis, kBlocked } kind = kTensor;
  int64_t index(int64_t o, int64_t j, int64_t i) const {
    if (kind == kTensor) return 0;
    if (kind == kAxis) return j;
    return (o * scale_dim + j / block) * inner + i;
  }
};

StatusOr<ParamLayout> paramLayout(const KernelContext& ctx, const Tensor& x, const Tensor& scale) {
  ParamLayout p;
  if (scale.numel() == 1 && scale.rank() <= 1) return p;
  VITQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, ctx.attrs().intOr("axis", 1), x.rank()));
  const size_t a = static_cast<size_t>(axis);
  p.outer = product(x.shape(), 0, a);
  p.dim = x.dim(axis);
  p.inner = product(x.shape(), a + 1, x.shape().size());
  const int64_t block = ctx.attrs().intOr("block_size", 0);
  if (block > 0) {
    Shape expect = x.shape();
    expect[a] = (p.dim + block - 1) / block;
    if (scale.shape() != expect) {
      return ctx.error("blocked scale " + shapeToString(scale.shape()) + " must have shape " + shapeToString(expect));
    }
    p.kind = ParamLayout::kBlocked;
    p.block = block;
    p.scale_dim = expect[a];
    return p;
  }
  if (scale.rank() != 1 || scale.numel() != p.dim) {
    return ctx.error("scale " + shapeToString(scale.shape()) + " is neither per-tensor nor per-axis for axis " +
                     std::to_string(axis) + " of " + shapeToString(x.shape()));
  }
  p.kind = ParamLayout::kAxis;
  return p;
}

StatusOr<std::vector<float>> readScale(const KernelContext& ctx, const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  if (t.dtype() == DataType::kFloat) {
    std::copy(t.data<float>(), t.data<float>() + t.numel(), v.begin());
  } else if (t.dtype() == DataType::kDouble) {
    for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = static_cast<float>(t.data<double>()[i]);
  } else {
    return ctx.error(std::string("scale must be float, got ") + dataTypeName(t.dtype()));
  }
  return v;
}

// Zero points as int32, `count` of them (0 when the input is absent); shape must match the scale's.
StatusOr<std::vector<int32_t>> readZeroPoints(const KernelContext& ctx, size_t input, int64_t count, DataType& type) {
  std::vector<int32_t> v(static_cast<size_t>(count), 0);
  if (!ctx.hasInput(input)) return v;
  const Tensor& z = ctx.input(input);
  CodeRange r;
  if (!quantCodeRange(z.dtype(), r)) return ctx.error(std::string("zero point type ") + dataTypeName(z.dtype()) + " is not supported");
  if (z.numel() != count) {
    return ctx.error("zero point has " + std::to_string(z.numel()) + " elements, the scale " + std::to_string(count));
  }
  type = z.dtype();
  for (int64_t i = 0; i < count; ++i) v[static_cast<size_t>(i)] = readCode(z.dtype(), z.rawData(), i);
  return v;
}

// ---- QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear --------------------------------

inline int32_t saturateRound(float q, int32_t zp, CodeRange r) {
  if (std::isnan(q)) return std::clamp(zp, r.lo, r.hi);
  const double v = static_cast<double>(std::nearbyint(q)) + zp;  // ties to even
  return static_cast<int32_t>(std::min<double>(std::max<double>(v, r.lo), r.hi));
}

Status quantizeKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale_t = ctx.input(1);
  VITQ_ASSIGN_OR_RETURN(ParamLayout p, paramLayout(ctx, x, scale_t));
  VITQ_ASSIGN_OR_RETURN(std::vector<float> scale, readScale(ctx, scale_t));
  DataType out_type = static_cast<DataType>(ctx.attrs().intOr("output_dtype", static_cast<int64_t>(DataType::kUInt8)));
  if (out_type == DataType::kUndefined) out_type = DataType::kUInt8;
  VITQ_ASSIGN_OR_RETURN(std::vector<int32_t> zp, readZeroPoints(ctx, 2, scale_t.numel(), out_type));
  CodeRange r;
  if (!quantCodeRange(out_type, r) || out_type == DataType::kInt32) {
    return ctx.error(std::string("quantizing to ") + dataTypeName(out_type) + " is not supported");
  }
  for (float s : scale) {
    if (!(s != 0.0f) || !std::isfinite(s)) return ctx.error("scale must be finite and non-zero");
  }
  // 4-bit outputs are packed two to a byte by OR-ing nibbles into zeroed bytes.
  Tensor y = dataTypeBits(out_type) < 8 ? Tensor(out_type, x.shape()) : Tensor::uninitialized(out_type, x.shape());
  void* out = y.rawData();
  // Per-tensor float -> 8-bit, the QDQ activation case: a plain loop the compiler vectorizes.
  auto perTensor8 = [&](auto tag) {
    using Q = decltype(tag);
    const float* in = x.data<float>();
    Q* dst = static_cast<Q*>(out);
    const float s = scale[0], lo = static_cast<float>(r.lo), hi = static_cast<float>(r.hi), z = static_cast<float>(zp[0]);
    const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<Q>(std::min(std::max(std::nearbyint(in[i] / s) + z, lo), hi));
  };
  if (p.kind == ParamLayout::kTensor && x.dtype() == DataType::kFloat &&
      (out_type == DataType::kUInt8 || out_type == DataType::kInt8)) {
    if (out_type == DataType::kUInt8) perTensor8(uint8_t{});
    else perTensor8(int8_t{});
    ctx.setOutput(0, std::move(y));
    return Status::ok();
  }
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.data<T>();
    for (int64_t o = 0, at = 0; o < p.outer; ++o) {
      for (int64_t j = 0; j < p.dim; ++j) {
        for (int64_t i = 0; i < p.inner; ++i, ++at) {
          const size_t k = static_cast<size_t>(p.index(o, j, i));
          float q;
          if constexpr (std::is_same_v<T, double>) q = static_cast<float>(in[at] / static_cast<double>(scale[k]));
          else q = static_cast<float>(in[at]) / scale[k];
          writeCode(out_type, out, at, saturateRound(q, zp[k], r));
        }
      }
    }
  };
  if (p.kind == ParamLayout::kTensor) p.inner = x.numel();
  if (x.dtype() == DataType::kFloat) run(float{});
  else if (x.dtype() == DataType::kDouble) run(double{});
  else if (x.dtype() == DataType::kInt32) run(int32_t{});
  else return ctx.error(std::string("input type ") + dataTypeName(x.dtype()) + " is not supported");
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status dequantizeKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale_t = ctx.input(1);
  CodeRange r;
  if (!quantCodeRange(x.dtype(), r)) return ctx.error(std::string("input type ") + dataTypeName(x.dtype()) + " is not supported");
  VITQ_ASSIGN_OR_RETURN(ParamLayout p, paramLayout(ctx, x, scale_t));
  VITQ_ASSIGN_OR_RETURN(std::vector<float> scale, readScale(ctx, scale_t));
  DataType zp_type = x.dtype();
  VITQ_ASSIGN_OR_RETURN(std::vector<int32_t> zp, readZeroPoints(ctx, 2, scale_t.numel(), zp_type));
  if (zp_type != x.dtype()) return ctx.error("zero point type differs from the input type");
  if (p.kind == ParamLayout::kTensor) p.inner = x.numel();
  Tensor y = Tensor::uninitialized(DataType::kFloat, x.shape());
  float* out = y.data<float>();
  const void* in = x.rawData();
  if (p.kind == ParamLayout::kTensor && (x.dtype() == DataType::kUInt8 || x.dtype() == DataType::kInt8)) {
    const float s = scale[0];
    const int32_t z = zp[0];
    const int64_t n = x.numel();
    if (x.dtype() == DataType::kUInt8) {
      const uint8_t* q = x.data<uint8_t>();
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<int32_t>(q[i]) - z) * s;
    } else {
      const int8_t* q = x.data<int8_t>();
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<int32_t>(q[i]) - z) * s;
    }
    ctx.setOutput(0, std::move(y));
    return Status::ok();
  }
  // Row by row of [outer, dim, inner]: a row's parameters start at index(o, j, 0) and advance by one
  // per element when blocked, else stay; the code type is dispatched once, not per element.
  auto rows = [&](auto code) {
#pragma omp parallel for schedule(static) if (ctx.threads > 1 && x.numel() >= (int64_t{1} << 20))
    for (int64_t row = 0; row < p.outer * p.dim; ++row) {
      const int64_t o = row / p.dim, j = row % p.dim, at = row * p.inner;
      const int64_t base = p.index(o, j, 0), step = p.kind == ParamLayout::kBlocked ? 1 : 0;
      for (int64_t i = 0; i < p.inner; ++i) {
        const size_t k = static_cast<size_t>(base + i * step);
        out[at + i] = static_cast<float>(static_cast<int64_t>(code(at + i)) - zp[k]) * scale[k];
      }
    }
  };
  const uint8_t* bytes = static_cast<const uint8_t*>(in);
  switch (x.dtype()) {
    case DataType::kUInt8: rows([bytes](int64_t i) { return static_cast<int32_t>(bytes[i]); }); break;
    case DataType::kInt8: rows([bytes](int64_t i) { return static_cast<int32_t>(static_cast<int8_t>(bytes[i])); }); break;
    case DataType::kUInt4:
      rows([bytes](int64_t i) { return static_cast<int32_t>(i % 2 ? bytes[i / 2] >> 4 : bytes[i / 2] & 0xF); });
      break;
    case DataType::kInt4:
      rows([bytes](int64_t i) {
        const int32_t nibble = i % 2 ? bytes[i / 2] >> 4 : bytes[i / 2] & 0xF;
        return nibble >= 8 ? nibble - 16 : nibble;
      });
      break;
    default: rows([&x, in](int64_t i) { return readCode(x.dtype(), in, i); }); break;
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status dynamicQuantizeKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::kFloat) return ctx.error("input must be float");
  const float* in = x.data<float>();
  float lo = 0.0f, hi = 0.0f;  // the range always includes zero
  for (int64_t i = 0; i < x.numel(); ++i) {
    lo = std::min(lo, in[i]);
    hi = std::max(hi, in[i]);
  }
  if (!std::isfinite(lo) || !std::isfinite(hi)) return ctx.error("input holds inf or NaN");
  const float scale = (hi - lo) / 255.0f;
  const CodeRange r{0, 255};
  int32_t zp = 0;
  if (scale != 0.0f) zp = saturateRound(0.0f - lo / scale, 0, r);
  Tensor y(DataType::kUInt8, x.shape());
  uint8_t* out = y.data<uint8_t>();
  for (int64_t i = 0; i < x.numel(); ++i) out[i] = scale == 0.0f ? static_cast<uint8_t>(zp) : static_cast<uint8_t>(saturateRound(in[i] / scale, zp, r));
  ctx.setOutput(0, std::move(y));
  ctx.setOutput(1, Tensor::fromVector(std::vector<float>{scale}, {}));
  ctx.setOutput(2, Tensor::fromVector(std::vector<uint8_t>{static_cast<uint8_t>(zp)}, {}));
  return Status::ok();
}

// ---- integer products -------------------------------------------------------------------------

bool is8bit(DataType t) { return t == DataType::kUInt8 || t == DataType::kInt8; }

// Calls f(TA{}, TB{}) for the (int8|uint8)^2 combination of a and b.
template <typename F>
void dispatch8(DataType a, DataType b, F&& f) {
  auto inner = [&](auto ta) {
    if (b == DataType::kUInt8) f(ta, uint8_t{});
    else f(ta, int8_t{});
  };
  if (a == DataType::kUInt8) inner(uint8_t{});
  else inner(int8_t{});
}

// C[m, n] = sum_k (A[m,k] - za[m]) (B[k,n] - zb[n]). gemmInteger takes one zero point for A, so a
// per-row za runs with 0 and subtracts za[m] * sum_k (B[k,n] - zb[n]) afterwards (exact in int32).
template <typename TA, typename TB>
void gemmQ(int64_t m, int64_t n, int64_t k, const TA* a, const std::vector<int32_t>& za, const TB* b,
           const std::vector<int32_t>& zb, int32_t* c) {
  const bool row_zp = za.size() > 1;
  gemmInteger<TA, TB>(m, n, k, a, row_zp ? 0 : za[0], b, zb.data(), zb.size() > 1, c);
  if (!row_zp) return;
  std::vector<int32_t> colsum(static_cast<size_t>(n), 0);
  for (int64_t r = 0; r < k; ++r) {
    for (int64_t j = 0; j < n; ++j) colsum[static_cast<size_t>(j)] += static_cast<int32_t>(b[r * n + j]) - zb[zb.size() > 1 ? static_cast<size_t>(j) : 0];
  }
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) c[i * n + j] -= za[static_cast<size_t>(i)] * colsum[static_cast<size_t>(j)];
  }
}

// Batched integer matmul with numpy broadcasting of the batch dims; za per-tensor or per-row (M),
// zb per-tensor or per-column (N).
StatusOr<Tensor> matmulInteger(const KernelContext& ctx, const Tensor& a, const Tensor& b, const std::vector<int32_t>& za,
                               const std::vector<int32_t>& zb) {
  if (!is8bit(a.dtype()) || !is8bit(b.dtype())) return ctx.error("A and B must be int8 or uint8");
  if (a.rank() < 1 || b.rank() < 1) return ctx.error("A and B must have rank >= 1");
  const Shape as = a.rank() == 1 ? Shape{1, a.dim(0)} : a.shape();
  const Shape bs = b.rank() == 1 ? Shape{b.dim(0), 1} : b.shape();
  const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  if (bs[bs.size() - 2] != K) return ctx.error("A " + shapeToString(a.shape()) + " and B " + shapeToString(b.shape()) + " do not multiply");
  if ((za.size() > 1 && static_cast<int64_t>(za.size()) != M) || (zb.size() > 1 && static_cast<int64_t>(zb.size()) != N)) {
    return ctx.error("zero points must be per-tensor, per-row of A or per-column of B");
  }
  const Shape ab(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
  VITQ_ASSIGN_OR_RETURN(Shape batch, broadcastShapes(ctx, ab, bb));
  Shape out = batch;
  if (a.rank() > 1) out.push_back(M);
  if (b.rank() > 1) out.push_back(N);
  Tensor y(DataType::kInt32, out);
  const int64_t nb = product(batch);
  const std::vector<int64_t> sa = broadcastStrides(ab, batch), sb = broadcastStrides(bb, batch);
  dispatch8(a.dtype(), b.dtype(), [&](auto ta, auto tb) {
    using TA = decltype(ta);
    using TB = decltype(tb);
    const TA* pa = rawAs<TA>(a);
    const TB* pb = rawAs<TB>(b);
    int32_t* pc = y.data<int32_t>();
    for (int64_t i = 0; i < nb; ++i) {
      int64_t oa = 0, ob = 0, rem = i;
      for (size_t d = batch.size(); d-- > 0;) {
        const int64_t idx = rem % batch[d];
        rem /= batch[d];
        oa += idx * sa[d];
        ob += idx * sb[d];
      }
      gemmQ<TA, TB>(M, N, K, pa + oa * M * K, za, pb + ob * K * N, zb, pc + i * M * N);
    }
  });
  return y;
}

// Depthwise ConvInteger through the float depthwise kernel, when that is exact: every partial sum
// of an output is an integer of magnitude at most taps * max|x - zx| * max|w - zw|, and below 2^24
// each is a float exactly. Returns false (y untouched) when the bound does not hold.
bool depthwiseInFloat(const ConvGeometry& g, const Tensor& x, const Tensor& w, int32_t zx,
                      const std::vector<int32_t>& zw, Tensor& y) {
  std::vector<float> xf(static_cast<size_t>(x.numel())), wf(static_cast<size_t>(w.numel()));
  int64_t max_x = 0, max_w = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int32_t v = readCode(x.dtype(), x.rawData(), i) - zx;
    xf[static_cast<size_t>(i)] = static_cast<float>(v);
    max_x = std::max<int64_t>(max_x, std::abs(v));
  }
  const int64_t taps = g.kernelSize();
  for (int64_t i = 0; i < w.numel(); ++i) {
    const int32_t v = readCode(w.dtype(), w.rawData(), i) - zw[zw.size() > 1 ? static_cast<size_t>(i / taps) : 0];
    wf[static_cast<size_t>(i)] = static_cast<float>(v);
    max_w = std::max<int64_t>(max_w, std::abs(v));
  }
  if (taps * max_x * max_w >= (int64_t{1} << 24)) return false;
  std::vector<float> yf(static_cast<size_t>(y.numel()));
  depthwise2d(g, xf.data(), wf.data(), nullptr, yf.data());
  int32_t* out = y.data<int32_t>();
  for (int64_t i = 0; i < y.numel(); ++i) out[i] = static_cast<int32_t>(yf[static_cast<size_t>(i)]);
  return true;
}

// Integer convolution via im2col (padding with the input zero point, so padded taps contribute 0).
StatusOr<Tensor> convInteger(const KernelContext& ctx, const Tensor& x, const Tensor& w, int32_t zx,
                             const std::vector<int32_t>& zw) {
  if (!is8bit(x.dtype()) || !is8bit(w.dtype())) return ctx.error("input and weight must be int8 or uint8");
  VITQ_ASSIGN_OR_RETURN(ConvGeometry g, convGeometry(ctx, x.shape(), w.shape()));
  if (zw.size() > 1 && static_cast<int64_t>(zw.size()) != g.out_channels) {
    return ctx.error("weight zero point must be per-tensor or per output channel");
  }
  Shape out{g.batch, g.out_channels};
  out.insert(out.end(), g.out_spatial.begin(), g.out_spatial.end());
  Tensor y(DataType::kInt32, out);
  const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const int64_t kdim = cg * g.kernelSize(), os = g.outSpatialSize(), is = g.inSpatialSize();
  if (isDepthwise2d(g) && depthwiseInFloat(g, x, w, zx, zw, y)) return y;
  dispatch8(w.dtype(), x.dtype(), [&](auto tw, auto tx) {
    using TW = decltype(tw);
    using TX = decltype(tx);
    std::vector<TX> cols(static_cast<size_t>(kdim * os));
    const std::vector<int32_t> zx_v{zx};
    for (int64_t n = 0; n < g.batch; ++n) {
      for (int64_t grp = 0; grp < g.group; ++grp) {
        const TX* image = rawAs<TX>(x) + (n * g.in_channels + grp * cg) * is;
        im2col<TX>(g, image, cg, static_cast<TX>(zx), cols.data());
        std::vector<int32_t> zw_g(zw.size() > 1 ? zw.begin() + grp * mg : zw.begin(),
                                  zw.size() > 1 ? zw.begin() + (grp + 1) * mg : zw.end());
        gemmQ<TW, TX>(mg, os, kdim, rawAs<TW>(w) + grp * mg * kdim, zw_g, cols.data(), zx_v,
                      y.data<int32_t>() + (n * g.out_channels + grp * mg) * os);
      }
    }
  });
  return y;
}

// Scalar or 1-D zero point of an optional input, as int32.
StatusOr<std::vector<int32_t>> zeroPoints(const KernelContext& ctx, size_t input) {
  if (!ctx.hasInput(input)) return std::vector<int32_t>{0};
  const Tensor& z = ctx.input(input);
  if (!is8bit(z.dtype())) return ctx.error("zero points must be int8 or uint8");
  if (z.numel() < 1 || z.rank() > 1) return ctx.error("zero point must be a scalar or 1-d, got " + shapeToString(z.shape()));
  std::vector<int32_t> v(static_cast<size_t>(z.numel()));
  for (int64_t i = 0; i < z.numel(); ++i) v[static_cast<size_t>(i)] = readCode(z.dtype(), z.rawData(), i);
  return v;
}

// acc (int32, channel c of `channels` at stride `inner`) -> saturate(round(acc * mult[c]) + zp).
Status requantize(const KernelContext& ctx, const Tensor& acc, const std::vector<float>& mult, int64_t channels,
                  int64_t inner, size_t zp_input, Tensor& y) {
  const Tensor& z = ctx.input(zp_input);
  CodeRange r;
  if (!is8bit(z.dtype()) || !quantCodeRange(z.dtype(), r) || z.numel() != 1) {
    return ctx.error("output zero point must be an int8 or uint8 scalar");
  }
  const int32_t zp = readCode(z.dtype(), z.rawData(), 0);
  y = Tensor(z.dtype(), acc.shape());
  const int32_t* a = acc.data<int32_t>();
  void* out = y.rawData();
#pragma omp parallel for schedule(static) if (acc.numel() > 65536)
  for (int64_t i = 0; i < acc.numel(); ++i) {
    const float m = mult[mult.size() == 1 ? 0 : static_cast<size_t>(i / inner % channels)];
    writeCode(z.dtype(), out, i, saturateRound(static_cast<float>(a[i]) * m, zp, r));
  }
  return Status::ok();
}

StatusOr<float> scalarScale(const KernelContext& ctx, size_t input) {
  VITQ_ASSIGN_OR_RETURN(std::vector<float> s, readScale(ctx, ctx.input(input)));
  if (s.size() != 1) return ctx.error("scale input " + std::to_string(input) + " must be a scalar");
  return s[0];
}

Status matMulIntegerKernel(KernelContext& ctx) {
  VITQ_ASSIGN_OR_RETURN(std::vector<int32_t> za, zeroPoints(ctx, 2));
  VITQ_ASSIGN_OR_RETURN(std::vector<int32_t> zb, zeroPoints(ctx, 3));
  VITQ_ASSIGN_OR_RETURN(Tensor y, matmulInteger(ctx, ctx.input(0), ctx.input(1), za, zb));
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status convIntegerKernel(KernelContext& ctx) {
  VITQ_ASSIGN_OR_RETURN(std::vector<int32_t> zx, zeroPoints(ctx, 2));
  VITQ_ASSIGN_OR_RETURN(std::vector<int32_t> zw, zeroPoints(ctx, 3));
  if (zx.size() != 1) return ctx.error("input zero point must be a scalar");
  VITQ_ASSIGN_OR_RETURN(Tensor y, convInteger(ctx, ctx.input(0), ctx.input(1), zx[0], zw));
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status qlinearMatMulKernel(KernelContext& ctx) {
  for (size_t i = 0; i < 8; ++i) {
    if (!ctx.hasInput(i)) return ctx.error("needs 8 inputs");
  }
  VITQ_ASSIGN_OR_RETURN(float sa, scalarScale(ctx, 1));
  VITQ_ASSIGN_OR_RETURN(std::vector<float> sb, readScale(ctx, ctx.input(4)));
  VITQ_ASSIGN_OR_RETURN(float sy, scalarScale(ctx, 6));
  VITQ_ASSIGN_OR_RETURN(std::vector<int32_t> za, zeroPoints(ctx, 2));
  VITQ_ASSIGN_OR_RETURN(std::vector<int32_t> zb, zeroPoints(ctx, 5));
  if (za.size() != 1) return ctx.error("a_zero_point must be a scalar");
  VITQ_ASSIGN_OR_RETURN(Tensor acc, matmulInteger(ctx, ctx.input(0), ctx.input(3), za, zb));
  const int64_t n = ctx.input(3).rank() > 1 ? ctx.input(3).shape().back() : 1;
  if (sb.size() != 1 && static_cast<int64_t>(sb.size()) != n) return ctx.error("b_scale must be per-tensor or per-column");
  std::vector<float> mult;
  for (float s : sb) mult.push_back(sa * s / sy);
  Tensor y;
  VITQ_RETURN_IF_ERROR(requantize(ctx, acc, mult, n, 1, 7, y));
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status qlinearConvKernel(KernelContext& ctx) {
  for (size_t i = 0; i < 8; ++i) {
    if (!ctx.hasInput(i)) return ctx.error("needs at least 8 inputs");
  }
  VITQ_ASSIGN_OR_RETURN(float sx, scalarScale(ctx, 1));
  VITQ_ASSIGN_OR_RETURN(std::vector<float> sw, readScale(ctx, ctx.input(4)));
  VITQ_ASSIGN_OR_RETURN(float sy, scalarScale(ctx, 6));
  VITQ_ASSIGN_OR_RETURN(std::vector<int32_t> zx, zeroPoints(ctx, 2));
  VITQ_ASSIGN_OR_RETURN(std::vector<int32_t> zw, zeroPoints(ctx, 5));
  if (zx.size() != 1) return ctx.error("x_zero_point must be a scalar");
  VITQ_ASSIGN_OR_RETURN(Tensor acc, convInteger(ctx, ctx.input(0), ctx.input(3), zx[0], zw));
  const int64_t m = acc.dim(1), inner = product(acc.shape(), 2, acc.shape().size());
  if (sw.size() != 1 && static_cast<int64_t>(sw.size()) != m) return ctx.error("w_scale must be per-tensor or per output channel");
  if (ctx.hasInput(8)) {
    const Tensor& bias = ctx.input(8);
    if (bias.dtype() != DataType::kInt32 || bias.numel() != m) return ctx.error("B must be int32 with one value per output channel");
    int32_t* a = acc.data<int32_t>();
    for (int64_t i = 0; i < acc.numel(); ++i) a[i] += bias.data<int32_t>()[i / inner % m];
  }
  std::vector<float> mult;
  for (float s : sw) mult.push_back(sx * s / sy);
  Tensor y;
  VITQ_RETURN_IF_ERROR(requantize(ctx, acc, mult, m, inner, 7, y));
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

}  // namespace

void registerQuantKernels(KernelRegistry& r) {
  r.add("QuantizeLinear", quantizeKernel);
  r.add("DequantizeLinear", dequantizeKernel);
  r.add("DynamicQuantizeLinear", dynamicQuantizeKernel);
  r.add("MatMulInteger", matMulIntegerKernel);
  r.add("ConvInteger", convIntegerKernel);
  r.add("QLinearMatMul", qlinearMatMulKernel);
  r.add("QLinearConv", qlinearConvKernel);
}

}  // namespace vitq
