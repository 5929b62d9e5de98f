#include "report/html_report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "report/svg_chart.h"

namespace vitq {
namespace {

using nlohmann::json;

const char* kStyle = R"CSS(
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1000px; color: #1d2430; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #d9dee7; }
table { border-collapse: collapse; margin: 8px 0; } td, th { padding: 3px 10px; border-bottom: 1px solid #eceff4; text-align: left; }
th { background: #f4f6fa; } td.r { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; } .card { border: 1px solid #d9dee7; border-radius: 6px; padding: 8px 14px; min-width: 150px; }
.card .v { font-size: 22px; font-weight: 600; } .card .k { color: #5b6474; font-size: 12px; }
.ok { color: #1b7f3b; } .bad { color: #b42318; } .muted { color: #5b6474; }
svg text { font: 11px system-ui, sans-serif; fill: #1d2430; }
rect.bar { fill: #4a78c2; } rect.bar.worst { fill: #d9822b; } rect.hbin { fill: #4a78c2; } rect.qrange { fill: #e7f0e1; }
.hists { display: flex; flex-wrap: wrap; gap: 18px; } .hists figure { margin: 0; } figcaption { font-size: 12px; color: #5b6474; max-width: 360px; word-break: break-all; }
code { font-size: 12px; }
)CSS";

// A layer's figure may be absent (a hand-written or older report): read with value(), since a const
// json's operator[] on a missing key is undefined behaviour.
double numberOr(const json& v, double fallback) { return v.is_number() ? v.get<double>() : fallback; }

// A number with its place in the report, for the page and for tests.
std::string num(const json& report, const std::string& pointer) {
  const json::json_pointer ptr(pointer);
  if (!report.contains(ptr)) return "<span class=\"muted\">-</span>";
  const json& v = report.at(ptr);
  const std::string text = v.is_number() ? formatNumber(v.get<double>()) : v.is_boolean() ? (v.get<bool>() ? "yes" : "no")
                                                                                          : "-";
  return "<span class=\"n\" data-key=\"" + escapeHtml(pointer) + "\" data-value=\"" + escapeHtml(v.dump()) + "\">" +
         text + "</span>";
}

std::string text(const json& v) { return escapeHtml(v.is_string() ? v.get<std::string>() : v.dump()); }

std::string card(const std::string& label, const std::string& value) {
  return "<div class=\"card\"><div class=\"v\">" + value + "</div><div class=\"k\">" + escapeHtml(label) + "</div></div>";
}

std::string header(const json& r) {
  std::string h = "<h1>vitq report</h1>\n<p class=\"muted\">";
  if (r.contains("model")) h += "float model <code>" + text(r["model"]) + "</code>";
  if (r.contains("output_model")) h += " &rarr; quantized <code>" + text(r["output_model"]) + "</code>";
  h += "</p>\n";
  if (r.contains("recipe")) {
    h += "<table><tr>";
    for (const auto& [k, v] : r["recipe"].items()) h += "<th>" + escapeHtml(k) + "</th>";
    h += "</tr><tr>";
    for (const auto& [k, v] : r["recipe"].items()) {
      h += "<td>" + (v.is_number() ? num(r, "/recipe/" + k) : text(v)) + "</td>";
    }
    h += "</tr></table>\n";
  }
  return h;
}

std::string modelSummary(const json& r) {
  if (!r.contains("model_summary")) return "";
  const json& m = r["model_summary"];
  std::string h = "<h2>Model</h2>\n<table>";
  h += "<tr><th>nodes</th><td class=\"r\">" + num(r, "/model_summary/nodes") + "</td></tr>";
  if (m.contains("parameters")) {
    h += "<tr><th>parameters</th><td class=\"r\">" + num(r, "/model_summary/parameters/count") + " (" +
         num(r, "/model_summary/parameters/bytes") + " bytes)</td></tr>";
  }
  for (const char* key : {"inputs", "outputs"}) {
    std::string cells;
    for (const auto& io : m.value(key, json::array())) {
      cells += (cells.empty() ? "" : "<br>") + text(io.value("name", json(""))) + ": " + text(io.value("dtype", json(""))) +
               " " + text(io.value("shape", json::array()));
    }
    h += "<tr><th>" + std::string(key) + "</th><td>" + cells + "</td></tr>";
  }
  if (m.contains("quantizable")) {
    h += "<tr><th>quantizable layers</th><td>" + num(r, "/model_summary/quantizable/count") + " " +
         text(m["quantizable"].value("by_op", json::object())) + "</td></tr>";
  }
  if (m.contains("transformer_structures")) {
    std::string cells;
    for (const auto& [kind, count] : m["transformer_structures"].items()) {
      cells += (cells.empty() ? "" : ", ") + num(r, "/model_summary/transformer_structures/" + kind) + " " + escapeHtml(kind);
    }
    h += "<tr><th>transformer structures</th><td>" + cells + "</td></tr>";
  }
  std::string ops;
  for (const auto& op : m.value("top_ops", json::array())) {
    ops += (ops.empty() ? "" : ", ") + text(op.value("op", json(""))) + " " + op.value("count", json(0)).dump();
  }
  return h + "<tr><th>most used ops</th><td>" + ops + "</td></tr></table>\n";
}

std::string summary(const json& r) {
  std::string h = "<h2>End to end</h2>\n<div class=\"cards\">";
  const json& s = r.value("summary", json::object());
  if (s.contains("output_sqnr_db")) h += card("output SQNR (dB)", num(r, "/summary/output_sqnr_db"));
  if (s.contains("output_cosine")) h += card("output cosine", num(r, "/summary/output_cosine"));
  if (s.contains("top1_agreement")) h += card("top-1 agreement with float", num(r, "/summary/top1_agreement"));
  if (s.contains("sqnr_min_db")) h += card("worst layer SQNR (dB)", num(r, "/summary/sqnr_min_db"));
  if (r.contains("accuracy")) {
    h += card("float top-1", num(r, "/accuracy/float_top1"));
    h += card("quantized top-1", num(r, "/accuracy/quantized_top1"));
    h += card("top-1 drop (points)", num(r, "/accuracy/top1_drop"));
  }
  h += "</div>\n<p class=\"muted\">on " + num(r, "/samples") + " samples</p>\n";
  if (r.contains("outputs")) {
    h += "<table><tr><th>output</th><th>SQNR dB</th><th>cosine</th><th>max abs error</th><th>top-1 agreement</th></tr>\n";
    for (size_t i = 0; i < r["outputs"].size(); ++i) {
      const std::string p = "/outputs/" + std::to_string(i);
      h += "<tr><td>" + text(r["outputs"][i]["name"]) + "</td><td class=\"r\">" + num(r, p + "/sqnr_db") +
           "</td><td class=\"r\">" + num(r, p + "/cosine") + "</td><td class=\"r\">" + num(r, p + "/max_abs_error") +
           "</td><td class=\"r\">" + num(r, p + "/top1_agreement") + "</td></tr>\n";
    }
    h += "</table>\n";
  }
  return h;
}

std::string layers(const json& r) {
  if (!r.contains("layers") || r["layers"].empty()) return "";
  std::set<std::string> worst;
  for (const auto& w : r.value("most_damaged_layers", json::array())) worst.insert(w.get<std::string>());
  std::vector<Bar> bars;
  for (size_t i = 0; i < r["layers"].size(); ++i) {
    const json& l = r["layers"][i];
    bars.push_back({l["node"].get<std::string>() + " (" + l["op"].get<std::string>() + ")",
                    numberOr(l.value("sqnr_db", json()), std::numeric_limits<double>::quiet_NaN()),
                    "/layers/" + std::to_string(i) + "/sqnr_db", l.value("sqnr_db", json()).dump(),
                    worst.count(l["value"].get<std::string>()) > 0});
  }
  std::string h = "<h2>SQNR per layer</h2>\n<p class=\"muted\">each compute layer's output against the float "
                  "model's, in graph order; orange: the ten most damaged</p>\n" + svgBarChart(bars, "dB");
  h += "<h2>Most damaged layers</h2>\n<table><tr><th>value</th><th>op</th><th>SQNR dB</th><th>cosine</th></tr>\n";
  for (const auto& name : r.value("most_damaged_layers", json::array())) {
    for (size_t i = 0; i < r["layers"].size(); ++i) {
      if (r["layers"][i]["value"] != name) continue;
      const std::string p = "/layers/" + std::to_string(i);
      h += "<tr><td>" + text(name) + "</td><td>" + text(r["layers"][i]["op"]) + "</td><td class=\"r\">" +
           num(r, p + "/sqnr_db") + "</td><td class=\"r\">" + num(r, p + "/cosine") + "</td></tr>\n";
    }
  }
  return h + "</table>\n";
}

std::string histograms(const json& r) {
  if (!r.contains("activation_histograms") || r["activation_histograms"].empty()) return "";
  std::string h = "<h2>Activation ranges of the most damaged layers</h2>\n<p class=\"muted\">float values on the "
                  "evaluation samples (square-root heights); green: the quantizer's range</p>\n<div class=\"hists\">";
  for (size_t i = 0; i < r["activation_histograms"].size(); ++i) {
    const json& a = r["activation_histograms"][i];
    const std::string p = "/activation_histograms/" + std::to_string(i);
    const std::vector<double> bins = a["bins"].get<std::vector<double>>();
    const double qlo = numberOr(a.value("quant_min", json()), 0), qhi = numberOr(a.value("quant_max", json()), 0);
    h += "<figure>" + svgHistogram(bins, a["min"].get<double>(), a["max"].get<double>(), qlo, qhi) +
         "<figcaption>" + text(a["value"]) + ": [" + num(r, p + "/min") + ", " + num(r, p + "/max") + "]";
    if (a.contains("quant_min")) h += ", quantizer [" + num(r, p + "/quant_min") + ", " + num(r, p + "/quant_max") + "]";
    h += "</figcaption></figure>\n";
  }
  return h + "</div>\n";
}

std::string sensitivity(const json& r) {
  if (!r.contains("sensitivity")) return "";
  const json& s = r["sensitivity"];
  std::string h = "<h2>Sensitivity</h2>\n<p class=\"muted\">output SQNR with only the layer quantized (ranking) "
                  "and with all but the layer quantized; fully quantized: " + num(r, "/sensitivity/all_quantized/sqnr_db") +
                  " dB; " + num(r, "/sensitivity/samples") + " samples";
  if (s.contains("seconds")) h += ", " + num(r, "/sensitivity/seconds") + " s";
  h += "</p>\n";
  std::vector<Bar> bars;
  const size_t shown = std::min<size_t>(s["layers"].size(), 40);
  for (size_t i = 0; i < shown; ++i) {
    const json& l = s["layers"][i];
    bars.push_back({"#" + l["rank"].dump() + " " + l["node"].get<std::string>(),
                    numberOr(l.value("only_sqnr_db", json()), std::numeric_limits<double>::quiet_NaN()),
                    "/sensitivity/layers/" + std::to_string(i) + "/only_sqnr_db", l.value("only_sqnr_db", json()).dump(), i < 5});
  }
  h += svgBarChart(bars, "dB");
  h += "<table><tr><th>rank</th><th>layer</th><th>op</th><th>only: SQNR dB</th><th>only: top-1</th>"
       "<th>all but: SQNR dB</th><th>all but: top-1</th></tr>\n";
  for (size_t i = 0; i < s["layers"].size(); ++i) {
    const std::string p = "/sensitivity/layers/" + std::to_string(i);
    const json& l = s["layers"][i];
    h += "<tr><td class=\"r\">" + num(r, p + "/rank") + "</td><td>" + text(l["node"]) + "</td><td>" + text(l["op"]) +
         "</td><td class=\"r\">" + num(r, p + "/only_sqnr_db") + "</td><td class=\"r\">" +
         num(r, p + "/only_top1_agreement") + "</td><td class=\"r\">" + num(r, p + "/all_but_sqnr_db") +
         "</td><td class=\"r\">" + num(r, p + "/all_but_top1_agreement") + "</td></tr>\n";
  }
  h += "</table>\n";
  if (s.contains("activations") && !s["activations"].empty()) {
    h += "<details><summary>activation quantizers alone (" + std::to_string(s["activations"].size()) +
         ")</summary><table><tr><th>rank</th><th>value</th><th>bits</th><th>SQNR dB</th><th>top-1</th></tr>\n";
    for (size_t i = 0; i < s["activations"].size(); ++i) {
      const std::string p = "/sensitivity/activations/" + std::to_string(i);
      h += "<tr><td class=\"r\">" + num(r, p + "/rank") + "</td><td>" + text(s["activations"][i]["value"]) +
           "</td><td class=\"r\">" + num(r, p + "/bits") + "</td><td class=\"r\">" + num(r, p + "/only_sqnr_db") +
           "</td><td class=\"r\">" + num(r, p + "/only_top1_agreement") + "</td></tr>\n";
    }
    h += "</table></details>\n";
  }
  return h;
}

std::string budget(const json& r) {
  if (!r.contains("budget")) return "";
  const json& b = r["budget"];
  const bool met = b.value("met", false);
  std::string h = "<h2>Accuracy budget</h2>\n<p><code>" + text(b["expression"]) + "</code>: <b class=\"" +
                  (met ? "ok\">met" : "bad\">not met") + "</b> by the written model (" +
                  num(r, "/budget/final/budget_value") + "; uniform precision: " +
                  num(r, "/budget/baseline/budget_value") + "), " + num(r, "/budget/evaluations") +
                  " configurations scored on " + num(r, "/budget/samples") + " samples in " +
                  num(r, "/budget/seconds") + " s</p>\n";
  h += "<table><tr><th>layer</th><th>op</th><th>rank</th><th>from</th><th>to</th><th>why</th></tr>\n";
  for (size_t i = 0; i < b["kept"].size(); ++i) {
    const json& k = b["kept"][i];
    h += "<tr><td>" + text(k["node"]) + "</td><td>" + text(k["op"]) + "</td><td class=\"r\">" +
         num(r, "/budget/kept/" + std::to_string(i) + "/rank") + "</td><td>" + text(k["from"]) + "</td><td>" +
         text(k["to"]) + "</td><td>" + text(k["why"]) + "</td></tr>\n";
  }
  h += "</table>\n<details><summary>search steps (" + std::to_string(b["steps"].size()) +
       ")</summary><table><tr><th>#</th><th>phase</th><th>layers</th><th>to</th><th>value</th><th>holds</th></tr>\n";
  for (size_t i = 0; i < b["steps"].size(); ++i) {
    const json& st = b["steps"][i];
    const std::string p = "/budget/steps/" + std::to_string(i);
    h += "<tr><td class=\"r\">" + std::to_string(i + 1) + "</td><td>" + text(st["phase"]) + "</td><td>" +
         (st.contains("node") ? text(st["node"]) : num(r, p + "/layers")) + "</td><td>" + text(st["to"]) +
         "</td><td class=\"r\">" + num(r, p + "/budget_value") + "</td><td>" + num(r, p + "/holds") + "</td></tr>\n";
  }
  return h + "</table></details>\n";
}

std::string passes(const json& r) {
  std::string h = "<h2>What the passes changed</h2>\n";
  if (r.contains("quantization")) {
    const json& q = r["quantization"];
    h += "<p>" + num(r, "/quantization/quantized_nodes") + " of " + num(r, "/quantization/compute_nodes") +
         " compute layers quantized; " + num(r, "/quantization/quantize_nodes") + " activation quantizers, " +
         num(r, "/quantization/weights") + " weights, " + num(r, "/quantization/biases") + " biases";
    if (q.contains("log_softmax_quantizers")) h += "; " + num(r, "/quantization/log_softmax_quantizers") + " log-sqrt2 post-Softmax quantizers";
    h += "</p>\n";
    for (const char* key : {"reparameterized_layernorms", "kept_float"}) {
      if (!q.contains(key) || q[key].empty()) continue;
      h += "<details><summary>" + std::string(key) + " (" + std::to_string(q[key].size()) + ")</summary><ul>";
      for (const auto& item : q[key]) h += "<li>" + text(item) + "</li>";
      h += "</ul></details>\n";
    }
  }
  if (r.contains("noisy_bias")) {
    h += "<details><summary>NoisyQuant bias (" + std::to_string(r["noisy_bias"].size()) +
         " activations)</summary><table><tr><th>activation</th><th>amplitude</th><th>SQNR before dB</th>"
         "<th>after dB</th></tr>\n";
    for (size_t i = 0; i < r["noisy_bias"].size(); ++i) {
      const std::string p = "/noisy_bias/" + std::to_string(i);
      h += "<tr><td>" + text(r["noisy_bias"][i]["activation"]) + "</td><td class=\"r\">" + num(r, p + "/amplitude") +
           "</td><td class=\"r\">" + num(r, p + "/sqnr_before_db") + "</td><td class=\"r\">" +
           num(r, p + "/sqnr_after_db") + "</td></tr>\n";
    }
    h += "</table></details>\n";
  }
  if (r.contains("reconstruction")) {
    h += "<details><summary>Q-HyViT block reconstruction (" + std::to_string(r["reconstruction"].size()) +
         " blocks)</summary><table><tr><th>block</th><th>loss before</th><th>after</th><th>codes changed</th>"
         "<th>seconds</th></tr>\n";
    for (size_t i = 0; i < r["reconstruction"].size(); ++i) {
      const std::string p = "/reconstruction/" + std::to_string(i);
      h += "<tr><td>" + text(r["reconstruction"][i]["block"]) + "</td><td class=\"r\">" + num(r, p + "/loss_before") +
           "</td><td class=\"r\">" + num(r, p + "/loss_after") + "</td><td class=\"r\">" + num(r, p + "/codes_changed") +
           "</td><td class=\"r\">" + num(r, p + "/seconds") + "</td></tr>\n";
    }
    h += "</table></details>\n";
  }
  return h;
}

// The JSON inside a script element, with every '<' written as \u003c (the same JSON): no "</script"
// can close the element early, and no "<!--" followed by "<script" (a model's names can hold both)
// can switch the HTML parser into the state where the closing tag no longer closes it.
std::string embeddedJson(const json& r) {
  std::string out;
  for (char c : r.dump()) {
    if (c == '<') out += "\\u003c";
    else out += c;
  }
  return out;
}

}  // namespace

std::string renderHtmlReport(const json& report) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>vitq report</title>\n<style>" +
         std::string(kStyle) + "</style></head><body>\n" + header(report) + modelSummary(report) + summary(report) + budget(report) +
         layers(report) + histograms(report) + sensitivity(report) + passes(report) +
         "<script type=\"application/json\" id=\"report-data\">" + embeddedJson(report) + "</script>\n</body></html>\n";
}

}  // namespace vitq
