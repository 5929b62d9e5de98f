#include "passes/ptq/quantize_pipeline.h"

#include <utility>

#include "calib/calibration_session.h"
#include "exec/thread_scope.h"
#include "passes/ptq/quant_step.h"
#include "passes/ptq/reconstruction_check.h"

namespace vitq {

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
  QuantContext ctx{model, calib, o, {}, reparam_params, std::move(report), {}};
  // The three steps whatever --stop-after says: the rungs of mixed precision are always calibrated.
  for (const QuantStep* step : {&planStep(), &logSoftmaxStep(), &calibrateStep()}) {
    if (step->enabled(o)) VITQ_RETURN_IF_ERROR(step->run(ctx));
  }
  report = std::move(ctx.report);
  return std::move(ctx.table);
}

Status checkReconstruction(const Model& model, const PipelineOptions& o) {
  if (o.reconstruct == Reconstruction::kNone || !o.final_run) return Status::ok();
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
  // Every parallel region of the steps (Eigen's products included) runs on --threads threads.
  const OmpThreadScope threads(o.threads);
  QuantContext ctx{model, calib, o, {}, {}, {}, {}};
  VITQ_RETURN_IF_ERROR(runQuantSteps(ctx, false));
  return PreparedQuantization{std::move(ctx.table), std::move(ctx.report)};
}

StatusOr<PipelineReport> quantizeModel(Model& model, const Dataset& calib, const PipelineOptions& o) {
  VITQ_RETURN_IF_ERROR(checkReconstruction(model, o));
  VITQ_RETURN_IF_ERROR(checkMatMulNBits(o));
  const OmpThreadScope threads(o.threads);
  QuantContext ctx{model, calib, o, {}, {}, {}, {}};
  VITQ_RETURN_IF_ERROR(runQuantSteps(ctx, true));
  return std::move(ctx.report);
}

}  // namespace vitq
