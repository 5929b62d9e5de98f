// Weight-only, group-wise quantization (plan{weights-only, group-size=N}): only the MatMul/Gemm
// weights are planned, each block of N weights along the input dimension gets its own scale (a
// partial last block included), and materialize-qdq writes a blocked DequantizeLinear (opset 21)
// whose model computes x times the block-quantized weight exactly.
#include <catch2/catch.hpp>

#include <algorithm>
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

// A language model's token table: Gather reads rows of E; plan{embeddings} gives each block of 16
// values of a row its own 4-bit scale, and the Gather then reads exactly those grids.
TEST_CASE("weight-only --embeddings quantizes the table Gather reads, per block of each row", "[passes][weight-only]") {
  const std::string model_text = R"(<ir_version: 8, opset_import: ["" : 17]>
g (float[2, 3] X) => (float[2, 3, 40] R, float[2, 3, 6] Y)
  <)" + test::normalInitializer("E", {50, 40}, 5, 0.5f) + ", " + test::normalInitializer("W", {40, 6}, 6, 0.5f) +
                                 R"(, float[1] Ten = {10.0}> {
  A = Abs(X)
  S = Mul(A, Ten)
  I = Cast <to = 7> (S)
  R = Gather(E, I)
  Y = MatMul(R, W)
}
)";
  const Model reference = test::parseModel(model_text);
  const test::NormalDataset calib(2, {2, 3}, 1);
  const auto quantize = [&](const std::string& pipeline) {
    Model m = test::parseModel(model_text);
    PipelineOptions o;
    REQUIRE(applyPipelineText(pipeline, o).isOk());
    o.quant.weight_bits = 4;
    auto report = quantizeModel(m, calib, o);
    INFO(report.status().toString());
    REQUIRE(report.isOk());
    return std::make_pair(std::move(m), *report);
  };
  const auto [plain_model, plain] = quantize("plan{weights-only, group-size=16}, calibrate, materialize-qdq{int4}");
  CHECK(plain.plan.embedding_tables == 0);
  CHECK(plain.materialized.weights == 1);  // the MatMul's only: without the option tables stay float
  const auto [m, with] = quantize("plan{weights-only, group-size=16, embeddings}, calibrate, materialize-qdq{int4}");
  CHECK(with.plan.embedding_tables == 1);
  CHECK(with.materialized.weights == 2);
  bool table_seen = false;
  for (const auto& n : m.graph->nodes()) {
    if (!n->is("DequantizeLinear") || n->input(0)->initializer().shape() != Shape{50, 40}) continue;
    table_seen = true;
    CHECK(n->attrs().intOr("axis", -1) == 1);  // blocks run along each row
    CHECK(n->attrs().intOr("block_size", 0) == 16);
    CHECK(n->input(1)->initializer().shape() == Shape{50, 3});
    CHECK(n->output(0)->uses()[0].user->is("Gather"));
  }
  CHECK(table_seen);

  // Each row's blocks on their own symmetric 4-bit grid: the rows Gather returns, and the error
  // the report gives for E.
  const float* e = reference.graph->findValue("E")->initializer().data<float>();
  std::vector<float> eq(2000);
  double signal = 0, noise = 0;
  for (int64_t row = 0; row < 50; ++row) {
    for (int64_t b = 0; b < 3; ++b) {
      const int64_t begin = row * 40 + 16 * b, end = row * 40 + std::min<int64_t>(40, 16 * b + 16);
      float amax = 0;
      for (int64_t i = begin; i < end; ++i) amax = std::max(amax, std::fabs(e[i]));
      for (int64_t i = begin; i < end; ++i) {
        eq[static_cast<size_t>(i)] = dequantizeValue(quantizeValue(e[i], amax / 7.0f, 0, -7, 7), amax / 7.0f, 0);
        signal += double(e[i]) * e[i];
        noise += double(eq[static_cast<size_t>(i)] - e[i]) * (eq[static_cast<size_t>(i)] - e[i]);
      }
    }
  }
  const auto error = std::find_if(with.materialized.weight_errors.begin(), with.materialized.weight_errors.end(),
                                  [](const WeightError& w) { return w.weight == "E"; });
  REQUIRE(error != with.materialized.weight_errors.end());
  CHECK(error->op == "Gather");
  CHECK(error->granularity == "block 16");
  CHECK(error->sqnr_db == Approx(10.0 * std::log10(signal / noise)).epsilon(1e-9));
  const Tensor x = test::NormalDataset(1, {2, 3}, 9).sample(0)->at("X");
  const auto gathered_rows = [&](const Model& model) {
    auto exec = Executor::create(*model.graph, 21);
    REQUIRE(exec.isOk());
    auto out = exec->run({{"X", x}});
    REQUIRE(out.isOk());
    const Tensor& r = out->at("R");
    for (int64_t k = 0; k < 6; ++k) {
      const auto row = static_cast<int64_t>(std::fabs(x.data<float>()[k]) * 10.0f);
      for (int64_t j = 0; j < 40; ++j) CHECK(r.data<float>()[k * 40 + j] == eq[static_cast<size_t>(row * 40 + j)]);
    }
  };
  gathered_rows(m);

  // ONNX Runtime's form: GatherBlockQuantized on the same codes needs whole blocks of a power of two
  // >= 16 (rows of 40 in blocks of 16 are not), so a table of 32-wide rows in blocks of 16.
  SECTION("materialize-qdq{matmul-nbits} writes GatherBlockQuantized, which reads the same grids") {
    auto [kept_model, kept] = quantize("plan{weights-only, group-size=16, embeddings}, calibrate, "
                                       "materialize-qdq{int4, matmul-nbits}");
    CHECK(kept.matmul_nbits.gather_nodes == 0);
    REQUIRE(kept.matmul_nbits.kept.size() == 1);
    CHECK_THAT(kept.matmul_nbits.kept[0], Catch::Contains("rows of 40 are not whole blocks"));
    gathered_rows(kept_model);
  }
}

TEST_CASE("GatherBlockQuantized export and kernel: the gathered rows of a 4-bit table, per block or per row",
          "[passes][weight-only]") {
  for (const char* groups : {"group-size=16, ", ""}) {
    for (const char* asymmetric : {"", "asymmetric-weights, "}) {
      const std::string model_text = R"(<ir_version: 8, opset_import: ["" : 17]>
g (int64[5] I) => (float[5, 32] R)
  <)" + test::normalInitializer("E", {20, 32}, 7, 0.5f) + R"(> {
  R = Gather(E, I)
}
)";
      const Model reference = test::parseModel(model_text);
      const auto run = [&](const std::string& pipeline) {
        Model m = test::parseModel(model_text);
        PipelineOptions o;
        REQUIRE(applyPipelineText(pipeline, o).isOk());
        o.quant.weight_bits = 4;
        const auto report = quantizeModel(m, test::NormalDataset(1, {5}, 1, "unused"), o);
        INFO(report.status().toString());
        REQUIRE(report.isOk());
        Tensor ids(DataType::kInt64, {5});
        const int64_t picks[] = {0, 19, -1, 7, 7};
        std::copy(picks, picks + 5, ids.data<int64_t>());
        auto exec = Executor::create(*m.graph, 21);
        REQUIRE(exec.isOk());
        auto out = exec->run({{"I", ids}});
        REQUIRE(out.isOk());
        return std::make_tuple(std::move(m), *report, out->at("R"));
      };
      const std::string plan = std::string("plan{weights-only, ") + groups + asymmetric + "embeddings}, calibrate, ";
      INFO(plan);
      const auto [qdq_model, qdq_report, qdq_rows] = run(plan + "materialize-qdq{int4}");
      const auto [fused_model, fused_report, fused_rows] = run(plan + "materialize-qdq{int4, matmul-nbits}");
      CHECK(fused_report.matmul_nbits.gather_nodes == 1);
      size_t gathers = 0, dequantizers = 0;
      for (const auto& n : fused_model.graph->nodes()) {
        const bool fused = n->domain() == "com.microsoft" && n->opType() == "GatherBlockQuantized";
        gathers += fused ? 1 : 0;
        dequantizers += n->is("DequantizeLinear") ? 1 : 0;
        if (fused) CHECK(n->attrs().intOr("block_size", 0) == (*groups ? 16 : 32));
      }
      CHECK(gathers == 1);
      CHECK(dequantizers == 0);
      CHECK(fused_rows.bitwiseEqual(qdq_rows));  // the same codes, scales and zero points
      const float* e = reference.graph->findValue("E")->initializer().data<float>();
      for (int64_t j = 0; j < 32; ++j) CHECK(std::fabs(qdq_rows.data<float>()[32 + j] - e[19 * 32 + j]) < 0.15f);
    }
  }
}

}  // namespace vitq
