// plan and calibrate: what is quantized (plan_quantization.h), then the weights' parameters and
// every planned activation's range from the calibration data (or saved statistics) by the
// recipe's range method.
//
//   plan:      Conv/MatMul/Gemm inputs, outputs, weights, biases -> QuantTable entries (specs only);
//              for integer-lowering every float activation (the lowering quantizes them all)
//   calibrate: observers on the planned activations -> scales and zero points in the table, and
//              the statistics themselves in the context (integer-lowering reads ranges)
#include <algorithm>
#include <functional>

#include "calib/calibration_session.h"
#include "core/logging.h"
#include "passes/ptq/activation_ranges.h"
#include "passes/ptq/quant_step.h"
#include "quant/math/quantize.h"
#include "quant/math/range_search.h"

namespace vitq {
namespace {

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

// Integer-lowering quantizes every float activation (graph inputs included) on its own grids: all
// of them are planned, so that the calibrate step observes them.
QuantTable planEveryActivation(const Graph& g, const QuantSpec& spec) {
  QuantTable table;
  for (const Value* v : g.values()) {
    if (v->isConstant() || v->type().dtype != DataType::kFloat) continue;
    if (!v->producer() && !v->isGraphInput()) continue;
    table.set(v, {QuantRoleOfValue::kActivation, spec, {}, nullptr, nullptr});
  }
  return table;
}

class PlanStep final : public QuantStep {
 public:
  const char* name() const override { return "plan"; }
  const char* summary() const override {
    return "what is quantized: compute layers' inputs, outputs, weights and biases (--exclude, --layer-bits)";
  }
  StepTraits traits() const override { return {}; }
  bool enabled(const PipelineOptions&) const override { return true; }
  void enable(PipelineOptions&) const override {}
  std::vector<StepOption> options() const override {
    return {switchOption(
                "inputs-8bit", [](const PipelineOptions& o) { return o.inputs_8bit; },
                [](PipelineOptions& o) { o.inputs_8bit = true; }),
            choiceOption<bool>(
                "activations", {{"asymmetric", false}, {"symmetric", true}},
                [](const PipelineOptions& o) { return o.quant.activation_symmetric; },
                [](PipelineOptions& o, bool symmetric) { o.quant.activation_symmetric = symmetric; }, false),
            choiceOption<bool>(
                "placement", {{"integer", true}, {"inputs", false}},
                [](const PipelineOptions& o) { return o.quant.quantize_outputs; },
                [](PipelineOptions& o, bool outputs) { o.quant.quantize_outputs = outputs; }, true),
            choiceOption<bool>(
                "depthwise-inputs", {{"per-tensor", false}, {"per-channel", true}},
                [](const PipelineOptions& o) { return o.quant.depthwise_channel_inputs; },
                [](PipelineOptions& o, bool per_channel) { o.quant.depthwise_channel_inputs = per_channel; }, false),
            switchOption(
                "weights-only", [](const PipelineOptions& o) { return o.quant.weights_only; },
                [](PipelineOptions& o) { o.quant.weights_only = true; }),
            switchOption(
                "embeddings", [](const PipelineOptions& o) { return o.quant.embeddings; },
                [](PipelineOptions& o) { o.quant.embeddings = true; }),
            switchOption(
                "asymmetric-weights", [](const PipelineOptions& o) { return o.quant.weight_asymmetric; },
                [](PipelineOptions& o) { o.quant.weight_asymmetric = true; }),
            numberOption(
                "group-size", 0, 1 << 20, true, [](const PipelineOptions& o) { return o.quant.weight_group_size; },
                [](PipelineOptions& o, double v) { o.quant.weight_group_size = static_cast<int>(v); }, 0)};
  }
  Status run(QuantContext& ctx) const override {
    const PipelineOptions& o = ctx.options;
    ctx.table = o.integer_lowering ? planEveryActivation(*ctx.model.graph, activationSpec(o))
                                   : planQuantization(*ctx.model.graph, o.quant, &ctx.report.plan);
    for (const Value* v : ctx.table.values()) {
      TensorQuant& q = *ctx.table.find(v);
      if (o.inputs_8bit && q.role == QuantRoleOfValue::kActivation && v->isGraphInput()) q.spec.bits = 8;
    }
    // The reparameterization's parameters fit the base bits; a value that mixed precision raised
    // is calibrated like any other.
    for (auto it = ctx.fixed.begin(); it != ctx.fixed.end();) {
      const TensorQuant* q = ctx.table.find(it->first);
      it = q && q->spec.bits == o.quant.activation_bits ? std::next(it) : ctx.fixed.erase(it);
    }
    return Status::ok();
  }
};

class CalibrateStep final : public QuantStep {
 public:
  const char* name() const override { return "calibrate"; }
  const char* summary() const override {
    return "weight parameters; activation statistics over the calibration samples, ranges by the recipe's method";
  }
  StepTraits traits() const override { return {}; }  // saved statistics serve
  bool enabled(const PipelineOptions&) const override { return true; }
  void enable(PipelineOptions&) const override {}
  std::vector<StepOption> options() const override {
    const std::vector<std::pair<std::string, RangeMethod>> ranges = {
        {"minmax", RangeMethod::kMinMax}, {"mean-minmax", RangeMethod::kMeanMinMax},
        {"percentile", RangeMethod::kPercentile}, {"entropy", RangeMethod::kEntropy}, {"mse", RangeMethod::kMse}};
    return {choiceOption<RangeMethod>(
                "range", ranges, [](const PipelineOptions& o) { return o.activation_range; },
                [](PipelineOptions& o, RangeMethod m) { o.activation_range = m; }),
            numberOption(
                "percentile", 90, 100, false,
                [](const PipelineOptions& o) {
                  // Written with range=percentile only, the one range it sets.
                  return o.activation_range == RangeMethod::kPercentile ? o.percentile : -1.0;
                },
                [](PipelineOptions& o, double p) { o.percentile = p; }, -1.0),
            choiceOption<bool>(
                "weights", {{"minmax", false}, {"mse", true}}, [](const PipelineOptions& o) { return o.weight_mse; },
                [](PipelineOptions& o, bool mse) { o.weight_mse = mse; }, false)};
  }
  Status checkOptions(const PipelineOptions& o, const std::vector<std::string>& given) const override {
    const bool percentile = std::find(given.begin(), given.end(), "percentile") != given.end();
    if (percentile && o.activation_range != RangeMethod::kPercentile) {
      return invalidArgument("option 'percentile' is read with range=percentile only");
    }
    return Status::ok();
  }
  Status run(QuantContext& ctx) const override {
    const PipelineOptions& o = ctx.options;
    QuantTable& table = ctx.table;
    const auto& fixed = ctx.fixed;
    VITQ_RETURN_IF_ERROR(computeWeightParams(table));
    if (o.weight_mse) {
      for (const Value* v : table.values()) {
        TensorQuant& q = *table.find(v);
        if (q.role == QuantRoleOfValue::kWeight) q.params = mseWeightParams(v->initializer(), q.spec);
      }
    }
    auto wanted = [&table, &fixed](const Value& v) { return table.has(&v) && !fixed.count(&v); };
    bool any_activation = false;
    for (const Value* v : table.values()) any_activation = any_activation || table.find(v)->role == QuantRoleOfValue::kActivation;
    if (!any_activation) return Status::ok();  // weight-only: nothing to observe
    auto observer = [&table, &o](const Value& v) {
      const QuantSpec& spec = table.find(&v)->spec;
      const bool log_quant = spec.scheme == QuantScheme::kLogSqrt2;
      const bool min_max = o.activation_range == RangeMethod::kMinMax || o.activation_range == RangeMethod::kMeanMinMax;
      if (spec.axis >= 0) return min_max ? makeMinMaxObserver(spec.axis) : makeChannelHistogramObserver(spec.axis, 512);
      return min_max && !log_quant ? makeMinMaxObserver() : makeHistogramObserver();
    };
    const Graph& g = *ctx.model.graph;
    CalibrationResult stats;
    if (o.precomputed_stats) {
      VITQ_ASSIGN_OR_RETURN(stats, selectStats(g, *o.precomputed_stats, o.precomputed_source, wanted));
    } else {
      VITQ_ASSIGN_OR_RETURN(stats, calibrate(g, ctx.model.opsetVersion(""), ctx.calib, observer, wanted, {o.threads}));
    }
    ctx.report.calibration_samples = stats.samples;
    logger("vitq.quantize")->info("calibrated {} values on {} samples", stats.stats.size(), stats.samples);
    VITQ_RETURN_IF_ERROR(setActivationParams(table, stats, o, fixed));
    ctx.stats = std::move(stats);
    return Status::ok();
  }
};

}  // namespace

const QuantStep& planStep() {
  static const PlanStep step;
  return step;
}

const QuantStep& calibrateStep() {
  static const CalibrateStep step;
  return step;
}

}  // namespace vitq
