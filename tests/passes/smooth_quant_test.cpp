#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "calib/calibration_session.h"
#include "exec/executor.h"
#include "ir/verifier.h"
#include "passes/ptq/smooth_quant.h"
#include "support/float_rewrite_checks.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

// X is read by a MatMul with a bias Add, a transB Gemm and a Relu (which must keep reading X).
const char* kSharedInput = R"ONNX(
<ir_version: 8, opset_import: ["" : 17]>
agraph (float[3, 4] X) => (float[3, 2] Y1, float[3, 2] Y2, float[3, 4] R)
  <float[4, 2] W1 = {1., -2., 0.5, 0.25, -1., 3., 2., -0.5}, float[2] B1 = {0.3, -0.7},
   float[2, 4] W2 = {0.1, 0.2, 0.3, -0.4, 0.5, -0.6, 0.7, 0.8}, float[2] C = {1., 2.}> {
  M1 = MatMul(X, W1)
  Y1 = Add(M1, B1)
  Y2 = Gemm <transB = 1> (X, W2, C)
  R = Relu(X)
}
)ONNX";

// A LayerNorm read only by a MatMul: smoothing folds into its affine, no node is added.
const char* kLayerNorm = R"ONNX(
<ir_version: 8, opset_import: ["" : 17]>
agraph (float[1, 3, 4] X) => (float[1, 3, 2] Y)
  <float[4] G = {1.5, -0.5, 2., 0.8}, float[4] B = {0.1, 0.2, -0.3, 0.4},
   float[4, 2] W = {1., -2., 0.5, 0.25, -1., 3., 2., -0.5}> {
  N = LayerNormalization <axis = -1> (X, G, B)
  Y = MatMul(N, W)
}
)ONNX";

// An activation with outlier channels (x100 and x0.1) feeding a MatMul.
const char* kOutliers = R"ONNX(
<ir_version: 8, opset_import: ["" : 17]>
agraph (float[1, 3, 4] X) => (float[1, 3, 2] Y)
  <float[4] K = {1., 100., 1., 0.1}, float[4, 2] W = {1., -2., 0.5, 0.25, -1., 3., 2., -0.5}> {
  S = Mul(X, K)
  Y = MatMul(S, W)
}
)ONNX";

using test::randomInput;
using test::requireSameOutputs;

TensorMap run(const Model& m, const Tensor& x) { return test::runWithX(m, x); }

int countOps(const Model& m, const char* op) {
  int n = 0;
  for (const auto& node : m.graph->nodes()) n += node->is(op) ? 1 : 0;
  return n;
}

TEST_CASE("smoothing scales follow SmoothQuant's formula", "[passes][smooth]") {
  const std::vector<float> s = smoothingScales({4.0f, 0.0f, 9.0f, 1e12f}, {1.0f, 1.0f, 4.0f, 1e-12f}, 0.5);
  REQUIRE(s.size() == 4);
  CHECK(s[0] == Approx(2.0f));
  CHECK(s[1] == 1.0f);  // a channel that never fires keeps its weights
  CHECK(s[2] == Approx(1.5f));
  CHECK(s[3] == Approx(1e5f));  // clamped
  const std::vector<float> all_weights = smoothingScales({8.0f}, {2.0f}, 1.0);
  CHECK(all_weights[0] == Approx(8.0f));
}

TEST_CASE("smoothing a shared input leaves the float model unchanged", "[passes][smooth]") {
  Model m = test::parseModel(kSharedInput);
  const Tensor x = randomInput({3, 4}, 1);
  const TensorMap before = run(m, x);
  const auto sites = findSmoothSites(*m.graph);
  REQUIRE(sites.size() == 1);
  CHECK(sites[0].input->name() == "X");
  CHECK(sites[0].consumers.size() == 2);
  CHECK(sites[0].channels == 4);
  const std::vector<float> wmax = smoothWeightAbsMax(sites[0]);
  CHECK(wmax == std::vector<float>{2.0f, 0.6f, 3.0f, 2.0f});  // max over W1's rows and W2's columns
  REQUIRE(applySmoothing(*m.graph, sites[0], {0.5f, 4.0f, 1.25f, 0.1f}).isOk());
  REQUIRE(verifyModel(m).isOk());
  requireSameOutputs(before, run(m, x));
  CHECK(countOps(m, "Mul") == 1);
  for (const auto& n : m.graph->nodes()) {
    if (n->is("Relu")) CHECK(n->input(0)->name() == "X");
    if (n->is("MatMul") || n->is("Gemm")) CHECK(n->input(0)->producer()->is("Mul"));
  }
}

TEST_CASE("smoothing a LayerNorm output folds into its affine", "[passes][smooth]") {
  Model m = test::parseModel(kLayerNorm);
  const Tensor x = randomInput({1, 3, 4}, 2);
  const TensorMap before = run(m, x);
  const auto sites = findSmoothSites(*m.graph);
  REQUIRE(sites.size() == 1);
  REQUIRE(applySmoothing(*m.graph, sites[0], {0.5f, 4.0f, 1.25f, 3.0f}).isOk());
  REQUIRE(verifyModel(m).isOk());
  requireSameOutputs(before, run(m, x));
  CHECK(countOps(m, "Mul") == 0);
}

TEST_CASE("alpha 1 moves all of the activation's range into the weights", "[passes][smooth]") {
  Model m = test::parseModel(kOutliers);
  const test::NormalDataset data(16, {1, 3, 4}, 7);
  const Tensor x = data.sample(0)->at("X");
  const TensorMap before = run(m, x);
  auto report = smoothActivations(m, data, 1.0, nullptr, 1);
  REQUIRE(report.isOk());
  REQUIRE(report->size() == 1);
  CHECK(report->front().max_scale / report->front().min_scale > 500.0f);
  requireSameOutputs(before, run(m, x));
  // Every channel of what the MatMul now reads peaks at 1 over the calibration data.
  const Value* smoothed = nullptr;
  for (const auto& n : m.graph->nodes()) {
    if (n->is("MatMul")) smoothed = n->input(0);
  }
  REQUIRE(smoothed);
  auto stats = calibrate(*m.graph, m.opsetVersion(""), data, [](const Value&) { return makeMinMaxObserver(-1); },
                         [smoothed](const Value& v) { return &v == smoothed; });
  REQUIRE(stats.isOk());
  const TensorStats& s = stats->stats.at(smoothed->name());
  for (size_t c = 0; c < 4; ++c) {
    CHECK(std::max(std::fabs(s.channel_min[c]), std::fabs(s.channel_max[c])) == Approx(1.0f).epsilon(1e-5));
  }
}

}  // namespace
}  // namespace vitq
