#include "passes/ptq/quant_step.h"

#include "core/logging.h"
#include "ir/verifier.h"

namespace vitq {

const std::vector<const QuantStep*>& quantSteps() {
  static const std::vector<const QuantStep*> steps = {
      &smoothQuantStep(),          &lnReparamStep(),  &awqStep(),         &planStep(),          &logSoftmaxStep(),
      &calibrateStep(),            &gptqStep(),       &bridgeReconstructionStep(),           &sequentialReconstructionStep(),
      &biasCorrectionStep(),       &noisyBiasStep(),  &materializeQdqStep(),  &integerLoweringStep(),
  };
  return steps;
}

void addStepReports(const PipelineOptions& options, const PipelineReport& report, nlohmann::json& out) {
  for (const std::string& name : report.pipeline) {
    for (const QuantStep* step : quantSteps()) {
      if (name == step->name()) step->addToReport(options, report, out);
    }
  }
}

const QuantStep* firstStepReadingData(const PipelineOptions& options) {
  for (const QuantStep* step : quantSteps()) {
    if (step->traits().reads_data && step->enabled(options)) return step;
  }
  return nullptr;
}

Status runQuantSteps(QuantContext& ctx, const std::vector<const QuantStep*>& steps, bool include_materialize) {
  auto log = logger("vitq.quantize");
  for (const QuantStep* step : steps) {
    const StepTraits traits = step->traits();
    if (traits.writes_quantized && !include_materialize) break;
    // --stop-after reparam: the model is written while it still computes the float function.
    if (ctx.options.stop_after_reparam && !traits.float_equivalent) break;
    if (!step->enabled(ctx.options) || (traits.final_run_only && !ctx.options.final_run)) continue;
    log->debug("step {}", step->name());
    VITQ_RETURN_IF_ERROR(step->run(ctx));
    // Each step must leave a well-formed graph (SSA, use lists, order, arity); a broken rewrite is
    // named here rather than found by a runtime later.
    VITQ_RETURN_IF_ERROR(verifyModel(ctx.model).withContext(std::string("after step '") + step->name() + "'"));
    ctx.report.pipeline.push_back(step->name());
  }
  return Status::ok();
}

}  // namespace vitq
