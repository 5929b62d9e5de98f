#include "vitq/report_output.h"

#include <filesystem>

#include "report/activation_histograms.h"
#include "report/report_writer.h"

namespace vitq::cli {

Status writeReport(nlohmann::json report, const std::string& path, const ReportModels& models) {
  if (path.empty()) return Status::ok();
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

}  // namespace vitq::cli
