#include "passes/ptq/smooth_quant.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "calib/calibration_session.h"
#include "core/logging.h"
#include "passes/ptq/linear_rewrite.h"
#include "passes/ptq/quant_step.h"
#include "passes/ptq/scale_reparam.h"
#include "pattern/match_utils.h"

namespace vitq {

std::vector<SmoothSite> findSmoothSites(Graph& graph, const std::function<bool(const Node&)>& wanted) {
  std::vector<SmoothSite> sites;
  for (const Value* v : graph.values()) {
    if (v->isConstant() || !v->hasUses()) continue;
    SmoothSite site;
    for (Node* user : usersOf(v)) {
      const int64_t c = linearInputChannels(*user, v);
      if (c <= 0 || (wanted && !wanted(*user))) continue;
      if (site.channels && c != site.channels) continue;
      if (std::find(site.consumers.begin(), site.consumers.end(), user) != site.consumers.end()) continue;
      site.channels = c;
      site.consumers.push_back(user);
    }
    if (site.consumers.empty()) continue;
    site.input = graph.mutableValue(v);
    sites.push_back(std::move(site));
  }
  return sites;
}

std::vector<float> smoothingScales(const std::vector<float>& act_absmax, const std::vector<float>& weight_absmax,
                                   double alpha) {
  std::vector<float> s(act_absmax.size(), 1.0f);
  for (size_t c = 0; c < s.size() && c < weight_absmax.size(); ++c) {
    const double a = act_absmax[c], w = weight_absmax[c];
    if (!(a > 0) || !(w > 0)) continue;
    const double v = std::pow(a, alpha) / std::pow(w, 1.0 - alpha);
    s[c] = static_cast<float>(std::clamp(v, 1e-5, 1e5));
  }
  return s;
}

std::vector<float> smoothWeightAbsMax(const SmoothSite& site) {
  std::vector<float> m(static_cast<size_t>(site.channels), 0.0f);
  for (const Node* n : site.consumers) {
    const Tensor& w = n->input(1)->initializer();
    const bool trans = n->is("Gemm") && n->attrs().intOr("transB", 0);
    const int64_t rows = w.dim(0), cols = w.dim(1);
    const float* p = w.data<float>();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t col = 0; col < cols; ++col) {
        float& slot = m[static_cast<size_t>(trans ? col : r)];
        slot = std::max(slot, std::fabs(p[r * cols + col]));
      }
    }
  }
  return m;
}

namespace {

// The LayerNorm fold site whose output is X and whose linear readers are exactly the consumers.
const ChannelFoldSite* layerNormSiteFor(const std::vector<ChannelFoldSite>& folds, const SmoothSite& site) {
  for (const ChannelFoldSite& f : folds) {
    if (f.norm.output != site.input || f.channels != site.channels) continue;
    std::unordered_set<const Node*> mine(site.consumers.begin(), site.consumers.end());
    bool same = f.consumers.size() == mine.size();
    for (const Node* n : f.consumers) same = same && mine.count(n);
    if (same) return &f;
  }
  return nullptr;
}

// The first of \p nodes in graph order.
Node* firstInOrder(const Graph& g, const std::vector<Node*>& nodes) {
  std::unordered_set<const Node*> set(nodes.begin(), nodes.end());
  for (const auto& n : g.nodes()) {
    if (set.count(n.get())) return n.get();
  }
  return nullptr;
}

}  // namespace

StatusOr<bool> applySmoothing(Graph& g, const SmoothSite& site, const std::vector<float>& s) {
  if (static_cast<int64_t>(s.size()) != site.channels) {
    return invalidArgument("smoothing of '" + site.input->name() + "' needs " + std::to_string(site.channels) +
                           " scales");
  }
  for (float v : s) {
    if (!(v > 0) || !std::isfinite(v)) return invalidArgument("smoothing scales must be positive and finite");
  }
  const std::vector<ChannelFoldSite> folds = findChannelFoldSites(g);
  if (const ChannelFoldSite* fold = layerNormSiteFor(folds, site)) {
    VITQ_RETURN_IF_ERROR(foldChannelTransform(g, *fold, s, std::vector<float>(s.size(), 0.0f)).status());
    return true;
  }
  std::vector<float> inverse(s.size());
  for (size_t c = 0; c < s.size(); ++c) inverse[c] = 1.0f / s[c];
  const std::string base = site.input->name() + "_smooth";
  Value* factor = g.addInitializer(g.uniqueName(base + "_scale"), Tensor::fromVector<float>(inverse, {site.channels}));
  Node* mul = g.addNode("Mul", {site.input, factor}, 1, "", firstInOrder(g, site.consumers));
  mul->setName(g.uniqueName(base));
  Value* smoothed = mul->output(0);
  smoothed->type() = site.input->type();
  for (Node* n : site.consumers) {
    Value* w = n->input(1);
    Value* w2 = g.addInitializer(g.uniqueName(w->name() + "_smooth"), scaleLinearInputRows(*n, w->initializer(), s));
    g.setInput(n, 1, w2);
    g.setInput(n, 0, smoothed);
    eraseIfUnused(g, w);
  }
  return false;
}

StatusOr<std::vector<SmoothReport>> smoothActivations(Model& model, const Dataset& calib, double alpha,
                                                      const std::function<bool(const Node&)>& wanted, int threads) {
  Graph& g = *model.graph;
  std::vector<SmoothReport> report;
  const std::vector<SmoothSite> sites = findSmoothSites(g, wanted);
  if (sites.empty()) return report;
  std::unordered_set<const Value*> inputs;
  for (const SmoothSite& site : sites) inputs.insert(site.input);
  VITQ_ASSIGN_OR_RETURN(CalibrationResult stats,
                        calibrate(g, model.opsetVersion(""), calib,
                                  [](const Value&) { return makeMinMaxObserver(-1); },
                                  [&inputs](const Value& v) { return inputs.count(&v) > 0; }, {threads}));
  for (const SmoothSite& site : sites) {
    const TensorStats& st = stats.stats.at(site.input->name());
    if (static_cast<int64_t>(st.channel_min.size()) != site.channels) continue;  // X's last axis is not K
    std::vector<float> act(st.channel_min.size());
    for (size_t c = 0; c < act.size(); ++c) act[c] = std::max(std::fabs(st.channel_min[c]), std::fabs(st.channel_max[c]));
    const std::vector<float> s = smoothingScales(act, smoothWeightAbsMax(site), alpha);
    VITQ_RETURN_IF_ERROR(applySmoothing(g, site, s).status());
    const auto [lo, hi] = std::minmax_element(s.begin(), s.end());
    report.push_back({site.input->name(), static_cast<int>(site.consumers.size()), *hi, *lo});
  }
  return report;
}

namespace {

class SmoothQuantStep final : public QuantStep {
 public:
  const char* name() const override { return "smooth-quant"; }
  const char* summary() const override {
    return "--smooth-quant: outlier channels of linear layers' inputs moved into their weights (SmoothQuant)";
  }
  StepTraits traits() const override { return StepTraits{}.readsData().floatEquivalent(); }
  void addToReport(const PipelineOptions& o, const PipelineReport& r, nlohmann::json& out) const override {
    nlohmann::json smoothed = nlohmann::json::array();
    for (const auto& s : r.smoothed) {
      smoothed.push_back({{"activation", s.input}, {"consumers", s.consumers}, {"min_scale", s.min_scale},
                          {"max_scale", s.max_scale}});
    }
    out["recipe"]["smooth_quant"] = {{"alpha", *o.smooth_alpha}, {"smoothed", smoothed}};
  }
  bool enabled(const PipelineOptions& o) const override { return o.smooth_alpha.has_value(); }
  void enable(PipelineOptions& o) const override {
    if (!o.smooth_alpha) o.smooth_alpha = 0.5;  // the paper's migration strength
  }
  std::vector<StepOption> options() const override {
    return {numberOption(
        "alpha", 0, 1, false, [](const PipelineOptions& o) { return o.smooth_alpha.value_or(0.5); },
        [](PipelineOptions& o, double v) { o.smooth_alpha = v; })};
  }
  Status run(QuantContext& ctx) const override {
    const PipelineOptions& o = ctx.options;
    // Only the layers that will be quantized are smoothed (their weights are in the plan).
    const QuantTable planned = planQuantization(*ctx.model.graph, o.quant, nullptr);
    auto quantized = [&planned](const Node& n) { return planned.has(n.input(1)); };
    VITQ_ASSIGN_OR_RETURN(ctx.report.smoothed, smoothActivations(ctx.model, ctx.calib, *o.smooth_alpha, quantized, o.threads));
    logger("vitq.quantize")->info("smoothed {} activations into their readers' weights (alpha {})",
                                  ctx.report.smoothed.size(), *o.smooth_alpha);
    return Status::ok();
  }
};

}  // namespace

const QuantStep& smoothQuantStep() {
  static const SmoothQuantStep step;
  return step;
}

}  // namespace vitq
