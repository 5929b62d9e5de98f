// Sequential (BRECQ-style) reconstruction on a small conv stack with a residual Add: blocks end
// where one float tensor carries everything on; learning every block's rounding in order, each fed
// by the quantized blocks before it, must lower the whole model's output error against nearest
// rounding on samples it did not see, and give the same bytes for the same seed (on any thread count).
#include <catch2/catch.hpp>

#include "passes/ptq/materialize_qdq.h"
#include "passes/ptq/reconstruction_check.h"
#include "passes/ptq/sequential_reconstruction.h"
#include "quant/math/quantize.h"
#include "support/graph_dsl.h"
#include "support/quant_fixtures.h"
#include "support/random_dataset.h"

namespace vitq {
namespace {

// Conv -> Relu -> (Conv -> Relu, + skip) -> Conv: cut points after R1, after the Add and at Y.
Model makeModel() {
  return test::parseModel("<ir_version: 8, opset_import: [\"\" : 17]>\n"
                          "agraph (float[1, 8, 6, 6] X) => (float[1, 8, 6, 6] Y)\n<" +
                          test::normalInitializer("W1", {16, 8, 3, 3}, 1, 0.15f) + ", " + test::normalInitializer("W2", {16, 16, 3, 3}, 2, 0.1f) + ", " +
                          test::normalInitializer("W3", {8, 16, 1, 1}, 3, 0.3f) +
                          ">\n{\n"
                          "  C1 = Conv <pads = [1, 1, 1, 1]> (X, W1)\n"
                          "  R1 = Relu(C1)\n"
                          "  C2 = Conv <pads = [1, 1, 1, 1]> (R1, W2)\n"
                          "  R2 = Relu(C2)\n"
                          "  A = Add(R2, R1)\n"
                          "  Y = Conv(A, W3)\n"
                          "}\n");
}

std::vector<std::string> names(const ReconstructionBlock& b) {
  std::vector<std::string> out;
  for (const Node* n : b.nodes) out.push_back(n->output(0)->name());
  return out;
}

// Mean squared error of Y between the float model and \p q with its weights as they stand.
double outputMse(const Model& q, const Dataset& data) { return test::outputMse(makeModel(), q, data); }

struct Setting {
  int threads = 1;
  float drop = 0.0f;
  int activation_bits = 8;
  bool learn_scales = false;
};

Model reconstructed(uint64_t seed, std::vector<BlockReconstructionReport>* reports, const Setting& setting = {},
                    QuantTable* table_out = nullptr) {
  Model m = makeModel();
  test::NormalDataset calib(64, {1, 8, 6, 6}, 7);
  QuantTable table = test::minMaxTable(m, calib, 3, setting.activation_bits);
  ReconstructionOptions o;
  o.iterations = 300;
  o.samples = 64;
  o.seed = seed;
  o.quantize_activations = setting.drop > 0 || setting.activation_bits < 8;
  o.drop_probability = setting.drop;
  o.threads = setting.threads;
  o.learn_activation_scales = setting.learn_scales;
  auto r = reconstructSequentially(m, table, calib, sequentialReconstructionBlocks(*m.graph, table, 1), o);
  REQUIRE(r.isOk());
  if (reports) *reports = *r;
  if (table_out) *table_out = std::move(table);
  return m;
}

}  // namespace

TEST_CASE("sequential reconstruction blocks end where one tensor carries everything on", "[reconstruct]") {
  Model m = makeModel();
  test::NormalDataset calib(4, {1, 8, 6, 6}, 7);
  const QuantTable table = test::minMaxTable(m, calib, 3, 8);
  const auto one = sequentialReconstructionBlocks(*m.graph, table, 1);
  REQUIRE(one.size() == 3);
  CHECK(names(one[0]) == std::vector<std::string>{"C1", "R1"});
  CHECK(names(one[1]) == std::vector<std::string>{"C2", "R2", "A"});  // R1 stays live until the Add
  CHECK(names(one[2]) == std::vector<std::string>{"Y"});
  REQUIRE(one[1].inputs.size() == 1);
  CHECK(one[1].inputs[0]->name() == "R1");
  CHECK(one[1].output->name() == "A");
  CHECK(one[1].name == "C2 .. A");
  // Two layers per block: C1..A holds two; the last conv alone is too few and joins it.
  const auto two = sequentialReconstructionBlocks(*m.graph, table, 2);
  REQUIRE(two.size() == 1);
  CHECK(names(two[0]) == std::vector<std::string>{"C1", "R1", "C2", "R2", "A", "Y"});
  CHECK(two[0].output->name() == "Y");
}

TEST_CASE("sequential reconstruction blocks hold the wanted layers before their cut", "[reconstruct]") {
  // C1 -> R1 (a cut), then C2 -> C3 while R1 waits for the Add (no cut), then Y. On reaching C3 the
  // open block counts two layers, but only C1 lies before its cut: closing there would give a
  // block of one layer.
  Model m = test::parseModel("<ir_version: 8, opset_import: [\"\" : 17]>\n"
                             "agraph (float[1, 8, 6, 6] X) => (float[1, 8, 6, 6] Y)\n<" +
                             test::normalInitializer("W1", {8, 8, 3, 3}, 1, 0.15f) + ", " +
                             test::normalInitializer("W2", {8, 8, 3, 3}, 2, 0.15f) + ", " +
                             test::normalInitializer("W3", {8, 8, 1, 1}, 3, 0.3f) + ", " +
                             test::normalInitializer("W4", {8, 8, 1, 1}, 4, 0.3f) +
                             ">\n{\n"
                             "  C1 = Conv <pads = [1, 1, 1, 1]> (X, W1)\n"
                             "  R1 = Relu(C1)\n"
                             "  C2 = Conv <pads = [1, 1, 1, 1]> (R1, W2)\n"
                             "  C3 = Conv(C2, W3)\n"
                             "  A = Add(C3, R1)\n"
                             "  Y = Conv(A, W4)\n"
                             "}\n");
  test::NormalDataset calib(4, {1, 8, 6, 6}, 7);
  const QuantTable table = test::minMaxTable(m, calib, 3, 8);
  const auto one = sequentialReconstructionBlocks(*m.graph, table, 1);
  REQUIRE(one.size() == 3);
  CHECK(names(one[0]) == std::vector<std::string>{"C1", "R1"});
  CHECK(names(one[1]) == std::vector<std::string>{"C2", "C3", "A"});
  // Two per block: C1 alone is too few, so the first block runs to the Add (three layers); Y alone
  // is too few and joins it.
  const auto two = sequentialReconstructionBlocks(*m.graph, table, 2);
  REQUIRE(two.size() == 1);
  CHECK(names(two[0]) == std::vector<std::string>{"C1", "R1", "C2", "C3", "A", "Y"});
  const auto three = sequentialReconstructionBlocks(*m.graph, table, 3);
  REQUIRE(three.size() == 1);
}

// Two convs side by side, then TopK (no VJP) over the channels of one: \p cut_first puts a Relu
// cut between the first conv and the TopK instead.
Model topKModel(bool cut_first) {
  const std::string head = cut_first ? "  C1 = Conv <pads = [1, 1, 1, 1]> (X, W1)\n"
                                       "  R1 = Relu(C1)\n"
                                       "  V, I = TopK <axis = 1> (R1, K)\n"
                                       "  A = Conv <pads = [1, 1, 1, 1]> (V, W2)\n"
                                     : "  C1 = Conv <pads = [1, 1, 1, 1]> (X, W1)\n"
                                       "  C2 = Conv <pads = [1, 1, 1, 1]> (X, W2)\n"
                                       "  V, I = TopK <axis = 1> (C1, K)\n"
                                       "  A = Add(V, C2)\n";
  Model m = test::parseModel("<ir_version: 8, opset_import: [\"\" : 17]>\n"
                             "agraph (float[1, 8, 6, 6] X) => (float[1, 8, 6, 6] Y)\n<" +
                             test::normalInitializer("W1", {8, 8, 3, 3}, 1, 0.15f) + ", " +
                             test::normalInitializer("W2", {8, 8, 3, 3}, 2, 0.15f) + ", " +
                             test::normalInitializer("W3", {8, 8, 1, 1}, 3, 0.3f) + ", int64[1] K = {8}>\n{\n" + head +
                             "  R = Relu(A)\n"
                             "  Y = Conv(R, W3)\n"
                             "}\n");
  for (const auto& n : m.graph->nodes()) n->setName(n->output(0)->name() == "V" ? "topk" : "n_" + n->output(0)->name());
  return m;
}

TEST_CASE("a node without a VJP ends the open block at its latest cut", "[reconstruct]") {
  Model m = topKModel(true);
  test::NormalDataset calib(8, {1, 8, 6, 6}, 7);
  QuantTable table = test::minMaxTable(m, calib, 4, 8);
  // Two layers per block would put C1 and the conv after TopK in one block; TopK closes it after R1.
  const auto blocks = sequentialReconstructionBlocks(*m.graph, table, 2);
  REQUIRE(blocks.size() == 2);
  CHECK(names(blocks[0]) == std::vector<std::string>{"C1", "R1"});
  CHECK(names(blocks[1]) == std::vector<std::string>{"V", "A", "R", "Y"});  // TopK reads the block input
  CHECK(checkReconstructible(blocks, table, {}).isOk());
  ReconstructionOptions o;
  o.iterations = 20;
  o.samples = 8;
  auto r = reconstructSequentially(m, table, calib, blocks, o);
  INFO(r.status().toString());
  REQUIRE(r.isOk());
  CHECK(r->size() == 2);
}

TEST_CASE("a node without a VJP and no cut before it is refused before any work", "[reconstruct]") {
  Model m = topKModel(false);
  test::NormalDataset calib(8, {1, 8, 6, 6}, 7);
  QuantTable table = test::minMaxTable(m, calib, 4, 8);
  const auto blocks = sequentialReconstructionBlocks(*m.graph, table, 1);
  REQUIRE(blocks.size() == 2);  // C1 and C2 are both live until the Add: no cut before TopK
  CHECK(names(blocks[0]) == std::vector<std::string>{"C1", "C2", "V", "A", "R"});
  const std::string message =
      "node 'topk' (TopK): no gradient (vector-Jacobian product) for op TopK; reconstruction cannot pass through it "
      "(--reconstruct none, or keep the layers that feed it in float: --exclude n_C1)";
  const Status s = checkReconstructible(blocks, table, {});
  CHECK(s.code() == StatusCode::kUnsupported);
  CHECK(s.message() == message);
  // The pass itself refuses with the same words before its first whole-model run: on a dataset
  // whose samples cannot even be read, the check still speaks first.
  test::NormalDataset wrong_shape(8, {1, 3, 2, 2}, 7);
  ReconstructionOptions o;
  o.samples = 8;
  auto r = reconstructSequentially(m, table, wrong_shape, blocks, o);
  CHECK(r.status().message() == message);
}

TEST_CASE("sequential reconstruction lowers the W3 model error on unseen samples, deterministically", "[reconstruct]") {
  std::vector<BlockReconstructionReport> reports;
  Model a = reconstructed(3, &reports);
  REQUIRE(reports.size() == 3);
  for (const auto& r : reports) CHECK(r.loss_after <= r.loss_before);

  Model nearest = makeModel();
  test::NormalDataset calib(64, {1, 8, 6, 6}, 7);
  const QuantTable table = test::minMaxTable(nearest, calib, 3, 8);
  for (const Value* v : table.values()) {
    const TensorQuant& q = *table.find(v);
    if (q.role != QuantRoleOfValue::kWeight) continue;
    Value* w = nearest.graph->findValue(v->name());
    // The learned weights lie on the grid; nearest rounding is the baseline.
    const Tensor& learned = a.graph->findValue(v->name())->initializer();
    CHECK(fakeQuantizeTensor(learned, q.params, q.spec).bitwiseEqual(learned));
    nearest.graph->setInitializer(w, fakeQuantizeTensor(w->initializer(), q.params, q.spec));
  }
  test::NormalDataset unseen(32, {1, 8, 6, 6}, 99);
  const double learned_mse = outputMse(a, unseen);
  const double nearest_mse = outputMse(nearest, unseen);
  INFO("held-out output MSE: nearest " << nearest_mse << ", learned " << learned_mse);
  CHECK(learned_mse < 0.9 * nearest_mse);

  Model b = reconstructed(3, nullptr);
  for (const char* w : {"W1", "W2", "W3"}) {
    CHECK(a.graph->findValue(w)->initializer().bitwiseEqual(b.graph->findValue(w)->initializer()));
  }
}

TEST_CASE("sequential reconstruction gives the same bytes on one and two threads", "[reconstruct]") {
  // Each step's samples run in parallel with their own QDrop streams; gradients add up in order.
  Model one = reconstructed(5, nullptr, {1, 0.5f, 4, true});
  Model two = reconstructed(5, nullptr, {2, 0.5f, 4, true});
  for (const char* w : {"W1", "W2", "W3"}) {
    CHECK(one.graph->findValue(w)->initializer().bitwiseEqual(two.graph->findValue(w)->initializer()));
  }
}

}  // namespace vitq

namespace vitq {

TEST_CASE("learned activation scales lower the W3A3 model error on unseen samples", "[reconstruct]") {
  // Same rounding optimization with and without the LSQ step sizes of the activations the blocks
  // produce; the learned scales must reach the table and beat the min/max ones on held-out data.
  QuantTable fixed_table, learned_table;
  std::vector<BlockReconstructionReport> reports;
  Model fixed = reconstructed(3, nullptr, {1, 0.0f, 3, false}, &fixed_table);
  Model learned = reconstructed(3, &reports, {1, 0.0f, 3, true}, &learned_table);
  size_t scales = 0;
  for (const auto& r : reports) scales += r.activation_scales.size();
  CHECK(scales >= 2);
  int moved = 0;
  for (const Value* v : learned_table.values()) {
    const TensorQuant& q = *learned_table.find(v);
    if (q.role != QuantRoleOfValue::kActivation) continue;
    const TensorQuant* before = fixed_table.find(fixed.graph->findValue(v->name()));
    moved += before && before->params.scale != q.params.scale;
  }
  CHECK(moved >= 2);
  // Both written with their quantizers, as the export does, and run against the float model.
  REQUIRE(materializeQdq(*fixed.graph, fixed_table, {}).isOk());
  REQUIRE(materializeQdq(*learned.graph, learned_table, {}).isOk());
  test::NormalDataset unseen(32, {1, 8, 6, 6}, 99);
  const double fixed_mse = outputMse(fixed, unseen);
  const double learned_mse = outputMse(learned, unseen);
  INFO("held-out output MSE with quantized activations: fixed scales " << fixed_mse << ", learned " << learned_mse);
  CHECK(learned_mse < 0.9 * fixed_mse);
}

}  // namespace vitq

namespace vitq {

TEST_CASE("held-out samples judge each block's checkpoints; nearest is kept where none beats it there", "[reconstruct]") {
  Model m = makeModel();
  test::NormalDataset calib(64, {1, 8, 6, 6}, 7);
  QuantTable table = test::minMaxTable(m, calib, 3, 8);
  ReconstructionOptions o;
  o.iterations = 200;
  o.samples = 64;
  o.seed = 3;
  o.quantize_activations = false;
  o.holdout = 0.25f;
  auto r = reconstructSequentially(m, table, calib, sequentialReconstructionBlocks(*m.graph, table, 1), o);
  REQUIRE(r.isOk());
  REQUIRE(r->size() == 3);
  Model nearest = makeModel();
  for (const BlockReconstructionReport& b : *r) {
    INFO(b.name << ": held-out " << b.heldout_loss_before << " -> " << b.heldout_loss_after << " at step " << b.kept_step);
    CHECK(b.heldout_samples == 16);
    if (b.kept_nearest) {
      CHECK(b.heldout_loss_after == b.heldout_loss_before);
      CHECK(b.flipped == 0);
    } else {
      CHECK(b.heldout_loss_after < b.heldout_loss_before);
      CHECK((b.kept_step == 50 || b.kept_step == 100 || b.kept_step == 150 || b.kept_step == 200));
    }
    for (const std::string& w : b.weights) {
      const TensorQuant& q = *table.find(m.graph->findValue(w));
      const Tensor rounded = fakeQuantizeTensor(nearest.graph->findValue(w)->initializer(), q.params, q.spec);
      CHECK(m.graph->findValue(w)->initializer().bitwiseEqual(rounded) == b.kept_nearest);
    }
  }
  // The same data and seed give the same bytes.
  Model again = makeModel();
  QuantTable table2 = test::minMaxTable(again, calib, 3, 8);
  REQUIRE(reconstructSequentially(again, table2, calib, sequentialReconstructionBlocks(*again.graph, table2, 1), o).isOk());
  for (const char* w : {"W1", "W2", "W3"}) {
    CHECK(m.graph->findValue(w)->initializer().bitwiseEqual(again.graph->findValue(w)->initializer()));
  }
}

}  // namespace vitq
