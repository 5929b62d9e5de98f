// Bridge-block reconstruction (AdaRound-style learned rounding) on a small synthetic bridge block
// at 4 bits: the learned rounding must give a smaller block-output error than round-to-nearest,
// on samples the optimization did not see, with weights that lie exactly on their grid; the
// result must be the same bytes on a second run with the same seed.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "core/logging.h"
#include "exec/executor.h"
#include "passes/ptq/block_reconstruction.h"
#include "pattern/bridge_blocks.h"
#include "quant/math/adaround.h"
#include "quant/math/quantize.h"
#include "support/graph_dsl.h"
#include "support/quant_fixtures.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

// Conv features -> tokens -> LayerNorm -> linear, with a residual Add: one conv->transformer bridge.
std::string bridgeModel() {
  return "<ir_version: 8, opset_import: [\"\" : 17]>\n"
         "agraph (float[1, 16, 6, 6] X) => (float[1, 36, 16] Y)\n<" +
         test::normalInitializer("W1", {16, 16, 3, 3}, 1, 0.1f) + ", " + test::normalInitializer("B1", {16}, 2, 0.1f) + ", " +
         test::normalInitializer("W2", {16, 16}, 3, 0.3f) + ", " + test::normalInitializer("B2", {16}, 4, 0.1f) +
         ", int64[3] S = {1, 16, 36}>\n{\n"
         "  C = Conv <pads = [1, 1, 1, 1]> (X, W1, B1)\n"
         "  R = Relu(C)\n"
         "  T0 = Reshape(R, S)\n"
         "  T = Transpose <perm = [0, 2, 1]> (T0)\n"
         "  N = LayerNormalization <axis = -1> (T, G, Bn)\n"
         "  M = MatMul(N, W2)\n"
         "  P = Add(M, B2)\n"
         "  Y = Add(T, P)\n"
         "}\n";
}

Model makeModel() {
  std::string text = bridgeModel();
  // LayerNorm scale and bias as initializers.
  text.insert(text.find(", int64[3] S"), ", float[16] G = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, float[16] Bn = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}");
  return test::parseModel(text);
}

// The model with its quantized weights replaced by their round-to-nearest values.
Model nearestWeights(const QuantTable& table, const Model& source) {
  Model m = makeModel();
  for (const Value* v : table.values()) {
    const TensorQuant& q = *table.find(v);
    if (q.role != QuantRoleOfValue::kWeight) continue;
    Value* mine = m.graph->findValue(v->name());
    m.graph->setInitializer(mine, fakeQuantizeTensor(source.graph->findValue(v->name())->initializer(), q.params, q.spec));
  }
  return m;
}

struct Run {
  Model model;
  std::vector<BlockReconstructionReport> reports;
};

Run reconstruct(bool quantize_activations, uint64_t seed, float drop = 0.0f) {
  if (std::getenv("VITQ_RECON_DEBUG")) setLogLevel(spdlog::level::debug);
  Model m = makeModel();
  test::NormalDataset calib(128, {1, 16, 6, 6}, 7);
  const QuantTable table = test::minMaxTable(m, calib, 4, 4);
  const auto blocks = bridgeReconstructionBlocks(*m.graph);
  REQUIRE(blocks.size() == 1);
  ReconstructionOptions o;
  o.iterations = 300;
  o.samples = 128;
  o.batch = 4;
  o.learning_rate = 0.1f;
  o.seed = seed;
  o.quantize_activations = quantize_activations;
  o.drop_probability = drop;
  auto reports = reconstructBlocks(m, table, calib, blocks, o);
  REQUIRE(reports.isOk());
  return {std::move(m), *reports};
}

}  // namespace

TEST_CASE("the bridge block of a conv -> tokens -> attention input model", "[reconstruct]") {
  Model m = makeModel();
  const auto blocks = findBridgeBlocks(*m.graph);
  REQUIRE(blocks.size() == 1);
  const BridgeBlock& b = blocks[0];
  CHECK(b.bridge.conv->opType() == "Conv");
  CHECK(b.output->name() == "Y");  // the residual Add that reads the LayerNorm's input
  std::vector<std::string> ops;
  for (const Node* n : b.nodes) ops.push_back(n->opType());
  CHECK(ops == std::vector<std::string>{"Conv", "Relu", "Reshape", "Transpose", "LayerNormalization", "MatMul", "Add", "Add"});
  REQUIRE(b.inputs.size() == 1);
  CHECK(b.inputs[0]->name() == "X");
}

TEST_CASE("AdaRound's rectified sigmoid and its initialization", "[reconstruct]") {
  for (float f : {0.0f, 0.1f, 0.5f, 0.9f}) CHECK(adaroundH(adaroundInitV(f)) == Approx(f).margin(1e-5));
  CHECK(adaroundH(20.0f) == 1.0f);
  CHECK(adaroundH(-20.0f) == 0.0f);
  CHECK(adaroundDh(20.0f) == 0.0f);
  const float v = 0.3f, eps = 1e-3f;
  CHECK(adaroundDh(v) == Approx((adaroundH(v + eps) - adaroundH(v - eps)) / (2 * eps)).epsilon(1e-2));
  RoundingSchedule s;
  s.total = 100;
  CHECK_FALSE(s.regularized(19));
  CHECK(s.regularized(20));
  CHECK(s.beta(20) == Approx(20.0f));
  CHECK(s.beta(60) == Approx(11.0f));
}

TEST_CASE("learned rounding lowers the W4 block error against nearest rounding on unseen samples", "[reconstruct]") {
  Run r = reconstruct(false, 0);
  REQUIRE(r.reports.size() == 1);
  const BlockReconstructionReport& rep = r.reports[0];
  CHECK(rep.weights.size() == 2);
  CHECK_FALSE(rep.kept_nearest);
  CHECK(rep.flipped > 0);
  CHECK(rep.loss_after < 0.9 * rep.loss_before);  // on the cached samples

  Model reference = makeModel();
  test::NormalDataset calib(128, {1, 16, 6, 6}, 7);
  const QuantTable table = test::minMaxTable(reference, calib, 4, 4);
  // The written weights lie on their grid: quantizing them again changes nothing.
  for (const Value* v : table.values()) {
    const TensorQuant& q = *table.find(v);
    if (q.role != QuantRoleOfValue::kWeight) continue;
    const Tensor& w = r.model.graph->findValue(v->name())->initializer();
    CHECK(fakeQuantizeTensor(w, q.params, q.spec).bitwiseEqual(w));
  }
  test::NormalDataset unseen(32, {1, 16, 6, 6}, 99);
  const double learned = test::outputMse(reference, r.model, unseen);
  const double nearest = test::outputMse(reference, nearestWeights(table, reference), unseen);
  INFO("held-out output MSE: nearest " << nearest << ", learned " << learned);
  CHECK(learned < 0.96 * nearest);
}

TEST_CASE("reconstruction with fake-quantized activations improves and is deterministic", "[reconstruct]") {
  Run a = reconstruct(true, 5);
  Run b = reconstruct(true, 5);
  REQUIRE(a.reports.size() == 1);
  CHECK(a.reports[0].loss_after < a.reports[0].loss_before);
  CHECK(a.reports[0].loss_after == b.reports[0].loss_after);
  for (const char* w : {"W1", "W2"}) {
    CHECK(a.model.graph->findValue(w)->initializer().bitwiseEqual(b.model.graph->findValue(w)->initializer()));
  }
  Run c = reconstruct(true, 6);  // another seed draws other batches
  CHECK(c.reports[0].loss_after != a.reports[0].loss_after);
}

TEST_CASE("QDrop: activations keep their unquantized values with the drop probability", "[reconstruct]") {
  Model m = makeModel();
  test::NormalDataset calib(8, {1, 16, 6, 6}, 7);
  const QuantTable table = test::minMaxTable(m, calib, 4, 4);
  const auto blocks = bridgeReconstructionBlocks(*m.graph);
  REQUIRE(blocks.size() == 1);
  const ReconstructionBlock& block = blocks[0];
  BlockSamples quantized(block, table, 17, true), unquantized(block, table, 17, false);
  auto feeds = calib.sample(0);
  REQUIRE(feeds.isOk());
  const ValueTensors recorded{{block.inputs.at(0), feeds->at("X")}};
  quantized.addSample(recorded, Tensor());
  unquantized.addSample(recorded, Tensor());
  auto output = [&](const BlockSamples& s, float p) {
    std::mt19937_64 rng(3);
    auto r = s.forward(0, {}, p > 0 ? &rng : nullptr, p);
    REQUIRE(r.isOk());
    return r->at(block.output);
  };
  const Tensor exact = output(unquantized, 0.0f);
  CHECK(output(quantized, 1.0f).bitwiseEqual(exact));  // every element dropped: float activations
  const Tensor all = output(quantized, 0.0f);
  const Tensor half = output(quantized, 0.5f);
  CHECK_FALSE(all.bitwiseEqual(exact));
  CHECK_FALSE(half.bitwiseEqual(exact));
  CHECK_FALSE(half.bitwiseEqual(all));
  CHECK(half.bitwiseEqual(output(quantized, 0.5f)));  // the same draws give the same mix
}

}  // namespace vitq

namespace vitq {

TEST_CASE("a bridge block through a node without a VJP is refused before any work", "[reconstruct]") {
  // TopK (no VJP) sorts the linear layer's outputs inside the transformer half of the block.
  std::string text = bridgeModel();
  const std::string add = "  P = Add(M, B2)";
  text.replace(text.find(add), add.size(), "  V, I = TopK <axis = -1> (M, K)\n  P = Add(V, B2)");
  text.insert(text.find(", int64[3] S"), ", int64[1] K = {16}, float[16] G = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, "
                                         "1}, float[16] Bn = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}");
  Model m = test::parseModel(text);
  for (const auto& n : m.graph->nodes()) n->setName("n_" + n->output(0)->name());
  test::NormalDataset calib(4, {1, 16, 6, 6}, 7);
  const QuantTable table = test::minMaxTable(m, calib, 4, 4);
  const auto blocks = bridgeReconstructionBlocks(*m.graph);
  REQUIRE(blocks.size() == 1);
  // Nothing is learned, or even recorded, on samples that cannot be read: the check comes first.
  test::NormalDataset wrong_shape(4, {1, 3, 2, 2}, 7);
  auto r = reconstructBlocks(m, table, wrong_shape, blocks, {});
  REQUIRE_FALSE(r.isOk());
  CHECK(r.status().code() == StatusCode::kUnsupported);
  CHECK(r.status().message() ==
        "node 'n_V' (TopK): no gradient (vector-Jacobian product) for op TopK; reconstruction cannot pass through it "
        "(--reconstruct none, or keep the layers that feed it in float: --exclude n_C --exclude n_M)");
}

}  // namespace vitq
