// The steps of `vitq quantize`: each PTQ method or stage is one QuantStep in the file of its
// method, run in the registry's order over one shared QuantContext. Adding a method is its file,
// one accessor line below and one line in quant_steps.cpp's list.
//
//   smooth-quant -> ln-reparam -> awq -> plan -> log-softmax -> calibrate -> gptq -> bridge-reconstruction
//   -> sequential-reconstruction -> bias-correction -> noisy-bias -> materialize-qdq | integer-lowering
//
// A step the options do not ask for is skipped (enabled()); the report records the steps run.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "passes/ptq/quantize_pipeline.h"
#include "passes/ptq/step_options.h"

namespace vitq {

/// What every step reads and writes: the model being rewritten, the calibration data, the
/// options, the quant table (from `plan` on) and the report the steps fill.
struct QuantContext {
  Model& model;
  const Dataset& calib;
  const PipelineOptions& options;
  QuantTable table;
  // Activations whose parameters an earlier step decided (ln-reparam's per-tensor scales); the
  // calibrate step keeps them where the planned bits match.
  std::unordered_map<const Value*, QuantParams> fixed;
  PipelineReport report;
  // What the calibrate step observed on the planned activations (by value name), for the steps
  // that need ranges rather than parameters (integer-lowering).
  CalibrationResult stats;
};

struct StepTraits {
  bool reads_data = false;        // needs the calibration samples themselves (saved statistics cannot stand in)
  bool float_equivalent = false;  // the float model computes the same function afterwards
  bool writes_quantized = false;  // writes the plan into the graph (QDQ nodes, or integer ops); the
                                  // quantization is decided before it (prepareQuantization stops there)
  bool final_run_only = false;    // learned or random changes made once, for the written model: skipped
                                  // when the options are not the final run (sensitivity, budget search)

  // Named setters, so that a step reads `StepTraits{}.readsData().finalRunOnly()`.
  constexpr StepTraits readsData() const { return with(&StepTraits::reads_data); }
  constexpr StepTraits floatEquivalent() const { return with(&StepTraits::float_equivalent); }
  constexpr StepTraits writesQuantized() const { return with(&StepTraits::writes_quantized); }
  constexpr StepTraits finalRunOnly() const { return with(&StepTraits::final_run_only); }

 private:
  constexpr StepTraits with(bool StepTraits::*flag) const {
    StepTraits t = *this;
    t.*flag = true;
    return t;
  }
};

class QuantStep {
 public:
  virtual ~QuantStep() = default;
  /// The step's name in code, `vitq passes`, the report's `pipeline` and the docs.
  virtual const char* name() const = 0;
  virtual const char* summary() const = 0;
  virtual StepTraits traits() const = 0;
  /// Whether \p options ask for this step.
  virtual bool enabled(const PipelineOptions& options) const = 0;
  /// Turns the step on in \p options (a pipeline text that names it does); a step that always runs
  /// has nothing to turn on.
  virtual void enable(PipelineOptions& options) const = 0;
  /// What the step takes in a pipeline text (pipeline_text.h).
  virtual std::vector<StepOption> options() const { return {}; }
  /// Refuses options of a pipeline text that the step would not read with the others (\p given:
  /// the keys the text set, after all of them are applied to \p options).
  virtual Status checkOptions(const PipelineOptions&, const std::vector<std::string>& given) const {
    (void)given;
    return Status::ok();
  }
  virtual Status run(QuantContext& ctx) const = 0;
  /// Writes the step's settings and what it did into the run's report (docs/report-format.md),
  /// from the options and the report the run left.
  virtual void addToReport(const PipelineOptions&, const PipelineReport&, nlohmann::json&) const {}
};

/// Every step, in the order they run.
const std::vector<const QuantStep*>& quantSteps();

/// The first step \p options enable that needs the calibration samples themselves, or null when
/// saved statistics (`vitq calibrate`) can stand in for them.
const QuantStep* firstStepReadingData(const PipelineOptions& options);

/// Each step of \p report.pipeline (the steps that ran) writes its section into \p out.
void addStepReports(const PipelineOptions& options, const PipelineReport& report, nlohmann::json& out);

/// Runs the enabled steps of \p steps in order, those before the first one that materializes
/// (prepare) or all of them; with `stop_after_reparam` only the leading float-equivalent ones.
Status runQuantSteps(QuantContext& ctx, const std::vector<const QuantStep*>& steps, bool include_materialize);
/// The same over the registry.
inline Status runQuantSteps(QuantContext& ctx, bool include_materialize) {
  return runQuantSteps(ctx, quantSteps(), include_materialize);
}

// One accessor per step, defined in the step's file.
const QuantStep& smoothQuantStep();               // smooth_quant.cpp
const QuantStep& lnReparamStep();                 // ln_reparam.cpp
const QuantStep& awqStep();                      // awq.cpp
const QuantStep& planStep();                      // calibrate_activations.cpp
const QuantStep& logSoftmaxStep();                // log_softmax.cpp
const QuantStep& calibrateStep();                 // calibrate_activations.cpp
const QuantStep& gptqStep();                      // gptq.cpp
const QuantStep& bridgeReconstructionStep();      // block_reconstruction.cpp
const QuantStep& sequentialReconstructionStep();  // sequential_reconstruction.cpp
const QuantStep& biasCorrectionStep();            // bias_correction.cpp
const QuantStep& noisyBiasStep();                 // noisy_bias.cpp
const QuantStep& materializeQdqStep();            // materialize_qdq.cpp
const QuantStep& integerLoweringStep();           // passes/lower/integer_lowering.cpp

}  // namespace vitq
