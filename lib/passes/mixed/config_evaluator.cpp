#include "passes/mixed/config_evaluator.h"

#include "ir/half.h"
#include "onnx_io/model_clone.h"
#include "passes/mixed/quant_units.h"
#include "passes/ptq/materialize_qdq.h"
#include "report/accuracy_report.h"

namespace vitq {

StatusOr<ConfigEvaluator> ConfigEvaluator::create(const Model& reference, const Model& prepared,
                                                  const Dataset& samples, int threads) {
  if (samples.size() == 0) return invalidArgument("no samples to evaluate configurations on");
  if (reference.graph->outputs().empty()) return invalidArgument("the model has no outputs");
  ConfigEvaluator e(prepared, threads);
  e.output_ = reference.graph->outputs()[0]->name();
  VITQ_ASSIGN_OR_RETURN(Executor exec, Executor::create(*reference.graph, reference.opsetVersion(""), {threads}));
  for (size_t i = 0; i < samples.size(); ++i) {
    VITQ_ASSIGN_OR_RETURN(TensorMap feeds, samples.sample(i));
    VITQ_ASSIGN_OR_RETURN(TensorMap outputs, exec.run(feeds));
    // A float16 model's output (its interface keeps the type) is compared in float32.
    e.reference_.push_back(widenToFloat(outputs.at(e.output_)));
    e.feeds_.push_back(std::move(feeds));
  }
  return e;
}

StatusOr<ConfigMetrics> ConfigEvaluator::evaluate(const QuantTable& table) const {
  VITQ_ASSIGN_OR_RETURN(Model copy, cloneModel(*prepared_));
  VITQ_ASSIGN_OR_RETURN(QuantTable mapped, remapTable(table, *copy.graph));
  VITQ_RETURN_IF_ERROR(materializeQdq(*copy.graph, mapped).status());
  return score(copy, true);
}

StatusOr<ConfigMetrics> ConfigEvaluator::score(const Model& model, bool keep_checkpoints) const {
  ++evaluations_;
  VITQ_ASSIGN_OR_RETURN(Executor exec, Executor::create(*model.graph, model.opsetVersion(""), {threads_}));
  ErrorStats stats;
  VITQ_RETURN_IF_ERROR(reuse_.runSamples(exec, feeds_, [&](size_t i, TensorMap& outputs) -> Status {
    auto it = outputs.find(output_);
    if (it == outputs.end()) return internalError("the quantized model lost its output '" + output_ + "'");
    stats.add(reference_[i], widenToFloat(it->second), true);
    return Status::ok();
  }, keep_checkpoints));
  ConfigMetrics m;
  m.sqnr_db = stats.sqnrDb();
  m.cosine = stats.cosine();
  if (stats.rows) m.top1_agreement = static_cast<double>(stats.agree) / static_cast<double>(stats.rows);
  return m;
}

double ConfigEvaluator::reuseSaving() const {
  if (reuse_.stepsTotal() == 0) return 0;
  return 1.0 - static_cast<double>(reuse_.stepsRun()) / static_cast<double>(reuse_.stepsTotal());
}

}  // namespace vitq
