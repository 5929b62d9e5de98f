#include "vitq/report_output.h"

#include <filesystem>

#include "onnx_io/exporter.h"
#include "report/activation_histograms.h"
#include "report/model_summary.h"
#include "report/report_writer.h"

namespace vitq::cli {
namespace {

// The parts of `vitq inspect --json` a report reader wants at a glance.
nlohmann::json modelSummary(const Model& original, const std::string& file) {
  const nlohmann::json full = summarizeModel(original, ImportReport{}, file).json;
  nlohmann::json s;
  for (const char* key : {"nodes", "parameters", "opsets", "inputs", "outputs", "quantizable"}) {
    if (full.contains(key)) s[key] = full[key];
  }
  nlohmann::json ops = nlohmann::json::array();
  for (const auto& entry : full.value("op_histogram", nlohmann::json::array())) {
    if (ops.size() < 12) ops.push_back(entry);
  }
  s["top_ops"] = ops;
  if (full.contains("transformer")) {
    for (const auto& [kind, list] : full["transformer"].items()) {
      if (list.is_array()) s["transformer_structures"][kind] = list.size();
    }
  }
  return s;
}

}  // namespace

Status writeReport(nlohmann::json report, const std::string& path, const ReportModels& models) {
  if (path.empty()) return Status::ok();
  report["threads"] = models.threads;  // results are byte-identical for one thread count, not across counts
  if (models.original && report.contains("model")) {
    report["model_summary"] = modelSummary(*models.original, report["model"].get<std::string>());
  }
  if (std::filesystem::path(path).extension() == ".html" && report.contains("most_damaged_layers")) {
    constexpr size_t kLayers = 6, kSamples = 32;
    constexpr int kBins = 64;
    std::vector<std::string> worst;
    for (const auto& name : report["most_damaged_layers"]) {
      if (worst.size() < kLayers) worst.push_back(name.get<std::string>());
    }
    VITQ_ASSIGN_OR_RETURN(report["activation_histograms"],
                          activationHistograms(models.reference, models.quantized, models.eval, worst, kBins, kSamples,
                                               models.threads));
  }
  return writeReportFile(report, path);
}

Status saveModelAfterReport(const Model& model, const std::string& output, const std::string& report_path) {
  Status written = saveModel(model, output);
  if (!written.isOk() && !report_path.empty()) std::filesystem::remove(report_path);
  return written;
}

}  // namespace vitq::cli
