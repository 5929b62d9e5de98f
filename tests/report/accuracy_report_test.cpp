#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "report/accuracy_report.h"
#include "report/html_report.h"
#include "report/section_markdown.h"
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

TEST_CASE("names in Markdown tables and the HTML report's JSON cannot break out", "[report]") {
  CHECK(escapeMarkdown("a|b<script>x</script>") == "a\\|b&lt;script&gt;x&lt;/script&gt;");
  CHECK(escapeMarkdown("h\r\n\tz\x01\\&") == "h\\r\\n\\tz\\x01\\\\&amp;");
  CHECK(escapeMarkdown("blocks.0/attn_qkv:0") == "blocks.0/attn_qkv:0");  // ordinary names as written
  const std::string output = "y|<!--<script>", value = "z|\n<b>";
  nlohmann::json report = {{"samples", 2},
                           {"outputs", {{{"name", output}, {"sqnr_db", 40.0}, {"cosine", 1.0}, {"max_abs_error", 0.1}}}},
                           {"layers", {{{"value", value}, {"node", "a|b"}, {"op", "Add"}, {"sqnr_db", 30.0}, {"cosine", 1.0}}}},
                           {"most_damaged_layers", {value}},
                           {"sensitivity", {{"layers", {{{"rank", 1}, {"node", "n|<i>\n"}, {"op", "MatMul"}}}}}}};
  const std::string md = accuracyMarkdown(report);
  CHECK_THAT(md, Catch::Contains("| y\\|&lt;!--&lt;script&gt; | 40 |"));
  CHECK_THAT(md, Catch::Contains("| z\\|\\n&lt;b&gt; | Add | 30 |"));
  CHECK_THAT(md, Catch::Contains("| 1 | n\\|&lt;i&gt;\\n | MatMul |"));
  CHECK(md.find('<') == std::string::npos);
  const std::string html = renderHtmlReport(report);
  const std::string open = "id=\"report-data\">";
  const size_t start = html.find(open) + open.size();
  const std::string embedded = html.substr(start, html.find("</script>", start) - start);
  CHECK(embedded.find('<') == std::string::npos);  // no "<!--<script>" to keep the element open
  CHECK(nlohmann::json::parse(embedded)["outputs"][0]["name"] == output);
}

}  // namespace
}  // namespace vitq
