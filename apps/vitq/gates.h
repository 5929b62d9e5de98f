// --fail-if gates for CI: "METRIC<VALUE" or "METRIC>VALUE" over the report's summary, e.g.
// "sqnr_min_db<15" or "top1_agreement<0.99". A gate that holds fails the run with exit code 3.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/status.h"

namespace vitq::cli {

struct Gate {
  std::string metric;
  char op = '<';
  double value = 0;
  std::string text;
};

StatusOr<Gate> parseGate(const std::string& text);
/// Every --fail-if text parsed (the first bad one is the error).
StatusOr<std::vector<Gate>> parseGates(const std::vector<std::string>& texts);
/// Refuses, before any work, a gate on a metric the report will not have.
Status checkGateMetrics(const std::vector<Gate>& gates, bool have_labels);
/// The gates that trip on \p summary; an unknown metric is an error naming the known ones.
StatusOr<std::vector<std::string>> trippedGates(const std::vector<Gate>& gates, const nlohmann::json& summary);
/// ok, or kGateFailed naming every tripped gate and its value.
Status enforceGates(const std::vector<Gate>& gates, const nlohmann::json& summary);

}  // namespace vitq::cli
