#include "passes/ptq/bias_correction.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "calib/calibration_session.h"
#include "core/logging.h"
#include "exec/kernel_registry.h"
#include "passes/ptq/linear_rewrite.h"
#include "passes/ptq/quant_step.h"
#include "quant/math/quantize.h"

namespace vitq {
namespace {

// One layer to correct: its float and fake-quantized weights and the running output difference.
struct Target {
  Node* node = nullptr;
  const TensorQuant* input_quant = nullptr;
  Tensor weight_q;                  // dequantized weights
  int64_t channel_axis = 1;         // of the output: 1 for Conv, the last for MatMul/Gemm
  std::vector<double> diff_sum;     // per output channel
  int64_t per_channel_count = 0;    // positions summed per channel
};

bool isQuantizedLayer(const Node& n, const QuantTable& table) {
  if (!(n.is("Conv") || n.is("MatMul") || n.is("Gemm"))) return false;
  const TensorQuant* w = table.find(n.input(1));
  const TensorQuant* x = table.find(n.input(0));
  if (!w || w->role != QuantRoleOfValue::kWeight || !n.input(1)->isConstant()) return false;
  if (!x || x->role != QuantRoleOfValue::kActivation || x->params.scale.empty()) return false;
  if (n.is("MatMul") && n.input(1)->initializer().rank() != 2) return false;
  return !(n.is("Gemm") && n.attrs().intOr("transA", 0));
}

StatusOr<Tensor> runLayer(const Node& node, int64_t opset, const Tensor& x, const Tensor& w) {
  const KernelFn* kernel = KernelRegistry::instance().find(node.domain(), node.opType());
  if (!kernel) return unsupported("node " + node.describe() + ": op " + node.opType() + " has no kernel");
  KernelContext ctx{node, opset, 1, {&x, &w}, {}};
  ctx.outputs.resize(1);
  VITQ_RETURN_IF_ERROR((*kernel)(ctx));
  return std::move(ctx.outputs[0]);
}

// Feeds each observed input of the targets through the exact and the quantized layer.
class DifferenceObserver : public Observer {
 public:
  DifferenceObserver(std::vector<Target*> targets, int64_t opset) : targets_(std::move(targets)), opset_(opset) {}

  Status observe(const Tensor& x) override {
    // Every target reads the same value, so they share its quantizer: round once.
    const TensorQuant& q = *targets_.front()->input_quant;
    const Tensor xq = fakeQuantizeTensor(x, q.params, q.spec);
    for (Target* t : targets_) {
      VITQ_ASSIGN_OR_RETURN(Tensor exact, runLayer(*t->node, opset_, x, t->node->input(1)->initializer()));
      VITQ_ASSIGN_OR_RETURN(Tensor rounded, runLayer(*t->node, opset_, xq, t->weight_q));
      const int64_t axis = t->channel_axis < 0 ? exact.rank() - 1 : t->channel_axis;
      const int64_t channels = exact.dim(axis);
      int64_t inner = 1;
      for (int64_t d = axis + 1; d < exact.rank(); ++d) inner *= exact.dim(d);
      if (t->diff_sum.empty()) t->diff_sum.assign(static_cast<size_t>(channels), 0.0);
      const float* a = exact.data<float>();
      const float* b = rounded.data<float>();
      for (int64_t i = 0; i < exact.numel(); ++i) {
        t->diff_sum[static_cast<size_t>((i / inner) % channels)] += static_cast<double>(a[i]) - b[i];
      }
      t->per_channel_count += exact.numel() / channels;
    }
    return Status::ok();
  }
  TensorStats stats() const override { return {}; }

 private:
  std::vector<Target*> targets_;
  int64_t opset_;
};

// Adds \p shift to a Conv's bias (input 2), creating it when absent.
void addToConvBias(Graph& g, Node* conv, const std::vector<float>& shift) {
  Value* b = conv->input(2);
  const auto channels = static_cast<int64_t>(shift.size());
  Tensor t = b && b->isConstant() ? b->initializer().clone() : Tensor(DataType::kFloat, {channels});
  if (!(b && b->isConstant())) std::fill(t.data<float>(), t.data<float>() + channels, 0.0f);
  for (int64_t c = 0; c < channels; ++c) t.data<float>()[c] += shift[static_cast<size_t>(c)];
  if (b && b->isConstant() && b->uses().size() == 1 && !g.isOutput(b)) {
    g.setInitializer(b, std::move(t));  // keeps the Value, and so the bias quantizer keyed by it
    return;
  }
  Value* fresh = g.addInitializer(g.uniqueName(conv->output(0)->name() + "_bias_corrected"), std::move(t));
  setOrAppendInput(g, conv, 2, fresh);
  eraseIfUnused(g, b);
}

}  // namespace

StatusOr<std::vector<BiasCorrectionSite>> correctBiases(Model& model, const QuantTable& table, const Dataset& calib,
                                                        int threads) {
  Graph& g = *model.graph;
  const int64_t opset = model.opsetVersion("");
  std::vector<std::unique_ptr<Target>> targets;
  std::map<const Value*, std::vector<Target*>> by_input;
  for (Node* n : g.nodeList()) {
    if (!isQuantizedLayer(*n, table)) continue;
    if (n->is("Conv") && n->input(2) && !n->input(2)->isConstant()) continue;
    auto t = std::make_unique<Target>();
    t->node = n;
    t->input_quant = table.find(n->input(0));
    const TensorQuant& wq = *table.find(n->input(1));
    t->weight_q = fakeQuantizeTensor(n->input(1)->initializer(), wq.params, wq.spec);
    t->channel_axis = n->is("Conv") ? 1 : -1;
    by_input[n->input(0)].push_back(t.get());
    targets.push_back(std::move(t));
  }
  std::vector<BiasCorrectionSite> report;
  if (targets.empty()) return report;
  auto observer = [&by_input, opset](const Value& v) -> std::unique_ptr<Observer> {
    return std::make_unique<DifferenceObserver>(by_input.at(&v), opset);
  };
  auto wanted = [&by_input](const Value& v) { return by_input.count(&v) > 0; };
  VITQ_RETURN_IF_ERROR(calibrate(g, opset, calib, observer, wanted, {threads}).status());
  for (const auto& t : targets) {
    if (t->diff_sum.empty() || t->per_channel_count == 0) continue;
    std::vector<float> shift(t->diff_sum.size());
    BiasCorrectionSite site{t->node->name().empty() ? t->node->output(0)->name() : t->node->name(), 0, 0};
    for (size_t c = 0; c < shift.size(); ++c) {
      shift[c] = static_cast<float>(t->diff_sum[c] / static_cast<double>(t->per_channel_count));
      site.max_shift = std::max(site.max_shift, std::fabs(shift[c]));
      site.mean_shift += std::fabs(shift[c]) / static_cast<float>(shift.size());
    }
    if (t->node->is("Conv")) {
      addToConvBias(g, t->node, shift);
    } else {
      addToLinearBias(g, t->node, shift);
    }
    report.push_back(site);
  }
  return report;
}

namespace {

class BiasCorrectionStep final : public QuantStep {
 public:
  const char* name() const override { return "bias-correction"; }
  const char* summary() const override {
    return "--bias-correction: each quantized layer's mean output shift folded into its bias";
  }
  StepTraits traits() const override { return StepTraits{}.readsData(); }
  void addToReport(const PipelineOptions&, const PipelineReport& r, nlohmann::json& out) const override {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& b : r.bias_corrected) {
      layers.push_back({{"layer", b.layer}, {"max_shift", b.max_shift}, {"mean_shift", b.mean_shift}});
    }
    out["recipe"]["bias_correction"] = layers;
  }
  bool enabled(const PipelineOptions& o) const override { return o.bias_correction; }
  void enable(PipelineOptions& o) const override { o.bias_correction = true; }
  Status run(QuantContext& ctx) const override {
    auto log = logger("vitq.quantize");
    if (ctx.options.reconstruct == Reconstruction::kSequential && ctx.options.final_run) {
      // Measured on PP-OCR rec W6A6: 1.97 % CER with it, 0.66 % without (docs/benchmarks.md).
      log->warn("bias correction measures each layer's shift on float inputs and partly undoes the rounding "
                "learned on quantized inputs by --reconstruct all; leave --bias-correction out with it");
    }
    VITQ_ASSIGN_OR_RETURN(ctx.report.bias_corrected, correctBiases(ctx.model, ctx.table, ctx.calib, ctx.options.threads));
    log->info("bias-corrected {} layers", ctx.report.bias_corrected.size());
    return Status::ok();
  }
};

}  // namespace

const QuantStep& biasCorrectionStep() {
  static const BiasCorrectionStep step;
  return step;
}

}  // namespace vitq
