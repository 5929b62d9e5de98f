// The MatMulNBits export (materialize-qdq{matmul-nbits}, passes/ptq/matmul_nbits_export.h) and the
// executor's com.microsoft.MatMulNBits kernel: the rewritten model computes what the blocked
// DequantizeLinear model computed (symmetric and asymmetric codes, a partial last block, per-channel
// weights, Gemm with transB and a bias), and block sizes MatMulNBits cannot take keep their
// DequantizeLinear with the reason. The byte layout is checked against ONNX Runtime by
// tests/e2e/weight_only_lm_test.py.
#include <catch2/catch.hpp>

#include <cmath>

#include "exec/executor.h"
#include "onnx_io/model_clone.h"
#include "passes/ptq/pipeline_text.h"
#include "passes/ptq/quantize_pipeline.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

const std::string kModel = R"(<ir_version: 8, opset_import: ["" : 17]>
g (float[2, 5, 40] X, float[3, 64] F) => (float[2, 5, 6] Y, float[3, 7] Z)
  <)" + test::normalInitializer("W", {40, 6}, 3, 0.5f) + ", " + test::normalInitializer("V", {7, 64}, 4, 0.5f) +
                           ", " + test::normalInitializer("C", {7}, 5, 0.5f) + R"(> {
  Y = MatMul(X, W)
  Z = Gemm <transB = 1> (F, V, C)
}
)";

// Quantizes kModel weight-only at 4 bits with \p pipeline; returns the model and its report.
std::pair<Model, PipelineReport> quantized(const std::string& pipeline) {
  Model m = test::parseModel(kModel);
  PipelineOptions o;
  REQUIRE(applyPipelineText(pipeline, o).isOk());
  o.quant.weight_bits = 4;
  const test::NormalDataset calib(2, {2, 5, 40}, 1);
  auto report = quantizeModel(m, calib, o);
  INFO(report.status().toString());
  REQUIRE(report.isOk());
  return {std::move(m), *report};
}

TensorMap run(const Model& m) {
  const Tensor x = test::NormalDataset(1, {2, 5, 40}, 9).sample(0)->at("X");
  const Tensor f = test::NormalDataset(1, {3, 64}, 10, "F").sample(0)->at("F");
  auto exec = Executor::create(*m.graph, m.opsetVersion(""));
  INFO(exec.status().toString());
  REQUIRE(exec.isOk());
  auto out = exec->run({{"X", x}, {"F", f}});
  INFO(out.status().toString());
  REQUIRE(out.isOk());
  return *out;
}

int count(const Model& m, const char* op) {
  int n = 0;
  for (const auto& node : m.graph->nodes()) n += node->opType() == op ? 1 : 0;
  return n;
}

void checkSameOutputs(const Model& qdq, const Model& nbits) {
  const TensorMap a = run(qdq), b = run(nbits);
  for (const char* name : {"Y", "Z"}) {
    const Tensor& x = a.at(name);
    const Tensor& y = b.at(name);
    REQUIRE(x.shape() == y.shape());
    for (int64_t i = 0; i < x.numel(); ++i) {
      CHECK(std::fabs(x.data<float>()[i] - y.data<float>()[i]) <= 1e-5f * std::max(1.0f, std::fabs(x.data<float>()[i])));
    }
  }
}

}  // namespace

TEST_CASE("matmul-nbits rewrites 4-bit weight products into MatMulNBits that compute the same outputs",
          "[passes][weight-only][matmul-nbits]") {
  for (const char* plan : {"plan{weights-only, group-size=16}", "plan{weights-only, group-size=16, asymmetric-weights}",
                           "plan{weights-only}"}) {
    INFO(plan);
    const std::string base = std::string(plan) + ", calibrate, materialize-qdq{int4";
    auto [qdq, qdq_report] = quantized(base + "}");
    auto [nbits, report] = quantized(base + ", matmul-nbits}");
    CHECK(report.matmul_nbits.fused == 2);
    CHECK(report.matmul_nbits.kept.empty());
    CHECK(count(nbits, "MatMulNBits") == 2);
    CHECK(count(nbits, "DequantizeLinear") == 0);
    CHECK(count(nbits, "MatMul") == 0);
    CHECK(count(nbits, "Add") == 1);  // the Gemm's C
    CHECK(nbits.opsetVersion("com.microsoft") == 1);
    const bool asymmetric = std::string(plan).find("asymmetric") != std::string::npos;
    for (const auto& n : nbits.graph->nodes()) {
      if (n->opType() != "MatMulNBits") continue;
      const bool gemm = n->attrs().intOr("K", 0) == 64;
      CHECK(n->attrs().intOr("bits", 0) == 4);
      // Per-channel weights are one block of the smallest power of two >= K (and >= 16).
      const int64_t block = std::string(plan).find("group-size") != std::string::npos ? 16 : 64;
      CHECK(n->attrs().intOr("block_size", 0) == block);
      const int64_t k = gemm ? 64 : 40, cols = gemm ? 7 : 6, blocks = (k + block - 1) / block;
      CHECK(n->input(1)->initializer().shape() == Shape{cols, blocks, block / 2});
      CHECK(n->input(2)->initializer().numel() == cols * blocks);
      // Symmetric int4 codes shift by 8, MatMulNBits' default zero point: no zero-point input.
      CHECK((n->numInputs() > 3) == asymmetric);
    }
    checkSameOutputs(qdq, nbits);
  }
}

TEST_CASE("matmul-nbits keeps DequantizeLinear where MatMulNBits cannot take the block size", "[passes][matmul-nbits]") {
  auto [nbits, report] = quantized("plan{weights-only, group-size=24}, calibrate, materialize-qdq{int4, matmul-nbits}");
  CHECK(report.matmul_nbits.fused == 0);
  REQUIRE(report.matmul_nbits.kept.size() == 2);
  CHECK(report.matmul_nbits.kept[0].find("block size 24 (MatMulNBits takes powers of two >= 16)") != std::string::npos);
  CHECK(count(nbits, "DequantizeLinear") == 2);
  CHECK(count(nbits, "MatMulNBits") == 0);

  Model m = test::parseModel(kModel);
  PipelineOptions o;
  REQUIRE(applyPipelineText("plan, calibrate, materialize-qdq{matmul-nbits}", o).isOk());
  const Status refused = quantizeModel(m, test::NormalDataset(2, {2, 5, 40}, 1), o).status();
  INFO(refused.toString());
  CHECK(refused.message().find("it takes --weight-only (plan{weights-only}) with --wbits 4 or fewer") != std::string::npos);
}

TEST_CASE("the MatMulNBits kernel reads packed codes, packed zero points and a partial last block",
          "[exec][matmul-nbits]") {
  // K = 20 in blocks of 16 (the second holds 4 codes), N = 2. Codes of column n, element k: (k + 3n) % 16;
  // zero points 3 and 12 (column 0), 7 and 9 (column 1); scales 0.5, 0.25, 2, 1.
  std::string b = "uint8[2, 2, 8] B = {";
  for (int n = 0; n < 2; ++n) {
    for (int blk = 0; blk < 2; ++blk) {
      for (int j = 0; j < 8; ++j) {
        const int k0 = blk * 16 + 2 * j, k1 = k0 + 1;
        const int lo = k0 < 20 ? (k0 + 3 * n) % 16 : 0, hi = k1 < 20 ? (k1 + 3 * n) % 16 : 0;
        b += std::to_string(lo | (hi << 4)) + ((n == 1 && blk == 1 && j == 7) ? "}" : ", ");
      }
    }
  }
  const std::string text = R"(<ir_version: 8, opset_import: ["" : 17, "com.microsoft" : 1]>
g (float[3, 20] A) => (float[3, 2] Y)
  <)" + b + R"(, float[4] S = {0.5, 0.25, 2.0, 1.0}, uint8[2] Z = {195, 151}> {
  Y = com.microsoft.MatMulNBits <K = 20, N = 2, bits = 4, block_size = 16> (A, B, S, Z)
}
)";
  const Model m = test::parseModel(text);
  const Tensor a = test::NormalDataset(1, {3, 20}, 4, "A").sample(0)->at("A");
  auto exec = Executor::create(*m.graph, 17);
  REQUIRE(exec.isOk());
  auto out = exec->run({{"A", a}});
  INFO(out.status().toString());
  REQUIRE(out.isOk());
  const float scale[2][2] = {{0.5f, 0.25f}, {2.0f, 1.0f}};
  const int zero[2][2] = {{3, 12}, {7, 9}};
  for (int r = 0; r < 3; ++r) {
    for (int n = 0; n < 2; ++n) {
      double want = 0;
      for (int k = 0; k < 20; ++k) want += a.data<float>()[r * 20 + k] * ((k + 3 * n) % 16 - zero[n][k / 16]) * scale[n][k / 16];
      CHECK(out->at("Y").data<float>()[r * 2 + n] == Approx(want).epsilon(1e-5));
    }
  }
}

}  // namespace vitq
