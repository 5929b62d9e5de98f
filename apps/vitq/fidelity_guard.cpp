#include "vitq/fidelity_guard.h"

#include <cstdio>

namespace vitq::cli {
namespace {

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", v);
  return text;
}

// Why one output of the report is broken, or "".
std::string outputVerdict(const nlohmann::json& out) {
  if (!out.contains("cosine") || !out["cosine"].is_number()) return "";
  const double cosine = out["cosine"].get<double>();
  const std::string name = "output '" + out["name"].get<std::string>() + "'";
  if (cosine < kGuardMinCosine) {
    return name + " has cosine " + number(cosine) + " against the float model (guard: below " +
           number(kGuardMinCosine) + ")";
  }
  if (out.contains("top1_agreement") && cosine < kGuardTop1CosineCeiling) {
    const double agreement = out["top1_agreement"].get<double>();
    if (agreement < kGuardMinTop1Agreement) {
      return name + " agrees with the float model's top-1 on " + number(100.0 * agreement) + " % of rows, cosine " +
             number(cosine) + " (guard: below " + number(100.0 * kGuardMinTop1Agreement) + " % with cosine below " +
             number(kGuardTop1CosineCeiling) + ")";
    }
  }
  return "";
}

// "conv1 (Conv, 3.1 dB), ...": the nodes of the report's first few most damaged layers, by the
// names --exclude takes.
std::string worstLayers(const nlohmann::json& report, size_t count) {
  std::string list;
  if (!report.contains("most_damaged_layers")) return list;
  for (const auto& value : report["most_damaged_layers"]) {
    if (count-- == 0) break;
    for (const auto& layer : report["layers"]) {
      if (layer["value"] != value) continue;
      const std::string sqnr = layer["sqnr_db"].is_number() ? ", " + number(layer["sqnr_db"].get<double>()) + " dB" : "";
      list += (list.empty() ? "" : ", ") + layer["node"].get<std::string>() + " (" + layer["op"].get<std::string>() + sqnr + ")";
      break;
    }
  }
  return list;
}

}  // namespace

Status checkFidelity(const nlohmann::json& report, const std::string& output) {
  std::string why;
  for (const auto& out : report["outputs"]) {
    const std::string verdict = outputVerdict(out);
    if (!verdict.empty()) why += (why.empty() ? "" : "; ") + verdict;
  }
  if (why.empty()) return Status::ok();
  const std::string layers = worstLayers(report, 5);
  return Status(StatusCode::kGateFailed,
                "fidelity guard: the quantized model is broken: " + why + ", on " + report["samples"].dump() +
                    " evaluation samples" + (layers.empty() ? "" : "; most damaged layers: " + layers) +
                    ". It was written to '" + output + "' for inspection; keep those layers float (--exclude), "
                    "use more bits or another recipe, or accept the model with --no-guard");
}

}  // namespace vitq::cli
