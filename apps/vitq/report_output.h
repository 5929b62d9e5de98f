// Writing the --report file of quantize, sensitivity and report: the HTML page also shows the
// activation histograms of the most damaged layers, measured here on the evaluation samples.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "calib/dataset.h"
#include "ir/graph.h"

namespace vitq::cli {

struct ReportModels {
  const Model& reference;
  const Model& quantized;
  const Dataset& eval;
  int threads = 1;
  const Model* original = nullptr;  // the float model as loaded: the report's model_summary
};

/// Writes \p report to \p path (nothing when \p path is empty) in the format of its extension,
/// with a model_summary of the original model.
Status writeReport(nlohmann::json report, const std::string& path, const ReportModels& models);

/// Saves the quantized model after its report was written to \p report_path: a model that cannot
/// be written takes the report with it, so a failed run leaves neither.
Status saveModelAfterReport(const Model& model, const std::string& output, const std::string& report_path);

}  // namespace vitq::cli
