// `vitq report FLOAT.onnx QUANT.onnx --data DATA [--labels y.npy] [--report R] [--fail-if ...]`:
// the accuracy report of any quantized model (vitq's or another tool's) against its float
// original, layer by layer where value names match, with the gates of `vitq quantize`.
#include <iostream>

#include "core/logging.h"
#include "onnx_io/importer.h"
#include "report/accuracy_report.h"
#include "report/report_writer.h"
#include "vitq/commands.h"
#include "vitq/gates.h"
#include "vitq/option_checks.h"
#include "vitq/paths.h"
#include "api/quantization_inputs.h"
#include "vitq/report_output.h"

namespace vitq::cli {
namespace {

struct Options {
  std::string reference, quantized, data, labels, report, preprocess;
  size_t eval_samples = 0, holdout = 0;
  std::vector<std::string> fail_if;
  int threads = 1;
};

Status runReport(const Options& o) {
  VITQ_ASSIGN_OR_RETURN(std::vector<Gate> gates, parseGates(o.fail_if));
  VITQ_RETURN_IF_ERROR(checkGateMetrics(gates, !o.labels.empty()));
  VITQ_RETURN_IF_ERROR(checkOutputs({{"the input model", o.reference}, {"the input model", o.quantized},
                                     {"--data", o.data}, {"--labels", o.labels}},
                                    {{"--report", o.report}}));
  if (!o.report.empty()) VITQ_RETURN_IF_ERROR(checkReportPath(o.report));
  VITQ_ASSIGN_OR_RETURN(QuantizationInputs in,
                        loadQuantizationInputs(o.reference, o.data, {0, o.eval_samples, o.holdout}, o.threads,
                                               o.preprocess));
  VITQ_ASSIGN_OR_RETURN(Model quantized, loadModel(o.quantized));
  CompareOptions compare{0, o.threads, {}};
  VITQ_ASSIGN_OR_RETURN(compare.labels, evalLabels(in, o.labels));
  const std::vector<std::string> layers = judgedLayerValues(*in.reference.graph);
  VITQ_ASSIGN_OR_RETURN(nlohmann::json report, compareModels(in.reference, quantized, *in.eval, layers, compare));
  // Layers are matched by value name; finding few is what a quantization of another model looks
  // like (or a tool that renames values): the end-to-end figures stand, the per-layer ones thin out.
  if (report["layers"].size() * 2 < layers.size()) {
    logger("vitq.report")->warn("only {} of the {} layer outputs of '{}' are found by name in '{}': is it a "
                                "quantization of this model?", report["layers"].size(), layers.size(), o.reference,
                                o.quantized);
  }
  report["model"] = o.reference;
  report["output_model"] = o.quantized;
  VITQ_RETURN_IF_ERROR(writeReport(report, o.report, {in.reference, quantized, *in.eval, o.threads, &in.original}));
  std::cout << "# vitq report: " << o.quantized << " against " << o.reference << "\n\n" << accuracyMarkdown(report);
  return enforceGates(gates, report["summary"]);
}

}  // namespace

void addReportCommand(CLI::App& app, CommandAction& action) {
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("report", "Accuracy report of a quantized model against its float original");
  cmd->add_option("float_model", o->reference, "Float ONNX model")->required();
  cmd->add_option("quantized_model", o->quantized, "Quantized ONNX model (any QDQ or integer model)")->required();
  cmd->add_option("--data", o->data, "Samples: folder of .npy samples or images, one .npy batch, or an .npz")->required();
  cmd->add_option("--preprocess", o->preprocess,
                  "How images in --data become the input: a preset (ppocr-rec, ppocr-cls, ppocr-det, "
                  "fashion-mnist, imagenet) and/or key=value items (docs/cli.md)");
  cmd->add_option("--labels", o->labels, "Class of each sample (.npy of integers): adds top-1 accuracy and top1_drop");
  cmd->add_option("--eval-samples", o->eval_samples, "Use only the first N samples (default: all)")->check(wholeNumber(1));
  cmd->add_option("--holdout", o->holdout, "Score only the last N samples")->check(wholeNumber(0));
  cmd->add_option("--report", o->report, "Write the report: .json, .md or .html");
  cmd->add_option("--fail-if", o->fail_if, "Exit 3 when a gate holds, e.g. top1_drop>1 (repeatable)")->allow_extra_args(false);
  addThreadsOption(cmd, o->threads);
  cmd->callback([o, &action] {
    action = [o]() { return runReport(*o); };
  });
}

}  // namespace vitq::cli
