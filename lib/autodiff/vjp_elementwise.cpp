// VJPs of elementwise ops: unary math and activations (derivative from the input and the forward
// output), broadcasting binary arithmetic (partials per output element, then summed back over the
// broadcast axes), Clip (whose min/max inputs collect the gradient of the clipped elements), the
// variadic Sum/Mean/Max/Min, Where, and the ops that pass their input through (Cast, Dropout).
// Derivatives are evaluated in double. At kinks (Relu at 0, the ends of HardSigmoid, HardSwish and
// Clip) the one-sided derivative of the kernel's branch is used.
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "autodiff/vjp.h"
#include "exec/kernels/broadcast.h"

namespace vitq {
namespace {

constexpr double kPi = 3.14159265358979323846;

/// dx = dy * f'(x, y) for a float unary op; \p deriv gets the input and the forward output.
template <typename D>
Status unaryVjp(VjpContext& ctx, D deriv) {
  if (!ctx.wants(0)) return Status::ok();
  const Tensor& x = ctx.input(0);
  const float* px = x.data<float>();
  const float* py = ctx.output(0).data<float>();
  const float* pg = ctx.outputGrad(0).data<float>();
  Tensor dx(DataType::kFloat, x.shape());
  float* out = dx.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(pg[i] * deriv(double{px[i]}, double{py[i]}));
  ctx.setInputGrad(0, std::move(dx));
  return Status::ok();
}

template <typename D>
void addUnary(VjpRegistry& r, const char* op, D deriv) {
  r.add(op, [deriv](VjpContext& ctx) { return unaryVjp(ctx, deriv); });
}

double geluDeriv(double x, bool tanh_form) {
  if (tanh_form) {
    const double c = std::sqrt(2 / kPi);
    const double t = std::tanh(c * (x + 0.044715 * x * x * x));
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
  }
  return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * kPi);
}

/// The input as float (Pow allows an integer exponent; its values are needed for the base's partial).
Tensor asFloat(const Tensor& t) {
  if (t.dtype() == DataType::kFloat) return t;
  Tensor f(DataType::kFloat, t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) f.data<float>()[i] = static_cast<float>(t.scalarAsDouble(i));
  return f;
}

/// For out = f(a, b) with numpy broadcasting: \p partials(a, b, y) returns {df/da, df/db}.
template <typename P>
Status binaryVjp(VjpContext& ctx, P partials) {
  const bool want_a = ctx.wants(0), want_b = ctx.wants(1);
  if (!want_a && !want_b) return Status::ok();
  const Tensor a = asFloat(ctx.input(0)), b = asFloat(ctx.input(1));
  const Shape& shape = ctx.output(0).shape();
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  const float* py = ctx.output(0).data<float>();
  const float* pg = ctx.outputGrad(0).data<float>();
  // Only the wanted sides are computed (every element of each is written).
  Tensor ga = want_a ? Tensor::uninitialized(DataType::kFloat, shape) : Tensor();
  Tensor gb = want_b ? Tensor::uninitialized(DataType::kFloat, shape) : Tensor();
  float* oa = want_a ? ga.data<float>() : nullptr;
  float* ob = want_b ? gb.data<float>() : nullptr;
  // Each contiguous output run, with the operands' steps (0 or 1) fixed at compile time so that
  // the loop vectorizes.
  auto run = [&](auto step_a, auto step_b, int64_t first, const int64_t* base, int64_t n) {
    const float* ra = pa + base[0];
    const float* rb = pb + base[1];
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = first + j;
      const auto [da, db] = partials(double{ra[j * step_a]}, double{rb[j * step_b]}, double{py[i]});
      if (oa) oa[i] = static_cast<float>(pg[i] * da);
      if (ob) ob[i] = static_cast<float>(pg[i] * db);
    }
  };
  using One = std::integral_constant<int64_t, 1>;
  using Zero = std::integral_constant<int64_t, 0>;
  forEachBroadcastRow(shape, {a.shape(), b.shape()}, [&](int64_t first, const int64_t* base, const int64_t* step, int64_t n) {
    if (step[0] && step[1]) run(One{}, One{}, first, base, n);
    else if (step[0]) run(One{}, Zero{}, first, base, n);
    else if (step[1]) run(Zero{}, One{}, first, base, n);
    else run(Zero{}, Zero{}, first, base, n);
  });
  if (want_a) ctx.setInputGrad(0, sumToShape(ga, a.shape()));
  if (want_b) ctx.setInputGrad(1, sumToShape(gb, b.shape()));
  return Status::ok();
}

template <typename P>
void addBinary(VjpRegistry& r, const char* op, P partials) {
  r.add(op, [partials](VjpContext& ctx) { return binaryVjp(ctx, partials); });
}

// Mirrors the kernel: y = min(max(x, lo), hi). The element's gradient goes to whichever of x, lo,
// hi the kernel returned.
Status clipVjp(VjpContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::kFloat) return Status::ok();  // no float input to differentiate
  float lo = std::numeric_limits<float>::lowest(), hi = std::numeric_limits<float>::max();
  if (ctx.forward.opset < 11) {
    lo = ctx.attrs().floatOr("min", lo);
    hi = ctx.attrs().floatOr("max", hi);
  }
  if (ctx.hasInput(1) && ctx.input(1).numel() == 1) lo = ctx.input(1).data<float>()[0];
  if (ctx.hasInput(2) && ctx.input(2).numel() == 1) hi = ctx.input(2).data<float>()[0];
  const float* px = x.data<float>();
  const float* pg = ctx.outputGrad(0).data<float>();
  Tensor dx(DataType::kFloat, x.shape());
  double dlo = 0, dhi = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const bool to_lo = px[i] < lo;
    const float m = to_lo ? lo : px[i];
    if (m > hi) dhi += pg[i];
    else if (to_lo) dlo += pg[i];
    else dx.data<float>()[i] = pg[i];
  }
  if (ctx.wants(0)) ctx.setInputGrad(0, dx);
  for (size_t k = 1; k <= 2; ++k) {
    if (!ctx.wants(k)) continue;
    Tensor g(DataType::kFloat, ctx.input(k).shape());
    g.data<float>()[0] = static_cast<float>(k == 1 ? dlo : dhi);
    ctx.setInputGrad(k, g);
  }
  return Status::ok();
}

// Cast, Dropout (inference): output 0 is input 0. A gradient passes only a cast from float to float
// (the kernel's integer results are steps); Dropout's other inputs (ratio, training flag) do not
// change the output's values.
Status passThroughVjp(VjpContext& ctx) {
  for (size_t i = 0; i < ctx.forward.numInputs(); ++i) {
    if (!ctx.wants(i)) continue;
    const bool passes = i == 0 && ctx.output(0).dtype() == DataType::kFloat;
    ctx.setInputGrad(i, passes ? ctx.outputGrad(0) : Tensor(DataType::kFloat, ctx.input(i).shape()));
  }
  return Status::ok();
}

// Where(c, x, y): x's gradient where c holds, y's elsewhere, each summed to its own shape.
Status whereVjp(VjpContext& ctx) {
  const Tensor& c = ctx.input(0);
  const Shape& shape = ctx.output(0).shape();
  const float* dy = ctx.outputGrad(0).data<float>();
  const bool* cond = c.data<bool>();
  for (size_t k = 1; k <= 2; ++k) {
    if (!ctx.wants(k)) continue;
    Tensor full(DataType::kFloat, shape);
    float* out = full.data<float>();
    const bool take = k == 1;
    forEachBroadcast(shape, {c.shape()}, [&](int64_t i, const int64_t* o) { out[i] = cond[o[0]] == take ? dy[i] : 0.0f; });
    ctx.setInputGrad(k, sumToShape(full, ctx.input(k).shape()));
  }
  return Status::ok();
}

// Sum, Mean: every input gets the output gradient (over n for Mean) summed to its shape. Max, Min:
// each output element's gradient goes to the first input that holds the chosen value.
Status variadicVjp(VjpContext& ctx, bool select, bool mean) {
  const Shape& shape = ctx.output(0).shape();
  const float* dy = ctx.outputGrad(0).data<float>();
  const float* py = ctx.output(0).data<float>();
  const float scale = mean ? 1.0f / static_cast<float>(ctx.forward.numInputs()) : 1.0f;
  std::vector<char> taken(select ? static_cast<size_t>(product(shape)) : 0, 0);
  for (size_t k = 0; k < ctx.forward.numInputs(); ++k) {
    if (!ctx.hasInput(k) || ctx.input(k).dtype() != DataType::kFloat) continue;
    const float* px = ctx.input(k).data<float>();
    Tensor full(DataType::kFloat, shape);
    float* out = full.data<float>();
    forEachBroadcast(shape, {ctx.input(k).shape()}, [&](int64_t i, const int64_t* o) {
      if (!select) {
        out[i] = dy[i] * scale;
      } else if (!taken[static_cast<size_t>(i)] && px[o[0]] == py[i]) {
        taken[static_cast<size_t>(i)] = 1;
        out[i] = dy[i];
      }
    });
    if (ctx.wants(k)) ctx.setInputGrad(k, sumToShape(full, ctx.input(k).shape()));
  }
  return Status::ok();
}

}  // namespace

void registerElementwiseVjps(VjpRegistry& r) {
  for (const char* op : {"Cast", "Dropout"}) r.add(op, passThroughVjp);
  r.add("Where", whereVjp);
  r.add("Sum", [](VjpContext& ctx) { return variadicVjp(ctx, false, false); });
  r.add("Mean", [](VjpContext& ctx) { return variadicVjp(ctx, false, true); });
  r.add("Max", [](VjpContext& ctx) { return variadicVjp(ctx, true, false); });
  r.add("Min", [](VjpContext& ctx) { return variadicVjp(ctx, true, false); });
  addUnary(r, "Neg", [](double, double) { return -1.0; });
  addUnary(r, "Exp", [](double, double y) { return y; });
  addUnary(r, "Log", [](double x, double) { return 1 / x; });
  addUnary(r, "Reciprocal", [](double, double y) { return -y * y; });
  addUnary(r, "Softplus", [](double x, double) { return 1 / (1 + std::exp(-x)); });
  r.add("LeakyRelu", [](VjpContext& ctx) {
    const double a = ctx.attrs().floatOr("alpha", 0.01f);
    return unaryVjp(ctx, [a](double x, double) { return x < 0 ? a : 1.0; });
  });
  r.add("Elu", [](VjpContext& ctx) {
    const double a = ctx.attrs().floatOr("alpha", 1.0f);
    return unaryVjp(ctx, [a](double x, double y) { return x < 0 ? y + a : 1.0; });
  });
  addUnary(r, "Identity", [](double, double) { return 1.0; });
  addUnary(r, "Sqrt", [](double, double y) { return 0.5 / y; });
  addUnary(r, "Erf", [](double x, double) { return 2 / std::sqrt(kPi) * std::exp(-x * x); });
  addUnary(r, "Tanh", [](double, double y) { return 1 - y * y; });
  addUnary(r, "Sigmoid", [](double, double y) { return y * (1 - y); });
  addUnary(r, "Relu", [](double x, double) { return x > 0 ? 1.0 : 0.0; });
  addUnary(r, "HardSwish", [](double x, double) {
    const double s = x / 6 + 0.5;
    return s <= 0 ? 0.0 : s >= 1 ? 1.0 : x / 3 + 0.5;
  });
  r.add("HardSigmoid", [](VjpContext& ctx) {
    const double a = ctx.attrs().floatOr("alpha", 0.2f), b = ctx.attrs().floatOr("beta", 0.5f);
    return unaryVjp(ctx, [a, b](double x, double) {
      const double s = a * x + b;
      return s > 0 && s < 1 ? a : 0.0;
    });
  });
  r.add("Gelu", [](VjpContext& ctx) {
    const bool tanh_form = ctx.attrs().stringOr("approximate", "none") == "tanh";
    return unaryVjp(ctx, [tanh_form](double x, double) { return geluDeriv(x, tanh_form); });
  });
  addBinary(r, "Add", [](double, double, double) { return std::pair{1.0, 1.0}; });
  addBinary(r, "Sub", [](double, double, double) { return std::pair{1.0, -1.0}; });
  addBinary(r, "Mul", [](double a, double b, double) { return std::pair{b, a}; });
  addBinary(r, "Div", [](double, double b, double y) { return std::pair{1 / b, -y / b}; });
  // d/da a^b = b a^(b-1); d/db a^b = a^b ln a, taken as 0 where a <= 0 (no real logarithm).
  addBinary(r, "Pow", [](double a, double b, double y) {
    return std::pair{b == 0 ? 0.0 : b * std::pow(a, b - 1), a > 0 ? y * std::log(a) : 0.0};
  });
  r.add("Clip", clipVjp);
}

}  // namespace vitq
