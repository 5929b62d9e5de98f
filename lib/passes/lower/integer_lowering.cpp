#include "passes/lower/integer_lowering.h"

#include <nlohmann/json.hpp>

#include "core/logging.h"
#include "pattern/match_utils.h"
#include "passes/lower/integer_functions.h"
#include "passes/lower/integer_lowering_context.h"
#include "passes/ptq/quant_step.h"

namespace vitq {
namespace integer_lowering_detail {

Status Lowering::lowerShapeOp(Node& n) {
  Value* x = n.input(0);
  if (isConstantLike(x)) {  // e.g. Expand(cls_token): quantized where it is used
    pending_.insert(n.output(0));
    return Status::ok();
  }
  if (!hasRep(x)) return unsupported("node " + n.describe() + ": input has no integer form");
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  Rep r = reps_.at(x);
  if (r.perChannel() || r.is64) {
    const int bits = feedsNarrowOnly(n.output(0)) ? o_.activation_bits : o_.residual_bits;
    VITQ_ASSIGN_OR_RETURN(r, requantRep(r, scaleFor(x, bits), bits, hint + "/in"));
  }
  r.v = cloneOn(n, r.v, hint);
  r.acc = false;
  reps_[n.output(0)] = r;
  return Status::ok();
}

// Constant-mode Pad by zero pads the codes by zero: the integer grids here are symmetric (zero
// point 0), so a padded code is the padded value. Other modes and values stay float.
Status Lowering::lowerPad(Node& n) {
  Value* x = n.input(0);
  if (!hasRep(x)) return unsupported("node " + n.describe() + ": input has no integer form");
  const std::string mode = n.attrs().stringOr("mode", "constant");
  const Value* fill = n.numInputs() > 2 ? n.input(2) : nullptr;
  const std::optional<double> fill_value = fill ? scalarConstant(fill) : std::optional<double>(0.0);
  if (mode != "constant" || !fill_value || *fill_value != 0.0) {
    return unsupported("node " + n.describe() + ": only Pad in constant mode with value 0 has an integer lowering "
                       "(mode '" + mode + "')");
  }
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  Rep r = reps_.at(x);
  std::vector<Value*> ins = n.inputs();
  ins[0] = r.v;
  if (fill) {
    Tensor zero(r.v->type().dtype, {});
    ins[2] = g_.addInitializer(g_.uniqueName(hint + "/zero"), std::move(zero));
  }
  r.v = node("Pad", ins, r.v->type().dtype, hint);
  copyAttrs(n, last_);
  reps_[n.output(0)] = r;
  return Status::ok();
}

Status Lowering::lowerConcat(Node& n) {
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  const int bits = feedsNarrowOnly(n.output(0)) ? o_.activation_bits : o_.residual_bits;
  const double s = scaleFor(n.output(0), bits);
  std::vector<Value*> parts;
  for (size_t i = 0; i < n.numInputs(); ++i) {
    Value* x = n.input(i);
    if (hasRep(x)) {
      VITQ_ASSIGN_OR_RETURN(Value * v, requant(reps_.at(x), s, bits, hint + "/in" + std::to_string(i)));
      parts.push_back(v);
    } else if (isConstantLike(x)) {
      VITQ_ASSIGN_OR_RETURN(Value * v, constantCodes(x, s, bits, hint + "/const" + std::to_string(i)));
      parts.push_back(v);
    } else {
      return unsupported("node " + n.describe() + ": input '" + x->name() + "' has no integer form");
    }
  }
  Rep r;
  r.v = node("Concat", parts, DataType::kInt32, hint);
  copyAttrs(n, last_);
  r.scale = {s};
  r.bound = qmaxOf(bits);
  reps_[n.output(0)] = r;
  return Status::ok();
}


Status Lowering::run(IntegerLoweringReport& report) {
  report_ = &report;
  std::unordered_map<const Node*, const LayerNormMatch*> ln_at;
  std::unordered_map<const Node*, const GeluMatch*> gelu_at;
  std::unordered_set<const Node*> inside;
  const std::vector<LayerNormMatch> lns = findLayerNorms(g_);
  const std::vector<GeluMatch> gelus = findGelus(g_);
  for (const auto& m : lns) {
    ln_at[m.output->producer()] = &m;
    for (const Node* n : m.nodes) inside.insert(n);
  }
  for (const auto& m : gelus) {
    gelu_at[m.output->producer()] = &m;
    gelu_input_.insert(m.input);
    for (const Node* n : m.nodes) inside.insert(n);
  }
  const std::vector<Node*> float_nodes = g_.nodeList();  // before any node is added
  for (Value* in : g_.inputs()) {
    if (!in->isInitializer() && in->type().dtype == DataType::kFloat) VITQ_RETURN_IF_ERROR(lowerInput(in));
  }
  for (Node* n : float_nodes) {
    if (auto it = ln_at.find(n); it != ln_at.end()) {
      VITQ_RETURN_IF_ERROR(lowerLayerNorm(*it->second));
      continue;
    }
    if (auto it = gelu_at.find(n); it != gelu_at.end()) {
      VITQ_RETURN_IF_ERROR(lowerGelu(*it->second));
      continue;
    }
    if (inside.count(n)) continue;
    if (n->is("Sigmoid") && n->output(0)->uses().size() == 1 && siluSigmoid(*n->output(0)->uses()[0].user) == n) continue;
    bool float_out = false;
    for (const Value* o : n->outputs()) float_out = float_out || (o && o->type().dtype == DataType::kFloat);
    if (!float_out) {
      // Integer side computations (shapes) stay; a float input they read becomes its codes, or is
      // float arithmetic on shapes (Shape -> Cast -> Div -> Cast, as exporters compute the size of
      // an interpolated position embedding): no data, it stays as it is.
      for (size_t i = 0; i < n->numInputs(); ++i) {
        Value* x = n->input(i);
        if (!x || x->type().dtype != DataType::kFloat || isConstantLike(x)) continue;
        if (!n->is("Shape") && !n->is("Size")) return unsupported("node " + n->describe() + ": reads a float value");
        if (hasRep(x)) g_.setInput(n, i, reps_.at(x).v);
      }
      continue;
    }
    bool all_const = true;
    for (const Value* x : n->inputs()) {
      if (x && x->type().dtype == DataType::kFloat && !isConstantLike(x)) all_const = false;
    }
    if (all_const) {
      pending_.insert(n->output(0));
      continue;
    }
    Status st;
    if (n->is("Conv")) st = lowerConv(*n);
    else if (n->is("MatMul")) st = lowerMatMul(*n);
    else if (n->is("Gemm")) st = lowerGemm(*n);
    else if (n->is("Add")) st = lowerAdd(*n);
    else if (n->is("Mul") || n->is("Div")) st = lowerScale(*n);
    else if (n->is("Softmax")) st = lowerSoftmax(*n);
    else if (n->is("Concat")) st = lowerConcat(*n);
    else if (n->is("Relu")) st = lowerRelu(*n);
    else if (n->is("Clip")) st = lowerClip(*n);
    else if (n->is("GlobalAveragePool")) st = lowerGlobalAveragePool(*n);
    else if (n->is("AveragePool")) st = lowerAveragePool(*n);
    else if (n->is("HardSigmoid")) st = lowerHardSigmoid(*n);
    else if (n->is("HardSwish")) st = lowerHardSwish(*n);
    else if (movesElementsOnly(*n)) st = lowerShapeOp(*n);
    else if (n->is("Pad")) st = lowerPad(*n);
    else if (o_.float_boundary) st = lowerAtFloatBoundary(*n);
    else st = unsupported("node " + n->describe() + ": op " + n->opType() + " has no integer lowering (--float-boundary "
                          "keeps such ops in float between a dequantizer and a quantizer)");
    VITQ_RETURN_IF_ERROR(st);
  }
  for (size_t i = 0; i < g_.outputs().size(); ++i) VITQ_RETURN_IF_ERROR(lowerOutput(i));
  // Drop the float graph: nodes whose outputs nobody reads, then unused initializers.
  for (bool changed = true; changed;) {
    changed = false;
    std::vector<Node*> nodes = g_.nodeList();
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
      bool used = false;
      for (const Value* o : (*it)->outputs()) used = used || (o && (o->hasUses() || g_.isOutput(o)));
      if (!used) {
        g_.eraseNode(*it);
        changed = true;
      }
    }
  }
  for (Value* v : g_.initializers()) {
    if (!v->hasUses() && !v->isGraphInput() && !g_.isOutput(v)) g_.eraseValue(v);
  }
  VITQ_RETURN_IF_ERROR(g_.topologicalSort());
  for (const std::string& f : integerFunctionProtos(model_.opsetVersion(""))) model_.functions.push_back(f);
  bool has_domain = false;
  for (const auto& op : model_.opset_imports) has_domain = has_domain || op.domain == kIntegerDomain;
  if (!has_domain) model_.opset_imports.push_back({kIntegerDomain, 1});
  report.requantizers = requantizers_;
  return Status::ok();
}

}  // namespace integer_lowering_detail

StatusOr<IntegerLoweringReport> lowerToInteger(Model& model, const CalibrationResult& stats,
                                               const IntegerLoweringOptions& o) {
  if (model.opsetVersion("") < 13) return unsupported("the integer export needs ai.onnx opset >= 13");
  if (o.weight_bits < 2 || o.weight_bits > 8 || o.activation_bits < 2 || o.activation_bits > 8 ||
      o.residual_bits < o.activation_bits || o.residual_bits > 16) {
    return invalidArgument("integer export: weights and activations take 2 to 8 bits, the residual stream up to 16");
  }
  IntegerLoweringReport report;
  report.calibration_samples = stats.samples;
  integer_lowering_detail::Lowering lowering(model, o, stats);
  VITQ_RETURN_IF_ERROR(lowering.run(report));
  logger("vitq.lower")->info("integer lowering: {} linear, {} conv, {} act matmuls, {} products, {} Shiftmax, {} ShiftGELU, "
                             "{} I-LayerNorm, {} residual adds, {} requantizers",
                             report.linear, report.convolutions, report.activation_matmuls, report.products,
                             report.shiftmax, report.shiftgelu, report.layernorms, report.residual_adds,
                             report.requantizers);
  return report;
}

namespace {

// The I-ViT export as the pipeline's last step: the calibrate step observed every float
// activation (the plan step plans them all in integer mode), and the lowering reads their ranges.
class IntegerLoweringStep final : public QuantStep {
 public:
  const char* name() const override { return "integer-lowering"; }
  const char* summary() const override {
    return "--format integer: integer-only ops, Shiftmax, ShiftGELU, I-LayerNorm and dyadic requantizers (i-vit)";
  }
  StepTraits traits() const override { return StepTraits{}.writesQuantized(); }
  void addToReport(const PipelineOptions&, const PipelineReport& r, nlohmann::json& out) const override {
    const IntegerLoweringReport& lr = r.integer;
    out["integer_lowering"] = {{"linear", lr.linear},
                               {"convolutions", lr.convolutions},
                               {"activation_matmuls", lr.activation_matmuls},
                               {"products", lr.products},
                               {"shiftmax", lr.shiftmax},
                               {"shiftgelu", lr.shiftgelu},
                               {"layernorms", lr.layernorms},
                               {"residual_adds", lr.residual_adds},
                               {"requantizers", lr.requantizers},
                               {"float_ops", lr.float_ops}};
  }
  bool enabled(const PipelineOptions& o) const override { return o.integer_lowering; }
  void enable(PipelineOptions& o) const override { o.integer_lowering = true; }
  std::vector<StepOption> options() const override {
    return {numberOption(
                "residual-bits", 8, 16, true, [](const PipelineOptions& o) { return o.residual_bits; },
                [](PipelineOptions& o, double v) { o.residual_bits = static_cast<int>(v); }, 16),
            switchOption(
                "float-boundary", [](const PipelineOptions& o) { return o.float_boundary; },
                [](PipelineOptions& o) { o.float_boundary = true; })};
  }
  Status run(QuantContext& ctx) const override {
    const PipelineOptions& o = ctx.options;
    IntegerLoweringOptions lo;
    lo.weight_bits = o.quant.weight_bits;
    lo.activation_bits = o.quant.activation_bits;
    lo.residual_bits = o.residual_bits;
    lo.mean_ranges = o.activation_range == RangeMethod::kMeanMinMax;
    lo.float_boundary = o.float_boundary;
    VITQ_ASSIGN_OR_RETURN(ctx.report.integer, lowerToInteger(ctx.model, ctx.stats, lo));
    return Status::ok();
  }
};

}  // namespace

const QuantStep& integerLoweringStep() {
  static const IntegerLoweringStep step;
  return step;
}

}  // namespace vitq
