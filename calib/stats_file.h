// Calibration statistics saved to a file (`vitq calibrate`), merged across shards
// (`vitq merge-stats`) and used by `vitq quantize --stats` instead of a calibration run.
// The file is JSON (format "vitq-calibration-stats", docs/stats-format.md): per activation its
// min/max and a histogram over that range, so that every range method can be chosen afterwards,
// and the fingerprint of the model it was taken on, so that it is never applied to another.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "calib/observer.h"
#include "core/status.h"

namespace vitq {

/// Which part of the calibration data a statistics file covers: samples
/// [first_sample, first_sample + samples) of the data, shard \p index of \p count.
struct StatsShard {
  size_t index = 0;
  size_t count = 1;
  size_t first_sample = 0;
  size_t samples = 0;
};

struct CalibrationStats {
  std::string fingerprint;         // modelFingerprint() of the model the statistics belong to
  std::string model;               // its path when calibrated (for people; not checked)
  int bins = 0;                    // histogram bins of every value
  std::vector<StatsShard> shards;  // sorted by index, disjoint
  std::map<std::string, TensorStats> values;

  size_t samples() const;
  /// True when every shard of the split is present.
  bool complete() const;
};

/// The JSON text of \p stats (stable key order, floats that read back exactly).
std::string statsToJson(const CalibrationStats& stats);

/// Parses and validates statistics; \p label names the source in errors.
StatusOr<CalibrationStats> statsFromJson(std::string_view text, const std::string& label);

/// Writes \p stats atomically (a temporary file renamed into place).
Status writeStatsFile(const CalibrationStats& stats, const std::filesystem::path& path);

StatusOr<CalibrationStats> readStatsFile(const std::filesystem::path& path);

/// Fails unless \p stats were taken on the model with \p fingerprint.
Status checkStatsBelongTo(const CalibrationStats& stats, const std::string& fingerprint, const std::string& stats_label,
                          const std::string& model_label);

}  // namespace vitq
