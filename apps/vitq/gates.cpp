#include "vitq/gates.h"

#include <cmath>

#include "core/text.h"
#include "report/accuracy_report.h"

namespace vitq::cli {

StatusOr<Gate> parseGate(const std::string& text) {
  const auto pos = text.find_first_of("<>");
  Gate g;
  g.metric = pos == std::string::npos ? "" : trimmed(text.substr(0, pos));
  const std::string value = pos == std::string::npos ? "" : trimmed(text.substr(pos + 1));
  if (g.metric.empty() || value.empty()) {
    return invalidArgument("bad --fail-if '" + text + "': expected METRIC<VALUE or METRIC>VALUE");
  }
  g.op = text[pos];
  g.text = text;
  try {
    size_t used = 0;
    g.value = std::stod(value, &used);
    if (used != value.size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    return invalidArgument("bad --fail-if '" + text + "': '" + value + "' is not a number");
  }
  if (!std::isfinite(g.value)) {
    return invalidArgument("bad --fail-if '" + text + "': the threshold must be a finite number, not '" + value + "'");
  }
  return g;
}

Status checkGateMetrics(const std::vector<Gate>& gates, bool have_labels) {
  for (const Gate& g : gates) {
    bool known = false;
    for (const char* m : kSummaryMetrics) known = known || g.metric == m;
    for (const char* m : kSummaryLabelMetrics) {
      if (g.metric != m) continue;
      if (!have_labels) {
        return invalidArgument("--fail-if '" + g.text + "': " + g.metric + " needs --labels (the class of each sample)");
      }
      known = true;
    }
    if (!known) {
      std::string names;
      for (const char* m : kSummaryMetrics) names += std::string(names.empty() ? "" : ", ") + m;
      for (const char* m : kSummaryLabelMetrics) names += std::string(", ") + m;
      return invalidArgument("--fail-if '" + g.text + "': the report has no metric '" + g.metric + "' (it has " +
                             names + "; the last two with --labels)");
    }
  }
  return Status::ok();
}

StatusOr<std::vector<std::string>> trippedGates(const std::vector<Gate>& gates, const nlohmann::json& summary) {
  std::vector<std::string> tripped;
  for (const Gate& g : gates) {
    if (!summary.contains(g.metric) || !summary[g.metric].is_number()) {
      std::string known;
      for (const auto& [k, v] : summary.items()) known += (known.empty() ? "" : ", ") + k;
      return invalidArgument("--fail-if '" + g.text + "': the report has no metric '" + g.metric + "' (it has: " + known + ")");
    }
    const double v = summary[g.metric].get<double>();
    if ((g.op == '<' && v < g.value) || (g.op == '>' && v > g.value)) {
      tripped.push_back(g.text + " (" + g.metric + " = " + std::to_string(v) + ")");
    }
  }
  return tripped;
}

StatusOr<std::vector<Gate>> parseGates(const std::vector<std::string>& texts) {
  std::vector<Gate> gates;
  for (const auto& text : texts) {
    VITQ_ASSIGN_OR_RETURN(Gate g, parseGate(text));
    gates.push_back(g);
  }
  return gates;
}

Status enforceGates(const std::vector<Gate>& gates, const nlohmann::json& summary) {
  VITQ_ASSIGN_OR_RETURN(auto tripped, trippedGates(gates, summary));
  if (tripped.empty()) return Status::ok();
  std::string why;
  for (const auto& t : tripped) why += (why.empty() ? "" : "; ") + t;
  return Status(StatusCode::kGateFailed, "accuracy gate failed: " + why);
}

}  // namespace vitq::cli
