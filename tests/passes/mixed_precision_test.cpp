#include <catch2/catch.hpp>

#include "calib/calibration_session.h"
#include "passes/mixed/budget_search.h"
#include "passes/mixed/sensitivity.h"
#include "passes/ptq/quantize_pipeline.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

// Three chained linear layers. W1's first column is zero, so R1's first feature is always 0; W2's
// first row holds +-12 there: those weights never act, but they set every per-channel scale so
// coarse that at 3 bits the weights that do act round to zero. "mid" is by far the most sensitive.
const char* kChain = R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1, 4] X) => (float[1, 4] Y)
  <float[4, 4] W1 = {0., -0.4, 0.3, 0.7, 0., 0.8, 0.5, -0.2, 0., 0.3, -0.9, 0.6, 0., 0.5, 0.2, 0.8},
   float[4, 4] W2 = {12., -12., 12., -12., 0.7, -0.6, 0.5, -0.3, -0.5, 0.4, 0.8, 0.6, 0.3, -0.6, 0.7, -0.9},
   float[4, 4] W3 = {0.5, 0.8, -0.7, 0.2, -0.9, 0.1, 0.6, 0.4, 0.3, -0.5, 0.9, -0.8, 0.7, 0.6, -0.2, 0.5}> {
  H1 = MatMul(X, W1)
  R1 = Relu(H1)
  H2 = MatMul(R1, W2)
  Y = MatMul(H2, W3)
}
)ONNX";

Model chainModel() {
  Model m = test::parseModel(kChain);
  const char* names[] = {"first", "relu", "mid", "last"};
  size_t i = 0;
  for (const auto& node : m.graph->nodes()) node->setName(names[i++]);
  return m;
}

struct Fixture {
  Model reference = chainModel();
  Model prepared = chainModel();
  test::NormalDataset data{64, {1, 4}, 7};
  QuantTable base, high;
  std::vector<QuantUnit> units;

  // Base W3A8: the weights' rounding dominates the error.
  Fixture() {
    PipelineOptions o;
    o.quant.weight_bits = 3;
    PipelineReport unused;
    auto b = calibrateQuantTable(prepared, data, o, {}, unused);
    REQUIRE(b.isOk());
    base = std::move(*b);
    o.quant.weight_bits = o.quant.activation_bits = 8;
    auto h = calibrateQuantTable(prepared, data, o, {}, unused);
    REQUIRE(h.isOk());
    high = std::move(*h);
    units = quantUnits(*prepared.graph, base);
  }
  ConfigEvaluator evaluator() const {
    auto e = ConfigEvaluator::create(reference, prepared, data, 1);
    REQUIRE(e.isOk());
    return std::move(*e);
  }
};

TEST_CASE("units own their weights and the activations they touch", "[mixed]") {
  Fixture f;
  REQUIRE(f.units.size() == 3);
  CHECK(f.units[1].node == "mid");
  CHECK(f.units[1].weight->name() == "W2");
  REQUIRE(f.units[1].activations.size() == 2);
  CHECK(f.units[1].activations[0]->name() == "R1");
  CHECK(f.units[1].activations[1]->name() == "H2");

  // "mid" float, "last" at the high rung: H2 (shared) takes the high rung's parameters, W2 and R1
  // (read only by mid... and written by nobody quantized) are absent.
  const QuantTable composed = composeTable(f.units, {0, kFloatLevel, 1}, {&f.base, &f.high});
  const Graph& g = *f.prepared.graph;
  CHECK_FALSE(composed.has(g.findValue("W2")));
  CHECK_FALSE(composed.has(g.findValue("R1")));
  REQUIRE(composed.has(g.findValue("H2")));
  CHECK(composed.find(g.findValue("H2"))->params.scale == f.high.find(g.findValue("H2"))->params.scale);
  CHECK(composed.find(g.findValue("W3"))->spec.bits == 8);
  CHECK(composed.find(g.findValue("W1"))->spec.bits == 3);
  CHECK(composed.find(g.findValue("H1"))->params.scale == f.base.find(g.findValue("H1"))->params.scale);
}

TEST_CASE("sensitivity ranks the layer with outlier weights first", "[mixed]") {
  Fixture f;
  const ConfigEvaluator evaluator = f.evaluator();
  auto result = analyzeSensitivity(f.units, f.base, evaluator, {});
  REQUIRE(result.isOk());
  REQUIRE(result->layers.size() == 3);
  CHECK(f.units[result->layers[0].unit].node == "mid");
  // Quantizing mid alone costs more than the other two; keeping it float helps the most.
  for (size_t i = 1; i < 3; ++i) {
    CHECK(result->layers[0].only.sqnr_db + 3 < result->layers[i].only.sqnr_db);
    CHECK(result->layers[0].all_but.sqnr_db > result->layers[i].all_but.sqnr_db);
  }
  // Everything quantized is worse than any single layer alone.
  CHECK(result->all_quantized.sqnr_db <= result->layers[0].only.sqnr_db);
  CHECK(result->activations.size() == 5);  // X, H1, R1, H2, Y
  CHECK(evaluator.evaluations() == 1 + 3 * 2 + 5);
}

TEST_CASE("the budget search raises just the layers the budget needs", "[mixed]") {
  Fixture f;
  const ConfigEvaluator evaluator = f.evaluator();
  auto all = evaluator.evaluate(composeTable(f.units, {0, 0, 0}, {&f.base, &f.high}));
  auto mid_high = evaluator.evaluate(composeTable(f.units, {0, 1, 0}, {&f.base, &f.high}));
  REQUIRE(all.isOk());
  REQUIRE(mid_high.isOk());
  INFO("all " << all->sqnr_db << " dB, mid at 8 bits " << mid_high->sqnr_db << " dB");
  REQUIRE(mid_high->sqnr_db > all->sqnr_db + 3);
  // A floor between the two: raising mid alone meets it.
  auto budget = parseBudget("sqnr_db>=" + std::to_string((all->sqnr_db + mid_high->sqnr_db) / 2));
  REQUIRE(budget.isOk());
  // Rank deliberately puts mid last: the search must still find that mid alone suffices.
  auto found = searchBudget(f.units, {0, 2, 1}, {&f.base, &f.high}, evaluator, *budget);
  REQUIRE(found.isOk());
  CHECK(found->met);
  CHECK(found->levels == UnitLevels{0, 1, 0});
  CHECK(found->final_metrics.sqnr_db == Approx(mid_high->sqnr_db));
  CHECK(found->baseline.sqnr_db == Approx(all->sqnr_db));

  // A floor only the float model meets: every layer ends float, none can be lowered again.
  auto strict = parseBudget("sqnr_db>=1000");
  REQUIRE(strict.isOk());
  auto exact = searchBudget(f.units, {1, 0, 2}, {&f.base, &f.high}, evaluator, *strict);
  REQUIRE(exact.isOk());
  CHECK(exact->met);
  CHECK(exact->levels == UnitLevels{kFloatLevel, kFloatLevel, kFloatLevel});
}

TEST_CASE("prefix reuse scores every configuration as full runs do, with fewer node runs", "[mixed][reuse]") {
  Fixture f;
  const ConfigEvaluator reusing = f.evaluator();
  ConfigEvaluator full = f.evaluator();
  full.disablePrefixReuse();
  auto a = analyzeSensitivity(f.units, f.base, reusing, {});
  auto b = analyzeSensitivity(f.units, f.base, full, {});
  REQUIRE(a.isOk());
  REQUIRE(b.isOk());
  CHECK(sensitivityJson(*a, f.units, f.base).dump() == sensitivityJson(*b, f.units, f.base).dump());
  CHECK(reusing.reuseSaving() > 0.1);
  CHECK(full.reuseSaving() == 0);

  auto budget = parseBudget("sqnr_db>=1000");
  REQUIRE(budget.isOk());
  auto x = searchBudget(f.units, {1, 0, 2}, {&f.base, &f.high}, reusing, *budget);
  auto y = searchBudget(f.units, {1, 0, 2}, {&f.base, &f.high}, full, *budget);
  REQUIRE(x.isOk());
  REQUIRE(y.isOk());
  REQUIRE(x->steps.size() == y->steps.size());
  for (size_t i = 0; i < x->steps.size(); ++i) {
    CHECK(x->steps[i].metrics.sqnr_db == y->steps[i].metrics.sqnr_db);
    CHECK(x->steps[i].metrics.cosine == y->steps[i].metrics.cosine);
  }
}

TEST_CASE("budget expressions", "[mixed]") {
  auto top1 = parseBudget("top1_drop<=0.5");
  REQUIRE(top1.isOk());
  ConfigMetrics m;
  m.top1_agreement = 0.996;
  CHECK(top1->value(m) == Approx(0.4));
  CHECK(top1->holds(m));
  m.top1_agreement = 0.99;
  CHECK_FALSE(top1->holds(m));
  auto cosine = parseBudget("cosine>0.999");
  REQUIRE(cosine.isOk());
  m.cosine = 0.9995;
  CHECK(cosine->holds(m));
  for (const char* bad : {"top1_drop>=0.5", "sqnr<=3", "cosine>=x", "sqnr_db>=20dB", "", "top1_drop"}) {
    auto b = parseBudget(bad);
    REQUIRE_FALSE(b.isOk());
    CHECK_THAT(b.status().message(), Catch::Contains("expected top1_drop<=POINTS, sqnr_db>=DB or cosine>=VALUE"));
  }
}

}  // namespace
}  // namespace vitq
