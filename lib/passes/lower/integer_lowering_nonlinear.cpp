// I-ViT lowering of the nonlinear ops: Shiftmax, ShiftGELU (and SiLU through it), I-LayerNorm,
// ReLU, Clip, HardSigmoid, products of two activations, GlobalAveragePool and AveragePool.
#include "passes/lower/integer_lowering_context.h"

#include "passes/lower/integer_functions.h"
#include "quant/math/integer_nonlinear.h"

namespace vitq::integer_lowering_detail {

// Mul(x, Sigmoid(k x)) (SiLU/Swish; paddle2onnx writes Sigmoid(Mul(x, 1.0))): ShiftGELU's body
// computes x · σ(1.702 x) with x0 = floor(-1/(1.702 s')); s' = k s / 1.702 gives x · σ(k x), and
// the output scale is s · 2^-7.
namespace {
// k of Sigmoid(k x) when \p sig reads x (k = 1) or a single-use Mul(x, k) by a positive constant scalar.
double sigmoidSlope(const Node& sig, const Value* x) {
  const Value* in = sig.input(0);
  if (in == x) return 1.0;
  const Node* mul = in ? in->producer() : nullptr;
  if (!mul || !mul->is("Mul") || mul->numInputs() != 2 || in->uses().size() != 1) return 0.0;
  for (int k = 0; k < 2; ++k) {
    const Value* c = mul->input(1 - k);
    if (mul->input(k) != x || !c || !c->isConstant() || c->initializer().numel() != 1) continue;
    const double slope = c->initializer().scalarAsDouble();
    return slope > 0 && std::isfinite(slope) ? slope : 0.0;
  }
  return 0.0;
}
}  // namespace

const Node* siluSigmoid(const Node& mul) {
  if (!mul.is("Mul") || mul.numInputs() != 2) return nullptr;
  for (int k = 0; k < 2; ++k) {
    const Node* sig = mul.input(k) ? mul.input(k)->producer() : nullptr;
    if (sig && sig->is("Sigmoid") && sig->output(0)->uses().size() == 1 && sigmoidSlope(*sig, mul.input(1 - k)) > 0) return sig;
  }
  return nullptr;
}

Status Lowering::lowerSilu(Node& n, const Node& sig) {
  Value* in = n.input(0)->producer() == &sig ? n.input(1) : n.input(0);
  const std::string hint = n.output(0)->name();
  if (!hasRep(in)) return unsupported("SiLU '" + hint + "': input has no integer form");
  const double s = scaleFor(in, o_.activation_bits);
  VITQ_ASSIGN_OR_RETURN(Value * x, requant(reps_.at(in), s, o_.activation_bits, hint + "/in"));
  VITQ_ASSIGN_OR_RETURN(ShiftGeluPlan plan, planShiftGelu(s * sigmoidSlope(sig, in) / 1.702, kShiftGeluN, true));
  Rep r;
  r.v = node("ShiftGELU", {x, i64s(plan.exp.x0, hint + "_x0")}, DataType::kInt32, hint, kIntegerDomain);
  r.scale = {s / 128};
  r.bound = qmaxOf(o_.activation_bits) * 128;
  reps_[n.output(0)] = r;
  ++report_->shiftgelu;
  return Status::ok();
}

// Mul of two activations (HardSwish x · Clip(x + 3, 0, 6), the squeeze-excitation gate x · σ̂):
// per-tensor codes of at most 16 bits each, multiplied in int32 (|product| < 2^30); the scales multiply.
StatusOr<Rep> Lowering::productCodes(const Value* a, const Rep& ra, const Value* b, const Rep& rb, const std::string& hint) {
  VITQ_ASSIGN_OR_RETURN(Rep x, residualInput(a, ra, hint + "/a"));
  VITQ_ASSIGN_OR_RETURN(Rep y, residualInput(b, rb, hint + "/b"));
  Rep r;
  r.v = node("Mul", {x.v, y.v}, DataType::kInt32, hint);
  r.scale = {x.scale[0] * y.scale[0]};
  r.bound = x.bound * y.bound;
  ++report_->products;
  return r;
}

Status Lowering::lowerProduct(Node& n) {
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  VITQ_ASSIGN_OR_RETURN(reps_[n.output(0)], productCodes(n.input(0), reps_.at(n.input(0)), n.input(1), reps_.at(n.input(1)), hint));
  return Status::ok();
}

// HardSigmoid clip(α x + β, 0, 1) in codes of scale t = 2^-14: x requantized to scale t/α (so its
// codes are α x / t; 16 bits hold every value that the clip does not saturate when |β| ≤ 1), plus
// round(β / t), clipped to [0, 2^14].
StatusOr<Rep> Lowering::hardSigmoidCodes(const Node& n, double alpha, double beta, const std::string& hint) {
  if (!hasRep(n.input(0))) return unsupported("node " + n.describe() + ": input has no integer form");
  if (!(alpha > 0) || !(std::fabs(beta) <= 1.0)) {
    return unsupported("node " + n.describe() + ": HardSigmoid is lowered for alpha > 0 and |beta| <= 1");
  }
  const int64_t one = int64_t{1} << 14;
  const double t = 1.0 / static_cast<double>(one);
  VITQ_ASSIGN_OR_RETURN(Value * u, requant(reps_.at(n.input(0)), t / alpha, 16, hint + "/in"));
  auto i32 = [&](int64_t v, const std::string& h) {
    return g_.addInitializer(g_.uniqueName(hint + h), Tensor::fromVector<int32_t>({static_cast<int32_t>(v)}, {}));
  };
  Value* shifted = node("Add", {u, i32(static_cast<int64_t>(std::nearbyint(beta / t)), "_beta")}, DataType::kInt32, hint);
  Rep r;
  r.v = node("Clip", {shifted, i32(0, "_lo"), i32(one, "_hi")}, DataType::kInt32, hint);
  r.scale = {t};
  r.bound = one;
  return r;
}

Status Lowering::lowerHardSigmoid(Node& n) {
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  VITQ_ASSIGN_OR_RETURN(reps_[n.output(0)],
                        hardSigmoidCodes(n, n.attrs().floatOr("alpha", 0.2f), n.attrs().floatOr("beta", 0.5f), hint));
  return Status::ok();
}

// HardSwish (opset 14) x · HardSigmoid(x) with α = 1/6, β = 1/2.
Status Lowering::lowerHardSwish(Node& n) {
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  VITQ_ASSIGN_OR_RETURN(Rep gate, hardSigmoidCodes(n, 1.0 / 6.0, 0.5, hint + "/gate"));
  VITQ_ASSIGN_OR_RETURN(reps_[n.output(0)], productCodes(n.input(0), reps_.at(n.input(0)), nullptr, gate, hint));
  return Status::ok();
}

// Clip with constant bounds on per-tensor codes: the bounds in codes (rounded).
Status Lowering::lowerClip(Node& n) {
  Value* in = n.input(0);
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  if (!hasRep(in)) return unsupported("node " + n.describe() + ": input has no integer form");
  Rep r = reps_.at(in);
  if (r.perChannel() || r.is64 || r.bound > qmaxOf(o_.residual_bits)) {
    const int bits = feedsNarrowOnly(n.output(0)) ? o_.activation_bits : o_.residual_bits;
    VITQ_ASSIGN_OR_RETURN(r, requantRep(r, scaleFor(in, bits), bits, hint + "/in"));
  }
  std::vector<Value*> ins = {r.v};
  for (size_t i = 1; i < 3; ++i) {
    double bound = i == 1 ? -2147483647.0 : 2147483647.0;
    if (n.input(i)) {
      if (!n.input(i)->isConstant()) return unsupported("node " + n.describe() + ": Clip bounds must be constant");
      bound = std::nearbyint(n.input(i)->initializer().scalarAsDouble() / r.scale[0]);
    } else if (n.attrs().has(i == 1 ? "min" : "max")) {
      bound = std::nearbyint(n.attrs().floatOr(i == 1 ? "min" : "max", 0.0f) / r.scale[0]);
    }
    bound = std::clamp(bound, -2147483647.0, 2147483647.0);
    ins.push_back(g_.addInitializer(g_.uniqueName(hint + (i == 1 ? "_lo" : "_hi")),
                                    Tensor::fromVector<int32_t>({static_cast<int32_t>(bound)}, {})));
  }
  r.v = node("Clip", ins, DataType::kInt32, hint);
  r.acc = false;
  reps_[n.output(0)] = r;
  return Status::ok();
}

// GlobalAveragePool: an integer sum over the spatial axes. With H and W known, 1/(H W) goes into
// the scale; otherwise (PP-OCR's width is dynamic) the sum, scaled by 2^k, is divided by H W read
// from the input's shape, rounding half up: floor((2 a + d) / 2d) with a floor that Div (which
// truncates) computes exactly as (v - Mod(v, 2d)) / 2d. The mean's codes have scale s / 2^k.
Status Lowering::lowerGlobalAveragePool(Node& n) {
  Value* in = n.input(0);
  const auto& dims = in->type().dims;
  if (!hasRep(in) || !dims || dims->size() != 4) return unsupported("node " + n.describe() + ": needs NCHW codes");
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  Rep r = reps_.at(in);
  Value* axes = i64({2, 3}, {2}, hint + "_axes");
  r.acc = false;
  if ((*dims)[2].isKnown() && (*dims)[3].isKnown()) {
    const int64_t hw = (*dims)[2].value * (*dims)[3].value;
    r.v = node("ReduceSum", {r.v, axes}, r.is64 ? DataType::kInt64 : DataType::kInt32, hint);
    last_->attrs().set("keepdims", Attribute::makeInt(1));
    for (double& s : r.scale) s /= static_cast<double>(hw);
    r.bound *= hw;
    reps_[n.output(0)] = r;
    return Status::ok();
  }
  VITQ_ASSIGN_OR_RETURN(r, residualInput(in, r, hint + "/in"));
  const int k = std::clamp(30 - bitlen(static_cast<uint64_t>(r.bound)), 0, 8);
  Value* shape = node("Shape", {r.v}, DataType::kInt64, hint);
  Value* h = node("Gather", {shape, i64s(2, hint + "_h")}, DataType::kInt64, hint);
  Value* w = node("Gather", {shape, i64s(3, hint + "_w")}, DataType::kInt64, hint);
  Value* hw = node("Mul", {h, w}, DataType::kInt64, hint);
  Value* sum = node("ReduceSum", {cast(r.v, DataType::kInt64, hint), axes}, DataType::kInt64, hint);
  last_->attrs().set("keepdims", Attribute::makeInt(1));
  Value* a2 = node("Mul", {sum, i64s(int64_t{2} << k, hint + "_2pow")}, DataType::kInt64, hint);  // 2 a, a = sum 2^k
  Value* v = node("Add", {a2, hw}, DataType::kInt64, hint);
  Value* d2 = node("Add", {hw, hw}, DataType::kInt64, hint);
  Value* mean = node("Div", {node("Sub", {v, node("Mod", {v, d2}, DataType::kInt64, hint)}, DataType::kInt64, hint), d2},
                     DataType::kInt64, hint);
  r.v = cast(mean, DataType::kInt32, hint);
  r.acc = false;
  for (double& s : r.scale) s /= static_cast<double>(int64_t{1} << k);
  r.bound <<= k;
  reps_[n.output(0)] = r;
  return Status::ok();
}

// AveragePool without padding: a depthwise ConvInteger with an all-ones kernel sums each window of
// the uint8 codes less their zero point; 1/(kh kw) joins the scale.
Status Lowering::lowerAveragePool(Node& n) {
  Value* in = n.input(0);
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  const auto& dims = in->type().dims;
  if (!hasRep(in) || !dims || dims->size() != 4 || !(*dims)[1].isKnown()) {
    return unsupported("node " + n.describe() + ": needs NCHW codes with a known channel count");
  }
  const std::vector<int64_t> kernel = n.attrs().getInts("kernel_shape").value_or(std::vector<int64_t>{});
  const std::vector<int64_t> pads = n.attrs().getInts("pads").value_or(std::vector<int64_t>{});
  const std::vector<int64_t> dilations = n.attrs().getInts("dilations").value_or(std::vector<int64_t>{});
  const bool padded = std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; });
  if (kernel.size() != 2 || padded || n.attrs().intOr("ceil_mode", 0) != 0 || n.attrs().stringOr("auto_pad", "NOTSET") != "NOTSET" ||
      std::any_of(dilations.begin(), dilations.end(), [](int64_t d) { return d != 1; })) {
    return unsupported("node " + n.describe() + ": AveragePool is lowered with a 2-D kernel, no padding, no ceil_mode, no dilation");
  }
  VITQ_ASSIGN_OR_RETURN(UnsignedCodes x, unsignedInput(in, reps_.at(in), hint + "/in"));
  const int64_t C = (*dims)[1].value, window = kernel[0] * kernel[1];
  Tensor ones(DataType::kUInt8, {C, 1, kernel[0], kernel[1]});
  std::fill(ones.data<uint8_t>(), ones.data<uint8_t>() + ones.numel(), uint8_t{1});
  Value* sum = node("ConvInteger",
                    {x.v, g_.addInitializer(g_.uniqueName(hint + "_ones"), std::move(ones)), x.zero_point,
                     g_.addInitializer(g_.uniqueName(hint + "_weight_zero_point"), Tensor::fromVector<uint8_t>({0}, {}))},
                    DataType::kInt32, hint);
  last_->attrs().set("group", Attribute::makeInt(C));
  last_->attrs().set("kernel_shape", Attribute::makeInts(kernel));
  if (auto strides = n.attrs().getInts("strides")) last_->attrs().set("strides", Attribute::makeInts(*strides));
  Rep r;
  r.v = sum;
  r.scale = {x.scale / static_cast<double>(window)};
  r.bound = x.bound * window;
  reps_[n.output(0)] = r;
  return Status::ok();
}

Status Lowering::lowerSoftmax(Node& n) {
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  const auto& dims = n.input(0)->type().dims;
  const int64_t axis = n.attrs().intOr("axis", -1);
  const int64_t rank = dims ? static_cast<int64_t>(dims->size()) : -1;
  if (!(axis == -1 || (rank > 0 && axis == rank - 1)) || (model_.opsetVersion("") < 13 && rank != 2)) {
    return unsupported("node " + n.describe() + ": Softmax is lowered over the last axis only");
  }
  if (!hasRep(n.input(0))) return unsupported("node " + n.describe() + ": input has no integer form");
  const double s = scaleFor(n.input(0), o_.activation_bits);
  VITQ_ASSIGN_OR_RETURN(Value * x, requant(reps_.at(n.input(0)), s, o_.activation_bits, hint + "/in"));
  VITQ_ASSIGN_OR_RETURN(ShiftmaxPlan plan, planShiftmax(s, kShiftmaxN, kShiftmaxOutBits));
  Rep r;
  r.v = node("Shiftmax", {x, i64s(plan.exp.x0, hint + "_x0")}, DataType::kInt32, hint, kIntegerDomain);
  r.scale = {plan.outScale()};
  r.bound = qmaxOf(kShiftmaxOutBits);
  reps_[n.output(0)] = r;
  ++report_->shiftmax;
  return Status::ok();
}

Status Lowering::lowerGelu(const GeluMatch& m) {
  const std::string hint = m.output->name();
  if (!hasRep(m.input)) return unsupported("GELU '" + hint + "': input has no integer form");
  const double s = scaleFor(m.input, o_.activation_bits);
  VITQ_ASSIGN_OR_RETURN(Value * x, requant(reps_.at(m.input), s, o_.activation_bits, hint + "/in"));
  VITQ_ASSIGN_OR_RETURN(ShiftGeluPlan plan, planShiftGelu(s, kShiftGeluN, true));
  Rep r;
  r.v = node("ShiftGELU", {x, i64s(plan.exp.x0, hint + "_x0")}, DataType::kInt32, hint, kIntegerDomain);
  r.scale = {plan.outScale()};
  r.bound = qmaxOf(o_.activation_bits) * 128;
  reps_[m.output] = r;
  ++report_->shiftgelu;
  return Status::ok();
}

Status Lowering::lowerLayerNorm(const LayerNormMatch& m) {
  const std::string hint = m.output->name();
  if (!hasRep(m.input)) return unsupported("LayerNorm '" + hint + "': input has no integer form");
  if (m.fused && m.nodes.size() == 1) {
    const int64_t axis = m.nodes[0]->attrs().intOr("axis", -1);
    const auto& dims = m.input->type().dims;
    if (axis != -1 && !(dims && axis == static_cast<int64_t>(dims->size()) - 1)) {
      return unsupported("LayerNorm '" + hint + "': only the last axis is lowered");
    }
  }
  if (!m.gamma || !m.gamma->isConstant()) return unsupported("LayerNorm '" + hint + "': needs a constant gamma");
  const Tensor& gt = m.gamma->initializer();
  std::vector<float> gamma(gt.data<float>(), gt.data<float>() + gt.numel());
  std::vector<float> beta(gamma.size(), 0.0f);
  if (m.beta) {
    if (!m.beta->isConstant() || m.beta->initializer().numel() != gt.numel())
      return unsupported("LayerNorm '" + hint + "': needs a constant beta per channel");
    const Tensor& bt = m.beta->initializer();
    beta.assign(bt.data<float>(), bt.data<float>() + bt.numel());
  }
  VITQ_ASSIGN_OR_RETURN(ILayerNormPlan plan, planILayerNorm(gamma, beta));
  // Input codes with one scale (it drops out) and at most 16 bits (|x| <= 2^20 is the kernel's range).
  const Rep& in = reps_.at(m.input);
  Rep x = in;
  if (in.perChannel() || in.is64 || in.bound > (int64_t{1} << 20)) {
    VITQ_ASSIGN_OR_RETURN(x, requantRep(in, scaleFor(m.input, o_.residual_bits), o_.residual_bits, hint + "/in"));
  }
  const int64_t C = static_cast<int64_t>(gamma.size());
  int64_t bmax = 0;
  for (int64_t b : plan.bias) bmax = std::max<int64_t>(bmax, std::llabs(b));
  Rep r;
  r.v = node("ILayerNorm", {x.v, i64(plan.bias, {C}, hint + "_bias")}, DataType::kInt64, hint, kIntegerDomain);
  r.scale = plan.out_scale;
  r.chan_shape = {C};
  const auto& dims = m.output->type().dims;
  r.axis = dims ? static_cast<int64_t>(dims->size()) - 1 : 2;
  r.bound = (int64_t{1} << 31) + bmax;
  r.is64 = true;
  reps_[m.output] = r;
  ++report_->layernorms;
  return Status::ok();
}


Status Lowering::lowerRelu(Node& n) {
  if (!hasRep(n.input(0))) return unsupported("node " + n.describe() + ": input has no integer form");
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  Rep r = reps_.at(n.input(0));
  Value* zero = r.is64 ? i64s(0, hint + "_zero") : g_.addInitializer(g_.uniqueName(hint + "_zero"), Tensor::fromVector<int32_t>({0}, {}));
  r.v = node("Max", {r.v, zero}, r.is64 ? DataType::kInt64 : DataType::kInt32, hint);
  r.acc = false;
  reps_[n.output(0)] = r;
  return Status::ok();
}

}  // namespace vitq::integer_lowering_detail
