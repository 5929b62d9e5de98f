#include "report/section_markdown.h"

#include <cstdio>

#include "report/svg_chart.h"

namespace vitq {
namespace {

using nlohmann::json;

std::string cell(const json& row, const char* key) {
  if (!row.contains(key)) return "-";
  const json& v = row[key];
  if (v.is_string()) return escapeMarkdown(v.get<std::string>());
  if (!v.is_number()) return "-";  // null: an infinite SQNR (nothing changed)
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", v.get<double>());
  return text;
}

}  // namespace

std::string escapeMarkdown(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '|' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '<' || c == '>' || c == '&') {
      out += escapeHtml(std::string(1, c));  // no HTML reaches a renderer
    } else if (byte < 0x20 || byte == 0x7f) {  // a line break would end the row: written out
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", byte);
      out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : hex;
    } else {
      out += c;
    }
  }
  return out;
}

std::string sensitivityMarkdown(const json& s, size_t rows) {
  std::string md = "\n### Most sensitive layers (output SQNR with only the layer quantized)\n\n"
                   "| rank | node | op | only: SQNR dB | only: top-1 | all but: SQNR dB | all but: top-1 |\n"
                   "|---|---|---|---|---|---|---|\n";
  size_t shown = 0;
  for (const auto& row : s.value("layers", json::array())) {
    if (shown++ >= rows) break;
    md += "| " + cell(row, "rank") + " | " + cell(row, "node") + " | " + cell(row, "op") + " | " +
          cell(row, "only_sqnr_db") + " | " + cell(row, "only_top1_agreement") + " | " + cell(row, "all_but_sqnr_db") +
          " | " + cell(row, "all_but_top1_agreement") + " |\n";
  }
  return md;
}

std::string budgetMarkdown(const json& b) {
  // The expression as given (checked by --budget's parser: a metric, <= or >=, a number), not escaped.
  std::string md = "\n### Budget " + b.value("expression", std::string("-")) + ": " +
                   (b.value("met", false) ? "met" : "NOT met") + " (written model " +
                   cell(b.value("final", json::object()), "budget_value") + ", uniform precision " +
                   cell(b.value("baseline", json::object()), "budget_value") + "; " + cell(b, "evaluations") +
                   " configurations scored)\n\n| layer | op | rank | from | to |\n|---|---|---|---|---|\n";
  for (const auto& k : b.value("kept", json::array())) {
    md += "| " + cell(k, "node") + " | " + cell(k, "op") + " | " + cell(k, "rank") + " | " + cell(k, "from") + " | " +
          cell(k, "to") + " |\n";
  }
  return md;
}

std::string labelledAccuracyMarkdown(const json& a) {
  return "\nTop-1 accuracy on " + cell(a, "samples") + " labelled samples: float " + cell(a, "float_top1") +
         ", quantized " + cell(a, "quantized_top1") + " (drop " + cell(a, "top1_drop") + " points)\n";
}

}  // namespace vitq
