// I-ViT lowering of the nonlinear ops: Shiftmax, ShiftGELU (and SiLU through it), I-LayerNorm,
// ReLU, Clip and GlobalAveragePool.
#include "passes/lower/integer_lowering_context.h"

#include "passes/lower/integer_functions.h"
#include "quant/math/integer_nonlinear.h"

namespace vitq::integer_lowering_detail {

// Mul(x, Sigmoid(x)) (SiLU/Swish): ShiftGELU's body computes x · σ(k x) with x0 = floor(-1/(k s));
// k = 1 here, so x0 = floor(-1/s) and the output scale is s · 2^-7.
const Node* siluSigmoid(const Node& mul) {
  if (!mul.is("Mul") || mul.numInputs() != 2) return nullptr;
  for (int k = 0; k < 2; ++k) {
    const Node* sig = mul.input(k) ? mul.input(k)->producer() : nullptr;
    if (sig && sig->is("Sigmoid") && sig->input(0) == mul.input(1 - k) && sig->output(0)->uses().size() == 1) return sig;
  }
  return nullptr;
}

Status Lowering::lowerSilu(Node& n, const Node& sig) {
  Value* in = sig.input(0);
  const std::string hint = n.output(0)->name();
  if (!hasRep(in)) return unsupported("SiLU '" + hint + "': input has no integer form");
  const double s = scaleFor(in, o_.activation_bits);
  VITQ_ASSIGN_OR_RETURN(Value * x, requant(reps_.at(in), s, o_.activation_bits, hint + "/in"));
  VITQ_ASSIGN_OR_RETURN(ShiftGeluPlan plan, planShiftGelu(s / 1.702, kShiftGeluN, true));  // x0 = floor(-1/s)
  Rep r;
  r.v = node("ShiftGELU", {x, i64s(plan.exp.x0, hint + "_x0")}, DataType::kInt32, hint, kIntegerDomain);
  r.scale = {s / 128};
  r.bound = qmaxOf(o_.activation_bits) * 128;
  reps_[n.output(0)] = r;
  ++report_->shiftgelu;
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

// GlobalAveragePool: an integer sum over the spatial axes; 1/(H W) goes into the scale.
Status Lowering::lowerGlobalAveragePool(Node& n) {
  Value* in = n.input(0);
  const auto& dims = in->type().dims;
  if (!hasRep(in) || !dims || dims->size() != 4 || !(*dims)[2].isKnown() || !(*dims)[3].isKnown()) {
    return unsupported("node " + n.describe() + ": needs NCHW codes with known H and W");
  }
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  Rep r = reps_.at(in);
  const int64_t hw = (*dims)[2].value * (*dims)[3].value;
  Value* axes = i64({2, 3}, {2}, hint + "_axes");
  r.v = node("ReduceSum", {r.v, axes}, r.is64 ? DataType::kInt64 : DataType::kInt32, hint);
  last_->attrs().set("keepdims", Attribute::makeInt(1));
  for (double& s : r.scale) s /= static_cast<double>(hw);
  r.bound *= hw;
  r.acc = false;
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
