#include "report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace vitq {
namespace {

constexpr int kLabelWidth = 300;
constexpr int kBarWidth = 420;
constexpr int kRowHeight = 16;

std::string fixed(double v, int decimals) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

}  // namespace

std::string escapeHtml(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string formatNumber(double value) {
  if (!std::isfinite(value)) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", value);
  return text;
}

std::string svgBarChart(const std::vector<Bar>& bars, const std::string& unit) {
  // Bars grow from a zero line: right for positive values, left for negative ones.
  double top = 0, bottom = 0;
  for (const auto& b : bars) {
    if (!std::isfinite(b.value)) continue;
    top = std::max(top, b.value);
    bottom = std::min(bottom, b.value);
  }
  const double span = top - bottom > 0 ? top - bottom : 1.0;
  const double zero_x = kLabelWidth + (-bottom / span) * kBarWidth;
  const int height = static_cast<int>(bars.size()) * kRowHeight + 4;
  const int width = kLabelWidth + kBarWidth + 90;
  std::string svg = "<svg class=\"bars\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) +
                    "\" height=\"" + std::to_string(height) + "\" role=\"img\">\n";
  if (bottom < 0) {
    svg += "<line x1=\"" + fixed(zero_x, 1) + "\" x2=\"" + fixed(zero_x, 1) + "\" y1=\"0\" y2=\"" +
           std::to_string(height) + "\" stroke=\"#8a93a3\"/>\n";
  }
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const int y = static_cast<int>(i) * kRowHeight + 2;
    const double end_x = std::isfinite(b.value) ? zero_x + b.value / span * kBarWidth : zero_x;
    const double left = std::min(zero_x, end_x), right = std::max(zero_x, end_x);
    const std::string label = b.label.size() > 58 ? "..." + b.label.substr(b.label.size() - 55) : b.label;
    svg += "<text x=\"" + std::to_string(kLabelWidth - 6) + "\" y=\"" + std::to_string(y + 12) +
           "\" text-anchor=\"end\"><title>" + escapeHtml(b.label) + "</title>" + escapeHtml(label) + "</text>";
    svg += "<rect class=\"bar" + std::string(b.highlight ? " worst" : "") + "\" x=\"" + fixed(left, 1) + "\" y=\"" +
           std::to_string(y + 2) + "\" width=\"" + fixed(right - left, 1) + "\" height=\"" +
           std::to_string(kRowHeight - 4) + "\" data-key=\"" + escapeHtml(b.key) + "\" data-value=\"" +
           escapeHtml(b.exact) + "\"/>";
    svg += "<text x=\"" + fixed(std::max(right, zero_x) + 4, 1) + "\" y=\"" + std::to_string(y + 12) + "\">" +
           formatNumber(b.value) + (std::isfinite(b.value) ? " " + unit : "") + "</text>\n";
  }
  return svg + "</svg>\n";
}

std::string svgHistogram(const std::vector<double>& bins, double lo, double hi, double qlo, double qhi) {
  constexpr int kWidth = 360, kHeight = 110, kAxis = 16;
  double top = 0;
  for (double b : bins) top = std::max(top, b);
  std::string svg = "<svg class=\"hist\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(kWidth) +
                    "\" height=\"" + std::to_string(kHeight + kAxis) + "\" role=\"img\">\n";
  auto xOf = [&](double v) { return hi > lo ? (v - lo) / (hi - lo) * kWidth : 0.0; };
  if (qlo < qhi) {
    const double a = std::clamp(xOf(qlo), 0.0, double(kWidth)), b = std::clamp(xOf(qhi), 0.0, double(kWidth));
    svg += "<rect class=\"qrange\" x=\"" + fixed(a, 1) + "\" y=\"0\" width=\"" + fixed(b - a, 1) + "\" height=\"" +
           std::to_string(kHeight) + "\"/>";
  }
  const double w = bins.empty() ? 0.0 : double(kWidth) / static_cast<double>(bins.size());
  for (size_t i = 0; i < bins.size(); ++i) {
    // Square-root height: the tails that decide the clipping stay visible next to the bulk.
    const double h = top > 0 ? std::sqrt(bins[i] / top) * kHeight : 0.0;
    svg += "<rect class=\"hbin\" x=\"" + fixed(static_cast<double>(i) * w, 1) + "\" y=\"" + fixed(kHeight - h, 1) +
           "\" width=\"" + fixed(std::max(w - 0.5, 0.5), 1) + "\" height=\"" + fixed(h, 1) + "\"/>";
  }
  svg += "\n<text x=\"0\" y=\"" + std::to_string(kHeight + 13) + "\">" + formatNumber(lo) + "</text><text x=\"" +
         std::to_string(kWidth) + "\" y=\"" + std::to_string(kHeight + 13) + "\" text-anchor=\"end\">" +
         formatNumber(hi) + "</text>\n";
  return svg + "</svg>\n";
}

}  // namespace vitq
