// Elementwise kernels: unary math and activations, broadcasting binary arithmetic, comparisons,
// logic, variadic Max/Min/Sum/Mean, Where, Clip, Cast and CastLike. Arithmetic on float16 and
// bfloat16 computes in float32 and rounds the result back.
#include <cmath>
#include <cstring>
#include <limits>

#include "exec/kernel_registry.h"
#include "exec/kernels/broadcast.h"
#include "exec/kernels/vector_math.h"
#include "ir/half.h"

namespace vitq {
namespace {

// ---- unary ------------------------------------------------------------------------------------

template <typename F>
Status unaryFloat(KernelContext& ctx, F f) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::kFloat && x.dtype() != DataType::kDouble) {
    return ctx.error(std::string("input type ") + dataTypeName(x.dtype()) + " is not supported (float or double)");
  }
  Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
  const int64_t n = x.numel();
  if (x.dtype() == DataType::kFloat) {
    const float* in = x.data<float>();
    float* out = y.data<float>();
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(f(in[i]));
  } else {
    const double* in = x.data<double>();
    double* out = y.data<double>();
    for (int64_t i = 0; i < n; ++i) out[i] = f(in[i]);
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

// Unary ops that also apply to integer types (sign-aware).
template <typename F>
Status unaryNumeric(KernelContext& ctx, F f) {
  const Tensor& x = ctx.input(0);
  Tensor y(x.dtype(), x.shape());
  const bool ok = dispatchNumeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) out[i] = f(in[i]);
  });
  if (!ok) return ctx.error(std::string("input type ") + dataTypeName(x.dtype()) + " is not supported");
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

template <typename F>
void addUnaryFloat(KernelRegistry& r, const char* op, F f) {
  r.add(op, [f](KernelContext& ctx) { return unaryFloat(ctx, f); });
}

template <typename T>
T sigmoid(T x) { return T(1) / (T(1) + std::exp(-x)); }
template <typename T>
T softplus(T x) { return x > T(30) ? x : std::log1p(std::exp(x)); }
template <typename T>
T softsign(T x) { return x / (T(1) + std::fabs(x)); }
template <typename T>
T reciprocal(T x) { return T(1) / x; }
template <typename T>
T roundHalfEven(T x) { return std::nearbyint(x); }
template <typename T>
T hardSwish(T x) { return x * std::max(T(0), std::min(T(1), x / T(6) + T(0.5))); }
template <typename T>
T mish(T x) { return x * std::tanh(softplus(x)); }

// ---- binary with broadcasting -------------------------------------------------------------------

template <typename TOut, typename TIn, typename F>
Tensor binaryLoop(const Tensor& a, const Tensor& b, const Shape& out_shape, DataType out_type, F f) {
  Tensor y = Tensor::uninitialized(out_type, out_shape);
  const TIn* pa = a.data<TIn>();
  const TIn* pb = b.data<TIn>();
  TOut* py = y.data<TOut>();
  forEachBroadcastRow(out_shape, {a.shape(), b.shape()},
                      [&](int64_t out, const int64_t* base, const int64_t* step, int64_t n) {
                        const TIn* ra = pa + base[0];
                        const TIn* rb = pb + base[1];
                        TOut* ry = py + out;
                        // Separate loops per step pattern so the compiler vectorizes each.
                        if (step[0] == 1 && step[1] == 1) {
                          for (int64_t j = 0; j < n; ++j) ry[j] = f(ra[j], rb[j]);
                        } else if (step[0] == 1) {
                          const TIn vb = rb[0];
                          for (int64_t j = 0; j < n; ++j) ry[j] = f(ra[j], vb);
                        } else if (step[1] == 1) {
                          const TIn va = ra[0];
                          for (int64_t j = 0; j < n; ++j) ry[j] = f(va, rb[j]);
                        } else {
                          const TOut v = f(ra[0], rb[0]);
                          for (int64_t j = 0; j < n; ++j) ry[j] = v;
                        }
                      });
  return y;
}

enum class Arith { kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kMod, kFMod };

template <typename T>
T arith(Arith op, T a, T b) {
  switch (op) {
    case Arith::kAdd: return static_cast<T>(a + b);
    case Arith::kSub: return static_cast<T>(a - b);
    case Arith::kMul: return static_cast<T>(a * b);
    case Arith::kDiv:
      if constexpr (std::is_integral_v<T>) return b == 0 ? T(0) : static_cast<T>(a / b);
      else return a / b;
    case Arith::kPow: return static_cast<T>(std::pow(static_cast<double>(a), static_cast<double>(b)));
    case Arith::kMax: return a > b ? a : b;
    case Arith::kMin: return a < b ? a : b;
    case Arith::kFMod:
      if constexpr (std::is_integral_v<T>) return b == 0 ? T(0) : static_cast<T>(a % b);
      else return static_cast<T>(std::fmod(a, b));
    case Arith::kMod:
      if constexpr (std::is_integral_v<T>) {
        if (b == 0) return T(0);
        T m = static_cast<T>(a % b);
        if constexpr (std::is_signed_v<T>) {
          if (m != 0 && ((m < 0) != (b < 0))) m = static_cast<T>(m + b);
        }
        return m;
      } else {
        T m = static_cast<T>(std::fmod(a, b));
        if (m != 0 && ((m < 0) != (b < 0))) m += b;
        return m;
      }
  }
  return a;
}

// Max/Min propagate NaN as numpy does.
template <typename T>
T arithNan(Arith op, T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if ((op == Arith::kMax || op == Arith::kMin) && (std::isnan(a) || std::isnan(b))) {
      return std::numeric_limits<T>::quiet_NaN();
    }
  }
  return arith(op, a, b);
}

StatusOr<Tensor> arithmetic(const KernelContext& ctx, Arith op, const Tensor& a, const Tensor& b) {
  if (is16BitFloat(a.dtype()) || is16BitFloat(b.dtype())) {
    if (a.dtype() != b.dtype() && op != Arith::kPow) {
      return ctx.error(std::string("input types differ: ") + dataTypeName(a.dtype()) + " and " + dataTypeName(b.dtype()));
    }
    VITQ_ASSIGN_OR_RETURN(Tensor y, arithmetic(ctx, op, widenToFloat(a), widenToFloat(b)));
    return is16BitFloat(a.dtype()) ? narrowFromFloat(y, a.dtype()) : y;
  }
  // x^2 (decomposed LayerNorm's variance) as a multiply: std::pow is an order of magnitude slower.
  if (op == Arith::kPow && a.dtype() == DataType::kFloat && b.numel() == 1 && b.rank() <= a.rank() &&
      b.dtype() == DataType::kFloat && b.data<float>()[0] == 2.0f) {
    Tensor y(DataType::kFloat, a.shape());
    const float* x = a.data<float>();
    float* out = y.data<float>();
    for (int64_t i = 0; i < a.numel(); ++i) out[i] = x[i] * x[i];
    return y;
  }
  if (op == Arith::kPow && a.dtype() != b.dtype()) {
    // Pow allows a different exponent type: compute in double, keep the base type.
    VITQ_ASSIGN_OR_RETURN(Shape shape, broadcastShapes(ctx, a.shape(), b.shape()));
    Tensor y(a.dtype(), shape);
    bool ok = true;
    ok = dispatchNumeric(a.dtype(), [&](auto ta) {
      using TA = decltype(ta);
      ok = dispatchNumeric(b.dtype(), [&](auto tb) {
        using TB = decltype(tb);
        const TA* pa = a.data<TA>();
        const TB* pb = b.data<TB>();
        TA* py = y.data<TA>();
        forEachBroadcast(shape, {a.shape(), b.shape()}, [&](int64_t i, const int64_t* o) {
          py[i] = static_cast<TA>(std::pow(static_cast<double>(pa[o[0]]), static_cast<double>(pb[o[1]])));
        });
      });
    }) && ok;
    if (!ok) return ctx.error("unsupported Pow types");
    return y;
  }
  if (a.dtype() != b.dtype()) {
    return ctx.error(std::string("input types differ: ") + dataTypeName(a.dtype()) + " and " + dataTypeName(b.dtype()));
  }
  VITQ_ASSIGN_OR_RETURN(Shape shape, broadcastShapes(ctx, a.shape(), b.shape()));
  Tensor out;
  const bool ok = dispatchNumeric(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // The op is fixed per loop (not switched per element) so that the common ones vectorize.
    switch (op) {
      case Arith::kAdd: out = binaryLoop<T, T>(a, b, shape, a.dtype(), [](T x, T y) { return static_cast<T>(x + y); }); break;
      case Arith::kSub: out = binaryLoop<T, T>(a, b, shape, a.dtype(), [](T x, T y) { return static_cast<T>(x - y); }); break;
      case Arith::kMul: out = binaryLoop<T, T>(a, b, shape, a.dtype(), [](T x, T y) { return static_cast<T>(x * y); }); break;
      case Arith::kDiv:
        if constexpr (std::is_floating_point_v<T>) {
          out = binaryLoop<T, T>(a, b, shape, a.dtype(), [](T x, T y) { return x / y; });
        } else {  // truncation toward zero, as ONNX Runtime; 0 for a zero divisor (undefined in ONNX)
          out = binaryLoop<T, T>(a, b, shape, a.dtype(), [](T x, T y) { return y == 0 ? T(0) : static_cast<T>(x / y); });
        }
        break;
      case Arith::kMax:
        if constexpr (std::is_integral_v<T>) {
          out = binaryLoop<T, T>(a, b, shape, a.dtype(), [](T x, T y) { return x > y ? x : y; });
          break;
        }
        [[fallthrough]];
      case Arith::kMin:
        if constexpr (std::is_integral_v<T>) {
          if (op == Arith::kMin) {
            out = binaryLoop<T, T>(a, b, shape, a.dtype(), [](T x, T y) { return x < y ? x : y; });
            break;
          }
        }
        [[fallthrough]];
      default: out = binaryLoop<T, T>(a, b, shape, a.dtype(), [op](T x, T y) { return arithNan(op, x, y); });
    }
  });
  if (!ok) return ctx.error(std::string("input type ") + dataTypeName(a.dtype()) + " is not supported");
  return out;
}

void addArith(KernelRegistry& r, const char* name, Arith op) {
  r.add(name, [op](KernelContext& ctx) -> Status {
    Arith actual = op;
    if (op == Arith::kMod && ctx.attrs().intOr("fmod", 0) == 1) actual = Arith::kFMod;
    VITQ_ASSIGN_OR_RETURN(Tensor y, arithmetic(ctx, actual, ctx.input(0), ctx.input(1)));
    ctx.setOutput(0, std::move(y));
    return Status::ok();
  });
}

// Max, Min, Sum, Mean: variadic with broadcasting.
void addVariadic(KernelRegistry& r, const char* name, Arith op, bool mean) {
  r.add(name, [op, mean](KernelContext& ctx) -> Status {
    if (ctx.numInputs() == 0) return ctx.error("needs at least one input");
    const DataType type = ctx.input(0).dtype();
    Tensor acc = widenToFloat(ctx.input(0)).clone();  // 16-bit floats: float32 throughout, one rounding
    for (size_t i = 1; i < ctx.numInputs(); ++i) {
      if (ctx.input(i).dtype() != type) {
        return ctx.error(std::string("input types differ: ") + dataTypeName(type) + " and " +
                         dataTypeName(ctx.input(i).dtype()));
      }
      VITQ_ASSIGN_OR_RETURN(acc, arithmetic(ctx, op, acc, widenToFloat(ctx.input(i))));
    }
    if (mean) {
      const double n = static_cast<double>(ctx.numInputs());
      dispatchNumeric(acc.dtype(), [&](auto tag) {
        using T = decltype(tag);
        for (int64_t i = 0; i < acc.numel(); ++i) acc.data<T>()[i] = static_cast<T>(acc.data<T>()[i] / n);
      });
    }
    if (is16BitFloat(type)) acc = narrowFromFloat(acc, type);
    ctx.setOutput(0, std::move(acc));
    return Status::ok();
  });
}

enum class Compare { kEqual, kLess, kGreater, kLessEqual, kGreaterEqual };

void addCompare(KernelRegistry& r, const char* name, Compare cmp) {
  r.add(name, [cmp](KernelContext& ctx) -> Status {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (a.dtype() != b.dtype()) return ctx.error("input types differ");
    VITQ_ASSIGN_OR_RETURN(Shape shape, broadcastShapes(ctx, a.shape(), b.shape()));
    Tensor out;
    const bool ok = dispatchAll(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      out = binaryLoop<bool, T>(a, b, shape, DataType::kBool, [cmp](T x, T y) {
        switch (cmp) {
          case Compare::kEqual: return x == y;
          case Compare::kLess: return x < y;
          case Compare::kGreater: return x > y;
          case Compare::kLessEqual: return x <= y;
          case Compare::kGreaterEqual: return x >= y;
        }
        return false;
      });
    });
    if (!ok) return ctx.error(std::string("input type ") + dataTypeName(a.dtype()) + " is not supported");
    ctx.setOutput(0, std::move(out));
    return Status::ok();
  });
}

void addLogic(KernelRegistry& r, const char* name, int which) {
  r.add(name, [which](KernelContext& ctx) -> Status {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (a.dtype() != DataType::kBool || b.dtype() != DataType::kBool) return ctx.error("inputs must be bool");
    VITQ_ASSIGN_OR_RETURN(Shape shape, broadcastShapes(ctx, a.shape(), b.shape()));
    ctx.setOutput(0, binaryLoop<bool, bool>(a, b, shape, DataType::kBool, [which](bool x, bool y) {
                    return which == 0 ? (x && y) : which == 1 ? (x || y) : (x != y);
                  }));
    return Status::ok();
  });
}

// ---- other -------------------------------------------------------------------------------------

Status whereKernel(KernelContext& ctx) {
  const Tensor& c = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  if (c.dtype() != DataType::kBool) return ctx.error("condition must be bool");
  if (x.dtype() != y.dtype()) return ctx.error("X and Y types differ");
  VITQ_ASSIGN_OR_RETURN(Shape s1, broadcastShapes(ctx, c.shape(), x.shape()));
  VITQ_ASSIGN_OR_RETURN(Shape shape, broadcastShapes(ctx, s1, y.shape()));
  Tensor out(x.dtype(), shape);
  const bool ok = dispatchAll(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const bool* pc = c.data<bool>();
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    forEachBroadcast(shape, {c.shape(), x.shape(), y.shape()},
                     [&](int64_t i, const int64_t* o) { po[i] = pc[o[0]] ? px[o[1]] : py[o[2]]; });
  });
  if (!ok) return ctx.error(std::string("type ") + dataTypeName(x.dtype()) + " is not supported");
  ctx.setOutput(0, std::move(out));
  return Status::ok();
}

Status clipKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor y(x.dtype(), x.shape());
  const bool ok = dispatchNumeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T lo = std::numeric_limits<T>::lowest();
    T hi = std::numeric_limits<T>::max();
    if (ctx.opset < 11) {
      lo = static_cast<T>(ctx.attrs().floatOr("min", -std::numeric_limits<float>::max()));
      hi = static_cast<T>(ctx.attrs().floatOr("max", std::numeric_limits<float>::max()));
    }
    if (ctx.hasInput(1) && ctx.input(1).numel() == 1) lo = ctx.input(1).data<T>()[0];
    if (ctx.hasInput(2) && ctx.input(2).numel() == 1) hi = ctx.input(2).data<T>()[0];
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) out[i] = std::min(std::max(in[i], lo), hi);
  });
  if (!ok) return ctx.error(std::string("type ") + dataTypeName(x.dtype()) + " is not supported");
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

// Casts to and from float16/bfloat16 go through float32 (exact for a 16-bit source); from a wider
// source the 16-bit value is rounded once (half.h).
StatusOr<Tensor> castTensor(const KernelContext& ctx, const Tensor& source, DataType target) {
  const Tensor x = widenToFloat(source);
  if (x.dtype() == target) return x.dtype() == source.dtype() ? x.clone() : x;
  if (is16BitFloat(target) && x.dtype() == DataType::kFloat) return narrowFromFloat(x, target);
  Tensor y(target, x.shape());
  bool ok = false;
  if (is16BitFloat(target)) {
    const bool half = target == DataType::kFloat16;
    auto* out = static_cast<uint16_t*>(y.rawData());
    ok = dispatchAll(x.dtype(), [&](auto tin) {
      using TI = decltype(tin);
      const TI* in = x.data<TI>();
      for (int64_t i = 0; i < x.numel(); ++i) {
        const auto v = static_cast<long double>(in[i]);  // exact for every integer and double
        out[i] = half ? toHalfBits(v) : toBFloat16Bits(v);
      }
    });
  } else {
    dispatchAll(x.dtype(), [&](auto tin) {
      using TI = decltype(tin);
      ok = dispatchAll(target, [&](auto tout) {
        using TO = decltype(tout);
        const TI* in = x.data<TI>();
        TO* out = y.data<TO>();
        for (int64_t i = 0; i < x.numel(); ++i) {
          if constexpr (std::is_same_v<TO, bool>) out[i] = in[i] != TI(0);
          else if constexpr (std::is_integral_v<TO> && std::is_floating_point_v<TI>) {
            // Out-of-range float to int is undefined in C++; saturate like the reference backend does.
            const double v = static_cast<double>(in[i]);
            out[i] = std::isnan(v) ? TO(0)
                     : v <= static_cast<double>(std::numeric_limits<TO>::lowest()) ? std::numeric_limits<TO>::lowest()
                     : v >= static_cast<double>(std::numeric_limits<TO>::max()) ? std::numeric_limits<TO>::max()
                                                                                : static_cast<TO>(v);
          } else {
            out[i] = static_cast<TO>(in[i]);
          }
        }
      });
    });
  }
  if (!ok) {
    return ctx.error(std::string("cast from ") + dataTypeName(source.dtype()) + " to " + dataTypeName(target) +
                     " is not supported");
  }
  return y;
}

Status castKernel(KernelContext& ctx) {
  const auto to = ctx.attrs().getInt("to");
  if (!to || !isKnownDataType(static_cast<int32_t>(*to))) return ctx.error("missing or unknown 'to' type");
  VITQ_ASSIGN_OR_RETURN(Tensor y, castTensor(ctx, ctx.input(0), static_cast<DataType>(*to)));
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

// CastLike (opset 15): Cast to the element type of the second input.
Status castLikeKernel(KernelContext& ctx) {
  VITQ_ASSIGN_OR_RETURN(Tensor y, castTensor(ctx, ctx.input(0), ctx.input(1).dtype()));
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

template <typename Pred>
Status floatPredicate(KernelContext& ctx, Pred pred) {
  const Tensor& x = ctx.input(0);
  Tensor y(DataType::kBool, x.shape());
  bool* out = y.data<bool>();
  if (x.dtype() == DataType::kFloat) {
    for (int64_t i = 0; i < x.numel(); ++i) out[i] = pred(static_cast<double>(x.data<float>()[i]));
  } else if (x.dtype() == DataType::kDouble) {
    for (int64_t i = 0; i < x.numel(); ++i) out[i] = pred(x.data<double>()[i]);
  } else {
    return ctx.error("input must be float or double");
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status preluKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& slope = ctx.input(1);
  if (x.dtype() != DataType::kFloat || slope.dtype() != DataType::kFloat) return ctx.error("inputs must be float");
  VITQ_ASSIGN_OR_RETURN(Shape shape, broadcastShapes(ctx, x.shape(), slope.shape()));
  ctx.setOutput(0, binaryLoop<float, float>(x, slope, shape, DataType::kFloat,
                                            [](float v, float s) { return v < 0 ? v * s : v; }));
  return Status::ok();
}

// A unary op with a vectorized float form (vector_math.h) and a libm double form.
template <typename F>
void addUnaryVectorized(KernelRegistry& r, const char* op, void (*vectorized)(const float*, float*, int64_t),
                        F scalar) {
  r.add(op, [vectorized, scalar](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DataType::kFloat) return unaryFloat(ctx, scalar);
    Tensor y(DataType::kFloat, x.shape());
    vectorized(x.data<float>(), y.data<float>(), x.numel());
    ctx.setOutput(0, std::move(y));
    return Status::ok();
  });
}

}  // namespace

void registerElementwiseKernels(KernelRegistry& r) {
  addUnaryFloat(r, "Sqrt", [](auto x) { return std::sqrt(x); });
  addUnaryVectorized(r, "Exp", vec::exp, [](auto x) { return std::exp(x); });
  addUnaryFloat(r, "Log", [](auto x) { return std::log(x); });
  addUnaryVectorized(r, "Erf", vec::erf, [](auto x) { return std::erf(x); });
  addUnaryVectorized(r, "Tanh", vec::tanh, [](auto x) { return std::tanh(x); });
  addUnaryVectorized(r, "Sigmoid", vec::sigmoid, [](auto x) { return sigmoid(x); });
  addUnaryFloat(r, "Reciprocal", [](auto x) { return reciprocal(x); });
  addUnaryFloat(r, "Floor", [](auto x) { return std::floor(x); });
  addUnaryFloat(r, "Ceil", [](auto x) { return std::ceil(x); });
  addUnaryFloat(r, "Round", [](auto x) { return roundHalfEven(x); });
  addUnaryFloat(r, "Sin", [](auto x) { return std::sin(x); });
  addUnaryFloat(r, "Cos", [](auto x) { return std::cos(x); });
  addUnaryFloat(r, "Tan", [](auto x) { return std::tan(x); });
  addUnaryFloat(r, "Asin", [](auto x) { return std::asin(x); });
  addUnaryFloat(r, "Acos", [](auto x) { return std::acos(x); });
  addUnaryFloat(r, "Atan", [](auto x) { return std::atan(x); });
  addUnaryFloat(r, "Sinh", [](auto x) { return std::sinh(x); });
  addUnaryFloat(r, "Cosh", [](auto x) { return std::cosh(x); });
  addUnaryFloat(r, "Asinh", [](auto x) { return std::asinh(x); });
  addUnaryFloat(r, "Acosh", [](auto x) { return std::acosh(x); });
  addUnaryFloat(r, "Atanh", [](auto x) { return std::atanh(x); });
  addUnaryFloat(r, "Softplus", [](auto x) { return softplus(x); });
  addUnaryFloat(r, "Softsign", [](auto x) { return softsign(x); });
  addUnaryFloat(r, "HardSwish", [](auto x) { return hardSwish(x); });
  addUnaryFloat(r, "Mish", [](auto x) { return mish(x); });
  r.add("Relu", [](KernelContext& ctx) {
    return unaryNumeric(ctx, [](auto x) { return x > decltype(x)(0) ? x : decltype(x)(0); });
  });
  r.add("Abs", [](KernelContext& ctx) {
    return unaryNumeric(ctx, [](auto x) {
      using T = decltype(x);
      if constexpr (std::is_unsigned_v<T>) return x;
      else return static_cast<T>(x < T(0) ? -x : x);
    });
  });
  r.add("Neg", [](KernelContext& ctx) {
    return unaryNumeric(ctx, [](auto x) { return static_cast<decltype(x)>(-x); });
  });
  r.add("Sign", [](KernelContext& ctx) {
    return unaryNumeric(ctx, [](auto x) {
      using T = decltype(x);
      return static_cast<T>(x > T(0) ? 1 : (x < T(0) ? -1 : 0));
    });
  });
  r.add("LeakyRelu", [](KernelContext& ctx) {
    const double a = ctx.attrs().floatOr("alpha", 0.01f);
    return unaryFloat(ctx, [a](double x) { return x < 0 ? a * x : x; });
  });
  r.add("Elu", [](KernelContext& ctx) {
    const double a = ctx.attrs().floatOr("alpha", 1.0f);
    return unaryFloat(ctx, [a](double x) { return x < 0 ? a * (std::exp(x) - 1) : x; });
  });
  r.add("Celu", [](KernelContext& ctx) {
    const double a = ctx.attrs().floatOr("alpha", 1.0f);
    return unaryFloat(ctx, [a](double x) { return std::max(0.0, x) + std::min(0.0, a * (std::exp(x / a) - 1)); });
  });
  r.add("Selu", [](KernelContext& ctx) {
    const double a = ctx.attrs().floatOr("alpha", 1.67326319217681884765625f);
    const double g = ctx.attrs().floatOr("gamma", 1.05070102214813232421875f);
    return unaryFloat(ctx, [a, g](double x) { return x <= 0 ? g * (a * std::exp(x) - a) : g * x; });
  });
  r.add("ThresholdedRelu", [](KernelContext& ctx) {
    const double a = ctx.attrs().floatOr("alpha", 1.0f);
    return unaryFloat(ctx, [a](double x) { return x > a ? x : 0.0; });
  });
  r.add("HardSigmoid", [](KernelContext& ctx) {
    const double a = ctx.attrs().floatOr("alpha", 0.2f);
    const double b = ctx.attrs().floatOr("beta", 0.5f);
    return unaryFloat(ctx, [a, b](double x) { return std::max(0.0, std::min(1.0, a * x + b)); });
  });
  r.add("Gelu", [](KernelContext& ctx) {
    if (ctx.attrs().stringOr("approximate", "none") == "tanh") {
      return unaryFloat(ctx, [](double x) {
        return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
      });
    }
    return unaryFloat(ctx, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); });
  });
  r.add("IsNaN", [](KernelContext& ctx) { return floatPredicate(ctx, [](double x) { return std::isnan(x); }); });
  r.add("IsInf", [](KernelContext& ctx) {
    const bool pos = ctx.attrs().intOr("detect_positive", 1) != 0;
    const bool neg = ctx.attrs().intOr("detect_negative", 1) != 0;
    return floatPredicate(ctx, [pos, neg](double x) { return std::isinf(x) && ((x > 0 && pos) || (x < 0 && neg)); });
  });
  r.add("Not", [](KernelContext& ctx) -> Status {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DataType::kBool) return ctx.error("input must be bool");
    Tensor y(DataType::kBool, x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) y.data<bool>()[i] = !x.data<bool>()[i];
    ctx.setOutput(0, std::move(y));
    return Status::ok();
  });
  addArith(r, "Add", Arith::kAdd);
  addArith(r, "Sub", Arith::kSub);
  addArith(r, "Mul", Arith::kMul);
  addArith(r, "Div", Arith::kDiv);
  addArith(r, "Pow", Arith::kPow);
  addArith(r, "Mod", Arith::kMod);
  addVariadic(r, "Max", Arith::kMax, false);
  addVariadic(r, "Min", Arith::kMin, false);
  addVariadic(r, "Sum", Arith::kAdd, false);
  addVariadic(r, "Mean", Arith::kAdd, true);
  addCompare(r, "Equal", Compare::kEqual);
  addCompare(r, "Less", Compare::kLess);
  addCompare(r, "Greater", Compare::kGreater);
  addCompare(r, "LessOrEqual", Compare::kLessEqual);
  addCompare(r, "GreaterOrEqual", Compare::kGreaterEqual);
  addLogic(r, "And", 0);
  addLogic(r, "Or", 1);
  addLogic(r, "Xor", 2);
  r.add("Where", whereKernel);
  r.add("Clip", clipKernel);
  r.add("Cast", castKernel);
  r.add("CastLike", castLikeKernel);
  r.add("PRelu", preluKernel);
}

}  // namespace vitq
