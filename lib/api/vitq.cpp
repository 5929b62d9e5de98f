#include "api/vitq.h"

#include <algorithm>

#include "core/usable_cores.h"
#include "passes/ptq/plan_quantization.h"
#include "passes/ptq/recipes.h"
#include "report/accuracy_report.h"

namespace vitq {
namespace {

StatusOr<int> threadsOf(const QuantizeRequest& request, const char* call) {
  if (request.threads < 0 || request.threads > 256) {
    return invalidArgument(std::string(call) + ": threads " + std::to_string(request.threads) +
                           " is not 0 (the cores this process may use) to 256");
  }
  return request.threads > 0 ? request.threads : std::min(usableCores(), 256);
}

}  // namespace

StatusOr<PipelineReport> quantize(QuantizationInputs& in, const QuantizeRequest& request) {
  if (!in.calib || !in.working.graph) return invalidArgument("quantize: the inputs hold no model or samples");
  for (const auto& [what, bits] : {std::pair{"weight_bits", request.weight_bits}, {"activation_bits", request.activation_bits}}) {
    if (bits < 2 || bits > 8) return invalidArgument(std::string("quantize: ") + what + " " + std::to_string(bits) + " is not 2 to 8");
  }
  PipelineOptions options;
  VITQ_RETURN_IF_ERROR(applyRecipe(request.recipe, options));
  settleDepthwiseInputs(options);
  options.quant.weight_bits = request.weight_bits;
  options.quant.activation_bits = request.activation_bits;
  options.quant.exclude = request.exclude;
  VITQ_RETURN_IF_ERROR(checkNodePatterns({in.original.graph.get(), in.working.graph.get()}, request.exclude, "exclude"));
  VITQ_ASSIGN_OR_RETURN(options.threads, threadsOf(request, "quantize"));
  VITQ_ASSIGN_OR_RETURN(PipelineReport report, quantizeModel(in.working, *in.calib, options));
  in.working.producer_name = "vitq";
  return report;
}

StatusOr<nlohmann::json> accuracyReport(const QuantizationInputs& in, const QuantizeRequest& request) {
  if (!in.eval || !in.reference.graph) return invalidArgument("accuracyReport: the inputs hold no model or samples");
  VITQ_ASSIGN_OR_RETURN(const int threads, threadsOf(request, "accuracyReport"));
  return compareModels(in.reference, in.working, *in.eval, judgedLayerValues(*in.reference.graph),
                       CompareOptions{0, threads, {}});
}

}  // namespace vitq
