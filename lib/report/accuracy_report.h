// Accuracy of a quantized model against its float original on the same samples: end-to-end
// (SQNR, cosine, max abs error, top-1 agreement per output) and per layer (SQNR and cosine of
// every compute node's output, matched by value name). JSON is the canonical form
// (docs/report-format.md); Markdown is rendered from it.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "calib/dataset.h"
#include "ir/graph.h"

namespace vitq {

/// \p v rounded to 3 decimals as reports print figures (non-finite values unchanged).
double round3(double v);

struct ErrorStats {
  double signal = 0;   // sum of reference^2
  double noise = 0;    // sum of (quantized - reference)^2
  double dot = 0, ref_norm = 0, q_norm = 0;
  double max_abs = 0;
  int64_t rows = 0, agree = 0;  // top-1 agreement over the last dim

  void add(const Tensor& reference, const Tensor& quantized, bool top1);
  double sqnrDb() const;
  double cosine() const;
};

struct CompareOptions {
  size_t max_samples = 0;  // 0: all
  int threads = 1;
  /// Class of each sample (same order as the data): adds top-1 accuracy of both models on the
  /// first output (one row per sample) and the drop, in points, to the report.
  std::vector<int64_t> labels;
};

/// The keys of a report's "summary" (docs/report-format.md), the metrics --fail-if gates on; the
/// label ones are there only when labels are given.
inline constexpr const char* kSummaryMetrics[] = {"sqnr_min_db", "output_sqnr_db", "output_cosine", "top1_agreement"};
inline constexpr const char* kSummaryLabelMetrics[] = {"top1_accuracy", "top1_drop"};

/// Runs both graphs on \p data and compares; \p layer_values names the values compared per layer.
StatusOr<nlohmann::json> compareModels(const Model& reference, const Model& quantized, const Dataset& data,
                                       const std::vector<std::string>& layer_values, const CompareOptions& options);

/// The report as Markdown: outputs, most damaged layers, and the optional sections (labelled
/// accuracy, budget, the first \p sensitivity_rows of the sensitivity ranking).
std::string accuracyMarkdown(const nlohmann::json& report, size_t sensitivity_rows = static_cast<size_t>(-1));

}  // namespace vitq
