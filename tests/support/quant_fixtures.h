// Quantization set-ups the pass tests share: a min/max-calibrated QuantTable and the output error
// between two models.
#pragma once

#include <string>

#include "calib/dataset.h"
#include "ir/graph.h"
#include "quant/quant_table.h"

namespace vitq::test {

/// \p m's quantization plan at the given widths: per-channel weight parameters, activation ranges
/// from min/max over \p calib; fails the test on any error.
QuantTable minMaxTable(const Model& m, const Dataset& calib, int weight_bits, int activation_bits);

/// Mean squared difference of output \p output between \p a and \p b over \p data.
double outputMse(const Model& a, const Model& b, const Dataset& data, const std::string& output = "Y");

}  // namespace vitq::test
