#include "report/section_markdown.h"

#include <cstdio>

namespace vitq {
namespace {

using nlohmann::json;

std::string cell(const json& row, const char* key) {
  if (!row.contains(key)) return "-";
  const json& v = row[key];
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_number()) return "-";  // null: an infinite SQNR (nothing changed)
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", v.get<double>());
  return text;
}

}  // namespace

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
  std::string md = "\n### Budget " + cell(b, "expression") + ": " +
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
