// Per-channel activation scales for depthwise Conv inputs (Q-HyViT's granularity rule): planned
// only where every quantized reader is a depthwise Conv whose output is not quantized; exported as
// QuantizeLinear / DequantizeLinear with axis 1 in the other 8-bit type (and a per-channel clip to
// the narrow grid); the int32 bias scale is the product of each output channel's input and weight
// scales; and the quantized model computes exactly the per-channel fake-quantized convolution.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "exec/executor.h"
#include "passes/ptq/quantize_pipeline.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

// Channels of A differ in range by 160x (as after a Conv + BatchNorm + activation in PP-LCNet),
// then a 3x3 depthwise Conv with bias. Variant "shared": A is also read by a 1x1 Conv.
std::string depthwiseModel(bool shared) {
  std::string text = R"ONNX(
<ir_version: 8, opset_import: ["" : 17]>
agraph (float[1, 4, 6, 6] X) => (float[1, 4, 6, 6] Y)
  <float[1, 4, 1, 1] K = {0.05, 1.0, 8.0, 0.3},
   float[4, 1, 3, 3] W = {0.3, -0.8, 0.05, 0.9, 0.12, -0.4, 0.61, 0.2, -0.07,
                          0.33, -0.5, 0.71, 0.08, -0.15, 0.44, -0.9, 0.27, 0.02,
                          0.5, -0.31, 0.19, -0.66, 0.4, 0.03, 0.81, -0.22, 0.1,
                          -0.35, 0.6, 0.14, -0.05, 0.72, -0.48, 0.29, 0.11, -0.83},
   float[4] B = {0.02, -0.3, 1.5, 0.1},
   float[4, 4, 1, 1] P = {0.5, -0.2, 0.1, 0.3, 0.2, 0.4, -0.1, 0.6, -0.3, 0.2, 0.05, 0.1, 0.7, -0.4, 0.2, 0.3}> {
  A = Mul(X, K)
  Y = Conv <group = 4, pads = [1, 1, 1, 1]> (A, W, B)
)ONNX";
  if (shared) {
    text.replace(text.find("=> (float[1, 4, 6, 6] Y)"), 24, "=> (float[1, 4, 6, 6] Y, float[1, 4, 6, 6] Z)");
    text += "  Z = Conv(A, P)\n";
  }
  return text + "}\n";
}

PipelineOptions channelOptions(bool per_channel) {
  PipelineOptions o;
  o.quant.weight_bits = 6;
  o.quant.activation_bits = 6;
  o.quant.quantize_outputs = false;  // the depthwise Conv's input is the only activation quantizer
  o.quant.depthwise_channel_inputs = per_channel;
  return o;
}

const Node* nodeOf(const Graph& g, const char* op) {
  for (const auto& n : g.nodes()) {
    if (n->is(op)) return n.get();
  }
  return nullptr;
}

// The lowest SQNR over the output channels of an NCHW tensor (dB).
double worstChannelSqnrDb(const Tensor& ref, const Tensor& test) {
  const int64_t channels = ref.dim(1), inner = ref.numel() / channels;
  double worst = INFINITY;
  for (int64_t c = 0; c < channels; ++c) {
    double signal = 0, noise = 0;
    for (int64_t i = c * inner; i < (c + 1) * inner; ++i) {
      const double r = ref.data<float>()[i], d = r - test.data<float>()[i];
      signal += r * r;
      noise += d * d;
    }
    worst = std::min(worst, 10.0 * std::log10(signal / noise));
  }
  return worst;
}

Tensor runY(const Model& m, const Tensor& x) {
  auto exec = Executor::create(*m.graph, m.opsetVersion(""));
  REQUIRE(exec.isOk());
  auto out = exec->run({{"X", x}});
  REQUIRE(out.isOk());
  return out->at("Y");
}

TEST_CASE("Depthwise Conv inputs get one scale per channel only where every quantized reader is depthwise and unfused") {
  PipelineOptions o = channelOptions(true);
  const Model alone = test::parseModel(depthwiseModel(false));
  const QuantTable t1 = planQuantization(*alone.graph, o.quant);
  const Value* a1 = nodeOf(*alone.graph, "Conv")->input(0);
  REQUIRE(t1.find(a1));
  CHECK(t1.find(a1)->spec.axis == 1);

  const Model shared = test::parseModel(depthwiseModel(true));
  const QuantTable t2 = planQuantization(*shared.graph, o.quant);
  const Value* a2 = nodeOf(*shared.graph, "Conv")->input(0);
  REQUIRE(t2.find(a2));
  CHECK(t2.find(a2)->spec.axis == -1);  // the 1x1 Conv sums over channels: one scale

  // With the Conv's output quantized, ONNX Runtime would fuse a QLinearConv it cannot run.
  o.quant.quantize_outputs = true;
  CHECK(planQuantization(*alone.graph, o.quant).find(a1)->spec.axis == -1);

  o.quant.quantize_outputs = false;
  o.quant.depthwise_channel_inputs = false;
  CHECK(planQuantization(*alone.graph, o.quant).find(a1)->spec.axis == -1);
}

TEST_CASE("Per-channel depthwise inputs export as axis-1 QDQ that computes the per-channel fake-quantized Conv") {
  const test::NormalDataset calib(16, {1, 4, 6, 6}, 7);
  const test::NormalDataset eval(4, {1, 4, 6, 6}, 99);
  Model model = test::parseModel(depthwiseModel(false));
  const Model reference = test::parseModel(depthwiseModel(false));
  auto report = quantizeModel(model, calib, channelOptions(true));
  REQUIRE(report.isOk());
  const Graph& g = *model.graph;

  // The activation's quantizer: axis 1, four scales, behind a per-channel clip to the 6-bit grid
  // (Max then Min: Clip takes scalar bounds only).
  const Node* q = nodeOf(g, "QuantizeLinear");
  REQUIRE(q);
  CHECK(q->attrs().intOr("axis", -1) == 1);
  const Tensor& scale = q->input(1)->initializer();
  REQUIRE(scale.numel() == 4);
  CHECK(q->input(0)->producer()->is("Min"));
  CHECK(nodeOf(g, "Clip") == nullptr);
  // Stored as int8 (zero points shifted by 128), so that ONNX Runtime does not fuse it with a uint8
  // quantizer into a QLinearConv.
  CHECK(q->output(0)->type().dtype == DataType::kInt8);
  const Tensor& zero = q->input(2)->initializer();
  REQUIRE(zero.dtype() == DataType::kInt8);

  // Expected parameters from the calibration data: channel c of A is K[c] * X[c].
  const float k[4] = {0.05f, 1.0f, 8.0f, 0.3f};
  std::vector<float> lo(4, 0.0f), hi(4, 0.0f);
  for (size_t i = 0; i < calib.size(); ++i) {
    const Tensor x = calib.sample(i)->at("X");
    for (int64_t e = 0; e < x.numel(); ++e) {
      const size_t c = static_cast<size_t>(e / 36);
      lo[c] = std::min(lo[c], x.data<float>()[e] * k[c]);
      hi[c] = std::max(hi[c], x.data<float>()[e] * k[c]);
    }
  }
  std::vector<float> sx(4);
  std::vector<int32_t> zx(4);
  for (size_t c = 0; c < 4; ++c) {
    sx[c] = (hi[c] - lo[c]) / 63.0f;
    zx[c] = static_cast<int32_t>(std::nearbyint(-lo[c] / sx[c]));
    CHECK(scale.data<float>()[c] == Approx(sx[c]).epsilon(1e-6));
    CHECK(zero.data<int8_t>()[c] == zx[c] - 128);
  }

  // The bias: int32 on the scale s_x[c] s_w[c].
  const Tensor& w = reference.graph->findValue("W")->initializer();
  const Tensor& b = reference.graph->findValue("B")->initializer();
  std::vector<float> sw(4);
  for (size_t c = 0; c < 4; ++c) {
    float amax = 0;
    for (int64_t t = 0; t < 9; ++t) amax = std::max(amax, std::fabs(w.data<float>()[c * 9 + t]));
    sw[c] = amax / 31.0f;
  }
  const Node* conv = nodeOf(g, "Conv");
  const Node* bias_dq = conv->input(2)->producer();
  REQUIRE(bias_dq);
  REQUIRE(bias_dq->is("DequantizeLinear"));
  for (size_t c = 0; c < 4; ++c) {
    CHECK(bias_dq->input(1)->initializer().data<float>()[c] == Approx(sx[c] * sw[c]).epsilon(1e-6));
  }

  // The quantized model against the Conv computed by hand on the per-channel grid.
  for (size_t i = 0; i < eval.size(); ++i) {
    const Tensor x = eval.sample(i)->at("X");
    std::vector<float> a(144);
    for (int64_t e = 0; e < 144; ++e) {
      const size_t c = static_cast<size_t>(e / 36);
      const float v = x.data<float>()[e] * k[c];
      const float code = std::clamp(std::nearbyint(v / sx[c]) + static_cast<float>(zx[c]), 0.0f, 63.0f);
      a[static_cast<size_t>(e)] = (code - static_cast<float>(zx[c])) * sx[c];
    }
    const Tensor y = runY(model, x);
    double max_diff = 0;
    for (int64_t c = 0; c < 4; ++c) {
      const float bq = std::nearbyint(b.data<float>()[c] / (sx[c] * sw[c])) * sx[c] * sw[c];
      for (int64_t r = 0; r < 6; ++r) {
        for (int64_t col = 0; col < 6; ++col) {
          double acc = bq;
          for (int64_t dr = 0; dr < 3; ++dr) {
            for (int64_t dc = 0; dc < 3; ++dc) {
              const int64_t rr = r + dr - 1, cc = col + dc - 1;
              if (rr < 0 || rr >= 6 || cc < 0 || cc >= 6) continue;
              const float wq = std::nearbyint(w.data<float>()[c * 9 + dr * 3 + dc] / sw[c]) * sw[c];
              acc += static_cast<double>(wq) * a[static_cast<size_t>(c * 36 + rr * 6 + cc)];
            }
          }
          max_diff = std::max(max_diff, std::fabs(acc - y.data<float>()[c * 36 + r * 6 + col]));
        }
      }
    }
    CHECK(max_diff < 1e-5);
  }
}

TEST_CASE("Per-channel depthwise inputs keep the small channels that one scale rounds away") {
  const test::NormalDataset calib(16, {1, 4, 6, 6}, 7);
  const test::NormalDataset eval(4, {1, 4, 6, 6}, 99);
  const Model reference = test::parseModel(depthwiseModel(false));
  Model per_tensor = test::parseModel(depthwiseModel(false));
  Model per_channel = test::parseModel(depthwiseModel(false));
  REQUIRE(quantizeModel(per_tensor, calib, channelOptions(false)).isOk());
  REQUIRE(quantizeModel(per_channel, calib, channelOptions(true)).isOk());
  for (size_t i = 0; i < eval.size(); ++i) {
    const Tensor x = eval.sample(i)->at("X");
    const Tensor y = runY(reference, x);
    const double tensor_db = worstChannelSqnrDb(y, runY(per_tensor, x));
    const double channel_db = worstChannelSqnrDb(y, runY(per_channel, x));
    INFO("worst channel's SQNR: one input scale " << tensor_db << " dB, per-channel input scales " << channel_db << " dB");
    CHECK(channel_db > 20.0);
    CHECK(channel_db > tensor_db + 15.0);
  }
}

TEST_CASE("Saved per-tensor statistics cannot calibrate per-channel depthwise inputs") {
  const test::NormalDataset calib(8, {1, 4, 6, 6}, 7);
  Model model = test::parseModel(depthwiseModel(false));
  PipelineOptions o = channelOptions(true);
  auto saved = collectActivationStats(model, calib, o, 128);
  REQUIRE(saved.isOk());
  o.precomputed_stats = &*saved;
  o.precomputed_source = "stats.json";
  auto result = quantizeModel(model, calib, o);
  REQUIRE_FALSE(result.isOk());
  CHECK(result.status().message() ==
        "no per-channel statistics for 'A' (saved statistics are per tensor; calibrate on --data for per-channel "
        "inputs)");
}

}  // namespace
}  // namespace vitq
