#include "vitq/auto_recipe.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "calib/dataset.h"
#include "core/logging.h"
#include "onnx_io/model_clone.h"
#include "passes/mixed/config_evaluator.h"
#include "passes/mixed/placement_search.h"
#include "passes/ptq/quant_step.h"
#include "passes/ptq/pipeline_text.h"
#include "passes/ptq/quantize_pipeline.h"
#include "pattern/transformer_patterns.h"
#include "report/accuracy_report.h"
#include "report/ort_cpu_forecast.h"

namespace vitq::cli {
namespace {

// --target ort-cpu: what counts as clearly faster, and what accuracy it may cost. At 40 dB the
// output's error is 1 % of its RMS; 1 dB is 26 % more noise power.
constexpr double kFasterByShare = 0.1, kSpeedMarginDb = 1.0, kEnoughSqnrDb = 40.0;

// In the order tried: the cheap range methods first, RepQ-ViT's reparameterization where the model
// has LayerNorms or Softmax for it to act on.
constexpr const char* kRecipes[] = {"minmax", "repq-vit", "mse", "percentile"};
constexpr const char* kPlacements[] = {"integer", "inputs"};

struct Candidate {
  std::string label;  // "mse, placement inputs"
  QuantizeFlags flags;
  Status applicable;  // the flags' refusal when the user's other flags do not fit this recipe
};

// What RepQ-ViT's steps act on: a LayerNorm (fused or decomposed) or a Softmax.
bool hasTransformerOps(const Graph& g) {
  if (!findLayerNorms(g).empty()) return true;
  return std::any_of(g.nodes().begin(), g.nodes().end(), [](const auto& n) { return n->is("Softmax"); });
}

std::vector<Candidate> candidates(const QuantizeFlags& user, bool transformer) {
  std::vector<Candidate> out;
  for (const char* recipe : kRecipes) {
    if (std::string(recipe) == "repq-vit" && !transformer) continue;
    for (const char* placement : kPlacements) {
      // A placement the user chose is kept; auto only chooses what was left open.
      if (user.given.count("--placement") && user.placement != placement) continue;
      Candidate c{std::string(recipe) + ", placement " + placement, user, Status::ok()};
      c.flags.recipe = recipe;
      c.flags.placement = placement;
      c.flags.given.erase("--recipe");
      c.flags.given.erase("--auto-budget");
      c.flags.given.erase("--target");
      c.flags.given.insert("--placement");  // as if given: the recipe's own placement would apply otherwise
      c.applicable = pipelineOptionsFromFlags(c.flags).status();
      out.push_back(std::move(c));
    }
  }
  return out;
}

// "300", "300s" or "5m", in seconds.
StatusOr<double> parseBudgetSeconds(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = text.substr(used);
  if (used == 0 || !(value > 0) || (unit != "" && unit != "s" && unit != "m")) {
    return invalidArgument("--auto-budget takes seconds or minutes, e.g. 300, 300s or 5m (got '" + text + "')");
  }
  return unit == "m" ? value * 60 : value;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The flags that name one recipe's work, which auto cannot choose around; empty when none is given.
std::string flagAutoCannotTake(const QuantizeFlags& o) {
  const std::pair<const char*, const char*> refused[] = {
      {"--pipeline", "--pipeline names its own steps"},
      {"--weight-only", "weight-only quantization has no activation ranges or placement to choose (use --awq, --gptq)"},
      {"--budget", "--budget searches per-layer precision for one recipe: choose the recipe first"},
      {"--stats", "saved statistics belong to one recipe's calibration"},
      {"--stop-after", "--stop-after writes one recipe's reparameterized float model"}};
  for (const auto& [flag, why] : refused) {
    if (o.given.count(flag)) return std::string(flag) + ": " + why;
  }
  if (o.format == "integer") return "--format integer: the integer export is --recipe i-vit's";
  return "";
}

}  // namespace

QuantizeFlags withDefaultRecipe(const QuantizeFlags& o) {
  QuantizeFlags out = o;
  if (!o.given.count("--recipe")) out.recipe = flagAutoCannotTake(o).empty() ? "auto" : "minmax";
  return out;
}

Status checkAutoFlags(const QuantizeFlags& o) {
  const std::string refused = flagAutoCannotTake(o);
  if (!refused.empty()) return invalidArgument("--recipe auto cannot take " + refused);
  VITQ_RETURN_IF_ERROR(parseBudgetSeconds(o.auto_budget).status());
  // The user's other flags must fit at least one candidate (e.g. --percentile fits percentile only).
  const std::vector<Candidate> all = candidates(o, true);
  for (const Candidate& c : all) {
    if (c.applicable.isOk()) return Status::ok();
  }
  return all.empty() ? invalidArgument("--recipe auto: no candidate recipe") : all.front().applicable;
}

namespace {

// Runs candidates one after the other within the budget and keeps the best.
class CandidateTrials {
 public:
  CandidateTrials(const QuantizeFlags& o, const QuantizationInputs& in, const Dataset& fit, const Dataset& judge,
                  double budget)
      : o_(o), in_(in), fit_(fit), judge_samples_(judge), budget_(budget), start_(std::chrono::steady_clock::now()) {}

  Status run(const Candidate& c) {
    nlohmann::json entry{{"recipe", c.flags.recipe}, {"placement", c.flags.placement}};
    if (c.flags.smooth_alpha >= 0) entry["smooth_quant"] = c.flags.smooth_alpha;
    const double spent = seconds();
    if (!c.applicable.isOk()) {
      entry["skipped"] = c.applicable.message();
      if (first_refusal_.isOk()) first_refusal_ = c.applicable;
    } else if (ran_ > 0 && spent + spent / ran_ > budget_) {
      entry["skipped"] = "over --auto-budget " + o_.auto_budget + " (" + std::to_string(static_cast<int>(spent)) +
                         " s spent, about " + std::to_string(static_cast<int>(spent / ran_)) + " s a candidate)";
    } else {
      VITQ_RETURN_IF_ERROR(score(c, entry));
    }
    tried_.push_back(entry);
    return Status::ok();
  }

  /// The best by output SQNR (the earlier on a tie, to 0.001 dB); with --target ort-cpu, a candidate
  /// that ONNX Runtime runs with clearly fewer float layers where it costs little (kSpeedMarginDb, or
  /// it reaches kEnoughSqnrDb).
  const Candidate* best() const { return chosen() ? &chosen()->candidate : nullptr; }
  double bestSqnr() const { return chosen() ? chosen()->sqnr : -INFINITY; }
  /// The most accurate candidate where speed decided, else null.
  const Candidate* passedOver() const {
    const Scored* accurate = mostAccurate();
    return accurate && chosen() != accurate ? &accurate->candidate : nullptr;
  }
  double passedOverSqnr() const { return mostAccurate() ? mostAccurate()->sqnr : -INFINITY; }
  const Status& firstFailure() const { return first_failure_; }
  const Status& firstRefusal() const { return first_refusal_; }
  int ran() const { return ran_; }
  const nlohmann::json& tried() const { return tried_; }
  double seconds() const { return secondsSince(start_); }

 private:
  Status score(const Candidate& c, nlohmann::json& entry) {
    const auto t0 = std::chrono::steady_clock::now();
    VITQ_ASSIGN_OR_RETURN(PipelineOptions po, pipelineOptionsFromFlags(c.flags));
    // The final-run steps (reconstruction, GPTQ, noise) learn or draw changes for the quantizers
    // chosen here; they run once, on the chosen candidate, instead of on every candidate.
    po.final_run = false;
    // After the first, candidates that only choose ranges share one observation of the fit samples
    // (per tensor: not where depthwise inputs get per-channel ranges).
    const bool first = ran_ == 0;
    const bool per_channel_inputs = po.quant.depthwise_channel_inputs && !po.quant.quantize_outputs;
    if (!first && !firstStepReadingData(po) && !po.integer_lowering && !per_channel_inputs) {
      VITQ_ASSIGN_OR_RETURN(po.precomputed_stats, sharedStats(po));
      po.precomputed_source = "--recipe auto's statistics of the fit samples";
    }
    VITQ_ASSIGN_OR_RETURN(Model m, cloneModel(in_.working));
    auto quantized = quantizeModel(m, fit_, po);
    // The first candidate is the plainest the flags allow (minmax where they do): where it fails,
    // the model or the data is at fault, and its message is the one to give, unwrapped.
    if (first && !quantized.isOk()) return quantized.status();
    if (quantized.isOk() && !judge_) {
      VITQ_ASSIGN_OR_RETURN(ConfigEvaluator judge,
                            ConfigEvaluator::create(in_.reference, in_.reference, judge_samples_, o_.threads));
      judge_ = std::move(judge);
    }
    StatusOr<ConfigMetrics> scored =
        quantized.isOk() ? judge_->evaluateModel(m) : StatusOr<ConfigMetrics>(quantized.status());
    ++ran_;
    entry["seconds"] = round3(secondsSince(t0));
    if (!scored.isOk()) {
      entry["failed"] = scored.status().message();
      if (first_failure_.isOk()) first_failure_ = scored.status();
      return Status::ok();
    }
    const double sqnr = scored->sqnr_db;
    entry["output_sqnr_db"] = round3(sqnr);
    entry["output_cosine"] = scored->cosine;
    entry["pipeline"] = pipelineText(quantized->pipeline, po);
    logger("vitq.quantize")->info("auto: {}: output SQNR {:.2f} dB on {} held-out samples ({:.1f} s)", c.label, sqnr,
                                  judge_samples_.size(), entry["seconds"].get<double>());
    const double float_share = forecastOrtCpuKernels(*m.graph).floatLayerShare();
    entry["ort_cpu_float_layer_share"] = round3(float_share);
    scored_.push_back({c, sqnr, float_share});
    return Status::ok();
  }

  struct Scored {
    Candidate candidate;
    double sqnr;
    double float_share;  // of the quantized layers, in ONNX Runtime's CPU provider (forecast)
  };

  const Scored* mostAccurate() const {
    const Scored* best = nullptr;
    for (const Scored& s : scored_) {
      if (!best || round3(s.sqnr) > round3(best->sqnr)) best = &s;
    }
    return best;
  }

  const Scored* chosen() const {
    const Scored* accurate = mostAccurate();
    if (!accurate || o_.target != "ort-cpu") return accurate;
    const Scored* fast = nullptr;
    for (const Scored& s : scored_) {
      const bool faster = s.float_share <= accurate->float_share - kFasterByShare;
      const bool close = s.sqnr >= accurate->sqnr - kSpeedMarginDb || s.sqnr >= kEnoughSqnrDb;
      if (faster && close && (!fast || round3(s.sqnr) > round3(fast->sqnr))) fast = &s;
    }
    return fast ? fast : accurate;
  }

  // Min/max and histograms of every activation either placement quantizes, observed once.
  StatusOr<const CalibrationResult*> sharedStats(const PipelineOptions& candidate) {
    if (!shared_stats_) {
      PipelineOptions observe;
      observe.quant.exclude = candidate.quant.exclude;
      observe.threads = candidate.threads;
      VITQ_ASSIGN_OR_RETURN(CalibrationResult stats, collectActivationStats(in_.working, fit_, observe, kHistogramBins));
      shared_stats_ = std::move(stats);
    }
    return &*shared_stats_;
  }

  static constexpr int kHistogramBins = 2048;  // as `vitq calibrate`'s default
  const QuantizeFlags& o_;
  const QuantizationInputs& in_;
  const Dataset& fit_;
  const Dataset& judge_samples_;
  std::optional<ConfigEvaluator> judge_;  // the float model's outputs on the judge samples, run once
  std::optional<CalibrationResult> shared_stats_;
  const double budget_;
  const std::chrono::steady_clock::time_point start_;
  int ran_ = 0;
  nlohmann::json tried_ = nlohmann::json::array();
  std::vector<Scored> scored_;
  Status first_failure_ = Status::ok();
  Status first_refusal_ = Status::ok();
};

// The best candidate with SmoothQuant at these strengths (outliers in the inputs of linear layers
// that no range method absorbs), unless the user set --smooth-quant.
constexpr double kSmoothAlphas[] = {0.5, 0.8};

}  // namespace

QuantizeFlags firstFittingCandidate(const QuantizeFlags& o) {
  const std::vector<Candidate> all = candidates(o, true);
  for (const Candidate& c : all) {
    if (c.applicable.isOk()) return c.flags;
  }
  return all.empty() ? o : all.front().flags;
}

StatusOr<AutoChoice> chooseRecipe(const QuantizeFlags& o, const QuantizationInputs& in) {
  VITQ_ASSIGN_OR_RETURN(double budget, parseBudgetSeconds(o.auto_budget));
  const Dataset& calib = *in.calib;
  const size_t n = calib.size();
  // A quarter of the calibration samples judge the candidates that calibrated on the rest.
  const bool hold_out = n >= 4;
  const size_t judged = hold_out ? n / 4 : n, fitted = hold_out ? n - judged : n;
  const DatasetSlice fit(calib, 0, fitted), judge(calib, hold_out ? fitted : 0, judged);
  CandidateTrials trials(o, in, fit, judge, budget);
  for (const Candidate& c : candidates(o, hasTransformerOps(*in.working.graph))) VITQ_RETURN_IF_ERROR(trials.run(c));
  if (trials.best() && !o.given.count("--smooth-quant")) {
    const Candidate base = *trials.best();
    for (double alpha : kSmoothAlphas) {
      Candidate c = base;
      c.flags.smooth_alpha = alpha;
      c.flags.given.insert("--smooth-quant");
      c.label = base.label + ", smooth-quant " + std::to_string(alpha).substr(0, 3);
      c.applicable = pipelineOptionsFromFlags(c.flags).status();
      VITQ_RETURN_IF_ERROR(trials.run(c));
    }
  }
  if (!trials.best() && trials.ran() == 0 && !trials.firstRefusal().isOk()) {
    // No candidate fits the flags on this model (e.g. --dual-clip where no LayerNorm is): the
    // plainest one's reason, as that recipe given alone would say it.
    return trials.firstRefusal();
  }
  if (!trials.best()) {
    return trials.firstFailure().isOk()
               ? invalidArgument("--recipe auto: no candidate could run within --auto-budget " + o.auto_budget)
               : Status(trials.firstFailure()).withContext("--recipe auto: no candidate succeeded; the first");
  }
  const Candidate& best = *trials.best();
  AutoChoice choice{best.flags, nlohmann::json::object()};
  nlohmann::json chosen{{"recipe", best.flags.recipe}, {"placement", best.flags.placement}};
  if (best.flags.smooth_alpha >= 0) chosen["smooth_quant"] = best.flags.smooth_alpha;
  if (const Candidate* accurate = trials.passedOver()) {
    chosen["for_speed_over"] = {{"candidate", accurate->label}, {"output_sqnr_db", round3(trials.passedOverSqnr())}};
    logger("vitq.quantize")->info("auto: {} ({:.2f} dB) runs with fewer float layers in ONNX Runtime than {} "
                                  "({:.2f} dB); --target portable chooses by accuracy alone",
                                  best.label, trials.bestSqnr(), accurate->label, trials.passedOverSqnr());
  }
  nlohmann::json placement_search;
  if (o.target == "ort-cpu" && best.flags.placement == "inputs" && best.flags.requantize.empty()) {
    // The inputs placement leaves Convs in float in ONNX Runtime: requantize those whose output
    // quantizer costs little, within the same margin the choice allows for speed.
    VITQ_ASSIGN_OR_RETURN(PipelineOptions po, pipelineOptionsFromFlags(best.flags));
    if (!po.quant.depthwise_channel_inputs) {
      VITQ_ASSIGN_OR_RETURN(PlacementSearchResult found,
                            searchRequantizedOutputs(in.reference, in.working, fit, judge, po, kSpeedMarginDb));
      placement_search = found.report;
      if (!found.requantized.empty()) {
        choice.flags.requantize = found.requantized;
        choice.flags.given.insert("--requantize");
        chosen["requantize"] = found.requantized;  // as --requantize NODE, each
      }
    }
  }
  choice.report = {{"chosen", chosen},
                   {"target", o.target},
                   {"metric", "output_sqnr_db"},
                   {"fit_samples", fitted},
                   {"judge_samples", judged},
                   {"held_out", hold_out},
                   {"budget_seconds", budget},
                   {"seconds", round3(trials.seconds())},
                   {"candidates", trials.tried()}};
  if (!placement_search.is_null()) choice.report["placement_search"] = placement_search;
  logger("vitq.quantize")->info("auto: chose {} ({:.2f} dB); quantizing with all {} calibration samples", best.label,
                                trials.bestSqnr(), n);
  if (!hold_out) {
    logger("vitq.quantize")->warn("--recipe auto: {} calibration samples are too few to hold a quarter out; the "
                                  "candidates were judged on the samples they calibrated on", n);
  }
  return choice;
}

}  // namespace vitq::cli
