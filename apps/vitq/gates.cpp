#include "vitq/gates.h"

namespace vitq::cli {

StatusOr<Gate> parseGate(const std::string& text) {
  const auto pos = text.find_first_of("<>");
  if (pos == std::string::npos || pos == 0 || pos + 1 >= text.size()) {
    return invalidArgument("bad --fail-if '" + text + "': expected METRIC<VALUE or METRIC>VALUE");
  }
  Gate g;
  g.metric = text.substr(0, pos);
  g.op = text[pos];
  g.text = text;
  try {
    size_t used = 0;
    g.value = std::stod(text.substr(pos + 1), &used);
    if (used != text.size() - pos - 1) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    return invalidArgument("bad --fail-if '" + text + "': '" + text.substr(pos + 1) + "' is not a number");
  }
  return g;
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
