// gptq (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
// Transformers", 2023): the weights of every quantized MatMul/Gemm/Conv are rounded one input column at
// a time on the grid the calibrate step chose (its per-channel scales stay), and each column's
// rounding error is pushed onto the columns not yet rounded, weighted by the inverse Hessian of the
// layer's squared output error, H = 2 X^T X over the calibration inputs X. No gradients: layers
// are taken in waves (one past the deepest layer upstream of the input); one model run per wave
// collects X^T X with the earlier waves' weights already rounded, then each layer is a dense
// Cholesky-based loop.
//
//   before: W (float) --materialize-qdq--> round(W / s)            (nearest: each error alone)
//   after:  W' = s (q - z), q chosen column by column           (errors compensated through H)
//
// Per output channel c and input column i (columns in blocks of `block_size`, optionally in order
// of decreasing H_ii, "act-order"), with U the upper Cholesky factor of (H + damp mean(diag H) I)^-1:
//   q_ci = quant(W_ci);  e_c = (W_ci - q_ci) / U_ii;  W_cj -= e_c U_ij  for j > i.
// The written model holds W' on the grid, so materialize-qdq exports exactly those codes.
#pragma once

#include <Eigen/Dense>

#include <string>
#include <vector>

#include "calib/dataset.h"
#include "ir/graph.h"
#include "quant/quant_table.h"

namespace vitq {

struct GptqOptions {
  double damp = 0.01;      // added to diag(H) as this fraction of its mean (the paper's 1 %)
  int block_size = 128;    // columns updated lazily together
  bool act_order = false;  // columns in order of decreasing H_ii (the paper's "act-order")
  size_t samples = 128;    // calibration samples whose inputs build H (the first N)
  // true: layers are rounded in waves, each layer's X from the model with the weights of the
  // layers before it already rounded (the GPTQ paper's sequential order); false: every X from the
  // float model in one run.
  bool sequential = true;
  int threads = 1;
};

struct GptqLayerReport {
  std::string layer;
  std::string weight;
  int64_t rows = 0;  // input rows that built H
  // The layer's squared output error on those rows, tr((W - Wq) H (W - Wq)^T) / rows, with
  // round-to-nearest and with GPTQ's codes.
  double error_nearest = 0;
  double error_gptq = 0;
  bool kept_nearest = false;  // GPTQ was not better (or H was not positive definite)
  double weight_sqnr_db = 0;  // the written weight against the float one it was given
};

/// The grid of every element of a [outputs, inputs] weight matrix: its scale and zero point (one per
/// output row, per block of a row, or one for all), codes in [qmin, qmax].
struct WeightGrid {
  Eigen::MatrixXf scale;
  Eigen::MatrixXi zero_point;
  int32_t qmin = 0, qmax = 0;
  double dequantized(int64_t r, int64_t c, double v) const;  // s (q - z) of v's nearest code
};

/// GPTQ on one matrix \p w ([outputs, inputs]) on \p grid with the input Gram matrix \p h
/// ([inputs, inputs], X^T X); returns the dequantized weights s (q - z). Fails when H stays
/// singular after damping.
StatusOr<Eigen::MatrixXd> gptqQuantize(const Eigen::MatrixXd& w, const Eigen::MatrixXd& h, const WeightGrid& grid,
                                       const GptqOptions& options);

/// Runs GPTQ on the weights of every quantized MatMul and Gemm of \p model (2-D constant weights
/// in \p table, used by that node alone) and Conv (2-D, group 1, explicit or VALID padding, patches
/// of at most 2304 values: X is the input's im2col, at most 4096 evenly spaced positions per sample) with X^T X from \p calib (through the model with the
/// earlier layers' weights rounded, or the float model), and writes the chosen weights back into
/// the initializers on their grid.
StatusOr<std::vector<GptqLayerReport>> gptqWeights(Model& model, const QuantTable& table, const Dataset& calib,
                                                   const GptqOptions& options);

}  // namespace vitq
