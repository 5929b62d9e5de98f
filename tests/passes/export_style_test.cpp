// normalize-export-style: the export styles that broke quantized models (weights listed as graph
// inputs, Identity of a constant, Gemm alpha/beta, a bias shared by two layers) become one form
// with the same outputs, and the quantized layers then get what ONNX Runtime expects.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "exec/executor.h"
#include "ir/verifier.h"
#include "passes/canonicalize/export_style.h"
#include "passes/ptq/quantize_pipeline.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

// W is both an initializer and a graph input (keep_initializers_as_inputs); Bi = Identity(B)
// feeds an Add (torch's de-duplicated parameters); G is a Gemm with alpha and beta; B is read by
// the Gemm and, through the Identity, by the Add.
Model styledModel() {
  return test::parseModel("<ir_version: 8, opset_import: [\"\" : 13]>\n"
                          "agraph (float[2, 6] X, float[6, 4] W) => (float[2, 4] Y)\n<" +
                          test::normalInitializer("W", {6, 4}, 1, 0.5f) + ", " +
                          test::normalInitializer("B", {4}, 2, 0.3f) + R"ONNX(> {
  Bi = Identity(B)
  G = Gemm <alpha = 0.25, beta = 2.0, transB = 0> (X, W, B)
  Y = Add(G, Bi)
}
)ONNX");
}

Tensor runY(const Model& m, const Tensor& x) {
  auto exec = Executor::create(*m.graph, m.opsetVersion(""));
  REQUIRE(exec.isOk());
  auto out = exec->run({{"X", x}});
  REQUIRE(out.isOk());
  return out->at("Y");
}

const Node* findOp(const Graph& g, const char* op) {
  for (const auto& n : g.nodes()) {
    if (n->is(op)) return n.get();
  }
  return nullptr;
}

TEST_CASE("normalize-export-style keeps the outputs and removes every style", "[passes][export-style]") {
  Model m = styledModel();
  const test::NormalDataset data(4, {2, 6}, 5);
  std::vector<Tensor> before;
  for (size_t i = 0; i < data.size(); ++i) before.push_back(runY(m, data.sample(i)->at("X")).clone());

  const ExportStyleFixes fixes = normalizeExportStyle(*m.graph, 13);
  REQUIRE(verifyModel(m).isOk());
  CHECK(fixes.frozen_inputs == std::vector<std::string>{"W"});
  CHECK(fixes.folded_identities == 1);
  CHECK(fixes.folded_gemm_scalars == 1);
  REQUIRE(m.graph->inputs().size() == 1);
  CHECK(m.graph->inputs()[0]->name() == "X");
  CHECK(findOp(*m.graph, "Identity") == nullptr);
  const Node* gemm = findOp(*m.graph, "Gemm");
  REQUIRE(gemm);
  CHECK_FALSE(gemm->attrs().has("alpha"));
  CHECK_FALSE(gemm->attrs().has("beta"));
  CHECK(gemm->input(1)->isConstant());
  // The Gemm's C is its own (scaled by beta), not the B that the Add reads.
  CHECK(gemm->input(2)->uses().size() == 1);

  for (size_t i = 0; i < data.size(); ++i) {
    const Tensor after = runY(m, data.sample(i)->at("X"));
    for (int64_t k = 0; k < after.numel(); ++k) {
      CHECK(std::fabs(after.data<float>()[k] - before[i].data<float>()[k]) <= 1e-6f);
    }
  }
}

// do_constant_folding=False leaves a weight behind Transpose; float16 conversions read weights
// through Cast; torchvision's Swin puts an inference Dropout between Softmax and its MatMul.
TEST_CASE("Transpose/Cast of constants fold and inference Dropout is read past", "[passes][export-style]") {
  Model m = test::parseModel("<ir_version: 8, opset_import: [\"\" : 13]>\n"
                             "agraph (float[2, 6] X) => (float[2, 4] Y)\n<" +
                             test::normalInitializer("Wt", {4, 6}, 1, 0.5f) + R"ONNX(, double[4] Bd = {0.5, -1, 2, 0}> {
  W = Transpose <perm = [1, 0]> (Wt)
  B = Cast <to = 1> (Bd)
  H = MatMul(X, W)
  S = Softmax <axis = -1> (H)
  D = Dropout(S)
  Y = Add(D, B)
}
)ONNX");
  const test::NormalDataset data(3, {2, 6}, 5);
  std::vector<Tensor> before;
  for (size_t i = 0; i < data.size(); ++i) before.push_back(runY(m, data.sample(i)->at("X")).clone());
  const ExportStyleFixes fixes = normalizeExportStyle(*m.graph, 13);
  REQUIRE(verifyModel(m).isOk());
  CHECK(fixes.folded_constants == 2);
  CHECK(fixes.folded_identities == 1);
  CHECK(findOp(*m.graph, "Transpose") == nullptr);
  CHECK(findOp(*m.graph, "Cast") == nullptr);
  CHECK(findOp(*m.graph, "Dropout") == nullptr);
  const Node* matmul = findOp(*m.graph, "MatMul");
  REQUIRE(matmul);
  CHECK(matmul->input(1)->isConstant());
  CHECK(matmul->input(1)->name() == "W");  // the folded constant keeps the value's name
  CHECK(matmul->output(0)->uses()[0].user->output(0)->uses()[0].user->is("Add"));  // Softmax -> Add
  for (size_t i = 0; i < data.size(); ++i) {
    const Tensor after = runY(m, data.sample(i)->at("X"));
    for (int64_t k = 0; k < after.numel(); ++k) CHECK(after.data<float>()[k] == before[i].data<float>()[k]);
  }
}

// Attention in einsum form (MaxViT, einsum transformers): Q K^T and A V become MatMuls with the
// same outputs, so quantization and the attention patterns see them.
TEST_CASE("Einsum batched matrix products become MatMul", "[passes][export-style]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[2, 3, 4, 5] Q, float[2, 3, 6, 5] K, float[2, 3, 6, 5] V) => (float[2, 3, 4, 5] Y, float[2, 3, 4, 6] P)
{
  S = Einsum <equation = "bhid,bhjd->bhij"> (Q, K)
  P = Softmax <axis = -1> (S)
  Y = Einsum <equation = "bhij, bhjd -> bhid"> (P, V)
}
)ONNX");
  const test::NormalDataset q(2, {2, 3, 4, 5}, 1), k(2, {2, 3, 6, 5}, 2), v(2, {2, 3, 6, 5}, 3);
  auto run = [&](const Model& model, size_t i) {
    auto exec = Executor::create(*model.graph, 13);
    REQUIRE(exec.isOk());
    auto out = exec->run({{"Q", q.sample(i)->at("X")}, {"K", k.sample(i)->at("X")}, {"V", v.sample(i)->at("X")}});
    REQUIRE(out.isOk());
    return out->at("Y").clone();
  };
  const Tensor before = run(m, 0);
  CHECK(normalizeExportStyle(*m.graph, 13).einsum_matmuls == 2);
  REQUIRE(verifyModel(m).isOk());
  CHECK(findOp(*m.graph, "Einsum") == nullptr);
  CHECK(m.graph->outputs()[0]->name() == "Y");
  const Tensor after = run(m, 0);
  for (int64_t i = 0; i < after.numel(); ++i) {
    CHECK(std::fabs(after.data<float>()[i] - before.data<float>()[i]) <= 1e-5f);
  }
}

TEST_CASE("A bias shared by two Convs becomes one per Conv, and both get int32 biases", "[passes][export-style]") {
  Model m = test::parseModel("<ir_version: 8, opset_import: [\"\" : 13]>\n"
                             "agraph (float[1, 2, 5, 5] X) => (float[1, 3, 5, 5] Y)\n<" +
                             test::normalInitializer("W1", {3, 2, 1, 1}, 1, 0.5f) + ", " +
                             test::normalInitializer("W2", {3, 3, 1, 1}, 2, 0.5f) + ", " +
                             test::normalInitializer("B", {3}, 3, 0.2f) + R"ONNX(> {
  H = Conv(X, W1, B)
  Y = Conv(H, W2, B)
}
)ONNX");
  CHECK(normalizeExportStyle(*m.graph, 13).unshared_biases == 1);
  const test::NormalDataset calib(8, {1, 2, 5, 5}, 7);
  PipelineOptions o;
  auto report = quantizeModel(m, calib, o);
  REQUIRE(report.isOk());
  CHECK(report->materialized.biases == 2);
}

// ConvTranspose with group 2: weight [C=4, M/g=3, 2, 2] has 3 per-channel scales for its 6
// outputs; output c's int32 bias is at scale s_x * s_w[c % 3].
TEST_CASE("A grouped ConvTranspose's bias scales follow the weight's scales per group", "[passes][materialize]") {
  const std::string text = "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                           "agraph (float[1, 4, 3, 3] X) => (float[1, 6, 6, 6] Y)\n<" +
                           test::normalInitializer("W", {4, 3, 2, 2}, 4, 0.5f) + ", " +
                           test::normalInitializer("B", {6}, 5, 0.2f) + R"ONNX(> {
  Y = ConvTranspose <group = 2, strides = [2, 2]> (X, W, B)
}
)ONNX";
  Model m = test::parseModel(text), quantized = test::parseModel(text);
  const test::NormalDataset calib(8, {1, 4, 3, 3}, 9);
  PipelineOptions o;
  o.quant.quantize_outputs = false;
  auto report = quantizeModel(quantized, calib, o);
  REQUIRE(report.isOk());
  REQUIRE(report->materialized.biases == 1);
  const Value* sx = quantized.graph->findValue("X_scale");
  const Value* sw = quantized.graph->findValue("W_scale");
  const Value* sb = quantized.graph->findValue("B_scale");
  REQUIRE((sx && sw && sb));
  REQUIRE(sw->initializer().numel() == 3);
  REQUIRE(sb->initializer().numel() == 6);
  for (int64_t c = 0; c < 6; ++c) {
    CHECK(sb->initializer().data<float>()[c] ==
          sx->initializer().data<float>()[0] * sw->initializer().data<float>()[c % 3]);
  }
  // And the quantized layer computes what the float one does, within 8-bit rounding.
  const double mse = [&] {
    double sum = 0, ref = 0;
    for (size_t i = 0; i < calib.size(); ++i) {
      const Tensor x = calib.sample(i)->at("X");
      const Tensor a = runY(m, x), b = runY(quantized, x);
      for (int64_t k = 0; k < a.numel(); ++k) {
        sum += std::pow(a.data<float>()[k] - b.data<float>()[k], 2);
        ref += std::pow(a.data<float>()[k], 2);
      }
    }
    return sum / ref;
  }();
  CHECK(mse < 1e-3);  // SQNR above 30 dB
}

// A bias of 1e6 next to weights and inputs of about 1: b / (s_x * s_w) is far past 2^31, and a
// clamped int32 bias would change the output; it stays float.
TEST_CASE("A bias past int32 stays float and the layer still computes its output", "[passes][materialize]") {
  const std::string text = "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                           "agraph (float[2, 6] X) => (float[2, 4] Y)\n<" +
                           test::normalInitializer("W", {4, 6}, 1, 0.5f) +
                           R"ONNX(, float[4] B = {1e6, -2e6, 0.5, 3e6}> {
  Y = Gemm <transB = 1> (X, W, B)
}
)ONNX";
  Model m = test::parseModel(text), quantized = test::parseModel(text);
  const test::NormalDataset calib(8, {2, 6}, 3);
  auto report = quantizeModel(quantized, calib, PipelineOptions{});
  REQUIRE(report.isOk());
  CHECK(report->materialized.biases == 0);
  REQUIRE(report->materialized.float_biases.size() == 1);
  CHECK(report->materialized.float_biases[0].rfind("bias 'B' of node", 0) == 0);
  for (size_t i = 0; i < calib.size(); ++i) {
    const Tensor x = calib.sample(i)->at("X");
    const Tensor a = runY(m, x), b = runY(quantized, x);
    for (int64_t k = 0; k < a.numel(); ++k) {
      CHECK(std::fabs(a.data<float>()[k] - b.data<float>()[k]) <= 1e-6f * std::fabs(a.data<float>()[k]) + 0.5f);
    }
  }
}

// A MatMul weight of rank 3 gets one scale (ONNX Runtime's MatMulIntegerToFloat takes no other).
TEST_CASE("A 3-D MatMul weight is quantized per tensor", "[passes][plan]") {
  Model m = test::parseModel("<ir_version: 8, opset_import: [\"\" : 13]>\n"
                             "agraph (float[2, 3, 6] X) => (float[2, 3, 4] Y)\n<" +
                             test::normalInitializer("W", {2, 6, 4}, 1, 0.5f) + R"ONNX(> {
  Y = MatMul(X, W)
}
)ONNX");
  const test::NormalDataset calib(4, {2, 3, 6}, 3);
  REQUIRE(quantizeModel(m, calib, PipelineOptions{}).isOk());
  const Value* sw = m.graph->findValue("W_scale");
  REQUIRE(sw);
  CHECK(sw->initializer().numel() == 1);
}

}  // namespace
}  // namespace vitq
