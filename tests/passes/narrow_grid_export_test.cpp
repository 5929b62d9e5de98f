// Activations of fewer bits than their 8-bit container (W6A6, W4A4 without --int4): the export clips
// the codes between QuantizeLinear and DequantizeLinear, which computes what a float clip in front
// of the quantizer computes, and leaves each layer ending in its quantizer, so that ONNX Runtime
// fuses it as at 8 bits (report/ort_cpu_forecast.h).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "passes/ptq/quantize_pipeline.h"
#include "report/ort_cpu_forecast.h"
#include "support/float_rewrite_checks.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

// X -> MatMul -> Relu -> MatMul -> Y.
Model reluModel() {
  return test::parseModel("<ir_version: 8, opset_import: [\"\" : 17]>\n"
                          "agraph (float[2, 8] X) => (float[2, 4] Y)\n<" +
                          test::normalInitializer("W1", {8, 6}, 1, 0.4f) + ", " +
                          test::normalInitializer("W2", {6, 4}, 2, 0.5f) + R"ONNX(> {
  H = MatMul(X, W1)
  A = Relu(H)
  Y = MatMul(A, W2)
}
)ONNX");
}

float scalar(const Value* v) {
  const Tensor& t = v->initializer();
  return t.dtype() == DataType::kUInt8 ? static_cast<float>(t.data<uint8_t>()[0]) : t.data<float>()[0];
}

// The former export: each Clip of codes moved in front of its quantizer as a float Clip.
void clipInFloatInstead(Graph& g) {
  for (Node* clip : g.nodeList()) {
    if (!clip->is("Clip") || !clip->input(0)->producer() || !clip->input(0)->producer()->is("QuantizeLinear")) continue;
    Node* q = clip->input(0)->producer();
    const float s = scalar(q->input(1)), z = scalar(q->input(2));
    Value* lo = g.addInitializer(g.uniqueName("lo"), Tensor::fromVector<float>({(scalar(clip->input(1)) - z) * s}, {}));
    Value* hi = g.addInitializer(g.uniqueName("hi"), Tensor::fromVector<float>({(scalar(clip->input(2)) - z) * s}, {}));
    Node* float_clip = g.addNode("Clip", {q->input(0), lo, hi}, 1, "", q);
    float_clip->output(0)->type().dtype = DataType::kFloat;
    g.setInput(q, 0, float_clip->output(0));
    g.replaceAllUsesWith(clip->output(0), q->output(0));
    g.eraseNode(clip);
  }
}

TEST_CASE("Narrow activations clip their codes after the quantizer, computing what a float clip before it did",
          "[export][narrow]") {
  const test::NormalDataset calib(16, {2, 8}, 3);
  const test::NormalDataset eval(8, {2, 8}, 41);
  for (int bits : {6, 4}) {
    INFO(bits << " bits");
    Model model = reluModel();
    PipelineOptions o;
    o.quant.weight_bits = bits;
    o.quant.activation_bits = bits;
    REQUIRE(quantizeModel(model, calib, o).isOk());
    const Graph& g = *model.graph;
    int quantizers = 0;
    for (const auto& n : g.nodes()) {
      if (!n->is("QuantizeLinear")) continue;
      ++quantizers;
      CHECK(n->output(0)->type().dtype == DataType::kUInt8);
      CHECK_FALSE((n->input(0)->producer() && n->input(0)->producer()->is("Clip")));
      REQUIRE(n->output(0)->uses().size() == 1);
      const Node* clip = n->output(0)->uses()[0].user;
      REQUIRE(clip->is("Clip"));
      CHECK(scalar(clip->input(1)) == 0.0f);
      CHECK(scalar(clip->input(2)) == static_cast<float>((1 << bits) - 1));
      REQUIRE(clip->output(0)->uses().size() == 1);
      CHECK(clip->output(0)->uses()[0].user->is("DequantizeLinear"));
    }
    CHECK(quantizers == 3);  // X, H (the Relu's input: its grid starts at 0) and A
    // Each MatMul ends in a quantizer (through the Relu its zero point makes redundant) or in float.
    const OrtCpuForecast forecast = forecastOrtCpuKernels(g);
    CHECK(forecast.integer_kernels == std::map<std::string, int>{{"MatMulIntegerToFloat", 1}, {"QLinearMatMul", 1}});

    Model former = reluModel();
    REQUIRE(quantizeModel(former, calib, o).isOk());
    clipInFloatInstead(*former.graph);
    CHECK(forecastOrtCpuKernels(*former.graph).integer_kernels.count("QLinearMatMul") == 0);
    for (size_t i = 0; i < eval.size(); ++i) {
      const Tensor x = eval.sample(i)->at("X");
      const Tensor a = test::runWithX(model, x).at("Y"), b = test::runWithX(former, x).at("Y");
      for (int64_t k = 0; k < a.numel(); ++k) CHECK(a.data<float>()[k] == b.data<float>()[k]);
    }
  }
}

}  // namespace
}  // namespace vitq
