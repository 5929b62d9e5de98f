#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "report/accuracy_report.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

// Y = X W with a 3-class output; \p w_scale scales every weight, so the "quantized" model's error
// is exactly (w_scale - 1) times the float output.
Model scaledLinear(const std::string& w_scale) {
  return test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1, 4] X) => (float[1, 3] Y) <float[4, 3] W = {0.5, -1., 0.25, 2., 0.75, -0.5, -1.5, 1., 0.5, 0.25, -0.25, 1.25},
                                          float[1] S = {)ONNX" + w_scale + R"ONNX(}> {
  Ws = Mul(W, S)
  Y = MatMul(X, Ws)
}
)ONNX");
}

std::set<std::string> summaryKeys(const nlohmann::json& report) {
  std::set<std::string> keys;
  for (const auto& [key, value] : report.at("summary").items()) keys.insert(key);
  return keys;
}

TEST_CASE("The report's summary has exactly the metrics --fail-if can gate on", "[report]") {
  const Model reference = scaledLinear("1.0");
  const Model quantized = scaledLinear("1.1");
  const test::NormalDataset data(16, {1, 4}, 7);
  std::set<std::string> expected(std::begin(kSummaryMetrics), std::end(kSummaryMetrics));

  auto plain = compareModels(reference, quantized, data, {"Y"}, {});
  REQUIRE(plain.isOk());
  CHECK(summaryKeys(*plain) == expected);
  // A 10 % scale error is noise of 1 % of the signal's power: 20 dB; the direction is unchanged.
  CHECK(plain->at("summary").at("output_sqnr_db").get<double>() == Approx(20.0).margin(1e-3));
  CHECK(plain->at("summary").at("output_cosine").get<double>() == Approx(1.0).margin(1e-9));
  CHECK(plain->at("summary").at("top1_agreement").get<double>() == 1.0);

  CompareOptions with_labels;
  with_labels.labels.assign(16, 0);
  auto labelled = compareModels(reference, quantized, data, {"Y"}, with_labels);
  REQUIRE(labelled.isOk());
  expected.insert(std::begin(kSummaryLabelMetrics), std::end(kSummaryLabelMetrics));
  CHECK(summaryKeys(*labelled) == expected);
  CHECK(labelled->at("summary").at("top1_drop").get<double>() == 0.0);  // scaling keeps every argmax
}

}  // namespace
}  // namespace vitq
