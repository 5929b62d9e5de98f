// Bias correction (NNCF's fast bias correction, Nagel et al. 2019's empirical variant): rounding a
// layer's input and weights shifts the mean of its outputs per channel. For every quantized
// Conv/MatMul/Gemm, the layer is run on the float model's input twice, exactly and with its
// input and weight quantizers applied, and the mean difference per output channel (over the
// calibration samples and positions) is added to its bias, so that the quantized layer's outputs
// are centred where the float ones are.
#pragma once

#include <string>
#include <vector>

#include "calib/dataset.h"
#include "core/status.h"
#include "ir/graph.h"
#include "quant/quant_table.h"

namespace vitq {

struct BiasCorrectionSite {
  std::string layer;
  float max_shift = 0;  // largest |correction| over the channels
  float mean_shift = 0; // mean |correction|
};

/// Corrects the biases of the quantized layers of \p model (parameters in \p table, already
/// calibrated) on \p calib. Conv biases are updated in place or added; MatMul and Gemm biases go
/// through addToLinearBias.
StatusOr<std::vector<BiasCorrectionSite>> correctBiases(Model& model, const QuantTable& table, const Dataset& calib,
                                                        int threads);

}  // namespace vitq
