// Weight-only, group-wise quantization (plan{weights-only, group-size=N}): only the MatMul/Gemm
// weights are planned, each block of N weights along the input dimension gets its own scale (a
// partial last block included), and materialize-qdq writes a blocked DequantizeLinear (opset 21)
// whose model computes x times the block-quantized weight exactly.
#include <catch2/catch.hpp>

#include <cmath>

#include "exec/executor.h"
#include "passes/ptq/pipeline_text.h"
#include "passes/ptq/quantize_pipeline.h"
#include "quant/math/quantize.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {

TEST_CASE("weight-only group-wise quantization writes blocked DequantizeLinear that computes the blocks' grids",
          "[passes][weight-only]") {
  const std::string model_text = R"(<ir_version: 8, opset_import: ["" : 17]>
g (float[2, 5, 40] X, float[2, 30] F) => (float[2, 5, 6] Y, float[2, 7] Z)
  <)" + test::normalInitializer("W", {40, 6}, 3, 0.5f) + ", " + test::normalInitializer("V", {7, 30}, 4, 0.5f) +
                                 R"(> {
  Y = MatMul(X, W)
  Z = Gemm <transB = 1> (F, V)
}
)";
  const Model reference = test::parseModel(model_text);
  Model m = test::parseModel(model_text);
  PipelineOptions o;
  REQUIRE(applyPipelineText("plan{weights-only, group-size=16}, calibrate, materialize-qdq{int4}", o).isOk());
  o.quant.weight_bits = 4;
  const test::NormalDataset calib(2, {2, 5, 40}, 1);
  auto report = quantizeModel(m, calib, o);
  INFO(report.status().toString());
  REQUIRE(report.isOk());
  CHECK(report->materialized.weights == 2);
  CHECK(report->materialized.blocked_weights == 2);
  CHECK(report->materialized.quantize_nodes == 0);  // activations stay float
  CHECK(m.opsetVersion("") == 21);
  int blocked = 0;
  for (const auto& n : m.graph->nodes()) {
    CHECK_FALSE(n->is("QuantizeLinear"));
    if (!n->is("DequantizeLinear")) continue;
    const bool matmul_weight = n->input(0)->initializer().dim(0) == 40;
    CHECK(n->attrs().intOr("block_size", 0) == 16);
    CHECK(n->attrs().intOr("axis", -1) == (matmul_weight ? 0 : 1));  // the input dimension
    CHECK(n->input(0)->initializer().dtype() == DataType::kInt4);
    CHECK(n->input(1)->initializer().shape() == (matmul_weight ? Shape{3, 6} : Shape{7, 2}));  // ceil(40/16), ceil(30/16)
    ++blocked;
  }
  CHECK(blocked == 2);

  // The quantized MatMul computes X times W with each block on its own symmetric 4-bit grid.
  const Tensor& w = reference.graph->findValue("W")->initializer();
  std::vector<float> wq(240);
  for (int64_t c = 0; c < 6; ++c) {
    for (int64_t b = 0; b < 3; ++b) {
      float amax = 0;
      for (int64_t i = 16 * b; i < std::min<int64_t>(40, 16 * b + 16); ++i) amax = std::max(amax, std::fabs(w.data<float>()[i * 6 + c]));
      const float s = amax / 7.0f;
      for (int64_t i = 16 * b; i < std::min<int64_t>(40, 16 * b + 16); ++i) {
        wq[static_cast<size_t>(i * 6 + c)] = dequantizeValue(quantizeValue(w.data<float>()[i * 6 + c], s, 0, -7, 7), s, 0);
      }
    }
  }
  // The report's weight SQNR is this grid's error on W.
  double signal = 0, noise = 0;
  for (size_t i = 0; i < wq.size(); ++i) {
    const double v = w.data<float>()[i];
    signal += v * v;
    noise += (wq[i] - v) * (wq[i] - v);
  }
  REQUIRE(report->materialized.weight_errors.size() == 2);
  const WeightError& we = report->materialized.weight_errors[0].weight == "W" ? report->materialized.weight_errors[0]
                                                                               : report->materialized.weight_errors[1];
  CHECK(we.weight == "W");
  CHECK(we.op == "MatMul");
  CHECK(we.bits == 4);
  CHECK(we.granularity == "block 16");
  CHECK(we.sqnr_db == Approx(10.0 * std::log10(signal / noise)).epsilon(1e-9));

  const Tensor x = test::NormalDataset(1, {2, 5, 40}, 9).sample(0)->at("X");
  const Tensor f = test::NormalDataset(1, {2, 30}, 10, "F").sample(0)->at("F");
  auto exec = Executor::create(*m.graph, 21);
  REQUIRE(exec.isOk());
  auto out = exec->run({{"X", x}, {"F", f}});
  REQUIRE(out.isOk());
  const Tensor& y = out->at("Y");
  for (int64_t r = 0; r < 10; ++r) {
    for (int64_t c = 0; c < 6; ++c) {
      double want = 0;
      for (int64_t i = 0; i < 40; ++i) want += double(x.data<float>()[r * 40 + i]) * wq[static_cast<size_t>(i * 6 + c)];
      CHECK(std::fabs(y.data<float>()[r * 6 + c] - want) <= 1e-4 * std::max(1.0, std::fabs(want)));
    }
  }
}

}  // namespace vitq
