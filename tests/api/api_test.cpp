#include <catch2/catch.hpp>

#include "api/vitq.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

// Two MatMul layers with a GELU-like nonlinearity between them, as in a transformer's MLP.
std::string mlpModel() {
  return R"(<ir_version: 8, opset_import: ["" : 17]>
g (float[1, 8] X) => (float[1, 4] Y)
  <)" + test::normalInitializer("W1", {8, 16}, 1, 0.5f) + ", " + test::normalInitializer("W2", {16, 4}, 2, 0.5f) + R"(> {
  H = MatMul(X, W1)
  A = Tanh(H)
  Y = MatMul(A, W2)
}
)";
}

QuantizationInputs inputsOf(const std::string& text) {
  QuantizationInputs in;
  in.original = test::parseModel(text);
  in.reference = test::parseModel(text);
  in.working = test::parseModel(text);
  in.data = std::make_unique<test::NormalDataset>(16, Shape{1, 8}, 3);
  in.calib = std::make_unique<DatasetSlice>(*in.data, 0, 12);
  in.eval = std::make_unique<DatasetSlice>(*in.data, 12, 4);
  in.eval_begin = 12;
  return in;
}

size_t countOps(const Graph& graph, const std::string& op) {
  size_t n = 0;
  for (const auto& node : graph.nodes()) n += node->is(op.c_str()) ? 1 : 0;
  return n;
}

TEST_CASE("the API quantizes with a recipe and reports against the float model", "[api]") {
  QuantizationInputs in = inputsOf(mlpModel());
  QuantizeRequest request;
  request.threads = 1;
  const auto done = quantize(in, request);
  REQUIRE(done.isOk());
  CHECK(done->plan.quantized_nodes == 2);
  CHECK(countOps(*in.working.graph, "QuantizeLinear") > 0);
  CHECK(countOps(*in.reference.graph, "QuantizeLinear") == 0);  // the reference stays float
  const auto report = accuracyReport(in, request);
  REQUIRE(report.isOk());
  CHECK((*report)["summary"]["output_sqnr_db"].get<double>() > 25.0);
  CHECK((*report)["samples"].get<int>() == 4);
}

TEST_CASE("the API refuses bad requests before any work, saying why", "[api]") {
  QuantizationInputs in = inputsOf(mlpModel());
  QuantizeRequest request;
  request.weight_bits = 9;
  CHECK_THAT(quantize(in, request).status().message(), Catch::Contains("weight_bits 9 is not 2 to 8"));
  request.weight_bits = 8;
  request.recipe = "nosuch";
  CHECK_THAT(quantize(in, request).status().message(), Catch::Contains("nosuch"));
  CHECK(countOps(*in.working.graph, "QuantizeLinear") == 0);
  request.recipe = "minmax";
  request.threads = -1;
  CHECK_THAT(quantize(in, request).status().message(), Catch::Contains("threads -1 is not 0"));
  request.threads = 1;
  request.exclude = {"NoSuchNode*"};
  CHECK_THAT(quantize(in, request).status().message(), Catch::Contains("NoSuchNode*"));
  QuantizationInputs empty;
  CHECK_FALSE(quantize(empty, QuantizeRequest{}).isOk());
}

}  // namespace
}  // namespace vitq
