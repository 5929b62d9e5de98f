// Inline SVG charts for the HTML report: no scripts, no external resources. Every bar carries
// the exact number it draws (data-value) and where that number lives in the report
// (data-key, a JSON pointer), so tests can check the picture against the JSON.
#pragma once

#include <string>
#include <vector>

namespace vitq {

/// HTML-escapes text for element content and attribute values.
std::string escapeHtml(const std::string& text);

struct Bar {
  std::string label;
  double value = 0;        // NaN when the report has null (an infinite SQNR)
  std::string key;         // JSON pointer of the value in the report
  std::string exact;       // the value as the JSON writes it
  bool highlight = false;  // drawn in the warning colour
};

/// Horizontal bars, one row each, scaled to the largest finite value (non-finite values draw
/// as an empty bar labelled "-"); \p unit follows each value.
std::string svgBarChart(const std::vector<Bar>& bars, const std::string& unit);

/// A histogram over [lo, hi] with the quantizer's range [qlo, qhi] shaded when qlo < qhi.
std::string svgHistogram(const std::vector<double>& bins, double lo, double hi, double qlo, double qhi);

/// A number as the report shows it: 4 significant digits, "-" when not finite.
std::string formatNumber(double value);

}  // namespace vitq
