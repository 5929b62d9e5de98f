// The report as one self-contained HTML page (`--report R.html`): inline CSS and SVG charts, no
// scripts that fetch anything, the full JSON report embedded. Every number shown carries its JSON
// pointer and exact JSON value (data-key, data-value) so the page can be checked against the JSON.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace vitq {

/// Renders any report vitq writes (quantize, sensitivity, report); optional sections
/// (accuracy, sensitivity, budget, activation_histograms, noisy_bias, reconstruction) appear when
/// present.
std::string renderHtmlReport(const nlohmann::json& report);

}  // namespace vitq
