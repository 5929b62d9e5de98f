#include <catch2/catch.hpp>

#include <cmath>

#include "exec/executor.h"
#include "ir/verifier.h"
#include "passes/canonicalize/fold_batchnorm.h"
#include "support/graph_dsl.h"

namespace vitq {
namespace {

const char* kConvBn = R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1, 2, 4, 4] X) => (float[1, 3, 4, 4] Y)
  <float[3, 2, 1, 1] W = {0.5, -1., 2., 0.25, -0.75, 1.5}, float[3] Bc = {0.1, -0.2, 0.3},
   float[3] G = {1.5, 0.2, -2.}, float[3] Be = {0.5, 0., -1.}, float[3] Mu = {0.3, -0.1, 2.}, float[3] Var = {4., 0.01, 1.}> {
  C = Conv(X, W, Bc)
  Y = BatchNormalization <epsilon = 0.001> (C, G, Be, Mu, Var)
}
)ONNX";

Tensor run(const Model& m, const Tensor& x) {
  auto exec = Executor::create(*m.graph, 13);
  REQUIRE(exec.isOk());
  auto out = exec->run({{"X", x}});
  REQUIRE(out.isOk());
  return out->at("Y");
}

TEST_CASE("fold-batchnorm leaves the outputs unchanged", "[passes][fold-batchnorm]") {
  Model m = test::parseModel(kConvBn);
  Tensor x(DataType::kFloat, {1, 2, 4, 4});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::sin(static_cast<float>(i));
  const Tensor before = run(m, x).clone();
  REQUIRE(foldBatchNorms(*m.graph) == 1);
  REQUIRE(verifyModel(m).isOk());
  CHECK(m.graph->numNodes() == 1);
  CHECK(m.graph->nodes().front()->opType() == "Conv");
  CHECK(m.graph->outputs()[0]->name() == "Y");
  CHECK(m.graph->initializers().size() == 2);  // the folded weight and bias; BatchNorm's parameters are gone
  const Tensor after = run(m, x);
  for (int64_t i = 0; i < before.numel(); ++i) {
    const float a = before.data<float>()[i], b = after.data<float>()[i];
    CHECK(std::fabs(a - b) <= 1e-5f * std::max(1.0f, std::fabs(a)));
  }
}

TEST_CASE("fold-batchnorm skips a Conv whose output has other users", "[passes][fold-batchnorm]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1, 1, 2, 2] X) => (float[1, 1, 2, 2] Y, float[1, 1, 2, 2] C)
  <float[1, 1, 1, 1] W = {2.}, float[1] G = {1.}, float[1] Be = {0.}, float[1] Mu = {0.}, float[1] Var = {1.}> {
  C = Conv(X, W)
  Y = BatchNormalization(C, G, Be, Mu, Var)
}
)ONNX");
  CHECK(foldBatchNorms(*m.graph) == 0);
  CHECK(m.graph->numNodes() == 2);
}

}  // namespace
}  // namespace vitq
