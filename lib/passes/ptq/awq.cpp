#include "passes/ptq/awq.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/logging.h"
#include "exec/executor.h"
#include "passes/ptq/input_gram.h"
#include "passes/ptq/linear_rewrite.h"
#include "passes/ptq/plan_quantization.h"
#include "passes/ptq/quant_step.h"
#include "passes/ptq/smooth_quant.h"
#include "quant/math/quantize.h"

namespace vitq {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// X^T X and sum |X| of every site's input over a float model run.
class SiteInputHooks : public ExecHooks {
 public:
  explicit SiteInputHooks(std::unordered_map<const Value*, InputGram>& grams) : grams_(grams) {}
  Status afterNode(const Node& node, const std::vector<const Tensor*>&, std::vector<Tensor>& outputs) override {
    for (size_t i = 0; i < node.numOutputs(); ++i) add(node.output(i), outputs[i]);
    return Status::ok();
  }
  void add(const Value* v, const Tensor& t) {
    auto it = grams_.find(v);
    if (it != grams_.end() && t.dtype() == DataType::kFloat) addGramRows(it->second, t);
  }

 private:
  std::unordered_map<const Value*, InputGram>& grams_;
};

StatusOr<std::unordered_map<const Value*, InputGram>> observeSites(const Model& model, const std::vector<SmoothSite>& sites,
                                                                   const Dataset& calib, const AwqOptions& o) {
  std::unordered_map<const Value*, InputGram> grams;
  for (const SmoothSite& site : sites) grams.try_emplace(site.input, site.channels, true);
  const Graph& g = *model.graph;
  VITQ_ASSIGN_OR_RETURN(Executor exec, Executor::create(g, model.opsetVersion(""), {o.threads}));
  SiteInputHooks hooks(grams);
  const size_t n = std::min(o.samples, calib.size());
  for (size_t i = 0; i < n; ++i) {
    VITQ_ASSIGN_OR_RETURN(TensorMap feeds, calib.sample(i));
    for (const auto& [name, t] : feeds) {
      if (const Value* v = g.findValue(name)) hooks.add(v, t);
    }
    VITQ_RETURN_IF_ERROR(exec.run(feeds, &hooks).status());
  }
  return grams;
}

// s = mean|X|^alpha over the channels, normalized so that max s * min s = 1; channels no input
// reached keep 1.
std::vector<float> awqScales(const Eigen::VectorXd& mean_abs, double alpha) {
  std::vector<float> s(static_cast<size_t>(mean_abs.size()), 1.0f);
  double lo = INFINITY, hi = 0;
  for (Eigen::Index c = 0; c < mean_abs.size(); ++c) {
    if (!(mean_abs[c] > 0)) continue;
    const double v = std::max(std::pow(mean_abs[c], alpha), 1e-4);  // AWQ's floor: no channel scaled to nothing
    s[static_cast<size_t>(c)] = static_cast<float>(v);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (hi > 0) {
    const double norm = std::sqrt(lo * hi);
    for (size_t c = 0; c < s.size(); ++c) {
      if (mean_abs[static_cast<Eigen::Index>(c)] > 0) s[c] = static_cast<float>(s[c] / norm);
    }
  }
  return s;
}

// One reader of a site: its node (whose weight input changes when the site is scaled) and the
// plan's grid for that weight.
struct Reader {
  Node* node;
  const QuantSpec* spec;
  bool transposed;  // stored [outputs, inputs] (Gemm transB = 1)

  Value* weight() const { return node->input(1); }
  int64_t inputs() const { return weight()->initializer().dim(transposed ? 1 : 0); }
  int64_t outputs() const { return weight()->initializer().dim(transposed ? 0 : 1); }
  // Stored index of element (input k, output n).
  int64_t index(int64_t k, int64_t n) const { return transposed ? n * inputs() + k : k * outputs() + n; }
};

// diag(1/s) H diag(1/s): the Gram of X / s.
Eigen::MatrixXf scaledGram(const Eigen::MatrixXf& h, const std::vector<float>& s) {
  const Eigen::Map<const Eigen::VectorXf> v(s.data(), static_cast<Eigen::Index>(s.size()));
  const Eigen::VectorXf inv = v.cwiseInverse();
  return inv.asDiagonal() * h * inv.asDiagonal();
}

// The squared output error over the observed rows (inputs with Gram \p h) of weight \p w quantized
// with min/max ranges on the reader's grid, against \p target (both as stored).
StatusOr<double> quantizationError(const Reader& r, const Tensor& target, const Tensor& w, const Eigen::MatrixXf& h) {
  VITQ_ASSIGN_OR_RETURN(const QuantParams params, minMaxWeightParams(w, *r.spec, r.weight()->name()));
  const Tensor q = fakeQuantizeTensor(w, params, *r.spec);
  const int64_t rows = w.dim(0), cols = w.dim(1);
  const RowMajor e = Eigen::Map<const RowMajor>(q.data<float>(), rows, cols) -
                     Eigen::Map<const RowMajor>(target.data<float>(), rows, cols);
  // [inputs, outputs] as stored: tr(E^T H E); [outputs, inputs]: tr(E H E^T).
  const RowMajor he = r.transposed ? RowMajor(e * h) : RowMajor(h * e);
  return static_cast<double>(he.cwiseProduct(e).sum());
}

// AWQ's clipping search on \p w (the reader's weight as stored, inputs with Gram \p h): each group
// clamped to the range r x [min, max] (symmetric: r x max |w|) with the least e^T H_gg e; returns
// how many groups were narrowed.
int clipGroups(const Reader& r, Tensor& w, const Eigen::MatrixXf& h) {
  const QuantSpec& spec = *r.spec;
  const int64_t k = r.inputs(), outputs = r.outputs();
  const int64_t group = spec.block_size > 0 ? spec.block_size : k;
  float* p = w.data<float>();
  int clipped = 0;
  std::vector<float> values;
  Eigen::VectorXf e;
  for (int64_t n = 0; n < outputs; ++n) {
    for (int64_t g0 = 0; g0 < k; g0 += group) {
      const int64_t len = std::min(group, k - g0);
      values.resize(static_cast<size_t>(len));
      float lo = 0, hi = 0;
      for (int64_t j = 0; j < len; ++j) {
        values[static_cast<size_t>(j)] = p[r.index(g0 + j, n)];
        lo = std::min(lo, values[static_cast<size_t>(j)]);
        hi = std::max(hi, values[static_cast<size_t>(j)]);
      }
      if (spec.symmetric) {
        hi = std::max(-lo, hi);
        lo = -hi;
      }
      const auto hgg = h.block(g0, g0, len, len);
      double best = INFINITY;
      float best_ratio = 1;
      e.resize(len);
      for (int i = 0; i < 10; ++i) {  // r = 1, 0.95, ..., 0.55
        const float ratio = 1.0f - 0.05f * static_cast<float>(i);
        float scale = 1;
        int32_t zero = 0;
        chooseParams(ratio * lo, ratio * hi, spec, scale, zero);
        for (int64_t j = 0; j < len; ++j) {
          const float v = values[static_cast<size_t>(j)];
          e[j] = dequantizeValue(quantizeValue(v, scale, zero, spec.qmin(), spec.qmax()), scale, zero) - v;
        }
        const double err = e.dot(hgg * e);
        if (err < best) {  // strict: ties keep the wider range
          best = err;
          best_ratio = ratio;
        }
      }
      if (best_ratio == 1) continue;
      ++clipped;
      for (int64_t j = 0; j < len; ++j) {
        float& v = p[r.index(g0 + j, n)];
        v = std::clamp(v, best_ratio * lo, best_ratio * hi);
      }
    }
  }
  return clipped;
}

StatusOr<AwqSiteReport> searchSite(Graph& g, const SmoothSite& site, const InputGram& gram, const QuantTable& planned,
                                   const AwqOptions& o) {
  AwqSiteReport report;
  report.activation = site.input->name();
  report.consumers = static_cast<int>(site.consumers.size());
  report.rows = gram.rows;
  if (gram.rows == 0) return report;
  std::vector<Reader> readers;
  for (Node* n : site.consumers) {
    readers.push_back({n, &planned.find(n->input(1))->spec, n->is("Gemm") && n->attrs().intOr("transB", 0) != 0});
  }
  const Eigen::MatrixXf h = gram.xtx.cast<float>();
  const Eigen::VectorXd mean_abs = gram.abs_sum / static_cast<double>(gram.rows);
  const double per_row = 1.0 / static_cast<double>(gram.rows);
  double best = INFINITY;
  std::vector<float> best_scales = awqScales(mean_abs, 0);
  for (int k = 0; k < std::max(1, o.grid); ++k) {
    const double alpha = static_cast<double>(k) / std::max(1, o.grid);
    const std::vector<float> s = awqScales(mean_abs, alpha);
    const Eigen::MatrixXf hs = scaledGram(h, s);
    double error = 0;
    for (const Reader& r : readers) {
      const Tensor scaled = scaleLinearInputRows(*r.node, r.weight()->initializer(), s);
      VITQ_ASSIGN_OR_RETURN(const double e, quantizationError(r, scaled, scaled, hs));
      error += e * per_row;
    }
    if (k == 0) report.error_nearest = error;
    if (error < best) {  // strict: ties keep the smaller alpha (plain rounding at worst)
      best = error;
      best_scales = s;
      report.alpha = alpha;
    }
  }
  report.error_awq = best;
  if (report.alpha > 0) {
    const auto [lo, hi] = std::minmax_element(best_scales.begin(), best_scales.end());
    report.min_scale = *lo;
    report.max_scale = *hi;
    VITQ_ASSIGN_OR_RETURN(report.folded, applySmoothing(g, site, best_scales));
  }
  if (!o.clip) return report;
  const Eigen::MatrixXf hs = scaledGram(h, best_scales);
  double error = 0;
  for (const Reader& r : readers) {
    Value* w = r.weight();
    const Tensor scaled = w->initializer().clone();
    Tensor clipped = scaled.clone();
    // A weight other layers read too (alpha 0 keeps it shared) keeps its values: their inputs differ.
    const int narrowed = w->uses().size() == 1 ? clipGroups(r, clipped, hs) : 0;
    VITQ_ASSIGN_OR_RETURN(const double e, quantizationError(r, scaled, clipped, hs));
    error += e * per_row;
    if (narrowed > 0) g.setInitializer(w, std::move(clipped));
    report.clipped_groups += narrowed;
  }
  report.error_awq = error;
  return report;
}

}  // namespace

StatusOr<std::vector<AwqSiteReport>> awqScaleWeights(Model& model, const QuantTable& planned, const Dataset& calib,
                                                     const AwqOptions& o) {
  Graph& g = *model.graph;
  auto quantized = [&planned](const Node& n) {
    const TensorQuant* q = planned.find(n.input(1));
    return q && q->role == QuantRoleOfValue::kWeight && q->spec.scheme == QuantScheme::kUniform;
  };
  const std::vector<SmoothSite> sites = findSmoothSites(g, quantized);
  std::vector<AwqSiteReport> reports;
  if (sites.empty()) return reports;
  VITQ_ASSIGN_OR_RETURN(auto grams, observeSites(model, sites, calib, o));
  auto log = logger("vitq.quantize");
  for (const SmoothSite& site : sites) {
    VITQ_ASSIGN_OR_RETURN(AwqSiteReport r, searchSite(g, site, grams.at(site.input), planned, o));
    log->debug("awq {}: alpha {:.2f}, {} groups clipped, output error {:.4g} -> {:.4g}{}", r.activation, r.alpha,
               r.clipped_groups, r.error_nearest, r.error_awq,
               r.alpha == 0 ? "" : r.folded ? " (folded into its LayerNorm)" : " (Mul node)");
    reports.push_back(std::move(r));
  }
  return reports;
}

namespace {

class AwqStep final : public QuantStep {
 public:
  const char* name() const override { return "awq"; }
  const char* summary() const override {
    return "--awq: weight-only; input channels with large activations get finer weight steps, scales searched "
           "against the readers' output error and folded into the graph (AWQ)";
  }
  // Not float-equivalent: the clipping search narrows weight groups.
  StepTraits traits() const override { return StepTraits{}.readsData(); }
  bool enabled(const PipelineOptions& o) const override { return o.awq; }
  void enable(PipelineOptions& o) const override { o.awq = true; }
  std::vector<StepOption> options() const override {
    return {numberOption(
                "grid", 1, 1000, true, [](const PipelineOptions& o) { return o.awq_options.grid; },
                [](PipelineOptions& o, double v) { o.awq_options.grid = static_cast<int>(v); }, 20),
            numberOption(
                "samples", 1, 1e6, true, [](const PipelineOptions& o) { return static_cast<double>(o.awq_options.samples); },
                [](PipelineOptions& o, double v) { o.awq_options.samples = static_cast<size_t>(v); }, 128),
            choiceOption<bool>(
                "clip", {{"search", true}, {"none", false}}, [](const PipelineOptions& o) { return o.awq_options.clip; },
                [](PipelineOptions& o, bool clip) { o.awq_options.clip = clip; }, true)};
  }
  Status run(QuantContext& ctx) const override {
    if (!ctx.options.quant.weights_only) {
      return invalidArgument("awq searches weight scales for float activations: it takes weight-only quantization "
                             "(--weight-only, plan{weights-only}); --smooth-quant is the method for quantized activations");
    }
    // The plan of the graph as it is now: which weights will be quantized, and on which grid.
    const QuantTable planned = planQuantization(*ctx.model.graph, ctx.options.quant, nullptr);
    AwqOptions o = ctx.options.awq_options;
    o.threads = ctx.options.threads;
    VITQ_ASSIGN_OR_RETURN(ctx.report.awq, awqScaleWeights(ctx.model, planned, ctx.calib, o));
    int scaled = 0;
    for (const auto& r : ctx.report.awq) scaled += r.alpha > 0 ? 1 : 0;
    logger("vitq.quantize")->info("awq: {} of {} activations scaled into their readers' weights", scaled,
                                  ctx.report.awq.size());
    return Status::ok();
  }
  void addToReport(const PipelineOptions& o, const PipelineReport& r, nlohmann::json& out) const override {
    nlohmann::json sites = nlohmann::json::array();
    for (const auto& s : r.awq) {
      sites.push_back({{"activation", s.activation}, {"consumers", s.consumers}, {"rows", s.rows}, {"alpha", s.alpha},
                       {"error_nearest", s.error_nearest}, {"error_awq", s.error_awq},
                       {"inverse", s.alpha == 0 ? "none" : s.folded ? "layernorm" : "mul"},
                       {"clipped_groups", s.clipped_groups},
                       {"min_scale", s.min_scale}, {"max_scale", s.max_scale}});
    }
    out["recipe"]["awq"] = {{"grid", o.awq_options.grid}, {"samples", o.awq_options.samples},
                            {"clip", o.awq_options.clip ? "search" : "none"}, {"sites", sites}};
  }
};

}  // namespace

const QuantStep& awqStep() {
  static const AwqStep step;
  return step;
}

}  // namespace vitq
