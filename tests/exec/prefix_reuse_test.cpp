#include <catch2/catch.hpp>

#include "exec/prefix_reuse.h"
#include "support/graph_dsl.h"

namespace vitq {
namespace {

// Six layers in a chain and a side branch that reads the first layer's output late (so a value
// computed early is live until the end). The variants below change one thing each.
std::string chain(const std::string& w3 = "0.5, -0.25, 0.75, 1.0", const std::string& mid_op = "Relu",
                  const std::string& extra = "") {
  return std::string(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[N, 2] X) => (float[N, 2] Y)
  <float[2, 2] W1 = {1., -0.5, 0.25, 2.}, float[2, 2] W2 = {0.5, 1., -1., 0.75},
   float[2, 2] W3 = {)ONNX") + w3 + R"ONNX(}, float[2, 2] W4 = {1., 0.5, 0.5, -1.}> {
  H1 = MatMul(X, W1)
  R1 = Relu(H1)
  H2 = MatMul(R1, W2)
  R2 = )ONNX" + mid_op + R"ONNX((H2)
)ONNX" + extra + R"ONNX(
  H3 = MatMul(R2q, W3)
  R3 = Tanh(H3)
  H4 = MatMul(R3, W4)
  S = Add(H4, R1)
  Y = Sigmoid(S)
}
)ONNX";
}

const char* kPassThrough = "  R2q = Identity(R2)";
const char* kQuantDequant =
    "  Sc = Constant<value = float {0.05}>()\n  Zp = Constant<value = uint8 {0}>()\n"
    "  R2i = QuantizeLinear(R2, Sc, Zp)\n  R2q = DequantizeLinear(R2i, Sc, Zp)";

std::vector<TensorMap> samples() {
  std::vector<TensorMap> out;
  for (int i = 0; i < 3; ++i) {
    const float a = 0.3f * static_cast<float>(i) - 0.4f;
    out.push_back({{"X", Tensor::fromVector<float>({a, 1.f - a, 2.f * a, -a, 0.5f, a * a}, {3, 2})}});
  }
  return out;
}

// Outputs of a plain run and of a run through \p reuse must be the same bits.
void checkSameAsFullRun(PrefixReuse& reuse, const std::string& text) {
  Model m = test::parseModel(text);
  auto exec = Executor::create(*m.graph, 13);
  REQUIRE(exec.isOk());
  const auto feeds = samples();
  size_t seen = 0;
  Status status = reuse.runSamples(*exec, feeds, [&](size_t i, TensorMap& outputs) {
    auto full = exec->run(feeds[i]);
    REQUIRE(full.isOk());
    CHECK(outputs.at("Y").bitwiseEqual(full->at("Y")));
    ++seen;
    return Status::ok();
  });
  REQUIRE(status.isOk());
  CHECK(seen == feeds.size());
}

TEST_CASE("prefix reuse resumes after the shared prefix and gives a full run's bits", "[exec][reuse]") {
  PrefixReuse reuse;
  const size_t steps = 10;  // nodes of chain() with the pass-through
  checkSameAsFullRun(reuse, chain("0.5, -0.25, 0.75, 1.0", "Relu", kPassThrough));
  CHECK(reuse.stepsRun() == steps * 3);  // nothing to resume from yet
  CHECK(reuse.checkpoints() > 0);

  // Only W3 differs: the five nodes before H3 are reused.
  checkSameAsFullRun(reuse, chain("0.5, -0.25, 0.75, -1.0", "Relu", kPassThrough));
  CHECK(reuse.stepsRun() == steps * 3 + (steps - 5) * 3);

  // A quantizer inserted after R2 (11 nodes: the loader lifts the Constants): H1..R2 are reused.
  checkSameAsFullRun(reuse, chain("0.5, -0.25, 0.75, 1.0", "Relu", kQuantDequant));
  CHECK(reuse.stepsTotal() == steps * 3 * 2 + 11 * 3);
  CHECK(reuse.stepsRun() == steps * 3 + (steps - 5) * 3 + (11 - 4) * 3);
}

TEST_CASE("prefix reuse never takes a value whose producer changed", "[exec][reuse]") {
  PrefixReuse reuse;
  checkSameAsFullRun(reuse, chain("0.5, -0.25, 0.75, 1.0", "Relu", kPassThrough));
  // R2 keeps its name but another op makes it: the nodes reading R2 have the same signature and
  // must still run, since their input is not the one the checkpoint holds.
  const size_t before = reuse.stepsRun();
  checkSameAsFullRun(reuse, chain("0.5, -0.25, 0.75, 1.0", "Abs", kPassThrough));
  CHECK(reuse.stepsRun() - before == (10 - 3) * 3);  // H1, R1, H2 reused
}

TEST_CASE("prefix reuse with no budget runs every step", "[exec][reuse]") {
  PrefixReuse reuse(0);
  checkSameAsFullRun(reuse, chain("0.5, -0.25, 0.75, 1.0", "Relu", kPassThrough));
  checkSameAsFullRun(reuse, chain("0.5, -0.25, 0.75, -1.0", "Relu", kPassThrough));
  CHECK(reuse.stepsRun() == reuse.stepsTotal());
  CHECK(reuse.checkpoints() == 0);
}

TEST_CASE("signatures see constant bytes, attributes and names", "[exec][reuse]") {
  auto signatures = [](const std::string& text) {
    Model m = test::parseModel(text);
    auto exec = Executor::create(*m.graph, 13);
    REQUIRE(exec.isOk());
    return stepSignatures(*exec).of;
  };
  const auto base = signatures(chain("0.5, -0.25, 0.75, 1.0", "Relu", kPassThrough));
  const auto w3 = signatures(chain("0.5, -0.25, 0.75, 1.5", "Relu", kPassThrough));
  REQUIRE(base.size() == w3.size());
  for (size_t i = 0; i < base.size(); ++i) CHECK((base[i] == w3[i]) == (i != 5));  // H3 reads W3
  const auto alpha = signatures(chain("0.5, -0.25, 0.75, 1.0", "LeakyRelu<alpha = 0.1>", kPassThrough));
  const auto alpha2 = signatures(chain("0.5, -0.25, 0.75, 1.0", "LeakyRelu<alpha = 0.2>", kPassThrough));
  CHECK(alpha[3] != alpha2[3]);
  CHECK(alpha[4] == alpha2[4]);
}

// W2 stored as int8 and dequantized in the graph (as vitq's QDQ models do).
std::string dequantizedWeight(const std::string& w2) {
  return std::string(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[N, 2] X) => (float[N, 2] Y)
  <float[2, 2] W1 = {1., -0.5, 0.25, 2.}, int8[2, 2] W2 = {)ONNX") + w2 + R"ONNX(}, float Sw = {0.01}, int8 Zw = {0}> {
  H1 = MatMul(X, W1)
  R1 = Relu(H1)
  W2f = DequantizeLinear(W2, Sw, Zw)
  H2 = MatMul(R1, W2f)
  Y = Tanh(H2)
}
)ONNX";
}

TEST_CASE("steps computed from constants run again and are told apart by their constants", "[exec][reuse]") {
  auto signatures = [](const std::string& text) {
    Model m = test::parseModel(text);
    auto exec = Executor::create(*m.graph, 13);
    REQUIRE(exec.isOk());
    return stepSignatures(*exec);
  };
  const auto a = signatures(dequantizedWeight("50, -25, 75, 100"));
  const auto b = signatures(dequantizedWeight("50, -25, 75, 101"));
  CHECK(a.constant == std::vector<char>{0, 0, 1, 0, 0});
  // W2f keeps its name, but H2 reads other values: H2's signature says so.
  CHECK(a.of[2] != b.of[2]);
  CHECK(a.of[3] != b.of[3]);
  CHECK(a.of[4] == b.of[4]);

  PrefixReuse reuse;
  checkSameAsFullRun(reuse, dequantizedWeight("50, -25, 75, 100"));
  const size_t before = reuse.stepsRun();
  checkSameAsFullRun(reuse, dequantizedWeight("50, -25, 75, 101"));
  CHECK(reuse.stepsRun() - before == 3 * 3);  // H1, R1 reused; W2f, H2, Y run
}

}  // namespace
}  // namespace vitq
