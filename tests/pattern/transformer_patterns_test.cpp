#include <catch2/catch.hpp>

#include "pattern/bridge_blocks.h"
#include "pattern/transformer_patterns.h"
#include "support/graph_dsl.h"

namespace vitq {
namespace {

TEST_CASE("decomposed LayerNorm is found with its epsilon and affine", "[pattern]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1, 5, 8] X) => (float[1, 5, 8] Y)
  <float[8] G = {1.,1.,1.,1.,1.,1.,1.,1.}, float[8] B = {0.,0.,0.,0.,0.,0.,0.,0.}, float E = {1e-6}, float P = {2.0}> {
  M = ReduceMean <axes = [-1]> (X)
  D = Sub(X, M)
  S = Pow(D, P)
  V = ReduceMean <axes = [-1]> (S)
  VE = Add(V, E)
  R = Sqrt(VE)
  N = Div(D, R)
  NG = Mul(N, G)
  Y = Add(NG, B)
}
)ONNX");
  auto lns = findLayerNorms(*m.graph);
  REQUIRE(lns.size() == 1);
  CHECK_FALSE(lns[0].fused);
  CHECK(lns[0].epsilon == Approx(1e-6));
  CHECK(lns[0].nodes.size() == 9);
  CHECK(lns[0].gamma->name() == "G");
  CHECK(lns[0].beta->name() == "B");
  CHECK(lns[0].output->name() == "Y");
}

TEST_CASE("a mean over the wrong axis is not a LayerNorm", "[pattern]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1, 5, 8] X) => (float[1, 5, 8] N) <float E = {1e-6}, float P = {2.0}> {
  M = ReduceMean <axes = [1]> (X)
  D = Sub(X, M)
  S = Pow(D, P)
  V = ReduceMean <axes = [1]> (S)
  VE = Add(V, E)
  R = Sqrt(VE)
  N = Div(D, R)
}
)ONNX");
  CHECK(findLayerNorms(*m.graph).empty());
}

TEST_CASE("fused LayerNormalization is found", "[pattern]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 17]>
agraph (float[1, 5, 8] X, float[8] G, float[8] B) => (float[1, 5, 8] Y) {
  Y = LayerNormalization <epsilon = 0.001> (X, G, B)
}
)ONNX");
  auto lns = findLayerNorms(*m.graph);
  REQUIRE(lns.size() == 1);
  CHECK(lns[0].fused);
  CHECK(lns[0].epsilon == Approx(0.001));
}

TEST_CASE("GELU is found in its erf spellings and not with a wrong constant", "[pattern]") {
  const char* spellings[] = {
      // (x * (1 + erf(x / sqrt2))) * 0.5
      R"(  A = Div(X, S2)
  B = Erf(A)
  C = Add(B, One)
  D = Mul(X, C)
  Y = Mul(D, Half))",
      // (x * 0.5) * (1 + erf(x * 1/sqrt2))
      R"(  H = Mul(X, Half)
  A = Mul(X, IS2)
  B = Erf(A)
  C = Add(B, One)
  Y = Mul(H, C))",
      // x * ((1 + erf(x / sqrt2)) * 0.5)
      R"(  A = Div(X, S2)
  B = Erf(A)
  C = Add(B, One)
  D = Mul(C, Half)
  Y = Mul(X, D))",
  };
  for (const char* body : spellings) {
    const std::string text = std::string(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[4] X) => (float[4] Y)
  <float S2 = {1.4142135}, float IS2 = {0.70710678}, float One = {1.0}, float Half = {0.5}> {
)ONNX") + body + "\n}\n";
    Model m = test::parseModel(text);
    auto gelus = findGelus(*m.graph);
    INFO(body);
    REQUIRE(gelus.size() == 1);
    CHECK(gelus[0].spelling == "erf");
    CHECK(gelus[0].input->name() == "X");
    CHECK(gelus[0].output->name() == "Y");
    CHECK(gelus[0].nodes.size() == 5);
  }
  Model wrong = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[4] X) => (float[4] Y) <float S2 = {1.4142135}, float One = {1.0}, float Half = {0.6}> {
  A = Div(X, S2)
  B = Erf(A)
  C = Add(B, One)
  D = Mul(X, C)
  Y = Mul(D, Half)
}
)ONNX");
  CHECK(findGelus(*wrong.graph).empty());
}

TEST_CASE("tanh GELU is found", "[pattern]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[4] X) => (float[4] Y)
  <float Three = {3.0}, float K = {0.044715}, float C = {0.7978845608}, float One = {1.0}, float Half = {0.5}> {
  P = Pow(X, Three)
  KP = Mul(K, P)
  S = Add(X, KP)
  CS = Mul(C, S)
  T = Tanh(CS)
  T1 = Add(T, One)
  XT = Mul(X, T1)
  Y = Mul(XT, Half)
}
)ONNX");
  auto gelus = findGelus(*m.graph);
  REQUIRE(gelus.size() == 1);
  CHECK(gelus[0].spelling == "tanh");
  CHECK(gelus[0].nodes.size() == 8);
}

TEST_CASE("attention MatMul-Softmax-MatMul is found through scale and mask", "[pattern]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1, 2, 5, 4] Q, float[1, 2, 4, 5] K, float[1, 2, 5, 4] V, float[1, 1, 5, 5] Mask) => (float[1, 2, 5, 4] O)
  <float Scale = {0.5}> {
  S = MatMul(Q, K)
  SS = Mul(S, Scale)
  SM = Add(SS, Mask)
  P = Softmax <axis = -1> (SM)
  O = MatMul(P, V)
}
)ONNX");
  auto att = findAttention(*m.graph);
  REQUIRE(att.size() == 1);
  CHECK(att[0].scores_matmul->output(0)->name() == "S");
  CHECK(att[0].context_matmul->output(0)->name() == "O");
  CHECK(att[0].between.size() == 2);
}

TEST_CASE("conv-to-transformer and back bridges are found", "[pattern]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 17]>
agraph (float[1, 3, 4, 4] X, float[8, 3, 1, 1] W1, float[8, 8, 1, 1] W2, float[8] G, float[8] B) => (float[1, 8, 4, 4] Y)
  <int64[3] S1 = {1, 8, 16}, int64[4] S2 = {1, 8, 4, 4}> {
  C1 = Conv(X, W1)
  R1 = Reshape(C1, S1)
  T1 = Transpose <perm = [0, 2, 1]> (R1)
  L = LayerNormalization <epsilon = 0.00001> (T1, G, B)
  T2 = Transpose <perm = [0, 2, 1]> (L)
  R2 = Reshape(T2, S2)
  Y = Conv(R2, W2)
}
)ONNX");
  auto bridges = findBridges(*m.graph);
  REQUIRE(bridges.size() == 2);
  CHECK(bridges[0].direction == BridgeMatch::Direction::kConvToTransformer);
  CHECK(bridges[0].layout_ops.size() == 2);
  CHECK(bridges[1].direction == BridgeMatch::Direction::kTransformerToConv);
  CHECK(bridges[1].token_op->opType() == "LayerNormalization");
}

TEST_CASE("a CNN classifier head is not a bridge", "[pattern]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1, 3, 4, 4] X, float[8, 3, 1, 1] W1, float[8, 2] F) => (float[1, 2] Y) {
  C1 = Conv(X, W1)
  P = GlobalAveragePool(C1)
  Fl = Flatten(P)
  Y = MatMul(Fl, F)
}
)ONNX");
  CHECK(findBridges(*m.graph).empty());
}

}  // namespace
}  // namespace vitq
