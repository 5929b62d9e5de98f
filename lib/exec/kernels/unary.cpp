// Unary elementwise kernels: math functions, activations, IsNaN/IsInf, Not and Clip.
#include <cmath>
#include <limits>

#include "exec/kernel_registry.h"
#include "exec/kernels/kernel_utils.h"
#include "exec/kernels/vector_math.h"

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

Status clipKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
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
    const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) out[i] = std::min(std::max(in[i], lo), hi);
  });
  if (!ok) return ctx.error(std::string("type ") + dataTypeName(x.dtype()) + " is not supported");
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

void registerUnaryKernels(KernelRegistry& r) {
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
  r.add("Clip", clipKernel);
}

}  // namespace vitq
