#include "api/quantization_inputs.h"

#include <map>
#include <optional>

#include "calib/labels.h"
#include "calib/open_dataset.h"
#include "core/logging.h"
#include "onnx_io/importer.h"
#include "onnx_io/opset_upgrade.h"
#include "passes/canonicalize/export_style.h"
#include "passes/canonicalize/fold_batchnorm.h"
#include "passes/canonicalize/name_nodes.h"
#include "passes/canonicalize/widen_float16.h"
#include "pattern/match_utils.h"
#include "quant/op_rules.h"

namespace vitq {
namespace {

// What one run of the model shows of its node outputs: the element type of each, and the rank of
// the float ones (the opset converter needs ranks that inference cannot find).
struct RunTypes {
  std::map<std::string, DataType> dtypes;
  std::map<std::string, int64_t> float_ranks;
};

StatusOr<RunTypes> observeRunTypes(const Model& model, const TensorMap& feeds, int threads) {
  struct TypeHooks : ExecHooks {
    RunTypes seen;
    Status afterNode(const Node& node, const std::vector<const Tensor*>&, std::vector<Tensor>& outputs) override {
      for (size_t i = 0; i < node.numOutputs(); ++i) {
        if (!node.output(i)) continue;
        seen.dtypes[node.output(i)->name()] = outputs[i].dtype();
        if (outputs[i].dtype() == DataType::kFloat) seen.float_ranks[node.output(i)->name()] = outputs[i].rank();
      }
      return Status::ok();
    }
  } hooks;
  VITQ_ASSIGN_OR_RETURN(Executor exec, Executor::create(*model.graph, model.opsetVersion(""), {threads}));
  VITQ_RETURN_IF_ERROR(exec.run(feeds, &hooks).status());
  return hooks.seen;
}

// Shape inference is skipped for opsets newer than the linked onnx knows; the quantization plan
// and the calibration both need every activation's element type.
bool hasUntypedValues(const Graph& graph) {
  for (const Value* v : graph.values()) {
    if (v->producer() && v->type().dtype == DataType::kUndefined) return true;
  }
  return false;
}

void fillUntypedValues(Graph& graph, const std::map<std::string, DataType>& dtypes) {
  for (Value* v : graph.values()) {
    auto it = dtypes.find(v->name());
    if (v->type().dtype == DataType::kUndefined && it != dtypes.end()) v->type().dtype = it->second;
  }
}

// What normalizeExportStyle changed, said once: weights that were graph inputs change the
// model's interface.
void reportExportStyle(const ExportStyleFixes& fixes, const std::string& model_path) {
  auto log = logger("vitq.quantize");
  if (!fixes.frozen_inputs.empty()) {
    log->warn("{}: {} graph inputs have initializers (weights listed as inputs, as IR < 4 files and "
              "keep_initializers_as_inputs exports do); they are quantized as the constants they hold and are "
              "no longer inputs of the written model (first: '{}')",
              model_path, fixes.frozen_inputs.size(), fixes.frozen_inputs.front());
  }
  if (fixes.folded_identities) log->info("{} Identity/Dropout nodes read past", fixes.folded_identities);
  if (fixes.folded_constants) log->info("{} Transpose/Cast/Reshape nodes of constants folded", fixes.folded_constants);
  if (fixes.folded_gemm_scalars) log->info("{} Gemm alpha/beta folded into B/C", fixes.folded_gemm_scalars);
  if (fixes.einsum_matmuls) log->info("{} Einsum matrix products written as MatMul", fixes.einsum_matmuls);
  if (fixes.unshared_biases) log->info("{} shared biases copied per layer", fixes.unshared_biases);
}

// The copies' initializers that equal the loaded model's share their buffers, so that a multi-GB
// model is held once, not three times. Safe because nothing writes into an initializer's buffer:
// every rewrite builds a new tensor (clone, scale, quantize) and sets it with setInitializer.
void shareLoadedInitializers(Model& copy, const Model& loaded) {
  Graph& g = *copy.graph;
  for (Value* v : g.initializers()) {
    const Value* same = loaded.graph->findValue(v->name());
    if (same && same->isInitializer() && same->initializer().bitwiseEqual(v->initializer())) {
      g.setInitializer(v, same->initializer());
    }
  }
}

}  // namespace

std::vector<std::string> judgedLayerValues(const Graph& graph) {
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

StatusOr<QuantizationInputs> loadQuantizationInputs(const std::string& model_path, const std::string& data_path,
                                                    const SampleSplit& split, int threads,
                                                    const std::string& preprocess) {
  QuantizationInputs in;
  VITQ_ASSIGN_OR_RETURN(in.original, loadModel(model_path));
  // Everything after this (samples, typing run, statistics fingerprint) sees the float32 form.
  if (const WidenReport w = widenFloat16(*in.original.graph); w.any()) {
    logger("vitq.quantize")->info("float16 model: computed in float32 ({} initializers widened; {} input and {} output "
                                  "casts keep the float16 interface)",
                                  w.initializers, w.input_casts, w.output_casts);
  }
  const Model& loaded = in.original;
  std::vector<const Value*> loaded_inputs;
  for (const Value* v : loaded.graph->inputs()) {
    if (!v->isInitializer()) loaded_inputs.push_back(v);
  }
  VITQ_ASSIGN_OR_RETURN(in.data, openDataset(data_path, loaded_inputs, preprocess));
  const size_t total = in.data->size();
  if (total == 0) return invalidArgument("the calibration data '" + data_path + "' holds no samples");
  if (split.holdout >= total) {
    // Worded for every command: quantize calibrates on the rest, report scores only the holdout.
    return invalidArgument("--holdout " + std::to_string(split.holdout) + " takes every sample or more: '" +
                           data_path + "' holds " + std::to_string(total) + "; it must leave some before it");
  }
  const size_t calib_pool = total - split.holdout;
  const size_t calib_count = split.calib_samples ? std::min(split.calib_samples, calib_pool) : calib_pool;
  if (split.calib_samples > calib_pool) {
    logger("vitq.quantize")->warn("--calib-samples {}: '{}' holds {} calibration samples{}; using {}", split.calib_samples,
                                  data_path, calib_pool, split.holdout ? " before the --holdout" : "", calib_pool);
  }
  in.calib = std::make_unique<DatasetSlice>(*in.data, 0, calib_count);
  if (split.holdout) {
    const size_t n = split.eval_samples ? std::min(split.eval_samples, split.holdout) : split.holdout;
    in.eval = std::make_unique<DatasetSlice>(*in.data, calib_pool, n);
    in.eval_begin = calib_pool;
  } else {
    in.eval = std::make_unique<DatasetSlice>(*in.data, 0, split.eval_samples ? split.eval_samples : calib_count);
  }
  // Per-channel DequantizeLinear needs opset 13; older models are converted first, with the
  // value ranks seen on one real sample (the converter needs some that inference cannot find).
  RunTypes seen;
  const bool untyped = hasUntypedValues(*loaded.graph);
  if (loaded.opsetVersion("") < 13 || untyped) {
    VITQ_ASSIGN_OR_RETURN(TensorMap first, in.data->sample(0));
    VITQ_ASSIGN_OR_RETURN(seen, observeRunTypes(loaded, first, threads));
  }
  VITQ_ASSIGN_OR_RETURN(in.reference, upgradeOpset(loaded, 13, seen.float_ranks));
  shareLoadedInitializers(in.reference, loaded);  // before the working copy: the peak holds one copy less
  VITQ_ASSIGN_OR_RETURN(in.working, upgradeOpset(loaded, 13, seen.float_ranks));
  shareLoadedInitializers(in.working, loaded);
  if (untyped) {
    fillUntypedValues(*in.reference.graph, seen.dtypes);
    fillUntypedValues(*in.working.graph, seen.dtypes);
  }
  // Float-equivalent canonicalization on both, so that layer and node names match.
  normalizeExportStyle(*in.reference.graph, in.reference.opsetVersion(""));
  reportExportStyle(normalizeExportStyle(*in.working.graph, in.working.opsetVersion("")), model_path);
  foldBatchNorms(*in.reference.graph);
  const size_t folded = foldBatchNorms(*in.working.graph);
  nameUnnamedNodes(*in.reference.graph);
  nameUnnamedNodes(*in.working.graph);
  logger("vitq.quantize")->info("folded {} BatchNormalization nodes into their Conv", folded);
  return in;
}

StatusOr<std::vector<int64_t>> evalLabels(const QuantizationInputs& in, const std::string& path) {
  if (path.empty()) return std::vector<int64_t>{};
  VITQ_ASSIGN_OR_RETURN(std::vector<int64_t> all, readLabels(path, in.data->size()));
  // A label past the classes of the output they score is found now, before the long part, when
  // the model declares that output's class dimension (the report checks every sample again).
  const auto& outputs = in.reference.graph->outputs();
  const auto& dims = outputs.empty() ? std::nullopt : outputs[0]->type().dims;
  if (dims && !dims->empty() && dims->back().isKnown()) {
    const int64_t classes = dims->back().value;
    for (size_t i = 0; i < all.size(); ++i) {
      if (all[i] >= classes) {
        return invalidArgument("labels '" + path + "': label " + std::to_string(i) + " is " + std::to_string(all[i]) +
                               ", but the model's output '" + outputs[0]->name() + "' has " + std::to_string(classes) +
                               " classes");
      }
    }
  }
  const auto first = all.begin() + static_cast<std::ptrdiff_t>(in.eval_begin);
  return std::vector<int64_t>(first, first + static_cast<std::ptrdiff_t>(in.eval->size()));
}

}  // namespace vitq
