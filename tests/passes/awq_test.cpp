// AWQ (passes/ptq/awq.h): on inputs with a few loud channels, the searched scales leave the float
// model's function unchanged, lower the readers' output error with 4-bit group-wise weights, fold
// into a LayerNorm where they can (a Mul node elsewhere), and the error the report gives is the
// error the written weights make on the calibration inputs.
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

#include "onnx_io/model_clone.h"
#include "passes/ptq/awq.h"
#include "passes/ptq/pipeline_text.h"
#include "passes/ptq/plan_quantization.h"
#include "passes/ptq/quantize_pipeline.h"
#include "support/float_rewrite_checks.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

// Per-channel gains of 64 channels: every eighth channel is 12x louder.
std::string loudChannels(const std::string& name) {
  std::ostringstream s;
  s << "float[64] " << name << " = {";
  for (int c = 0; c < 64; ++c) s << (c ? ", " : "") << (c % 8 == 3 ? 12.0f : 1.0f);
  s << "}";
  return s.str();
}

// Site 1: X * G read by two MatMuls (a Mul node must carry 1/s); site 2: a LayerNorm output read
// by one MatMul (1/s folds into its affine).
std::string modelText() {
  return R"(<ir_version: 8, opset_import: ["" : 17]>
g (float[1, 24, 64] X) => (float[1, 24, 32] Y1, float[1, 24, 48] Y2, float[1, 24, 40] Y3)
  <)" + loudChannels("G") + ", " + loudChannels("Gamma") + ", " + test::normalInitializer("Beta", {64}, 5, 0.1f) +
         ", " + test::normalInitializer("W1", {64, 32}, 1, 0.3f) + ", " + test::normalInitializer("W2", {64, 48}, 2, 0.3f) +
         ", " + test::normalInitializer("W3", {64, 40}, 3, 0.3f) + R"(> {
  H = Mul(X, G)
  Y1 = MatMul(H, W1)
  Y2 = MatMul(H, W2)
  Z = LayerNormalization <axis = -1> (X, Gamma, Beta)
  Y3 = MatMul(Z, W3)
}
)";
}

QuantOptions fourBitGroups() {
  QuantOptions q;
  q.weight_bits = 4;
  q.weights_only = true;
  q.weight_group_size = 16;
  return q;
}

// Sum over rows of the squared difference of two [.., width] outputs.
double squaredError(const Tensor& a, const Tensor& b) {
  double e = 0;
  for (int64_t i = 0; i < a.numel(); ++i) e += std::pow(double(a.data<float>()[i]) - b.data<float>()[i], 2);
  return e;
}

// The error each site's report gives is the written model's: quantize \p scaled's weights on the
// plan's grid and measure the readers' squared output error per row on the calibration samples.
void checkReportedErrors(const Model& reference, const Model& scaled, const Dataset& calib,
                         const std::vector<AwqSiteReport>& reports) {
  PipelineOptions o;
  REQUIRE(applyPipelineText("plan{weights-only, group-size=16}, calibrate, materialize-qdq", o).isOk());
  o.quant.weight_bits = 4;
  auto written_or = cloneModel(scaled);
  REQUIRE(written_or.isOk());
  Model written = std::move(*written_or);
  REQUIRE(quantizeModel(written, calib, o).isOk());
  double site_h = 0, site_z = 0;
  for (size_t i = 0; i < calib.size(); ++i) {
    const Tensor xi = calib.sample(i)->at("X");
    const TensorMap f = test::runWithX(reference, xi), q = test::runWithX(written, xi);
    site_h += squaredError(f.at("Y1"), q.at("Y1")) + squaredError(f.at("Y2"), q.at("Y2"));
    site_z += squaredError(f.at("Y3"), q.at("Y3"));
  }
  for (const AwqSiteReport& r : reports) {
    const double measured = (r.activation == "Z" ? site_z : site_h) / (8 * 24);
    CHECK(measured == Approx(r.error_awq).epsilon(0.02));
  }
}

}  // namespace

TEST_CASE("awq keeps the float function, folds into LayerNorms and lowers 4-bit output error", "[passes][awq]") {
  const Model reference = test::parseModel(modelText());
  Model m = test::parseModel(modelText());
  const test::NormalDataset calib(8, {1, 24, 64}, 7);
  const QuantTable planned = planQuantization(*m.graph, fourBitGroups());
  AwqOptions no_clip;
  no_clip.clip = false;  // clipping changes the float weights; this test checks the scales alone
  auto reports = awqScaleWeights(m, planned, calib, no_clip);
  INFO(reports.status().toString());
  REQUIRE(reports.isOk());
  REQUIRE(reports->size() == 2);
  for (const AwqSiteReport& r : *reports) {
    INFO(r.activation);
    CHECK(r.rows == 8 * 24);
    CHECK(r.alpha > 0);
    CHECK(r.error_awq < 0.7 * r.error_nearest);
    CHECK(r.folded == (r.activation == "Z"));
    CHECK(r.consumers == (r.activation == "Z" ? 1 : 2));
  }
  int muls = 0;
  for (const auto& n : m.graph->nodes()) muls += n->is("Mul") ? 1 : 0;
  CHECK(muls == 2);  // X * G and the one carrying 1/s into the two MatMuls; none for the LayerNorm site

  // Float-equivalent: the same outputs up to rounding.
  const Tensor x = test::NormalDataset(1, {1, 24, 64}, 9).sample(0)->at("X");
  const TensorMap want = test::runWithX(reference, x), got = test::runWithX(m, x);
  for (const char* name : {"Y1", "Y2", "Y3"}) {
    const Tensor& a = want.at(name);
    double amax = 0;
    for (int64_t i = 0; i < a.numel(); ++i) amax = std::max(amax, std::fabs(double(a.data<float>()[i])));
    CHECK(std::sqrt(squaredError(a, got.at(name)) / a.numel()) <= 1e-5 * amax);
  }

  checkReportedErrors(reference, m, calib, *reports);
}

TEST_CASE("awq's clipping narrows weight groups and lowers the error it reports, which the written model makes",
          "[passes][awq]") {
  const Model reference = test::parseModel(modelText());
  const test::NormalDataset calib(8, {1, 24, 64}, 7);
  AwqOptions no_clip;
  no_clip.clip = false;
  Model scaled_only = test::parseModel(modelText());
  auto without = awqScaleWeights(scaled_only, planQuantization(*scaled_only.graph, fourBitGroups()), calib, no_clip);
  Model m = test::parseModel(modelText());
  auto with = awqScaleWeights(m, planQuantization(*m.graph, fourBitGroups()), calib, AwqOptions{});
  REQUIRE(without.isOk());
  REQUIRE(with.isOk());
  REQUIRE(with->size() == 2);
  for (size_t i = 0; i < with->size(); ++i) {
    INFO((*with)[i].activation);
    CHECK((*with)[i].alpha == (*without)[i].alpha);  // the scales are searched first, as before
    CHECK((*with)[i].clipped_groups > 0);
    CHECK((*with)[i].error_awq < (*without)[i].error_awq);
  }
  checkReportedErrors(reference, m, calib, *with);
}

TEST_CASE("awq through the pipeline beats round-to-nearest on held-out inputs and refuses quantized activations",
          "[passes][awq]") {
  const test::NormalDataset calib(8, {1, 24, 64}, 7);
  const test::NormalDataset eval(4, {1, 24, 64}, 8);
  const Model reference = test::parseModel(modelText());
  auto heldOutError = [&](const std::string& pipeline) {
    Model m = test::parseModel(modelText());
    PipelineOptions o;
    REQUIRE(applyPipelineText(pipeline, o).isOk());
    o.quant.weight_bits = 4;
    auto report = quantizeModel(m, calib, o);
    INFO(report.status().toString());
    REQUIRE(report.isOk());
    double e = 0;
    for (size_t i = 0; i < eval.size(); ++i) {
      const Tensor xi = eval.sample(i)->at("X");
      const TensorMap f = test::runWithX(reference, xi), q = test::runWithX(m, xi);
      for (const char* name : {"Y1", "Y2", "Y3"}) e += squaredError(f.at(name), q.at(name));
    }
    return e;
  };
  const double rtn = heldOutError("plan{weights-only, group-size=16}, calibrate, materialize-qdq");
  const double awq = heldOutError("awq, plan{weights-only, group-size=16}, calibrate, materialize-qdq");
  CHECK(awq < 0.7 * rtn);

  Model m = test::parseModel(modelText());
  PipelineOptions o;
  REQUIRE(applyPipelineText("awq, plan, calibrate, materialize-qdq", o).isOk());
  const Status refused = quantizeModel(m, calib, o).status();
  CHECK(refused.message().find("awq searches weight scales for float activations") != std::string::npos);
}

}  // namespace vitq
