#include <catch2/catch.hpp>

#include <cmath>

#include "exec/executor.h"
#include "ir/verifier.h"
#include "passes/ptq/noisy_bias.h"
#include "support/graph_dsl.h"

namespace vitq {
namespace {

// One activation read by a MatMul with a bias Add, a bias-free MatMul, a transB Gemm with alpha
// and beta, and a Shape.
const char* kReaders = R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[2, 3] X0) => (float[2, 2] Y1, float[2, 2] Y2, float[2, 2] Y3, int64[2] S)
  <float[3, 2] W1 = {1., -2., 0.5, 0.25, -1., 3.}, float[2] B1 = {0.3, -0.7},
   float[3, 2] W2 = {0.1, 0.2, -0.3, 0.4, 0.5, -0.6},
   float[2, 3] W3 = {2., -1., 0.5, 1.5, 0.25, -2.}, float[2] C3 = {1., 2.}> {
  X = Relu(X0)
  M1 = MatMul(X, W1)
  Y1 = Add(M1, B1)
  Y2 = MatMul(X, W2)
  Y3 = Gemm <transB = 1, alpha = 0.5, beta = 2.> (X, W3, C3)
  S = Shape(X)
}
)ONNX";

TensorMap run(const Model& m) {
  Tensor x(DataType::kFloat, {2, 3});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::sin(1.7f * static_cast<float>(i)) * 3.0f;
  auto exec = Executor::create(*m.graph, 13);
  REQUIRE(exec.isOk());
  auto out = exec->run({{"X0", x}});
  REQUIRE(out.isOk());
  return *out;
}

Tensor inputMajor(const Value* w, bool transposed) {
  const Tensor& t = w->initializer();
  if (!transposed) return t.clone();
  Tensor out(DataType::kFloat, {t.dim(1), t.dim(0)});
  for (int64_t r = 0; r < t.dim(0); ++r) {
    for (int64_t c = 0; c < t.dim(1); ++c) out.data<float>()[c * t.dim(0) + r] = t.data<float>()[r * t.dim(1) + c];
  }
  return out;
}

TEST_CASE("noisy bias with float weights leaves the outputs unchanged", "[passes][noisy]") {
  Model m = test::parseModel(kReaders);
  const TensorMap before = run(m);
  Graph& g = *m.graph;
  Value* x = g.findValue("X");
  std::vector<std::pair<Node*, Tensor>> weights;
  for (Node* n : g.nodeList()) {
    if (n->is("MatMul") || n->is("Gemm")) weights.emplace_back(n, inputMajor(n->input(1), n->is("Gemm")));
  }
  REQUIRE(weights.size() == 3);
  Value* noisy = insertNoisyBias(g, x, {0.75f, -1.25f, 0.5f}, weights);
  REQUIRE(verifyModel(m).isOk());
  CHECK(noisy->producer()->is("Add"));
  CHECK(x->uses().size() == 2);  // the noise Add and the Shape
  const TensorMap after = run(m);
  for (const auto& [name, t] : before) {
    const Tensor& u = after.at(name);
    REQUIRE(u.numel() == t.numel());
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (t.dtype() == DataType::kInt64) {
        CHECK(t.data<int64_t>()[i] == u.data<int64_t>()[i]);
      } else {
        const float a = t.data<float>()[i], b = u.data<float>()[i];
        CHECK(std::fabs(a - b) <= 1e-5f * std::max(1.0f, std::fabs(a)));
      }
    }
  }
}

}  // namespace
}  // namespace vitq
