#include "vitq/quantize_report_sections.h"

#include "passes/ptq/pipeline_text.h"
#include "passes/ptq/quant_step.h"

namespace vitq::cli {

void addQuantizeSections(nlohmann::json& report, const QuantizeFlags& o, const PipelineOptions& po,
                         const PipelineReport& pr) {
  const QuantPlanSummary& plan = pr.plan;
  const MaterializeStats& ms = pr.materialized;
  report["recipe"] = {{"name", recipeName(o)}, {"weight_bits", o.wbits}, {"activation_bits", o.abits},
                      {"calibration_samples", pr.calibration_samples}, {"pipeline", pipelineText(pr.pipeline, po)}};
  if (po.activation_range == RangeMethod::kPercentile) report["recipe"]["percentile"] = po.percentile;
  if (o.recipe == "i-vit") report["recipe"]["ranges"] = o.ranges.empty() ? "minmax" : o.ranges;
  if (!o.stats.empty()) report["recipe"]["statistics"] = o.stats;
  report["recipe"]["log_softmax"] = po.log_softmax;
  report["recipe"]["reduce_range"] = o.reduce_range;
  report["recipe"]["int4"] = po.four_bit_types;
  report["recipe"]["activations"] = po.quant.activation_symmetric ? "symmetric" : "asymmetric";
  report["recipe"]["placement"] = po.quant.quantize_outputs ? "integer" : "inputs";
  report["recipe"]["depthwise_inputs"] = po.quant.depthwise_channel_inputs ? "per-channel" : "per-tensor";
  if (po.quant.weights_only) {
    report["recipe"]["weight_only"] = {{"group_size", po.quant.weight_group_size},
                                       {"weights", po.quant.weight_asymmetric ? "asymmetric" : "symmetric"}};
  }
  // The sections of the steps that ran (ln_reparam, smooth_quant, bias_correction, noisy_bias,
  // reconstruction): each step writes its own.
  addStepReports(po, pr, report);
  report["quantization"] = {{"compute_nodes", plan.compute_nodes}, {"quantized_nodes", plan.quantized_nodes},
                            {"kept_float", plan.excluded}, {"quantize_nodes", ms.quantize_nodes},
                            {"per_channel_activations", ms.per_channel_activations},
                            {"weights", ms.weights}, {"biases", ms.biases},
                            {"four_bit_tensors", ms.four_bit_tensors}, {"blocked_weights", ms.blocked_weights},
                            {"reparameterized_layernorms", pr.reparameterized},
                            {"layernorms_too_few_rows", pr.reparam_few_rows},
                            {"log_softmax_quantizers", ms.log_quantizers}, {"float_biases", ms.float_biases}};
}

}  // namespace vitq::cli
