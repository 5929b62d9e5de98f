// Merging the statistics of calibration shards (`vitq merge-stats`): min/max and counts combine
// exactly; histograms are re-binned onto the union range, which matches a single run over all
// the samples to within one bin of the coarsest input histogram.
#pragma once

#include <string>
#include <vector>

#include "calib/stats_file.h"

namespace vitq {

/// Merges statistics of distinct shards of one split, taken on the same model with the same
/// bins and values; \p labels name the parts in errors.
StatusOr<CalibrationStats> mergeStats(const std::vector<CalibrationStats>& parts, const std::vector<std::string>& labels);

/// Re-bins \p parts' histograms (each over its own [hist_min, hist_max]) onto \p bins equal bins
/// over the union range. Mass inside a source bin is taken as spread evenly; counts are rounded
/// on the cumulative sum, so the total is kept exactly and a lone part with the same range comes
/// back unchanged.
TensorStats mergeTensorStats(const std::vector<const TensorStats*>& parts, int bins);

}  // namespace vitq
