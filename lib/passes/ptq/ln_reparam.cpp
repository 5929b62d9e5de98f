// ln-reparam (RepQ-ViT section 2.2, RepQuant's dual clipping): every foldable LayerNorm output is
// calibrated per channel and the per-channel quantizer is folded into the LayerNorm's affine and
// its readers' weights, leaving a per-tensor quantizer with the same codes.
//
//   before: LN(x; gamma, beta) -> [q per channel s_c, z_c] -> MatMul(W)
//   after:  LN(x; gamma / r, (beta - delta) / r) -> [q per tensor s~, z~] -> MatMul(r * W) + delta W
//
// The folds are float-equivalent; the new outputs' per-tensor parameters go to the context's
// fixed parameters for the calibrate step.
#include <optional>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "calib/calibration_session.h"
#include "core/logging.h"
#include "passes/ptq/activation_ranges.h"
#include "passes/ptq/dual_clipping.h"
#include "passes/ptq/quant_step.h"
#include "passes/ptq/scale_reparam.h"

namespace vitq {
namespace {

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

class LnReparamStep final : public QuantStep {
 public:
  const char* name() const override { return "ln-reparam"; }
  const char* summary() const override {
    return "repq-vit: per-channel post-LayerNorm ranges folded into LayerNorm and the next linear layer (repquant, "
           "--dual-clip: the widest channels clipped where the readers' quantized output error falls)";
  }
  StepTraits traits() const override { return StepTraits{}.readsData().floatEquivalent(); }
  bool enabled(const PipelineOptions& o) const override { return o.ln_reparam; }
  void enable(PipelineOptions& o) const override { o.ln_reparam = true; }
  std::vector<StepOption> options() const override {
    return {choiceOption<bool>(
                "reference", {{"mean", false}, {"median", true}}, [](const PipelineOptions& o) { return o.median_scale; },
                [](PipelineOptions& o, bool median) { o.median_scale = median; }, false),
            switchOption(
                "dual-clip", [](const PipelineOptions& o) { return o.dual_clip; },
                [](PipelineOptions& o) { o.dual_clip = true; })};
  }
  void addToReport(const PipelineOptions& o, const PipelineReport& r, nlohmann::json& out) const override {
    nlohmann::json ln = {{"reference_scale", o.median_scale ? "median" : "mean"}};
    if (o.dual_clip) {
      nlohmann::json sites = nlohmann::json::array();
      for (const auto& d : r.dual_clipped) {
        sites.push_back({{"activation", d.activation}, {"loss_before", d.loss_before}, {"loss_after", d.loss_after},
                         {"clipped_channels", d.clipped_channels}});
      }
      ln["dual_clip"] = sites;
    }
    out["recipe"]["ln_reparam"] = ln;
  }
  Status run(QuantContext& ctx) const override {
    VITQ_ASSIGN_OR_RETURN(ctx.fixed, reparameterizeLayerNorms(ctx.model, ctx.calib, ctx.options, ctx.report));
    auto log = logger("vitq.quantize");
    log->info("reparameterized {} LayerNorm outputs to per-tensor scales", ctx.report.reparameterized.size());
    if (!ctx.report.reparam_few_rows.empty()) {
      log->info("kept {} LayerNorm outputs unfolded: fewer than {} calibration rows per channel (first: '{}')",
                ctx.report.reparam_few_rows.size(), kMinReparamRows, ctx.report.reparam_few_rows.front());
    }
    return Status::ok();
  }
};

}  // namespace

const QuantStep& lnReparamStep() {
  static const LnReparamStep step;
  return step;
}

}  // namespace vitq
