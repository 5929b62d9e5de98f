#include "api/vitq.h"

#include "core/usable_cores.h"
#include "passes/ptq/recipes.h"
#include "report/accuracy_report.h"

namespace vitq {
namespace {

int threadsOf(const QuantizeRequest& request) { return request.threads > 0 ? request.threads : usableCores(); }

}  // namespace

StatusOr<PipelineReport> quantize(QuantizationInputs& in, const QuantizeRequest& request) {
  if (!in.calib || !in.working.graph) return invalidArgument("quantize: the inputs hold no model or samples");
  for (const auto& [what, bits] : {std::pair{"weight_bits", request.weight_bits}, {"activation_bits", request.activation_bits}}) {
    if (bits < 2 || bits > 8) return invalidArgument(std::string("quantize: ") + what + " " + std::to_string(bits) + " is not 2 to 8");
  }
  PipelineOptions options;
  VITQ_RETURN_IF_ERROR(applyRecipe(request.recipe, options));
  options.quant.weight_bits = request.weight_bits;
  options.quant.activation_bits = request.activation_bits;
  options.quant.exclude = request.exclude;
  options.threads = threadsOf(request);
  VITQ_ASSIGN_OR_RETURN(PipelineReport report, quantizeModel(in.working, *in.calib, options));
  in.working.producer_name = "vitq";
  return report;
}

StatusOr<nlohmann::json> accuracyReport(const QuantizationInputs& in, const QuantizeRequest& request) {
  if (!in.eval || !in.reference.graph) return invalidArgument("accuracyReport: the inputs hold no model or samples");
  return compareModels(in.reference, in.working, *in.eval, judgedLayerValues(*in.reference.graph),
                       CompareOptions{0, threadsOf(request), {}});
}

}  // namespace vitq
