#include "passes/ptq/sequential_reconstruction.h"

#include <algorithm>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "autodiff/vjp.h"
#include "core/logging.h"
#include "exec/thread_scope.h"
#include "passes/ptq/quant_step.h"
#include "passes/ptq/reconstruction_check.h"

namespace vitq {
namespace {

constexpr size_t kForever = std::numeric_limits<size_t>::max();

std::string nodeLabel(const Node* n) { return n->name().empty() ? n->output(0)->name() : n->name(); }

// Position of the last node reading each non-constant value (kForever for graph outputs).
std::unordered_map<const Value*, size_t> lastUses(const Graph& graph, const std::vector<const Node*>& order) {
  std::unordered_map<const Value*, size_t> last;
  for (size_t i = 0; i < order.size(); ++i) {
    for (const Value* v : order[i]->inputs()) {
      if (v && !v->isConstant()) last[v] = i;
    }
  }
  for (const Value* v : graph.outputs()) last[v] = kForever;
  return last;
}

// The graph's nodes in order, each node's position, and each value's last reader.
struct NodeOrder {
  std::vector<const Node*> order;
  std::unordered_map<const Node*, size_t> position;
  std::unordered_map<const Value*, size_t> last;
  explicit NodeOrder(const Graph& graph) {
    for (const auto& n : graph.nodes()) {
      position[n.get()] = order.size();
      order.push_back(n.get());
    }
    last = lastUses(graph, order);
  }
};

size_t quantizedWeights(const Node& node, const QuantTable& table) {
  size_t count = 0;
  for (const Value* v : node.inputs()) {
    const TensorQuant* q = v ? table.find(v) : nullptr;
    if (q && q->role == QuantRoleOfValue::kWeight && v->isConstant()) ++count;
  }
  return count;
}

// Whether \p node would stop a weight's gradient: it has no VJP and reads a float computed from
// the graph inputs through float values (\p variable grows with each node passed, in order).
// Integer and constant inputs carry no gradient, so shape arithmetic never counts.
bool stopsGradients(const Node& node, std::unordered_set<const Value*>& variable) {
  const bool reads = std::any_of(node.inputs().begin(), node.inputs().end(), [&](const Value* v) { return v && variable.count(v); });
  if (!reads) return false;
  for (const Value* v : node.outputs()) {
    if (v && holdsFloat(v)) variable.insert(v);
  }
  return !VjpRegistry::instance().find(node.domain(), node.opType());
}

// Keeps in \p state only the values read after position \p after.
void dropDead(ValueTensors& state, const std::unordered_map<const Value*, size_t>& last, size_t after) {
  for (auto it = state.begin(); it != state.end();) {
    auto l = last.find(it->first);
    it = l == last.end() || l->second <= after ? state.erase(it) : std::next(it);
  }
}

}  // namespace

std::vector<ReconstructionBlock> sequentialReconstructionBlocks(const Graph& graph, const QuantTable& table,
                                                                int min_layers) {
  const NodeOrder nodes(graph);
  const auto& [order, position, last] = nodes;
  std::vector<ReconstructionBlock> blocks;
  // Closes a block of nodes [begin, end) of the order at \p output.
  auto close = [&](size_t begin, size_t end, const Value* output) {
    ReconstructionBlock b;
    b.nodes.assign(order.begin() + static_cast<std::ptrdiff_t>(begin), order.begin() + static_cast<std::ptrdiff_t>(end));
    std::unordered_set<const Value*> produced, seen;
    for (const Node* n : b.nodes) produced.insert(n->outputs().begin(), n->outputs().end());
    for (const Node* n : b.nodes) {
      for (const Value* v : n->inputs()) {
        if (v && !v->isConstant() && !produced.count(v) && seen.insert(v).second) b.inputs.push_back(v);
      }
    }
    b.output = output;
    b.name = nodeLabel(b.nodes.front()) + " .. " + output->name();
    blocks.push_back(std::move(b));
  };
  std::unordered_set<const Value*> live, variable;
  for (const Value* v : graph.inputs()) {
    if (!v->isConstant() && last.count(v)) live.insert(v);
    if (!v->isConstant() && holdsFloat(v)) variable.insert(v);
  }
  std::vector<size_t> stops;  // positions of the nodes that stop gradients
  const size_t wanted = static_cast<size_t>(std::max(1, min_layers));
  size_t begin = 0, layers = 0;  // quantized weights of the open block so far
  // The latest cut point of the open block: where it ends, the value carried there, and the weights
  // before it (the block closed there; those after it open the next). A block ends at the last cut
  // before the next quantized layer, so activations follow their layer.
  size_t cut_end = 0, layers_at_cut = 0;
  const Value* cut_value = nullptr;
  for (size_t i = 0; i < order.size(); ++i) {
    const Node* node = order[i];
    const size_t node_layers = quantizedWeights(*node, table);
    // A node without a VJP ends the open block at its latest cut, however few layers it holds, so
    // that no weight's gradient has to pass it: it opens the next block, reading that block's input.
    const bool stop = stopsGradients(*node, variable);
    if (stop) stops.push_back(i);
    if ((node_layers || stop) && cut_value && layers_at_cut >= (stop ? 1 : wanted)) {
      close(begin, cut_end, cut_value);
      begin = cut_end;
      layers -= layers_at_cut;
      layers_at_cut = 0;
      cut_value = nullptr;
    }
    layers += node_layers;
    for (const Value* v : node->outputs()) {
      if (v && last.count(v)) live.insert(v);
    }
    for (auto it = live.begin(); it != live.end();) it = last.at(*it) <= i ? live.erase(it) : std::next(it);
    const Value* only_float = nullptr;
    size_t floats = 0;
    for (const Value* v : live) {
      if (v->type().dtype == DataType::kFloat || v->type().dtype == DataType::kUndefined) {
        ++floats;
        only_float = v;
      }
    }
    const Node* producer = only_float ? only_float->producer() : nullptr;
    if (floats == 1 && producer && position.at(producer) >= begin) {
      cut_end = i + 1;
      cut_value = only_float;
      layers_at_cut = layers;
    }
  }
  if (layers_at_cut > 0 && cut_value) {
    // A remainder with too few layers joins the block before it (which then ends at this cut),
    // unless a node that stops gradients lies between them.
    const bool stopped = std::any_of(stops.begin(), stops.end(), [&](size_t p) { return p >= begin && p < cut_end; });
    if (layers_at_cut < wanted && !blocks.empty() && !stopped) {
      begin -= blocks.back().nodes.size();
      blocks.pop_back();
    }
    close(begin, cut_end, cut_value);
  }
  return blocks;
}

StatusOr<std::vector<BlockReconstructionReport>> reconstructSequentially(Model& model, QuantTable& table,
                                                                         const Dataset& calib,
                                                                         const std::vector<ReconstructionBlock>& blocks,
                                                                         const ReconstructionOptions& o) {
  auto log = logger("vitq.reconstruct");
  std::vector<BlockReconstructionReport> reports;
  if (blocks.empty()) return reports;
  Graph& graph = *model.graph;
  const int64_t opset = model.opsetVersion("");
  const size_t n = std::min(o.samples, calib.size());
  if (n == 0) return invalidArgument("block reconstruction needs calibration samples");
  VITQ_RETURN_IF_ERROR(checkReconstructible(blocks, table, o));
  const NodeOrder nodes(graph);
  const auto& [order, position, last] = nodes;

  // What the float and the quantized model hold at the current cut, per sample: the graph inputs
  // at first, then the values still to be read after each block.
  std::vector<ValueTensors> float_state(n), quant_state(n);
  for (size_t i = 0; i < n; ++i) {
    VITQ_ASSIGN_OR_RETURN(TensorMap feeds, calib.sample(i));
    for (const Value* v : graph.inputs()) {
      auto it = feeds.find(v->name());
      if (it != feeds.end()) float_state[i][v] = quant_state[i][v] = it->second;
    }
  }
  const OmpThreadScope single_thread(1);
  std::unordered_set<const Value*> done;
  for (size_t b = 0; b < blocks.size(); ++b) {
    const ReconstructionBlock& block = blocks[b];
    log->debug("block {}/{} '{}': {} nodes, {} inputs", b + 1, blocks.size(), block.name, block.nodes.size(),
               block.inputs.size());
    const size_t end = position.at(block.nodes.back());
    BlockSamples samples(block, table, opset, o.quantize_activations);
    for (size_t i = 0; i < n; ++i) {
      for (const Value* v : block.inputs) {
        if (!float_state[i].count(v)) return internalError("block '" + block.name + "': input '" + v->name() + "' not carried");
      }
      VITQ_RETURN_IF_ERROR(runBlockForward(block.nodes, opset, float_state[i]));
      samples.addSample(quant_state[i], float_state[i].at(block.output));
      dropDead(float_state[i], last, end);
    }
    VITQ_ASSIGN_OR_RETURN(BlockReconstructionReport report,
                          learnBlockRounding(graph, opset, table, block, samples, o, b, blocks.size(), done));
    // Learned activation scales go into the table, where the next blocks' inputs and the export read them.
    for (const auto& [v, scale] : report.activation_scales) table.find(v)->params.scale = {scale};
    if (!report.weights.empty()) reports.push_back(std::move(report));
    // The quantized model's values after this block, with the rounding just chosen (now in the
    // graph's initializers); the block output unquantized, as the next block's quantizer reads it.
    for (size_t i = 0; i < n; ++i) {
      Tensor raw;
      VITQ_ASSIGN_OR_RETURN(ValueTensors out, samples.forward(i, {}, nullptr, 0.0f, &raw));
      for (auto& [v, t] : out) quant_state[i][v] = std::move(t);
      quant_state[i][block.output] = raw;
      dropDead(quant_state[i], last, end);
    }
  }
  log->info("sequential reconstruction: {} blocks on {} samples", reports.size(), n);
  return reports;
}

namespace {

class SequentialReconstructionStep final : public QuantStep {
 public:
  const char* name() const override { return "sequential-reconstruction"; }
  const char* summary() const override {
    return "--reconstruct all: learned rounding of every block in order, on the quantized model's own inputs (BRECQ)";
  }
  StepTraits traits() const override { return StepTraits{}.readsData().finalRunOnly(); }
  void addToReport(const PipelineOptions& o, const PipelineReport& r, nlohmann::json& out) const override {
    addReconstructionReport("all", o, r, out);
  }
  bool enabled(const PipelineOptions& o) const override { return o.reconstruct == Reconstruction::kSequential; }
  void enable(PipelineOptions& o) const override { o.reconstruct = Reconstruction::kSequential; }
  std::vector<StepOption> options() const override {
    return {numberOption(
        "block-layers", 1, 1000, true, [](const PipelineOptions& o) { return o.reconstruction_block_layers; },
        [](PipelineOptions& o, double v) { o.reconstruction_block_layers = static_cast<int>(v); }, 2)};
  }
  Status run(QuantContext& ctx) const override {
    ReconstructionOptions r = ctx.options.reconstruction;
    r.threads = ctx.options.threads;
    const auto blocks = sequentialReconstructionBlocks(*ctx.model.graph, ctx.table, ctx.options.reconstruction_block_layers);
    VITQ_ASSIGN_OR_RETURN(ctx.report.reconstructed, reconstructSequentially(ctx.model, ctx.table, ctx.calib, blocks, r));
    logger("vitq.quantize")->info("reconstructed {} blocks in sequence", ctx.report.reconstructed.size());
    return Status::ok();
  }
};

}  // namespace

const QuantStep& sequentialReconstructionStep() {
  static const SequentialReconstructionStep step;
  return step;
}

}  // namespace vitq
