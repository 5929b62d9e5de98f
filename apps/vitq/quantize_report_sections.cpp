#include "vitq/quantize_report_sections.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "passes/ptq/pipeline_text.h"
#include "passes/ptq/quant_step.h"
#include "report/accuracy_report.h"
#include "report/section_markdown.h"

namespace vitq::cli {
namespace {

int64_t storedBytes(const Graph& g) {
  int64_t bits = 0;
  for (const Value* v : g.initializers()) bits += v->initializer().numel() * dataTypeBits(v->initializer().dtype());
  return (bits + 7) / 8;
}

// Per quantized weight, and the worst, as the report's `weight_sqnr` and `weight_sqnr_min_db`.
void addWeightErrors(nlohmann::json& quantization, const std::vector<WeightError>& errors) {
  nlohmann::json list = nlohmann::json::array();
  double worst = INFINITY;
  for (const WeightError& e : errors) {
    list.push_back({{"weight", e.weight}, {"node", e.node}, {"op", e.op}, {"bits", e.bits},
                    {"granularity", e.granularity}, {"sqnr_db", round3(e.sqnr_db)}});
    worst = std::min(worst, e.sqnr_db);
  }
  quantization["weight_sqnr"] = list;
  quantization["weight_sqnr_min_db"] = errors.empty() ? nlohmann::json(nullptr) : nlohmann::json(round3(worst));
}

}  // namespace

// From this share of quantized layers in float on dequantized inputs the console warns that the
// export may be no faster than the float model in ONNX Runtime (measured, AMD EPYC, one thread:
// MobileNetV2 at 21 % ran at 1.01x its FP32 latency, PP-OCR rec at 69 % at 1.43x; DeiT-S at 1 %
// at 0.39x).
constexpr double kOrtFloatWarnShare = 0.2;

std::string parametersLine(const nlohmann::json& q) {
  const nlohmann::json& bytes = q["parameter_bytes"];
  auto mb = [](const nlohmann::json& v) { return fmt::format("{:.1f} MB", v.get<double>() / 1e6); };
  std::string line = "parameters " + mb(bytes["float"]) + " -> " + mb(bytes["written"]) +
                     fmt::format(" ({:.2f}x)", bytes["ratio"].get<double>());
  const nlohmann::json* worst = nullptr;
  for (const auto& w : q["weight_sqnr"]) {
    if (w["sqnr_db"].is_number() && (!worst || w["sqnr_db"].get<double>() < (*worst)["sqnr_db"].get<double>())) worst = &w;
  }
  if (worst) line += fmt::format("; worst weight SQNR {:.1f} dB ('{}')", (*worst)["sqnr_db"].get<double>(), escapeMarkdown((*worst)["node"].get<std::string>()));
  return line;
}

std::string ortCpuLine(const nlohmann::json& ort) {
  int integer = 0;
  std::string kinds;
  for (const auto& [kernel, count] : ort["integer_kernels"].items()) {
    integer += count.get<int>();
    kinds += (kinds.empty() ? "" : ", ") + kernel + " " + std::to_string(count.get<int>());
  }
  const int floats = ort["float_on_dequantized"].get<int>();
  if (integer + floats == 0) return "";
  const int log_quantized = ort.value("float_log_quantized", 0);
  return fmt::format("ONNX Runtime CPU (forecast{}): {} of {} quantized layers in integer kernels{}, {:.0f} % of their "
                     "multiply-adds{}",
                     ort["int8_activations"].get<bool>() ? ", less sure with int8 activations" : "", integer,
                     integer + floats, kinds.empty() ? "" : " (" + kinds + ")",
                     100 * ort["integer_mac_share"].get<double>(),
                     log_quantized ? fmt::format("; {} attention MatMuls read the log-sqrt2 Softmax quantizer in float",
                                                 log_quantized)
                                   : "");
}

std::string ortCpuWarning(const nlohmann::json& ort, const std::string& placement) {
  const nlohmann::json& largest = ort["float_layers_largest"];
  if (ort["float_layer_share"].get<double>() < kOrtFloatWarnShare || largest.empty()) return "";
  std::string text = fmt::format(
      "ONNX Runtime's CPU provider will run {:.0f} % of the quantized layers in float on dequantized inputs "
      "({:.0f} % of the multiply-adds; the largest, '{}': {}), so this export can be no faster there than the float "
      "model, or slower",
      100 * ort["float_layer_share"].get<double>(), 100 * (1 - ort["integer_mac_share"].get<double>()),
      largest[0]["node"].get<std::string>(), largest[0]["why"].get<std::string>());
  if (placement == "inputs") {
    text += "; --requantize NODE quantizes a layer's output so that it fuses (the report's ort_cpu lists them), and "
            "--recipe auto's placement search chooses which cost little accuracy";
  }
  return text;
}

void addParameterBytes(nlohmann::json& report, const Graph& original, const Graph& written) {
  const int64_t before = storedBytes(original), after = storedBytes(written);
  report["quantization"]["parameter_bytes"] = {
      {"float", before}, {"written", after},
      {"ratio", before > 0 ? round3(static_cast<double>(after) / static_cast<double>(before)) : 1.0}};
}

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
                                       {"weights", po.quant.weight_asymmetric ? "asymmetric" : "symmetric"},
                                       {"embeddings", po.quant.embeddings}};
  }
  // The sections of the steps that ran (ln_reparam, smooth_quant, bias_correction, noisy_bias,
  // reconstruction): each step writes its own.
  addStepReports(po, pr, report);
  report["quantization"] = {{"compute_nodes", plan.compute_nodes}, {"quantized_nodes", plan.quantized_nodes},
                            {"embedding_tables", plan.embedding_tables},
                            {"kept_float", plan.excluded}, {"quantize_nodes", ms.quantize_nodes},
                            {"per_channel_activations", ms.per_channel_activations},
                            {"weights", ms.weights}, {"biases", ms.biases},
                            {"four_bit_tensors", ms.four_bit_tensors}, {"blocked_weights", ms.blocked_weights},
                            {"reparameterized_layernorms", pr.reparameterized},
                            {"layernorms_too_few_rows", pr.reparam_few_rows},
                            {"log_softmax_quantizers", ms.log_quantizers}, {"float_biases", ms.float_biases}};
  addWeightErrors(report["quantization"], ms.weight_errors);
}

}  // namespace vitq::cli
