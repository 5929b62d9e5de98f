// `vitq quantize MODEL --data DATA -o OUT.onnx [--recipe minmax|percentile] [--wbits N --abits N]
//  [--report R.json|R.md] [--fail-if METRIC<V ...]`: calibrate, quantize, export QDQ, report.
#include <filesystem>
#include <map>
#include <fstream>
#include <iostream>

#include "calib/calibration_session.h"
#include "calib/dataset.h"
#include "core/logging.h"
#include "onnx_io/exporter.h"
#include "onnx_io/importer.h"
#include "onnx_io/opset_upgrade.h"
#include "passes/canonicalize/fold_batchnorm.h"
#include "passes/ptq/recipes.h"
#include "report/accuracy_report.h"
#include "vitq/commands.h"
#include "vitq/gates.h"
#include "vitq/integer_export.h"
#include "vitq/paths.h"
#include "onnx_io/atomic_file.h"
#include "pattern/match_utils.h"
#include "quant/op_rules.h"
#include "quant/math/quantize.h"

namespace vitq::cli {
namespace {

struct Options {
  std::string model, data, output, report, recipe = "minmax", stop_after;
  std::string format = "qdq";
  int wbits = 8, abits = 8, threads = 1;
  double percentile = 99.99;
  size_t calib_samples = 0, eval_samples = 0;
  std::vector<std::string> exclude, fail_if;
  bool no_ln_reparam = false, no_log_softmax = false, median_scale = false, reduce_range = false;
  uint64_t noise_seed = 0;
  std::string noise_dist = "uniform";
  int noise_steps = 50;
  std::vector<std::string> noise_layers;
  int recon_iters = 400, recon_batch = 4;
  size_t recon_samples = 128;
  float recon_lr = 0.1f;
  uint64_t seed = 0;
};

// Samples [0, limit) of another dataset.
class LimitedDataset : public Dataset {
 public:
  LimitedDataset(const Dataset& base, size_t limit) : base_(base), limit_(limit) {}
  size_t size() const override { return limit_ ? std::min(limit_, base_.size()) : base_.size(); }
  StatusOr<TensorMap> sample(size_t i) const override { return base_.sample(i); }

 private:
  const Dataset& base_;
  size_t limit_;
};

// Rank of every float node output on one run of the model.
StatusOr<std::map<std::string, int64_t>> observeRanks(const Model& model, const TensorMap& feeds, int threads) {
  struct RankHooks : ExecHooks {
    std::map<std::string, int64_t> ranks;
    Status afterNode(const Node& node, const std::vector<const Tensor*>&, std::vector<Tensor>& outputs) override {
      for (size_t i = 0; i < node.numOutputs(); ++i) {
        if (node.output(i) && outputs[i].dtype() == DataType::kFloat) ranks[node.output(i)->name()] = outputs[i].rank();
      }
      return Status::ok();
    }
  } hooks;
  VITQ_ASSIGN_OR_RETURN(Executor exec, Executor::create(*model.graph, model.opsetVersion(""), {threads}));
  VITQ_RETURN_IF_ERROR(exec.run(feeds, &hooks).status());
  return hooks.ranks;
}

// The value each compute layer is judged by: its output, or for a MatMul its bias Add's output
// (reparameterizations move part of the bias into the MatMul, only the sum is invariant).
std::vector<std::string> layerOutputs(const Graph& graph) {
  std::vector<std::string> names;
  for (const auto& node : graph.nodes()) {
    if (quantRole(*node) != QuantRole::kCompute || !node->output(0)) continue;
    const Value* out = node->output(0);
    if (const Node* add = soleUser(out); node->is("MatMul") && add && add->is("Add")) {
      const Value* other = otherOperand(add, out);
      if (other && other->isConstant()) out = add->output(0);
    }
    names.push_back(out->name());
  }
  return names;
}

Status writeReport(const nlohmann::json& report, const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  std::string text;
  if (ext == ".json") text = report.dump(2) + "\n";
  else if (ext == ".md") text = accuracyMarkdown(report);
  else return invalidArgument("--report '" + path + "': the format follows the extension, .json or .md");
  AtomicFile file(path);
  VITQ_RETURN_IF_ERROR(file.write(text));
  return file.commit();
}

Status runQuantize(const Options& o) {
  VITQ_RETURN_IF_ERROR(checkOutputPath(o.model, o.output));
  PipelineOptions po;
  VITQ_RETURN_IF_ERROR(applyRecipe(o.recipe, po));
  // 7-bit weights keep ONNX Runtime's u8s8 kernels exact on x86 CPUs without VNNI (their int16
  // pair sums saturate with full-range int8 weights).
  po.quant.weight_bits = o.reduce_range ? std::min(o.wbits, 7) : o.wbits;
  po.quant.activation_bits = o.abits;
  po.quant.exclude = o.exclude;
  po.percentile = o.percentile;
  po.threads = o.threads;
  po.ln_reparam = po.ln_reparam && !o.no_ln_reparam;
  po.log_softmax = po.log_softmax && !o.no_log_softmax;
  po.median_scale = o.median_scale;
  po.noisy.seed = o.noise_seed;
  po.noisy.gaussian = o.noise_dist == "gaussian";
  po.noisy.amplitude_steps = o.noise_steps;
  po.noisy.layers = o.noise_layers;
  po.reconstruction.iterations = o.recon_iters;
  po.reconstruction.samples = o.recon_samples;
  po.reconstruction.batch = o.recon_batch;
  po.reconstruction.learning_rate = o.recon_lr;
  po.reconstruction.seed = o.seed;
  if (!o.stop_after.empty() && o.stop_after != "reparam") {
    return invalidArgument("--stop-after '" + o.stop_after + "': the only stage is 'reparam'");
  }
  po.stop_after_reparam = !o.stop_after.empty();
  std::vector<Gate> gates;
  for (const auto& text : o.fail_if) {
    VITQ_ASSIGN_OR_RETURN(Gate g, parseGate(text));
    gates.push_back(g);
  }
  auto log = logger("vitq.quantize");
  VITQ_ASSIGN_OR_RETURN(Model loaded, loadModel(o.model));
  std::vector<const Value*> loaded_inputs;
  for (const Value* v : loaded.graph->inputs()) {
    if (!v->isInitializer()) loaded_inputs.push_back(v);
  }
  VITQ_ASSIGN_OR_RETURN(auto data, openNpyDataset(o.data, loaded_inputs));
  if (data->size() == 0) return invalidArgument("the calibration data '" + o.data + "' holds no samples");
  // Per-channel DequantizeLinear needs opset 13; older models are converted first, with the
  // value ranks seen on one real sample (the converter needs some that inference cannot find).
  std::map<std::string, int64_t> ranks;
  if (loaded.opsetVersion("") < 13) {
    VITQ_ASSIGN_OR_RETURN(TensorMap first, data->sample(0));
    VITQ_ASSIGN_OR_RETURN(ranks, observeRanks(loaded, first, o.threads));
  }
  VITQ_ASSIGN_OR_RETURN(Model reference, upgradeOpset(loaded, 13, ranks));
  VITQ_ASSIGN_OR_RETURN(Model quantized, upgradeOpset(loaded, 13, ranks));
  // Float-equivalent canonicalization on both, so that layer names match in the report.
  foldBatchNorms(*reference.graph);
  const size_t folded = foldBatchNorms(*quantized.graph);
  log->info("folded {} BatchNormalization nodes into their Conv", folded);
  const LimitedDataset calib_data(*data, o.calib_samples);
  if (o.format == "integer") {
    const LimitedDataset eval_data(*data, o.eval_samples ? o.eval_samples : o.calib_samples);
    return runIntegerExport(reference, quantized, calib_data, eval_data,
                            {o.model, o.output, o.report, o.recipe, o.wbits, o.abits, o.threads});
  }

  VITQ_ASSIGN_OR_RETURN(PipelineReport pr, quantizeModel(quantized, calib_data, po));
  const QuantPlanSummary& plan = pr.plan;
  const MaterializeStats& ms = pr.materialized;
  quantized.producer_name = "vitq";
  VITQ_RETURN_IF_ERROR(saveModel(quantized, o.output));

  const std::vector<std::string> layer_values = layerOutputs(*reference.graph);
  const LimitedDataset eval_data(*data, o.eval_samples ? o.eval_samples : o.calib_samples);
  VITQ_ASSIGN_OR_RETURN(nlohmann::json report,
                        compareModels(reference, quantized, eval_data, layer_values, {0, o.threads}));
  report["model"] = o.model;
  report["output_model"] = o.output;
  report["recipe"] = {{"name", o.recipe}, {"weight_bits", o.wbits}, {"activation_bits", o.abits},
                      {"calibration_samples", pr.calibration_samples}};
  if (o.recipe == "percentile") report["recipe"]["percentile"] = o.percentile;
  if (po.ln_reparam) report["recipe"]["ln_reparam"] = {{"reference_scale", po.median_scale ? "median" : "mean"}};
  report["recipe"]["log_softmax"] = po.log_softmax;
  report["recipe"]["reduce_range"] = o.reduce_range;
  if (po.noisy_bias) {
    report["recipe"]["noisy_bias"] = {{"seed", o.noise_seed}, {"distribution", o.noise_dist},
                                      {"amplitude_steps", o.noise_steps}, {"layers", o.noise_layers}};
    nlohmann::json sites = nlohmann::json::array();
    for (const auto& site : pr.noisy_bias) {
      sites.push_back({{"activation", site.activation}, {"consumers", site.consumers},
                       {"amplitude", site.amplitude}, {"shift", site.shift}, {"sqnr_before_db", site.sqnr_before_db},
                       {"sqnr_after_db", site.sqnr_after_db}});
    }
    report["noisy_bias"] = sites;
  }
  if (po.bridge_reconstruction) {
    report["recipe"]["reconstruction"] = {{"iterations", o.recon_iters}, {"samples", o.recon_samples},
                                          {"batch", o.recon_batch}, {"learning_rate", o.recon_lr}, {"seed", o.seed}};
    nlohmann::json blocks = nlohmann::json::array();
    for (const auto& b : pr.reconstructed) {
      blocks.push_back({{"block", b.name}, {"output", b.output}, {"weights", b.weights}, {"elements", b.elements},
                        {"codes_changed", b.flipped}, {"loss_before", b.loss_before}, {"loss_after", b.loss_after},
                        {"kept_nearest", b.kept_nearest}, {"seconds", b.seconds}});
    }
    report["reconstruction"] = blocks;
  }
  report["quantization"] = {{"compute_nodes", plan.compute_nodes}, {"quantized_nodes", plan.quantized_nodes},
                            {"kept_float", plan.excluded}, {"quantize_nodes", ms.quantize_nodes},
                            {"weights", ms.weights}, {"biases", ms.biases},
                            {"reparameterized_layernorms", pr.reparameterized},
                            {"log_softmax_quantizers", ms.log_quantizers}};
  if (!o.report.empty()) VITQ_RETURN_IF_ERROR(writeReport(report, o.report));
  std::cout << "# vitq quantize: " << o.model << " -> " << o.output << "\n\n"
            << "recipe " << o.recipe << ", W" << o.wbits << "A" << o.abits << ", " << plan.quantized_nodes << " of "
            << plan.compute_nodes << " compute nodes quantized, " << pr.calibration_samples << " calibration samples\n\n"
            << accuracyMarkdown(report);
  VITQ_ASSIGN_OR_RETURN(auto tripped, trippedGates(gates, report["summary"]));
  if (!tripped.empty()) {
    std::string why;
    for (const auto& t : tripped) why += (why.empty() ? "" : "; ") + t;
    return Status(StatusCode::kGateFailed, "accuracy gate failed: " + why);
  }
  return Status::ok();
}

}  // namespace

void addQuantizeCommand(CLI::App& app, CommandAction& action) {
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("quantize", "Calibrate and quantize a model; write QDQ ONNX and an accuracy report");
  cmd->add_option("model", o->model, "Float ONNX model")->required();
  cmd->add_option("--data", o->data, "Calibration data: folder of .npy samples, or one .npy batch")->required();
  cmd->add_option("-o,--output", o->output, "Quantized ONNX model to write")->required();
  cmd->add_option("--recipe", o->recipe, "minmax (default), percentile, mse, repq-vit or q-hyvit (docs/recipes.md)");
  cmd->add_option("--format", o->format, "qdq (default) or integer: integer-only ONNX (--recipe i-vit, docs/recipes.md)")
      ->check(CLI::IsMember({"qdq", "integer"}));
  cmd->add_flag("--no-ln-reparam", o->no_ln_reparam, "repq-vit without the post-LayerNorm reparameterization");
  cmd->add_flag("--no-log-softmax", o->no_log_softmax, "repq-vit without the log-sqrt2 post-Softmax quantizer");
  cmd->add_flag("--median-scale", o->median_scale, "Post-LayerNorm reference scale: median of the channels (DopQ-ViT)");
  cmd->add_option("--noise-seed", o->noise_seed, "+noisy: seed of the noise vectors (default 0)");
  cmd->add_option("--noise-dist", o->noise_dist, "+noisy: uniform (the paper, default) or gaussian (the official code)")
      ->check(CLI::IsMember({"uniform", "gaussian"}));
  cmd->add_option("--noise-steps", o->noise_steps, "+noisy: amplitude grid size over [0, 2) x N0 (default 50)")
      ->check(CLI::Range(2, 10000));
  cmd->add_option("--noise-layers", o->noise_layers, "+noisy: only inputs of these layers (op type or name glob)");
  cmd->add_option("--recon-iters", o->recon_iters, "q-hyvit: Adam steps per bridge block (default 400)")
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--recon-samples", o->recon_samples, "q-hyvit: calibration samples cached per block (default 128)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--recon-batch", o->recon_batch, "q-hyvit: samples per step (default 4)")->check(CLI::Range(1, 4096));
  cmd->add_option("--recon-lr", o->recon_lr, "q-hyvit: Adam learning rate on the rounding variables (default 0.1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o->seed, "q-hyvit: seed of the reconstruction's sample draws (default 0)");
  cmd->add_flag("--reduce-range", o->reduce_range,
               "7-bit weights (int8 container): exact in ONNX Runtime on x86 CPUs without VNNI");
  cmd->add_option("--stop-after", o->stop_after, "reparam: write the float model after the reparameterization");
  cmd->add_option("--percentile", o->percentile, "Percentile of the range kept by --recipe percentile")
      ->check(CLI::Range(90.0, 100.0));
  cmd->add_option("--wbits", o->wbits, "Weight bits (2 to 8)")->check(CLI::Range(2, 8));
  cmd->add_option("--abits", o->abits, "Activation bits (2 to 8)")->check(CLI::Range(2, 8));
  cmd->add_option("--calib-samples", o->calib_samples, "Use only the first N samples for calibration");
  cmd->add_option("--eval-samples", o->eval_samples, "Samples for the report (default: the calibration samples)");
  cmd->add_option("--exclude", o->exclude, "Keep nodes in float: a node-name glob or an op type (repeatable)");
  cmd->add_option("--report", o->report, "Write the report: .json or .md");
  cmd->add_option("--fail-if", o->fail_if, "Exit 3 when a gate holds, e.g. sqnr_min_db<15 (repeatable)");
  cmd->add_option("--threads", o->threads, "Threads")->check(CLI::Range(1, 256));
  cmd->callback([o, &action] {
    action = [o]() { return runQuantize(*o); };
  });
}

}  // namespace vitq::cli
