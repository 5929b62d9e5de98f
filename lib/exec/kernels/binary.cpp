// Broadcasting binary kernels: arithmetic (Add, Sub, Mul, Div, Pow, Mod), variadic Max/Min/Sum/
// Mean, comparisons, logic, Where and PRelu. Arithmetic on float16 and bfloat16 computes in
// float32 and rounds the result back.
#include <cmath>
#include <limits>

#include "exec/kernel_registry.h"
#include "exec/kernels/broadcast.h"
#include "exec/kernels/cast.h"
#include "ir/half.h"

namespace vitq {
namespace {

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

// x / d for a power-of-two d as a shift; signed values round toward zero as division does, by
// adding d - 1 to negative values first.
template <typename T>
void shiftDivide(const T* x, T* y, int64_t n, int shift) {
  if constexpr (std::is_signed_v<T>) {
    const T bias = static_cast<T>((T(1) << shift) - 1);
    for (int64_t j = 0; j < n; ++j) y[j] = static_cast<T>((x[j] + (x[j] < 0 ? bias : T(0))) >> shift);
  } else {
    for (int64_t j = 0; j < n; ++j) y[j] = static_cast<T>(x[j] >> shift);
  }
}

// Integer Div truncates toward zero, as ONNX Runtime does; a zero divisor gives 0 (undefined in
// ONNX). The integer-only export requantizes by dividing by per-tensor or per-channel powers of two,
// so a divisor constant along a row takes a shift: hardware division of 64-bit integers does not
// vectorize and costs tens of cycles.
template <typename T>
Tensor integerDivide(const Tensor& a, const Tensor& b, const Shape& out_shape, DataType out_type) {
  Tensor y = Tensor::uninitialized(out_type, out_shape);
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* py = y.data<T>();
  const auto divide = [](T x, T d) { return d == 0 ? T(0) : static_cast<T>(x / d); };
  forEachBroadcastRow(out_shape, {a.shape(), b.shape()},
                      [&](int64_t out, const int64_t* base, const int64_t* step, int64_t n) {
                        const T* ra = pa + base[0];
                        const T* rb = pb + base[1];
                        T* ry = py + out;
                        if (step[1] == 0 && step[0] == 1) {
                          const T d = rb[0];
                          if (d > 0 && (d & (d - 1)) == 0) {
                            int shift = 0;
                            while ((T(1) << shift) != d) ++shift;
                            shiftDivide(ra, ry, n, shift);
                          } else {
                            for (int64_t j = 0; j < n; ++j) ry[j] = divide(ra[j], d);
                          }
                        } else {
                          for (int64_t j = 0; j < n; ++j) ry[j] = divide(ra[j * step[0]], rb[j * step[1]]);
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

// Pow allows an exponent of another type: both operands are cast to double (Cast's conversion), the
// power taken there and the result cast back to the base's type, so that the type pairs do not
// multiply into instantiations.
StatusOr<Tensor> mixedPow(const KernelContext& ctx, const Tensor& a, const Tensor& b) {
  VITQ_ASSIGN_OR_RETURN(Shape shape, broadcastShapes(ctx, a.shape(), b.shape()));
  VITQ_ASSIGN_OR_RETURN(Tensor base, castTensor(ctx, a, DataType::kDouble));
  VITQ_ASSIGN_OR_RETURN(Tensor exponent, castTensor(ctx, b, DataType::kDouble));
  const Tensor y = binaryLoop<double, double>(base, exponent, shape, DataType::kDouble,
                                              [](double x, double e) { return std::pow(x, e); });
  return castTensor(ctx, y, a.dtype());
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
  if (op == Arith::kPow && a.dtype() != b.dtype()) return mixedPow(ctx, a, b);
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
          out = integerDivide<T>(a, b, shape, a.dtype());
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

Status preluKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& slope = ctx.input(1);
  if (x.dtype() != DataType::kFloat || slope.dtype() != DataType::kFloat) return ctx.error("inputs must be float");
  VITQ_ASSIGN_OR_RETURN(Shape shape, broadcastShapes(ctx, x.shape(), slope.shape()));
  ctx.setOutput(0, binaryLoop<float, float>(x, slope, shape, DataType::kFloat,
                                            [](float v, float s) { return v < 0 ? v * s : v; }));
  return Status::ok();
}

}  // namespace

void registerBinaryKernels(KernelRegistry& r) {
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
  r.add("PRelu", preluKernel);
}

}  // namespace vitq
