// 4-bit QDQ export (--int4): tensors of at most 4 bits stored as ONNX INT4/UINT4 with the model
// raised to opset 21 compute exactly what the 8-bit container export computes; where ONNX Runtime
// 1.20 cannot load 4-bit quantizers (a Relu/Clip feeding one, a layer with 8-bit weights) the
// export bypasses a redundant bound or keeps the 8-bit container. And raise-opset's rewrites.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>

#include "exec/executor.h"
#include "passes/canonicalize/raise_opset.h"
#include "passes/ptq/quantize_pipeline.h"
#include "support/graph_dsl.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

// X -> MatMul -> Relu -> MatMul -> Y, and a decomposed-LayerNorm-style ReduceMean with its axes as
// an attribute (opset 17), which opset 21 wants as an input.
Model reluModel() {
  return test::parseModel("<ir_version: 8, opset_import: [\"\" : 17]>\n"
                          "agraph (float[2, 8] X) => (float[2, 4] Y, float[2, 1] M)\n<" +
                          test::normalInitializer("W1", {8, 6}, 1, 0.4f) + ", " +
                          test::normalInitializer("W2", {6, 4}, 2, 0.5f) + R"ONNX(> {
  H = MatMul(X, W1)
  A = Relu(H)
  Y = MatMul(A, W2)
  M = ReduceMean <axes = [1]> (X)
}
)ONNX");
}

PipelineOptions bitsOptions(int bits, bool four_bit_types) {
  PipelineOptions o;
  o.quant.weight_bits = bits;
  o.quant.activation_bits = bits;
  o.four_bit_types = four_bit_types;
  return o;
}

std::unordered_map<std::string, Tensor> runAll(const Model& m, const Tensor& x) {
  auto exec = Executor::create(*m.graph, m.opsetVersion(""));
  REQUIRE(exec.isOk());
  auto out = exec->run({{"X", x}});
  REQUIRE(out.isOk());
  return *out;
}

float maxDiff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.numel() == b.numel());
  float d = 0;
  for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, std::fabs(a.data<float>()[i] - b.data<float>()[i]));
  return d;
}

int countOps(const Graph& g, const char* op) {
  return static_cast<int>(std::count_if(g.nodes().begin(), g.nodes().end(), [op](const auto& n) { return n->is(op); }));
}

TEST_CASE("4-bit QDQ export stores INT4/UINT4 at opset 21 and computes what the 8-bit containers compute", "[int4]") {
  const test::NormalDataset calib(16, {2, 8}, 3);
  const test::NormalDataset eval(6, {2, 8}, 41);
  for (int bits : {4, 3}) {
    INFO(bits << " bits");
    Model containers = reluModel(), four_bit = reluModel();
    REQUIRE(quantizeModel(containers, calib, bitsOptions(bits, false)).isOk());
    auto report = quantizeModel(four_bit, calib, bitsOptions(bits, true));
    REQUIRE(report.isOk());
    const Graph& g = *four_bit.graph;
    CHECK(four_bit.opsetVersion("") == 21);
    CHECK(four_bit.ir_version == 10);
    CHECK(containers.opsetVersion("") == 17);
    int int4_weights = 0, uint4_activations = 0;
    for (const auto& n : g.nodes()) {
      if (n->is("DequantizeLinear") && n->input(0)->isConstant() && n->input(0)->initializer().dtype() == DataType::kInt4) {
        ++int4_weights;
      }
      if (n->is("QuantizeLinear")) {
        CHECK(n->output(0)->type().dtype == DataType::kUInt4);
        ++uint4_activations;
        const Node* producer = n->input(0)->producer();
        CHECK_FALSE((producer && producer->is("Clip")));  // ONNX Runtime cannot load Clip -> 4-bit Q
      }
    }
    CHECK(int4_weights == 2);
    CHECK(uint4_activations == 3);  // X, H and A (Y is a graph output nothing reads)
    CHECK(report->materialized.four_bit_tensors == 5);
    // The Relu's output range starts at 0 like the grid of its quantizer: the Relu is redundant
    // before it and gone, the quantizer reads H's dequantized value.
    CHECK(countOps(g, "Relu") == 0);
    // 3 bits in a 4-bit container: clipped to the 3-bit grid by Max and Min.
    CHECK(countOps(g, "Max") == (bits == 3 ? 3 : 0));
    // ReduceMean at opset 21: axes as an int64 input.
    const auto mean = std::find_if(g.nodes().begin(), g.nodes().end(), [](const auto& n) { return n->is("ReduceMean"); });
    REQUIRE(mean != g.nodes().end());
    CHECK((*mean)->numInputs() == 2);
    CHECK_FALSE((*mean)->attrs().has("axes"));

    for (size_t i = 0; i < eval.size(); ++i) {
      const Tensor x = eval.sample(i)->at("X");
      const auto a = runAll(containers, x), b = runAll(four_bit, x);
      CHECK(maxDiff(a.at("Y"), b.at("Y")) < 1e-6f);
      CHECK(maxDiff(a.at("M"), b.at("M")) == 0.0f);
    }
  }
}

TEST_CASE("Symmetric 4-bit activations in INT4 saturate at -7 like the simulated grid", "[int4]") {
  // Calibrated on 4 samples, run on others: values past the calibrated range reach the grid's
  // ends, where INT4 alone would go on to -8.
  const test::NormalDataset calib(4, {2, 8}, 3);
  const test::NormalDataset eval(16, {2, 8}, 77);
  Model containers = reluModel(), four_bit = reluModel();
  PipelineOptions o = bitsOptions(4, false);
  o.quant.activation_symmetric = true;
  REQUIRE(quantizeModel(containers, calib, o).isOk());
  o.four_bit_types = true;
  REQUIRE(quantizeModel(four_bit, calib, o).isOk());
  int int4 = 0, int8 = 0;
  for (const auto& n : four_bit.graph->nodes()) {
    if (!n->is("QuantizeLinear")) continue;
    int4 += n->output(0)->type().dtype == DataType::kInt4 ? 1 : 0;
    int8 += n->output(0)->type().dtype == DataType::kInt8 ? 1 : 0;
  }
  // X and H in INT4, clipped to [-7 s, 7 s]; the Relu's output A keeps an 8-bit container: its
  // symmetric grid reaches below 0, so the Relu in front is not redundant.
  CHECK(int4 == 2);
  CHECK(int8 == 1);
  CHECK(countOps(*four_bit.graph, "Max") == 2);
  CHECK(countOps(*four_bit.graph, "Relu") == 1);
  for (size_t i = 0; i < eval.size(); ++i) {
    const Tensor x = eval.sample(i)->at("X");
    CHECK(maxDiff(runAll(containers, x).at("Y"), runAll(four_bit, x).at("Y")) < 1e-6f);
  }
}

TEST_CASE("4-bit activations beside 8-bit weights stay in 8-bit containers", "[int4]") {
  const test::NormalDataset calib(16, {2, 8}, 3);
  Model model = reluModel();
  PipelineOptions o = bitsOptions(4, true);
  o.quant.weight_bits = 8;  // W8A4: ONNX Runtime would fuse QLinearMatMul, which rejects 4-bit inputs
  auto report = quantizeModel(model, calib, o);
  REQUIRE(report.isOk());
  CHECK(report->materialized.four_bit_tensors == 0);
  CHECK(model.opsetVersion("") == 17);  // nothing in 4 bits: no raise
  for (const auto& n : model.graph->nodes()) {
    if (n->is("QuantizeLinear")) CHECK(n->output(0)->type().dtype == DataType::kUInt8);
  }
}

TEST_CASE("raise-opset rewrites the ops that changed between 13 and 21", "[int4][raise-opset]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[2, 6] X) => (float[2, 1] R, float[2, 3] S1, float[2, 3] S2)
{
  R = ReduceMax <axes = [1], keepdims = 1> (X)
  S1, S2 = Split <axis = 1> (X)
}
)ONNX");
  const test::NormalDataset data(1, {2, 6}, 5);
  const Tensor x = data.sample(0)->at("X");
  const auto before = runAll(m, x);
  REQUIRE(raiseOpset(m, 21).isOk());
  CHECK(m.opsetVersion("") == 21);
  CHECK(m.ir_version == 10);
  const auto after = runAll(m, x);
  for (const char* name : {"R", "S1", "S2"}) {
    INFO(name);
    CHECK(maxDiff(before.at(name), after.at(name)) == 0.0f);
  }
  for (const auto& n : m.graph->nodes()) {
    if (n->is("ReduceMax")) {
      CHECK_FALSE(n->attrs().has("axes"));
      REQUIRE(n->numInputs() == 2);
      CHECK(n->input(1)->initializer().data<int64_t>()[0] == 1);
    }
    if (n->is("Split")) CHECK(n->attrs().intOr("num_outputs", 0) == 2);
  }
  // Already there: unchanged. 22 is past what vitq raises to.
  CHECK(raiseOpset(m, 19).isOk());
  CHECK(m.opsetVersion("") == 21);
  CHECK(raiseOpset(m, 22).message() == "opset 22 is newer than vitq can raise a model to (21)");

  // GridSample's interpolation modes were renamed in opset 20 (vitq does not run GridSample).
  Model grid = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 16]>
agraph (float[1, 1, 4, 4] I, float[1, 2, 2, 2] G) => (float[1, 1, 2, 2] T)
{ T = GridSample <mode = "bicubic"> (I, G) }
)ONNX");
  REQUIRE(raiseOpset(grid, 20).isOk());
  CHECK(grid.ir_version == 9);
  CHECK(grid.graph->nodes().front()->attrs().stringOr("mode", "") == "cubic");
}

TEST_CASE("raise-opset refuses DFT, whose inputs changed in opset 20", "[int4][raise-opset]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 17]>
agraph (float[1, 8, 1] X) => (float[1, 8, 2] Y) { Y = DFT <axis = 1> (X) }
)ONNX");
  const Status checked = checkRaiseOpset(m, 21);
  const Status s = raiseOpset(m, 21);
  REQUIRE_FALSE(s.isOk());
  CHECK(s.message().find("DFT changed its inputs in opset 20; vitq cannot raise it from 17") != std::string::npos);
  CHECK(checked.message() == s.message());
  CHECK(m.opsetVersion("") == 17);
}

}  // namespace
}  // namespace vitq
