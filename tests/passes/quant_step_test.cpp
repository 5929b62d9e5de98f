// The step interface: a step written in one file joins the registry's list and runs through the
// same runner as the built-in ones, at its place in the order.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "passes/ptq/quant_step.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

const char* kMatMul = R"ONNX(
<ir_version: 8, opset_import: ["" : 17]>
agraph (float[4, 6] X) => (float[4, 3] Y)
  <float[6, 3] W = {0.5, -1.2, 0.3, 0.8, -0.7, 0.25, 1.1, -0.4, 0.05, 0.9, -0.6, 0.35,
                    -0.2, 0.45, 0.15, -0.9, 0.6, 0.1}> {
  Y = MatMul(X, W)
}
)ONNX";

// A toy method: widens every activation's scale by 2 once calibration has set it.
class WidenActivationScales final : public QuantStep {
 public:
  const char* name() const override { return "widen-activation-scales"; }
  const char* summary() const override { return "test: every activation scale doubled"; }
  StepTraits traits() const override { return {}; }
  bool enabled(const PipelineOptions&) const override { return true; }
  void enable(PipelineOptions&) const override {}
  Status run(QuantContext& ctx) const override {
    for (const Value* v : ctx.table.values()) {
      TensorQuant& q = *ctx.table.find(v);
      if (q.role != QuantRoleOfValue::kActivation) continue;
      for (float& s : q.params.scale) s *= 2.0f;
    }
    return Status::ok();
  }
};

// The scales of the graph's QuantizeLinear nodes, in graph order.
std::vector<float> quantizerScales(const Model& m) {
  std::vector<float> scales;
  for (const auto& node : m.graph->nodes()) {
    if (node->opType() == "QuantizeLinear") scales.push_back(node->input(1)->initializer().data<float>()[0]);
  }
  return scales;
}

TEST_CASE("a step added to the list runs in its place and changes what materialize-qdq writes", "[passes][steps]") {
  const test::NormalDataset data(8, {4, 6}, 3);
  const PipelineOptions options;
  Model plain = test::parseModel(kMatMul);
  auto plain_report = quantizeModel(plain, data, options);
  REQUIRE(plain_report.isOk());
  CHECK(plain_report->pipeline == std::vector<std::string>{"plan", "calibrate", "materialize-qdq"});

  const WidenActivationScales widen;
  std::vector<const QuantStep*> steps = quantSteps();
  steps.insert(std::find(steps.begin(), steps.end(), &materializeQdqStep()), &widen);
  Model widened = test::parseModel(kMatMul);
  QuantContext ctx{widened, data, options, {}, {}, {}, {}};
  REQUIRE(runQuantSteps(ctx, steps, true).isOk());
  CHECK(ctx.report.pipeline ==
        std::vector<std::string>{"plan", "calibrate", "widen-activation-scales", "materialize-qdq"});
  const std::vector<float> before = quantizerScales(plain);
  const std::vector<float> after = quantizerScales(widened);
  REQUIRE(before.size() == 1);  // the MatMul's input (a graph output is left float)
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < before.size(); ++i) CHECK(after[i] == 2.0f * before[i]);
}

TEST_CASE("options that are not the final run skip the final-run-only steps", "[passes][steps]") {
  const test::NormalDataset data(8, {4, 6}, 3);
  PipelineOptions options;
  options.noisy_bias = true;
  Model final_model = test::parseModel(kMatMul);
  auto final_report = quantizeModel(final_model, data, options);
  REQUIRE(final_report.isOk());
  CHECK(final_report->pipeline == std::vector<std::string>{"plan", "calibrate", "noisy-bias", "materialize-qdq"});
  options.final_run = false;  // as sensitivity and the budget search run the steps
  Model plain_model = test::parseModel(kMatMul);
  auto plain_report = quantizeModel(plain_model, data, options);
  REQUIRE(plain_report.isOk());
  CHECK(plain_report->pipeline == std::vector<std::string>{"plan", "calibrate", "materialize-qdq"});
}

TEST_CASE("the registry names every step once, the two that materialize last", "[passes][steps]") {
  std::vector<std::string> names;
  for (const QuantStep* s : quantSteps()) names.push_back(s->name());
  CHECK(names == std::vector<std::string>{"smooth-quant", "ln-reparam", "awq", "plan", "log-softmax", "calibrate",
                                          "gptq", "bridge-reconstruction", "sequential-reconstruction", "bias-correction",
                                          "noisy-bias", "materialize-qdq", "integer-lowering"});
  for (const QuantStep* s : quantSteps()) {
    const std::string name = s->name();
    CHECK(s->traits().writes_quantized == (name == "materialize-qdq" || name == "integer-lowering"));
  }
}

TEST_CASE("QuantTable: setting a value twice replaces its decision and keeps one place in the order", "[passes][steps]") {
  Model m = test::parseModel(kMatMul);
  const Value* x = m.graph->inputs().front();
  const Value* w = m.graph->nodes().front()->input(1);
  QuantTable table;
  TensorQuant first;
  first.spec.bits = 8;
  table.set(x, first);
  table.set(w, first);
  TensorQuant second;
  second.spec.bits = 4;
  table.set(x, second);
  CHECK(table.values() == std::vector<const Value*>{x, w});
  CHECK(table.find(x)->spec.bits == 4);
}

}  // namespace
}  // namespace vitq
