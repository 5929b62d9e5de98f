#include "passes/ptq/step_options.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace vitq {

StepOption switchOption(const std::string& key, std::function<bool(const PipelineOptions&)> get,
                        std::function<void(PipelineOptions&)> put) {
  auto set = [put](PipelineOptions& o, const std::string&) {
    put(o);
    return Status::ok();
  };
  auto written = [get](const PipelineOptions& o) -> std::optional<std::string> {
    return get(o) ? std::optional<std::string>("") : std::nullopt;
  };
  return {key, "", set, written};
}

std::string numberText(double value) {
  char text[32];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(text, sizeof text, "%.0f", value);
    return text;
  }
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, value);
    if (std::strtod(text, nullptr) == value) break;
  }
  return text;
}

StepOption numberOption(const std::string& key, double lo, double hi, bool whole,
                        std::function<double(const PipelineOptions&)> get, std::function<void(PipelineOptions&, double)> put,
                        std::optional<double> omitted) {
  const std::string takes = std::string(whole ? "a whole number" : "a number") + " from " + numberText(lo) + " to " +
                            numberText(hi);
  auto set = [key, lo, hi, whole, put, takes](PipelineOptions& o, const std::string& value) -> Status {
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !std::isfinite(v) || v < lo || v > hi || (whole && v != std::floor(v))) {
      return invalidArgument("option '" + key + "' takes " + takes + " (got '" + value + "')");
    }
    put(o, v);
    return Status::ok();
  };
  auto written = [get, omitted](const PipelineOptions& o) -> std::optional<std::string> {
    const double v = get(o);
    if (omitted && v == *omitted) return std::nullopt;
    return numberText(v);
  };
  return {key, takes, set, written};
}

}  // namespace vitq
