// The placement search of --target ort-cpu (passes/mixed/placement_search.h): which Convs of an
// inputs-placement quantization get their outputs quantized so that ONNX Runtime fuses them.
#include <catch2/catch.hpp>

#include "onnx_io/model_clone.h"
#include "passes/mixed/placement_search.h"
#include "report/ort_cpu_forecast.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

// Two 3x3 Convs, each read by a residual Add: with the inputs placement neither output is
// quantized, so ONNX Runtime would run both in float.
std::string residualConvs() {
  return test::oneGraphModel(13, "(float[1, 4, 6, 6] X) => (float[1, 4, 6, 6] Y)",
                             "  <" + test::normalInitializer("W1", {4, 4, 3, 3}, 1, 0.3f) + ", " +
                                 test::normalInitializer("W2", {4, 4, 3, 3}, 2, 0.3f) + R"(>
  C1 = Conv <pads = [1, 1, 1, 1]> (X, W1)
  A1 = Add(C1, X)
  C2 = Conv <pads = [1, 1, 1, 1]> (A1, W2)
  Y = Add(C2, A1))");
}

Model named(const std::string& text) {
  Model m = test::parseModel(text);
  for (const auto& node : m.graph->nodes()) {
    if (node->is("Conv")) node->setName(node->output(0)->name() == "C1" ? "conv1" : "conv2");
  }
  return m;
}

PipelineOptions inputsPlacement() {
  PipelineOptions o;
  o.quant.quantize_outputs = false;
  return o;
}

TEST_CASE("the placement search requantizes the Convs whose output quantizer fits the tolerance", "[mixed][placement]") {
  const std::string text = residualConvs();
  const Model reference = named(text), working = named(text);
  test::NormalDataset calib(16, {1, 4, 6, 6}, 3), judge(8, {1, 4, 6, 6}, 4);

  auto generous = searchRequantizedOutputs(reference, working, calib, judge, inputsPlacement(), 100.0);
  REQUIRE(generous.isOk());
  CHECK(generous->requantized == std::vector<std::string>{"conv1", "conv2"});
  CHECK(generous->report["candidates"] == 2);
  CHECK(generous->final_sqnr_db < generous->baseline_sqnr_db);  // one more rounding per layer

  // Nothing may cost accuracy: a floor above the baseline keeps the inputs placement as it was.
  auto strict = searchRequantizedOutputs(reference, working, calib, judge, inputsPlacement(), -1.0);
  REQUIRE(strict.isOk());
  CHECK(strict->requantized.empty());
  CHECK(strict->final_sqnr_db == strict->baseline_sqnr_db);

  // The chosen layers quantized for real: ONNX Runtime's forecast fuses both into QLinearConv.
  PipelineOptions final_run = inputsPlacement();
  final_run.quant.requantized_outputs = generous->requantized;
  auto model = cloneModel(working);
  REQUIRE(model.isOk());
  REQUIRE(quantizeModel(*model, calib, final_run).isOk());
  const OrtCpuForecast forecast = forecastOrtCpuKernels(*model->graph);
  CHECK(forecast.integer_kernels == std::map<std::string, int>{{"QLinearConv", 2}});
  CHECK(forecast.float_on_dequantized == 0);

  // The working model itself is never touched.
  CHECK(working.graph->nodes().size() == reference.graph->nodes().size());
}

}  // namespace
}  // namespace vitq
