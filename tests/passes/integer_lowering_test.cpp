// The I-ViT integer export of a whole transformer block, through the pipeline's steps (plan,
// calibrate, integer-lowering): a pre-norm ViT block written in ONNX text (LayerNorm, q/k/v
// projections, q k^T scaled, Softmax, attention x v, output projection, residual, LayerNorm, MLP with
// an erf GELU, residual) lowered to integer-only ops and checked against the float block on samples
// it was not calibrated on.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "exec/executor.h"
#include "onnx_io/exporter.h"
#include "onnx_io/importer.h"
#include "passes/ptq/pipeline_text.h"
#include "passes/ptq/quantize_pipeline.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

constexpr int kTokens = 8, kDim = 16, kHidden = 32;

std::string constant(const std::string& name, int n, float value) {
  std::string text = "float[" + std::to_string(n) + "] " + name + " = {";
  for (int i = 0; i < n; ++i) text += (i ? ", " : "") + std::to_string(value);
  return text + "}";
}

std::string vitBlock() {
  using test::normalInitializer;
  const float w = 1.0f / std::sqrt(static_cast<float>(kDim));
  const std::string inits = constant("G1", kDim, 1.0f) + ", " + normalInitializer("B1", {kDim}, 1, 0.1f) + ", " +
                            normalInitializer("Wq", {kDim, kDim}, 2, w) + ", " + normalInitializer("Bq", {kDim}, 3, 0.1f) +
                            ", " + normalInitializer("Wk", {kDim, kDim}, 4, w) + ", " +
                            normalInitializer("Bk", {kDim}, 5, 0.1f) + ", " + normalInitializer("Wv", {kDim, kDim}, 6, w) +
                            ", " + normalInitializer("Bv", {kDim}, 7, 0.1f) + ", " +
                            normalInitializer("Wo", {kDim, kDim}, 8, w) + ", " + normalInitializer("Bo", {kDim}, 9, 0.1f) +
                            ", " + constant("G2", kDim, 1.0f) + ", " + normalInitializer("B2", {kDim}, 10, 0.1f) + ", " +
                            normalInitializer("W1", {kDim, kHidden}, 11, w) + ", " +
                            normalInitializer("Bf1", {kHidden}, 12, 0.1f) + ", " +
                            normalInitializer("W2", {kHidden, kDim}, 13, 1.0f / std::sqrt(float(kHidden))) + ", " +
                            normalInitializer("Bf2", {kDim}, 14, 0.1f) +
                            ", float[1] Scale = {0.25}, float[1] Sqrt2 = {1.41421356}, float[1] One = {1.0}, "
                            "float[1] Half = {0.5}";
  const std::string shape = "[1, " + std::to_string(kTokens) + ", " + std::to_string(kDim) + "]";
  return R"(<ir_version: 8, opset_import: ["" : 17]>
block (float)" + shape + R"( X) => (float)" + shape + R"( Y)
  <)" + inits + R"(> {
  N1 = LayerNormalization <axis = -1, epsilon = 0.00001> (X, G1, B1)
  Qm = MatMul(N1, Wq)
  Q = Add(Qm, Bq)
  Km = MatMul(N1, Wk)
  K = Add(Km, Bk)
  Vm = MatMul(N1, Wv)
  V = Add(Vm, Bv)
  Kt = Transpose <perm = [0, 2, 1]> (K)
  S = MatMul(Q, Kt)
  Ss = Mul(S, Scale)
  P = Softmax <axis = -1> (Ss)
  A = MatMul(P, V)
  Om = MatMul(A, Wo)
  O = Add(Om, Bo)
  R1 = Add(X, O)
  N2 = LayerNormalization <axis = -1, epsilon = 0.00001> (R1, G2, B2)
  H1m = MatMul(N2, W1)
  H1 = Add(H1m, Bf1)
  Hd = Div(H1, Sqrt2)
  He = Erf(Hd)
  Hp = Add(He, One)
  Hm = Mul(H1, Hp)
  G = Mul(Hm, Half)
  H2m = MatMul(G, W2)
  H2 = Add(H2m, Bf2)
  Y = Add(R1, H2)
}
)";
}

}  // namespace

TEST_CASE("a ViT block lowered to integers computes the float block", "[passes][integer]") {
  const Model float_block = test::parseModel(vitBlock());
  Model lowered = test::parseModel(vitBlock());
  PipelineOptions options;
  REQUIRE(applyPipelineText("plan{activations=symmetric}, calibrate{range=minmax}, integer-lowering", options).isOk());
  const test::NormalDataset calib(64, {1, kTokens, kDim}, 21);
  auto report = quantizeModel(lowered, calib, options);
  INFO(report.status().toString());
  REQUIRE(report.isOk());
  CHECK(report->pipeline == std::vector<std::string>{"plan", "calibrate", "integer-lowering"});
  const IntegerLoweringReport& r = report->integer;
  CHECK(r.linear == 6);  // q, k, v, output projection, fc1, fc2
  CHECK(r.activation_matmuls == 2);
  CHECK(r.shiftmax == 1);
  CHECK(r.shiftgelu == 1);
  CHECK(r.layernorms == 2);
  CHECK(r.residual_adds == 2);
  CHECK(r.float_ops.empty());

  // Float arithmetic only where the input is quantized and the output dequantized.
  for (const auto& node : lowered.graph->nodes()) {
    for (const Value* out : node->outputs()) {
      if (!out || out->type().dtype != DataType::kFloat) continue;
      const std::string& name = node->name();
      INFO(node->describe());
      CHECK((name.rfind("input_quantizer/", 0) == 0 || name.rfind("output_dequantizer/", 0) == 0));
    }
  }

  // As the CLI runs it: written, read back with the vitq functions inlined.
  ImportOptions inline_functions;
  inline_functions.inline_functions = true;
  auto runnable = importModel(exportModel(lowered), ".", inline_functions);
  REQUIRE(runnable.isOk());
  auto float_exec = Executor::create(*float_block.graph, 17);
  auto int_exec = Executor::create(*runnable->graph, runnable->opsetVersion(""));
  REQUIRE(float_exec.isOk());
  REQUIRE(int_exec.isOk());
  const test::NormalDataset eval(16, {1, kTokens, kDim}, 99);  // not the calibration samples
  double signal = 0, noise = 0;
  for (size_t i = 0; i < eval.size(); ++i) {
    const TensorMap feed = *eval.sample(i);
    auto want = float_exec->run(feed);
    auto got = int_exec->run(feed);
    REQUIRE(want.isOk());
    REQUIRE(got.isOk());
    const Tensor& a = want->at("Y");
    const Tensor& b = got->at("Y");
    REQUIRE(b.dtype() == DataType::kFloat);
    REQUIRE(a.numel() == b.numel());
    for (int64_t j = 0; j < a.numel(); ++j) {
      const double d = a.data<float>()[j] - b.data<float>()[j];
      signal += a.data<float>()[j] * double(a.data<float>()[j]);
      noise += d * d;
    }
  }
  const double sqnr_db = 10 * std::log10(signal / noise);
  INFO("SQNR " << sqnr_db << " dB");
  CHECK(sqnr_db > 30.0);
}

}  // namespace vitq
