// Histograms of float activations for the HTML report: how the values of the worst layers are
// spread, next to the range their quantizer keeps.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "calib/dataset.h"
#include "ir/graph.h"

namespace vitq {

/// The report's "activation_histograms": for each named value of \p reference, its range and
/// \p bins counts over the first \p max_samples samples (0: all), plus quant_min / quant_max
/// where \p quantized quantizes the value of the same name (the span of its Clip, or of its
/// QuantizeLinear's integer range).
StatusOr<nlohmann::json> activationHistograms(const Model& reference, const Model& quantized, const Dataset& data,
                                              const std::vector<std::string>& values, int bins, size_t max_samples,
                                              int threads);

}  // namespace vitq
