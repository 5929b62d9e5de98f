#include "passes/ptq/block_reconstruction.h"

#include <algorithm>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "core/logging.h"
#include "exec/thread_scope.h"
#include "passes/ptq/quant_step.h"
#include "passes/ptq/reconstruction_check.h"
#include "pattern/bridge_blocks.h"

namespace vitq {
namespace {

std::string label(const Node* n) { return n->name().empty() ? n->output(0)->name() : n->name(); }

}  // namespace

std::vector<ReconstructionBlock> bridgeReconstructionBlocks(const Graph& graph) {
  std::vector<ReconstructionBlock> out;
  for (const BridgeBlock& b : findBridgeBlocks(graph)) {
    ReconstructionBlock r;
    const bool forward = b.bridge.direction == BridgeMatch::Direction::kConvToTransformer;
    r.name = std::string(bridgeDirectionName(b.bridge.direction)) + ": " +
             label(forward ? b.bridge.conv : b.bridge.token_op) + " .. " + b.output->name();
    r.nodes.assign(b.nodes.begin(), b.nodes.end());
    r.inputs = b.inputs;
    r.output = b.output;
    out.push_back(std::move(r));
  }
  return out;
}

StatusOr<std::vector<BlockReconstructionReport>> reconstructBlocks(Model& model, const QuantTable& table,
                                                                   const Dataset& calib,
                                                                   const std::vector<ReconstructionBlock>& blocks,
                                                                   const ReconstructionOptions& o) {
  std::vector<BlockReconstructionReport> reports;
  if (blocks.empty()) return reports;
  Graph& graph = *model.graph;
  const int64_t opset = model.opsetVersion("");
  const size_t n = std::min(o.samples, calib.size());
  if (n == 0) return invalidArgument("block reconstruction needs calibration samples");
  // The bridge blocks see float inputs and share nothing in order: activation scales stay as calibrated.
  ReconstructionOptions fixed_scales = o;
  fixed_scales.learn_activation_scales = false;
  VITQ_RETURN_IF_ERROR(checkReconstructible(blocks, table, fixed_scales));

  // Float block inputs and outputs, recorded during whole-model runs on the first n samples.
  std::vector<const Node*> all_nodes;
  for (const auto& b : blocks) all_nodes.insert(all_nodes.end(), b.nodes.begin(), b.nodes.end());
  std::vector<BlockSamples> samples;
  for (const auto& b : blocks) {
    if (!b.output) return invalidArgument("block '" + b.name + "' has no output");
    samples.emplace_back(b, table, opset, o.quantize_activations);
  }
  {
    VITQ_ASSIGN_OR_RETURN(Executor exec, Executor::create(graph, opset, {o.threads}));
    for (size_t i = 0; i < n; ++i) {
      VITQ_ASSIGN_OR_RETURN(TensorMap feeds, calib.sample(i));
      BlockRecorder recorder(all_nodes);
      VITQ_RETURN_IF_ERROR(exec.run(feeds, &recorder).status());
      for (size_t b = 0; b < blocks.size(); ++b) {
        auto it = recorder.tensors().find(blocks[b].output);
        if (it == recorder.tensors().end()) return internalError("block '" + blocks[b].name + "': output not recorded");
        samples[b].addSample(recorder.tensors(), it->second);
      }
    }
  }

  // The block tensors are small and the optimization sequential: one thread for oneDNN and the kernels.
  const OmpThreadScope single_thread(1);
  std::unordered_set<const Value*> done;
  for (size_t b = 0; b < blocks.size(); ++b) {
    VITQ_ASSIGN_OR_RETURN(BlockReconstructionReport report,
                          learnBlockRounding(graph, opset, table, blocks[b], samples[b], fixed_scales, b, blocks.size(), done));
    if (!report.weights.empty()) reports.push_back(std::move(report));
  }
  return reports;
}

void addReconstructionReport(const char* scope, const PipelineOptions& o, const PipelineReport& r, nlohmann::json& out) {
  const ReconstructionOptions& ro = o.reconstruction;
  out["recipe"]["reconstruction"] = {{"scope", scope}, {"iterations", ro.iterations},
                                     {"samples", std::min(ro.samples, r.calibration_samples)}, {"batch", ro.batch},
                                     {"learning_rate", ro.learning_rate}, {"seed", ro.seed},
                                     {"block_layers", o.reconstruction_block_layers}, {"drop", ro.drop_probability},
                                     {"activation_scales", ro.learn_activation_scales}};
  if (ro.holdout > 0) out["recipe"]["reconstruction"]["holdout"] = ro.holdout;
  nlohmann::json blocks = nlohmann::json::array();
  for (const auto& b : r.reconstructed) {
    blocks.push_back({{"block", b.name}, {"output", b.output}, {"weights", b.weights}, {"elements", b.elements},
                      {"codes_changed", b.flipped}, {"loss_before", b.loss_before}, {"loss_after", b.loss_after},
                      {"kept_nearest", b.kept_nearest}, {"activation_scales", b.activation_scales.size()},
                      {"seconds", b.seconds}});
    if (b.heldout_samples > 0) {
      blocks.back().update({{"heldout_samples", b.heldout_samples}, {"heldout_loss_before", b.heldout_loss_before},
                            {"heldout_loss_after", b.heldout_loss_after}, {"kept_step", b.kept_step}});
    }
  }
  out["reconstruction"] = blocks;
}

namespace {

class BridgeReconstructionStep final : public QuantStep {
 public:
  const char* name() const override { return "bridge-reconstruction"; }
  const char* summary() const override {
    return "q-hyvit: learned rounding of the bridge blocks' weights";
  }
  StepTraits traits() const override { return StepTraits{}.readsData().finalRunOnly(); }
  void addToReport(const PipelineOptions& o, const PipelineReport& r, nlohmann::json& out) const override {
    addReconstructionReport("bridges", o, r, out);
  }
  bool enabled(const PipelineOptions& o) const override { return o.reconstruct == Reconstruction::kBridges; }
  void enable(PipelineOptions& o) const override { o.reconstruct = Reconstruction::kBridges; }
  Status run(QuantContext& ctx) const override {
    ReconstructionOptions r = ctx.options.reconstruction;
    r.threads = ctx.options.threads;
    VITQ_ASSIGN_OR_RETURN(ctx.report.reconstructed, reconstructBlocks(ctx.model, ctx.table, ctx.calib,
                                                                      bridgeReconstructionBlocks(*ctx.model.graph), r));
    logger("vitq.quantize")->info("reconstructed {} bridge blocks", ctx.report.reconstructed.size());
    return Status::ok();
  }
};

}  // namespace

const QuantStep& bridgeReconstructionStep() {
  static const BridgeReconstructionStep step;
  return step;
}

}  // namespace vitq
