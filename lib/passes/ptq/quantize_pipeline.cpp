#include "passes/ptq/quantize_pipeline.h"

#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "calib/calibration_session.h"
#include "core/logging.h"
#include "exec/thread_scope.h"
#include "passes/canonicalize/raise_opset.h"
#include "passes/ptq/dual_clipping.h"
#include "passes/ptq/reconstruction_check.h"
#include "passes/ptq/scale_reparam.h"
#include "quant/math/clip_range.h"
#include "quant/math/entropy_range.h"
#include "quant/math/quantize.h"
#include "quant/math/range_search.h"

namespace vitq {
namespace {

HistogramView histogramOf(const TensorStats& s) {
  return {s.histogram.data(), s.histogram.size(), s.hist_min, s.hist_max};
}

QuantSpec activationSpec(const PipelineOptions& o) {
  QuantSpec spec;
  spec.bits = o.quant.activation_bits;
  spec.is_signed = o.quant.activation_symmetric;
  spec.symmetric = o.quant.activation_symmetric;
  return spec;
}

// One channel's (or tensor's) range from its histogram by the recipe's method; min/max methods
// keep the observed range (per-sample means exist per tensor only).
std::pair<float, float> histogramRange(const HistogramView& view, const QuantSpec& spec, RangeMethod method,
                                       double percentile) {
  switch (method) {
    case RangeMethod::kPercentile: return percentileRange(view, percentile);
    case RangeMethod::kMse: return mseUniformRange(view, spec);
    case RangeMethod::kEntropy: return klDivergenceRange(view, spec);
    default: return {view.lo, view.hi};
  }
}

// Per-channel ranges from per-channel statistics (histograms, or only min/max).
struct ChannelRanges {
  std::vector<float> lo, hi;
};
ChannelRanges channelRanges(const TensorStats& s, const QuantSpec& spec, RangeMethod method, double percentile) {
  ChannelRanges r;
  const bool histograms = s.channel_bins > 0 && s.channel_histogram.size() == s.channel_min.size() * s.channel_bins;
  for (size_t c = 0; c < s.channel_min.size(); ++c) {
    const HistogramView view{histograms ? s.channel_histogram.data() + c * static_cast<size_t>(s.channel_bins) : nullptr,
                             histograms ? static_cast<size_t>(s.channel_bins) : 0, s.channel_min[c], s.channel_max[c]};
    const auto range = histograms ? histogramRange(view, spec, method, percentile) : std::make_pair(view.lo, view.hi);
    r.lo.push_back(range.first);
    r.hi.push_back(range.second);
  }
  return r;
}

// A LayerNorm output is reparameterized only when calibration saw at least this many rows per
// channel. Each channel's range then comes from its own rows, and from a few (a classifier head's
// LayerNorm sees one row per sample) it is a poor estimate: held-out rows past it are clipped
// channel by channel after the fold. MaxViT's head LayerNorm on 16 samples: output cosine 0.985
// folded, 0.997 kept per tensor; every other LayerNorm of the model-zoo corpus has 256 or more.
constexpr int64_t kMinReparamRows = 256;

// RepQ-ViT 2.2: calibrates every foldable LayerNorm output per channel, folds the factors into
// the graph, and returns the per-tensor parameters of the new outputs.
StatusOr<std::unordered_map<const Value*, QuantParams>> reparameterizeLayerNorms(Model& model, const Dataset& calib,
                                                                               const PipelineOptions& o,
                                                                               PipelineReport& report) {
  Graph& g = *model.graph;
  std::unordered_map<const Value*, QuantParams> fixed;
  const std::vector<ChannelFoldSite> sites = findChannelFoldSites(g);
  if (sites.empty()) return fixed;
  std::unordered_set<const Value*> outputs;
  for (const auto& site : sites) outputs.insert(site.norm.output);
  auto wanted = [&outputs](const Value& v) { return outputs.count(&v) > 0; };
  const int64_t opset = model.opsetVersion("");
  VITQ_ASSIGN_OR_RETURN(CalibrationResult stats,
                        calibrate(g, opset, calib, [](const Value&) { return makeChannelHistogramObserver(-1); },
                                  wanted, {o.threads}));
  CalibrationResult rows;  // RepQuant's dual clipping learns on sampled rows of the outputs
  if (o.dual_clip) {
    const DualClipOptions& d = o.dual_clip_options;
    VITQ_ASSIGN_OR_RETURN(rows, calibrate(g, opset, calib,
                                          [&d](const Value&) { return makeRowSampleObserver(d.sample_rows, d.seed); },
                                          wanted, {o.threads}));
  }
  const QuantSpec spec = activationSpec(o);
  // Every site's ranges first (from the unfolded graph: the folds touch only their own sites'
  // LayerNorm and readers), the dual-clipping searches in parallel; then the folds in order.
  std::vector<std::optional<ChannelRanges>> ranges(sites.size());
  std::vector<std::optional<DualClipSite>> clipped(sites.size());
  std::vector<char> few_rows(sites.size(), 0);
#pragma omp parallel for schedule(dynamic) num_threads(std::max(1, o.threads)) if (o.dual_clip)
  for (size_t i = 0; i < sites.size(); ++i) {
    const ChannelFoldSite& site = sites[i];
    const std::string& name = site.norm.output->name();
    const TensorStats& s = stats.stats.at(name);
    if (static_cast<int64_t>(s.channel_min.size()) != site.channels) continue;
    if (s.count / site.channels < kMinReparamRows) {
      few_rows[i] = true;
      continue;
    }
    // The LayerNorm channels: MSE ranges for repq-vit's mse base, else min/max.
    const RangeMethod method = o.activation_range == RangeMethod::kMse ? RangeMethod::kMse : RangeMethod::kMinMax;
    ranges[i] = channelRanges(s, spec, method, o.percentile);
    if (!o.dual_clip) continue;
    DualClipProblem problem;
    problem.rows = &rows.stats.at(name).rows;
    problem.channels = site.channels;
    problem.readers = readerWeightMatrices(site);
    problem.activation = spec;
    problem.weight.bits = o.quant.weight_bits;
    problem.weight.axis = 1;
    problem.weight_mse = o.weight_mse;
    problem.median_scale = o.median_scale;
    DualClipResult d = searchDualClipping(problem, ranges[i]->lo, ranges[i]->hi, o.dual_clip_options);
    clipped[i] = DualClipSite{name, d.loss_before, d.loss_after, d.clipped_channels};
    ranges[i] = ChannelRanges{std::move(d.lo), std::move(d.hi)};
  }
  for (size_t i = 0; i < sites.size(); ++i) {
    if (few_rows[i]) report.reparam_few_rows.push_back(sites[i].norm.output->name());
    if (!ranges[i]) continue;
    const ChannelRanges& r = *ranges[i];
    const RepqFactors f = repqFactorsFromRanges(r.lo, r.hi, spec, o.median_scale);
    VITQ_ASSIGN_OR_RETURN(Value * out, foldChannelTransform(g, sites[i], f.sigma, f.delta));
    fixed[out] = f.per_tensor;
    report.reparameterized.push_back(sites[i].norm.output->name());
    if (clipped[i]) report.dual_clipped.push_back(*clipped[i]);
  }
  return fixed;
}

// Post-Softmax probabilities read directly by the attention's second MatMul get the log quantizer.
int markLogSoftmax(const Graph& g, QuantTable& table) {
  int marked = 0;
  for (const AttentionMatch& m : findAttention(g)) {
    Value* p = m.softmax->output(0);
    TensorQuant* q = table.find(p);
    if (!q || m.context_matmul->input(0) != p || p->uses().size() != 1) continue;
    q->spec.scheme = QuantScheme::kLogSqrt2;
    q->spec.is_signed = false;
    q->spec.symmetric = false;
    ++marked;
  }
  return marked;
}

Status setActivationParams(QuantTable& table, const CalibrationResult& calib, const PipelineOptions& o,
                           const std::unordered_map<const Value*, QuantParams>& fixed) {
  for (const Value* v : table.values()) {
    TensorQuant& q = *table.find(v);
    if (q.role != QuantRoleOfValue::kActivation) continue;
    if (auto f = fixed.find(v); f != fixed.end()) {
      q.params = f->second;
      continue;
    }
    auto it = calib.stats.find(v->name());
    if (it == calib.stats.end()) return internalError("no calibration statistics for '" + v->name() + "'");
    const TensorStats& s = it->second;
    if (q.spec.scheme == QuantScheme::kLogSqrt2) {
      q.params.axis = -1;
      q.params.scale = {mseLogSqrt2Scale(histogramOf(s), q.spec.bits)};
      q.params.zero_point = {0};
      continue;
    }
    if (q.spec.axis >= 0) {  // per-channel (depthwise Conv inputs)
      if (s.channel_min.empty() || s.axis != q.spec.axis) {
        return invalidArgument("no per-channel statistics for '" + v->name() +
                               "' (saved statistics are per tensor; calibrate on --data for per-channel inputs)");
      }
      const ChannelRanges ranges = channelRanges(s, q.spec, o.activation_range, o.percentile);
      q.params = paramsFromRanges(ranges.lo, ranges.hi, q.spec);
      continue;
    }
    std::pair<float, float> range{s.min, s.max};
    if (o.activation_range == RangeMethod::kMeanMinMax) {
      if (s.observations == 0) {
        return invalidArgument("no per-sample ranges for '" + v->name() +
                               "' (a statistics file written before they were recorded? rerun vitq calibrate)");
      }
      const auto n = static_cast<double>(s.observations);
      range = {static_cast<float>(s.sample_min_sum / n), static_cast<float>(s.sample_max_sum / n)};
    } else if (o.activation_range != RangeMethod::kMinMax && !s.histogram.empty()) {
      range = histogramRange(histogramOf(s), q.spec, o.activation_range, o.percentile);
    }
    q.params = paramsFromRanges({range.first}, {range.second}, q.spec);
  }
  return Status::ok();
}

// The saved statistics of the activations \p wanted, which must all be there.
StatusOr<CalibrationResult> selectStats(const Graph& g, const CalibrationResult& saved, const std::string& source,
                                        const std::function<bool(const Value&)>& wanted) {
  CalibrationResult chosen;
  chosen.samples = saved.samples;
  for (const Value* v : g.values()) {
    if (v->isConstant() || !wanted(*v)) continue;
    auto it = saved.stats.find(v->name());
    if (it == saved.stats.end()) {
      return invalidArgument("statistics file '" + source + "' has none for activation '" + v->name() +
                             "' (calibrated with other placement options, e.g. --exclude?)");
    }
    chosen.stats.insert(*it);
  }
  return chosen;
}

}  // namespace

StatusOr<CalibrationResult> collectActivationStats(const Model& model, const Dataset& calib, const PipelineOptions& o,
                                                   int bins) {
  const Graph& g = *model.graph;
  const QuantTable table = planQuantization(g, o.quant, nullptr);
  auto wanted = [&table](const Value& v) {
    const TensorQuant* q = table.find(&v);
    return q && q->role == QuantRoleOfValue::kActivation;
  };
  auto observer = [bins](const Value&) { return makeHistogramObserver(bins); };
  return calibrate(g, model.opsetVersion(""), calib, observer, wanted, {o.threads});
}

StatusOr<QuantTable> calibrateQuantTable(Model& model, const Dataset& calib, const PipelineOptions& o,
                                         const std::unordered_map<const Value*, QuantParams>& reparam_params,
                                         PipelineReport& report) {
  auto log = logger("vitq.quantize");
  Graph& g = *model.graph;
  QuantTable table = planQuantization(g, o.quant, &report.plan);
  for (const Value* v : table.values()) {
    TensorQuant& q = *table.find(v);
    if (o.inputs_8bit && q.role == QuantRoleOfValue::kActivation && v->isGraphInput()) q.spec.bits = 8;
  }
  // The reparameterization's parameters fit the base bits; a value that mixed precision raised
  // is calibrated like any other.
  std::unordered_map<const Value*, QuantParams> fixed;
  for (const auto& [v, params] : reparam_params) {
    const TensorQuant* q = table.find(v);
    if (q && q->spec.bits == o.quant.activation_bits) fixed.emplace(v, params);
  }
  if (o.log_softmax) report.log_softmax = markLogSoftmax(g, table);
  VITQ_RETURN_IF_ERROR(computeWeightParams(table));
  if (o.weight_mse) {
    for (const Value* v : table.values()) {
      TensorQuant& q = *table.find(v);
      if (q.role == QuantRoleOfValue::kWeight) q.params = mseWeightParams(v->initializer(), q.spec);
    }
  }
  auto wanted = [&table, &fixed](const Value& v) { return table.has(&v) && !fixed.count(&v); };
  auto observer = [&table, &o](const Value& v) {
    const QuantSpec& spec = table.find(&v)->spec;
    const bool log_quant = spec.scheme == QuantScheme::kLogSqrt2;
    const bool min_max = o.activation_range == RangeMethod::kMinMax || o.activation_range == RangeMethod::kMeanMinMax;
    if (spec.axis >= 0) return min_max ? makeMinMaxObserver(spec.axis) : makeChannelHistogramObserver(spec.axis, 512);
    return min_max && !log_quant ? makeMinMaxObserver() : makeHistogramObserver();
  };
  CalibrationResult stats;
  if (o.precomputed_stats) {
    VITQ_ASSIGN_OR_RETURN(stats, selectStats(g, *o.precomputed_stats, o.precomputed_source, wanted));
  } else {
    VITQ_ASSIGN_OR_RETURN(stats, calibrate(g, model.opsetVersion(""), calib, observer, wanted, {o.threads}));
  }
  report.calibration_samples = stats.samples;
  log->info("calibrated {} values on {} samples", stats.stats.size(), stats.samples);
  VITQ_RETURN_IF_ERROR(setActivationParams(table, stats, o, fixed));
  return table;
}

Status checkReconstruction(const Model& model, const PipelineOptions& o) {
  if (o.reconstruct == Reconstruction::kNone) return Status::ok();
  const Graph& g = *model.graph;
  // The reparameterizations to come add only differentiable nodes (Mul, Add) and keep the weights.
  const QuantTable planned = planQuantization(g, o.quant, nullptr);
  ReconstructionOptions r = o.reconstruction;
  if (o.reconstruct == Reconstruction::kBridges) {
    r.learn_activation_scales = false;  // as reconstructBlocks runs them
    return checkReconstructible(bridgeReconstructionBlocks(g), planned, r);
  }
  return checkReconstructible(sequentialReconstructionBlocks(g, planned, o.reconstruction_block_layers), planned, r);
}

StatusOr<PreparedQuantization> prepareQuantization(Model& model, const Dataset& calib, const PipelineOptions& o) {
  VITQ_RETURN_IF_ERROR(checkReconstruction(model, o));
  // Every parallel region of the passes (Eigen's products included) runs on --threads threads.
  const OmpThreadScope threads(o.threads);
  auto log = logger("vitq.quantize");
  Graph& g = *model.graph;
  PreparedQuantization prepared;
  PipelineReport& report = prepared.report;
  std::unordered_map<const Value*, QuantParams> fixed;
  if (o.smooth_alpha) {
    // Only the layers that will be quantized are smoothed (their weights are in the plan).
    const QuantTable planned = planQuantization(g, o.quant, nullptr);
    auto quantized = [&planned](const Node& n) { return planned.has(n.input(1)); };
    VITQ_ASSIGN_OR_RETURN(report.smoothed, smoothActivations(model, calib, *o.smooth_alpha, quantized, o.threads));
    log->info("smoothed {} activations into their readers' weights (alpha {})", report.smoothed.size(), *o.smooth_alpha);
  }
  if (o.ln_reparam) {
    VITQ_ASSIGN_OR_RETURN(fixed, reparameterizeLayerNorms(model, calib, o, report));
    log->info("reparameterized {} LayerNorm outputs to per-tensor scales", report.reparameterized.size());
    if (!report.reparam_few_rows.empty()) {
      log->info("kept {} LayerNorm outputs unfolded: fewer than {} calibration rows per channel (first: '{}')",
                report.reparam_few_rows.size(), kMinReparamRows, report.reparam_few_rows.front());
    }
  }
  if (o.stop_after_reparam) return prepared;
  VITQ_ASSIGN_OR_RETURN(prepared.table, calibrateQuantTable(model, calib, o, fixed, report));
  QuantTable& table = prepared.table;
  ReconstructionOptions r = o.reconstruction;
  r.threads = o.threads;
  if (o.reconstruct == Reconstruction::kBridges) {
    VITQ_ASSIGN_OR_RETURN(report.reconstructed, reconstructBlocks(model, table, calib, bridgeReconstructionBlocks(g), r));
    log->info("reconstructed {} bridge blocks", report.reconstructed.size());
  } else if (o.reconstruct == Reconstruction::kSequential) {
    const auto blocks = sequentialReconstructionBlocks(g, table, o.reconstruction_block_layers);
    VITQ_ASSIGN_OR_RETURN(report.reconstructed, reconstructSequentially(model, table, calib, blocks, r));
    log->info("reconstructed {} blocks in sequence", report.reconstructed.size());
  }
  if (o.bias_correction) {
    if (o.reconstruct == Reconstruction::kSequential) {
      // Measured on PP-OCR rec W6A6: 1.97 % CER with it, 0.66 % without (docs/benchmarks.md).
      log->warn("bias correction measures each layer's shift on float inputs and partly undoes the rounding "
                "learned on quantized inputs by --reconstruct all; leave --bias-correction out with it");
    }
    VITQ_ASSIGN_OR_RETURN(report.bias_corrected, correctBiases(model, table, calib, o.threads));
    log->info("bias-corrected {} layers", report.bias_corrected.size());
  }
  if (o.noisy_bias) {
    NoisyBiasOptions noisy = o.noisy;
    noisy.threads = o.threads;
    VITQ_ASSIGN_OR_RETURN(report.noisy_bias, applyNoisyBias(model, table, calib, noisy));
    log->info("noisy bias searched on {} activations", report.noisy_bias.size());
  }
  return prepared;
}

StatusOr<PipelineReport> quantizeModel(Model& model, const Dataset& calib, const PipelineOptions& o) {
  VITQ_ASSIGN_OR_RETURN(PreparedQuantization prepared, prepareQuantization(model, calib, o));
  if (o.stop_after_reparam) return prepared.report;
  VITQ_ASSIGN_OR_RETURN(prepared.report.materialized,
                        materializeQdq(*model.graph, prepared.table, {o.four_bit_types}));
  // ONNX's 4-bit types in QuantizeLinear/DequantizeLinear need opset 21.
  if (prepared.report.materialized.four_bit_tensors > 0) VITQ_RETURN_IF_ERROR(raiseOpset(model, 21));
  return prepared.report;
}

}  // namespace vitq
