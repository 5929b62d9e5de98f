#include "vitq/integer_export.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "onnx_io/atomic_file.h"
#include "onnx_io/exporter.h"
#include "onnx_io/importer.h"
#include "passes/ptq/pipeline_text.h"
#include "passes/ptq/quant_step.h"
#include "passes/ptq/quantize_pipeline.h"
#include "report/accuracy_report.h"
#include "report/report_writer.h"
#include "vitq/fidelity_guard.h"
#include "vitq/report_output.h"

namespace vitq::cli {

Status runIntegerExport(const Model& reference, Model& quantized, const Dataset& calib, const Dataset& eval,
                        const PipelineOptions& options, const IntegerExportArgs& a) {
  VITQ_ASSIGN_OR_RETURN(PipelineReport pr, quantizeModel(quantized, calib, options));
  const IntegerLoweringReport& lr = pr.integer;
  quantized.producer_name = "vitq";
  // The report runs the written model as vitq's executor does: functions inlined.
  ImportOptions import;
  import.inline_functions = true;
  VITQ_ASSIGN_OR_RETURN(Model runnable, importModel(exportModel(quantized), std::filesystem::path(a.output).parent_path(), import));
  VITQ_ASSIGN_OR_RETURN(nlohmann::json report, compareModels(reference, runnable, eval, {}, {0, a.threads, a.labels}));
  report["model"] = a.model;
  report["output_model"] = a.output;
  const bool mean_ranges = options.activation_range == RangeMethod::kMeanMinMax;
  report["recipe"] = {{"name", a.recipe}, {"format", "integer"}, {"weight_bits", options.quant.weight_bits},
                      {"activation_bits", options.quant.activation_bits}, {"residual_bits", options.residual_bits},
                      {"ranges", mean_ranges ? "mean-minmax" : "minmax"}, {"calibration_samples", lr.calibration_samples},
                      {"pipeline", pipelineText(pr.pipeline, options)}};
  addStepReports(options, pr, report);
  report["guard"] = a.guard ? "on" : "off";
  report["threads"] = a.threads;
  if (!a.report.empty()) VITQ_RETURN_IF_ERROR(writeReportFile(report, a.report));
  VITQ_RETURN_IF_ERROR(saveModelAfterReport(quantized, a.output, a.report));
  std::cout << "# vitq quantize: " << a.model << " -> " << a.output << " (integer, I-ViT)\n\n"
            << "W" << options.quant.weight_bits << "A" << options.quant.activation_bits << " (residual stream "
            << options.residual_bits << "-bit): " << lr.linear
            << " linear, " << lr.convolutions << " conv, " << lr.activation_matmuls << " activation MatMuls, "
            << lr.products << " activation products, "
            << lr.shiftmax << " Shiftmax, " << lr.shiftgelu << " ShiftGELU, " << lr.layernorms << " I-LayerNorm, "
            << lr.residual_adds << " residual adds, " << lr.requantizers << " requantizers; "
            << lr.calibration_samples << " calibration samples"
            << (lr.float_ops.empty() ? "" : "; " + std::to_string(lr.float_ops.size()) + " ops kept in float (--float-boundary)")
            << "\n\n"
            << accuracyMarkdown(report);
  if (a.guard) VITQ_RETURN_IF_ERROR(checkFidelity(report, a.output));
  return enforceGates(a.gates, report["summary"]);
}

}  // namespace vitq::cli
