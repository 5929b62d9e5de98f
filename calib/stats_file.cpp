#include "calib/stats_file.h"

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>

#include <nlohmann/json.hpp>

#include "onnx_io/atomic_file.h"

namespace vitq {
namespace {

using nlohmann::json;

constexpr const char* kFormat = "vitq-calibration-stats";
constexpr int kVersion = 1;
constexpr int kMaxBins = 1 << 20;
// Statistics are a few MB at most; anything far larger is not one of ours.
constexpr std::uintmax_t kMaxFileBytes = std::uintmax_t{1} << 30;

// Validation of one parsed document; every error names the file and the key at fault.
class Reader {
 public:
  explicit Reader(std::string label) : label_(std::move(label)) {}

  Status error(const std::string& where, const std::string& what) const {
    return invalidArgument("statistics file '" + label_ + "': " + where + " " + what);
  }

  StatusOr<const json*> member(const json& object, const std::string& key, const std::string& where) const {
    auto it = object.find(key);
    if (it == object.end()) return error(where, "has no '" + key + "'");
    return &*it;
  }

  StatusOr<size_t> count(const json& object, const std::string& key, const std::string& where) const {
    VITQ_ASSIGN_OR_RETURN(const json* v, member(object, key, where));
    if (!v->is_number_unsigned()) return error(where + "." + key, "is not a non-negative integer");
    const auto n = v->get<uint64_t>();
    if (n > std::numeric_limits<size_t>::max() / 2) return error(where + "." + key, "is out of range");
    return static_cast<size_t>(n);
  }

  StatusOr<double> finiteDouble(const json& object, const std::string& key, const std::string& where) const {
    VITQ_ASSIGN_OR_RETURN(const json* v, member(object, key, where));
    if (!v->is_number()) return error(where + "." + key, "is not a number");
    const double d = v->get<double>();
    if (!std::isfinite(d)) return error(where + "." + key, "is not finite");
    return d;
  }

  StatusOr<float> finite(const json& object, const std::string& key, const std::string& where) const {
    VITQ_ASSIGN_OR_RETURN(const double d, finiteDouble(object, key, where));
    if (std::fabs(d) > std::numeric_limits<float>::max()) return error(where + "." + key, "is not a finite float");
    return static_cast<float>(d);
  }

  // Optional (files written before they existed lack them): the sums of every sample's own
  // min and max, which must lie within [min, max] on average.
  Status sampleRanges(const json& j, const std::string& where, TensorStats& s) const {
    if (!j.contains("observations")) return Status::ok();
    VITQ_ASSIGN_OR_RETURN(size_t n, count(j, "observations", where));
    VITQ_ASSIGN_OR_RETURN(const double min_sum, finiteDouble(j, "sample_min_sum", where));
    VITQ_ASSIGN_OR_RETURN(const double max_sum, finiteDouble(j, "sample_max_sum", where));
    const double tolerance = 1e-5 * (std::fabs(static_cast<double>(s.min)) + std::fabs(static_cast<double>(s.max)));
    const double mean_min = n ? min_sum / static_cast<double>(n) : 0.0, mean_max = n ? max_sum / static_cast<double>(n) : 0.0;
    if (n > 0 && (mean_min < s.min - tolerance || mean_max > s.max + tolerance || mean_min > mean_max)) {
      return error(where, "has per-sample ranges outside [min, max]");
    }
    if (n > static_cast<size_t>(s.count)) return error(where, "has more observations than elements");
    s.observations = static_cast<int64_t>(n);
    s.sample_min_sum = min_sum;
    s.sample_max_sum = max_sum;
    return Status::ok();
  }

  StatusOr<StatsShard> shard(const json& j, const std::string& where) const {
    if (!j.is_object()) return error(where, "is not an object");
    StatsShard s;
    VITQ_ASSIGN_OR_RETURN(s.index, count(j, "index", where));
    VITQ_ASSIGN_OR_RETURN(s.count, count(j, "count", where));
    VITQ_ASSIGN_OR_RETURN(s.first_sample, count(j, "first_sample", where));
    VITQ_ASSIGN_OR_RETURN(s.samples, count(j, "samples", where));
    if (s.count == 0 || s.index >= s.count) {
      return error(where, "is shard " + std::to_string(s.index) + " of " + std::to_string(s.count));
    }
    return s;
  }

  StatusOr<TensorStats> value(const json& j, int bins, const std::string& where) const {
    if (!j.is_object()) return error(where, "is not an object");
    TensorStats s;
    VITQ_ASSIGN_OR_RETURN(s.min, finite(j, "min", where));
    VITQ_ASSIGN_OR_RETURN(s.max, finite(j, "max", where));
    VITQ_ASSIGN_OR_RETURN(size_t elements, count(j, "count", where));
    s.count = static_cast<int64_t>(elements);
    VITQ_ASSIGN_OR_RETURN(s.hist_min, finite(j, "hist_min", where));
    VITQ_ASSIGN_OR_RETURN(s.hist_max, finite(j, "hist_max", where));
    if (!(s.min <= s.max)) return error(where, "has min " + std::to_string(s.min) + " above max " + std::to_string(s.max));
    if (s.hist_min != s.min || s.hist_max != s.max) return error(where, "has a histogram range other than [min, max]");
    VITQ_ASSIGN_OR_RETURN(const json* hist, member(j, "histogram", where));
    if (!hist->is_array() || hist->size() != static_cast<size_t>(bins)) {
      return error(where + ".histogram", "is not an array of " + std::to_string(bins) + " counts");
    }
    s.histogram.reserve(static_cast<size_t>(bins));
    uint64_t total = 0;
    for (const json& c : *hist) {
      if (!c.is_number_unsigned()) return error(where + ".histogram", "holds something other than counts");
      const auto n = c.get<uint64_t>();
      if (n > std::numeric_limits<uint64_t>::max() - total) return error(where + ".histogram", "overflows");
      total += n;
      s.histogram.push_back(n);
    }
    if (total != elements) {
      return error(where, "histogram holds " + std::to_string(total) + " elements but count says " +
                              std::to_string(elements));
    }
    VITQ_RETURN_IF_ERROR(sampleRanges(j, where, s));
    return s;
  }

  StatusOr<CalibrationStats> document(const json& doc) const {
    if (!doc.is_object()) return error("the document", "is not a JSON object");
    VITQ_ASSIGN_OR_RETURN(const json* format, member(doc, "format", "the document"));
    if (!format->is_string() || format->get<std::string>() != kFormat) {
      return error("the document", std::string("is not a vitq statistics file (format is not '") + kFormat + "')");
    }
    VITQ_ASSIGN_OR_RETURN(size_t version, count(doc, "version", "the document"));
    if (version != kVersion) {
      return error("the document", "has version " + std::to_string(version) + "; this vitq reads version " +
                                       std::to_string(kVersion));
    }
    CalibrationStats stats;
    VITQ_ASSIGN_OR_RETURN(const json* fp, member(doc, "fingerprint", "the document"));
    if (!fp->is_string() || fp->get<std::string>().empty()) return error("fingerprint", "is not a string");
    stats.fingerprint = fp->get<std::string>();
    if (auto m = doc.find("model"); m != doc.end() && m->is_string()) stats.model = m->get<std::string>();
    VITQ_ASSIGN_OR_RETURN(size_t bins, count(doc, "bins", "the document"));
    if (bins < 1 || bins > static_cast<size_t>(kMaxBins)) return error("bins", "is not from 1 to " + std::to_string(kMaxBins));
    stats.bins = static_cast<int>(bins);
    VITQ_ASSIGN_OR_RETURN(const json* shards, member(doc, "shards", "the document"));
    if (!shards->is_array() || shards->empty()) return error("shards", "is not a non-empty array");
    for (size_t i = 0; i < shards->size(); ++i) {
      VITQ_ASSIGN_OR_RETURN(StatsShard s, shard((*shards)[i], "shards[" + std::to_string(i) + "]"));
      if (!stats.shards.empty() && (s.count != stats.shards.front().count || s.index <= stats.shards.back().index)) {
        return error("shards", "are not distinct shards of one split in order");
      }
      stats.shards.push_back(s);
    }
    VITQ_ASSIGN_OR_RETURN(const json* values, member(doc, "values", "the document"));
    if (!values->is_object()) return error("values", "is not an object");
    for (const auto& [name, v] : values->items()) {
      VITQ_ASSIGN_OR_RETURN(stats.values[name], value(v, stats.bins, "values['" + name + "']"));
    }
    return stats;
  }

 private:
  std::string label_;
};

}  // namespace

size_t CalibrationStats::samples() const {
  size_t n = 0;
  for (const StatsShard& s : shards) n += s.samples;
  return n;
}

bool CalibrationStats::complete() const { return !shards.empty() && shards.size() == shards.front().count; }

std::string statsToJson(const CalibrationStats& stats) {
  json doc;
  doc["format"] = kFormat;
  doc["version"] = kVersion;
  doc["fingerprint"] = stats.fingerprint;
  doc["model"] = stats.model;
  doc["bins"] = stats.bins;
  doc["shards"] = json::array();
  for (const StatsShard& s : stats.shards) {
    doc["shards"].push_back(
        {{"index", s.index}, {"count", s.count}, {"first_sample", s.first_sample}, {"samples", s.samples}});
  }
  json values = json::object();
  for (const auto& [name, s] : stats.values) {
    values[name] = {{"min", s.min},           {"max", s.max},           {"count", s.count},
                    {"hist_min", s.hist_min}, {"hist_max", s.hist_max}, {"histogram", s.histogram},
                    {"observations", s.observations}, {"sample_min_sum", s.sample_min_sum},
                    {"sample_max_sum", s.sample_max_sum}};
  }
  doc["values"] = std::move(values);
  return doc.dump(1) + "\n";
}

StatusOr<CalibrationStats> statsFromJson(std::string_view text, const std::string& label) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalidArgument("statistics file '" + label + "' is not valid JSON (truncated or corrupt)");
  return Reader(label).document(doc);
}

Status writeStatsFile(const CalibrationStats& stats, const std::filesystem::path& path) {
  AtomicFile file(path);
  VITQ_RETURN_IF_ERROR(file.write(statsToJson(stats)));
  return file.commit();
}

StatusOr<CalibrationStats> readStatsFile(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  const std::string label = path.string();
  std::error_code ec;
  if (!fs::exists(path, ec)) return invalidArgument("statistics file '" + label + "' does not exist");
  if (!fs::is_regular_file(path, ec)) return invalidArgument("statistics file '" + label + "' is not a regular file");
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) return invalidArgument("statistics file '" + label + "' cannot be read: " + ec.message());
  if (size == 0) return invalidArgument("statistics file '" + label + "' is empty");
  if (size > kMaxFileBytes) return invalidArgument("statistics file '" + label + "' is too large to be statistics");
  protectInput(path, "a statistics file this run reads");
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return invalidArgument("statistics file '" + label + "' cannot be read");
  return statsFromJson(text, label);
}

Status checkStatsBelongTo(const CalibrationStats& stats, const std::string& fingerprint, const std::string& stats_label,
                          const std::string& model_label) {
  if (stats.fingerprint == fingerprint) return Status::ok();
  return invalidArgument("statistics file '" + stats_label + "' belongs to another model (fingerprint " +
                         stats.fingerprint + ", taken on '" + stats.model + "'); '" + model_label + "' has " +
                         fingerprint);
}

}  // namespace vitq
