// GPTQ (passes/ptq/gptq.h): on uncorrelated inputs of equal power it is round-to-nearest; on
// correlated inputs it lowers the layer's output error below round-to-nearest on the same grid;
// every weight it writes is on the calibrated grid; as a step it runs between calibrate and the
// QDQ nodes and keeps the model's output closer to the float model.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "exec/executor.h"
#include "passes/ptq/gptq.h"
#include "passes/ptq/pipeline_text.h"
#include "passes/ptq/quantize_pipeline.h"
#include "quant/math/quantize.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

Eigen::MatrixXd randomMatrix(int64_t rows, int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist(0.0, 1.0);
  Eigen::MatrixXd m(rows, cols);
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = dist(rng);
  return m;
}

// Per-row symmetric 4-bit scales (absmax / 7) of \p w.
std::vector<float> rowScales(const Eigen::MatrixXd& w) {
  std::vector<float> s;
  for (int64_t r = 0; r < w.rows(); ++r) s.push_back(static_cast<float>(w.row(r).cwiseAbs().maxCoeff() / 7.0));
  return s;
}

WeightGrid rowGrid(const Eigen::MatrixXd& w, const std::vector<float>& s) {
  WeightGrid g{Eigen::MatrixXf(w.rows(), w.cols()), Eigen::MatrixXi::Zero(w.rows(), w.cols()), -7, 7};
  for (int64_t r = 0; r < w.rows(); ++r) g.scale.row(r).setConstant(s[r]);
  return g;
}

Eigen::MatrixXd nearest(const Eigen::MatrixXd& w, const std::vector<float>& s) {
  Eigen::MatrixXd q(w.rows(), w.cols());
  for (int64_t r = 0; r < w.rows(); ++r) {
    for (int64_t c = 0; c < w.cols(); ++c) {
      q(r, c) = dequantizeValue(quantizeValue(static_cast<float>(w(r, c)), s[r], 0, -7, 7), s[r], 0);
    }
  }
  return q;
}

double outputError(const Eigen::MatrixXd& e, const Eigen::MatrixXd& h) { return (e * h).cwiseProduct(e).sum(); }

// Quantizes \p model (input "X", output "Y") at W3A8 with \p pipeline; returns the squared output
// error against the float model on \p eval and the run's report.
std::pair<double, PipelineReport> w3a8Error(const std::string& model, const std::string& pipeline, const Dataset& calib,
                                            const Dataset& eval) {
  Model reference = test::parseModel(model);
  Model m = test::parseModel(model);
  PipelineOptions o;
  REQUIRE(applyPipelineText(pipeline, o).isOk());
  o.quant.weight_bits = 3;
  o.quant.activation_bits = 8;
  auto report = quantizeModel(m, calib, o);
  REQUIRE(report.isOk());
  auto a = Executor::create(*reference.graph, 17);
  auto b = Executor::create(*m.graph, 17);
  REQUIRE(a.isOk());
  REQUIRE(b.isOk());
  double e = 0;
  for (size_t i = 0; i < eval.size(); ++i) {
    const Tensor ya = a->run(*eval.sample(i))->at("Y");
    const Tensor yb = b->run(*eval.sample(i))->at("Y");
    for (int64_t j = 0; j < ya.numel(); ++j) e += std::pow(ya.data<float>()[j] - yb.data<float>()[j], 2);
  }
  return {e, *report};
}

}  // namespace

TEST_CASE("GPTQ with uncorrelated inputs of equal power is round-to-nearest", "[passes][gptq]") {
  const Eigen::MatrixXd w = randomMatrix(6, 20, 1);
  const std::vector<float> s = rowScales(w);
  const Eigen::MatrixXd h = 3.0 * Eigen::MatrixXd::Identity(20, 20);
  GptqOptions o;
  o.block_size = 8;
  auto q = gptqQuantize(w, h, rowGrid(w, s), o);
  REQUIRE(q.isOk());
  CHECK((*q - nearest(w, s)).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("GPTQ without damping on a singular Hessian damps itself instead of failing", "[passes][gptq]") {
  const Eigen::MatrixXd x = randomMatrix(40, 3, 6) * randomMatrix(3, 16, 7);  // rank 3 of 16
  const Eigen::MatrixXd w = randomMatrix(4, 16, 8);
  GptqOptions o;
  o.damp = 0;
  auto q = gptqQuantize(w, x.transpose() * x, rowGrid(w, rowScales(w)), o);
  REQUIRE(q.isOk());
  CHECK(q->allFinite());
}

TEST_CASE("GPTQ lowers the output error on correlated inputs, on the same grid", "[passes][gptq]") {
  // Inputs with a few strong shared directions: X = Z A, so H = X^T X is far from diagonal.
  const Eigen::MatrixXd x = randomMatrix(400, 6, 2) * randomMatrix(6, 32, 3) + 0.1 * randomMatrix(400, 32, 4);
  const Eigen::MatrixXd h = x.transpose() * x;
  const Eigen::MatrixXd w = randomMatrix(12, 32, 5);
  const std::vector<float> s = rowScales(w);
  for (bool act_order : {false, true}) {
    for (int block : {1, 8, 128}) {
      INFO("act_order " << act_order << ", block " << block);
      GptqOptions o;
      o.act_order = act_order;
      o.block_size = block;
      auto q = gptqQuantize(w, h, rowGrid(w, s), o);
      REQUIRE(q.isOk());
      const double e_nearest = outputError(w - nearest(w, s), h);
      const double e_gptq = outputError(w - *q, h);
      CHECK(e_gptq < 0.7 * e_nearest);
      // Every weight is a code of its row's grid.
      for (int64_t r = 0; r < q->rows(); ++r) {
        for (int64_t c = 0; c < q->cols(); ++c) {
          const double code = (*q)(r, c) / s[r];
          CHECK(std::fabs(code - std::nearbyint(code)) < 1e-4);
          CHECK(std::fabs(code) <= 7.0 + 1e-4);
        }
      }
    }
  }
}

TEST_CASE("the gptq step rounds an MLP's weights closer to its float output than nearest rounding",
          "[passes][gptq]") {
  // Correlated inputs: the first MatMul mixes 4 sources into 16 channels.
  const std::string model = R"(<ir_version: 8, opset_import: ["" : 17]>
mlp (float[1, 32, 4] X) => (float[1, 32, 8] Y)
  <)" + test::normalInitializer("Mix", {4, 16}, 7, 1.0f) + ", " + test::normalInitializer("W1", {16, 24}, 8, 0.3f) +
                            ", " + test::normalInitializer("W2", {24, 8}, 9, 0.3f) + R"(> {
  H0 = MatMul(X, Mix)
  H1 = MatMul(H0, W1)
  A = Relu(H1)
  Y = MatMul(A, W2)
}
)";
  const test::NormalDataset calib(32, {1, 32, 4}, 11);
  const test::NormalDataset eval(16, {1, 32, 4}, 12);
  const auto [plain, plain_report] = w3a8Error(model, "plan, calibrate{range=minmax}, materialize-qdq", calib, eval);
  const auto [gptq, gptq_report] = w3a8Error(model, "plan, calibrate{range=minmax}, gptq, materialize-qdq", calib, eval);
  CHECK(gptq_report.pipeline == std::vector<std::string>{"plan", "calibrate", "gptq", "materialize-qdq"});
  REQUIRE(gptq_report.gptq.size() == 3);
  for (const auto& l : gptq_report.gptq) {
    INFO(l.layer);
    CHECK(l.rows == 32 * 32);
    CHECK(l.error_gptq <= l.error_nearest);
  }
  INFO("output squared error: nearest " << plain << ", gptq " << gptq);
  CHECK(gptq < 0.8 * plain);
}

}  // namespace vitq

namespace vitq {

TEST_CASE("the gptq step rounds Conv weights through their input patches", "[passes][gptq]") {
  // Smooth inputs (a blurred image) give strongly correlated patches, as real images do.
  const std::string model = R"(<ir_version: 8, opset_import: ["" : 17]>
convs (float[1, 2, 12, 12] X) => (float[1, 6, 6, 6] Y)
  <)" + test::normalInitializer("W1", {8, 2, 3, 3}, 21, 0.5f) + ", " +
                            test::normalInitializer("W2", {6, 8, 3, 3}, 22, 0.3f) + R"(> {
  S = AveragePool <kernel_shape = [3, 3], pads = [1, 1, 1, 1]> (X)
  H = Conv <pads = [1, 1, 1, 1]> (S, W1)
  A = Relu(H)
  Y = Conv <pads = [1, 1, 1, 1], strides = [2, 2]> (A, W2)
}
)";
  const test::NormalDataset calib(32, {1, 2, 12, 12}, 31);
  const test::NormalDataset eval(16, {1, 2, 12, 12}, 32);
  const auto [plain, plain_report] = w3a8Error(model, "plan, calibrate{range=minmax}, materialize-qdq", calib, eval);
  const auto [gptq, gptq_report] = w3a8Error(model, "plan, calibrate{range=minmax}, gptq, materialize-qdq", calib, eval);
  REQUIRE(gptq_report.gptq.size() == 2);  // W1 and W2
  CHECK(gptq_report.gptq[0].rows == 32 * 12 * 12);  // every output position of every sample
  CHECK(gptq_report.gptq[1].rows == 32 * 6 * 6);    // stride 2
  for (const auto& l : gptq_report.gptq) {
    INFO(l.layer);
    CHECK(l.error_gptq < 0.8 * l.error_nearest);
  }
  INFO("output squared error: nearest " << plain << ", gptq " << gptq);
  CHECK(gptq < 0.8 * plain);
}

}  // namespace vitq
