#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "exec/executor.h"
#include "passes/ptq/quantize_pipeline.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

// A bias-free Conv and a MatMul with a bias Add, quantized at W4A4 so that rounding visibly moves
// their output means.
const char* kConvMatMul = R"ONNX(
<ir_version: 8, opset_import: ["" : 17]>
agraph (float[1, 3, 6, 6] X) => (float[1, 4, 6, 6] C, float[1, 3, 6, 2] M)
  <float[4, 3, 3, 3] W = {0.3, -0.8, 0.05, 0.9, 0.12, -0.4, 0.61, 0.2, -0.07, 0.33, -0.5, 0.71, 0.08, -0.15, 0.44,
                          -0.9, 0.27, 0.02, 0.5, -0.31, 0.19, -0.66, 0.4, 0.03, 0.81, -0.22, 0.1,
                          -0.35, 0.6, 0.14, -0.05, 0.72, -0.48, 0.29, 0.11, -0.83, 0.46, -0.09, 0.38,
                          0.07, -0.61, 0.25, 0.93, -0.17, 0.52, 0.31, -0.74, 0.06, -0.28, 0.64, 0.15,
                          -0.42, 0.2, 0.58, 0.36, -0.13, 0.77, -0.52, 0.09, 0.45, -0.3, 0.68, 0.01,
                          -0.86, 0.23, 0.4, 0.17, -0.6, 0.32, -0.11, 0.55, -0.37, 0.74, 0.04, -0.19,
                          0.63, -0.44, 0.12, 0.28, -0.7, 0.49, -0.02, 0.35, -0.56, 0.88, -0.24, 0.16,
                          0.42, -0.64, 0.21, -0.08, 0.57, -0.33, 0.1, 0.69, -0.47, 0.26, 0.05, -0.79,
                          0.34, 0.13, -0.51, 0.62, -0.18, 0.47, -0.71, 0.24, 0.5},
   float[6, 2] V = {0.5, -1.2, 0.3, 0.8, -0.7, 0.25, 1.1, -0.4, 0.05, 0.9, -0.6, 0.35}, float[2] B = {0.2, -0.1}> {
  C = Conv <pads = [1, 1, 1, 1]> (X, W)
  P = MatMul(X, V)
  M = Add(P, B)
}
)ONNX";

// Mean of every output channel (axis 1 of C, the last axis of M) over \p data.
std::map<std::string, std::vector<double>> channelMeans(const Model& m, const Dataset& data) {
  auto exec = Executor::create(*m.graph, m.opsetVersion(""));
  REQUIRE(exec.isOk());
  std::map<std::string, std::vector<double>> sums;
  std::map<std::string, double> counts;
  for (size_t i = 0; i < data.size(); ++i) {
    auto out = exec->run(*data.sample(i));
    REQUIRE(out.isOk());
    for (const auto& [name, t] : *out) {
      const int64_t axis = name == "C" ? 1 : t.rank() - 1;
      const int64_t channels = t.dim(axis);
      int64_t inner = 1;
      for (int64_t d = axis + 1; d < t.rank(); ++d) inner *= t.dim(d);
      auto& s = sums[name];
      s.resize(static_cast<size_t>(channels), 0.0);
      for (int64_t k = 0; k < t.numel(); ++k) s[static_cast<size_t>((k / inner) % channels)] += t.data<float>()[k];
      counts[name] += static_cast<double>(t.numel() / channels);
    }
  }
  for (auto& [name, s] : sums) {
    for (double& v : s) v /= counts[name];
  }
  return sums;
}

double largestGap(const std::map<std::string, std::vector<double>>& a, const std::map<std::string, std::vector<double>>& b) {
  double gap = 0;
  for (const auto& [name, m] : a) {
    for (size_t c = 0; c < m.size(); ++c) gap = std::max(gap, std::fabs(m[c] - b.at(name)[c]));
  }
  return gap;
}

TEST_CASE("bias correction centres quantized layers' outputs where the float ones are", "[passes][bias]") {
  const test::NormalDataset data(24, {1, 3, 6, 6}, 11);
  const Model reference = test::parseModel(kConvMatMul);
  const auto float_means = channelMeans(reference, data);
  PipelineOptions o;
  o.quant.weight_bits = 4;
  o.quant.activation_bits = 4;
  o.quant.quantize_outputs = false;  // the model outputs are the layers' own outputs
  Model plain = test::parseModel(kConvMatMul);
  REQUIRE(quantizeModel(plain, data, o).isOk());
  const double before = largestGap(float_means, channelMeans(plain, data));

  o.bias_correction = true;
  Model corrected = test::parseModel(kConvMatMul);
  auto report = quantizeModel(corrected, data, o);
  REQUIRE(report.isOk());
  CHECK(report->bias_corrected.size() == 2);
  const double after = largestGap(float_means, channelMeans(corrected, data));
  INFO("largest channel-mean gap before " << before << ", after " << after);
  CHECK(before > 0.01);
  CHECK(after < 1e-4);
  // The Conv had no bias: one was added, and materialized as an int32 bias.
  for (const auto& n : corrected.graph->nodes()) {
    if (n->is("Conv")) CHECK(n->numInputs() == 3);
  }
}

}  // namespace
}  // namespace vitq
