// What the Hessian-aware weight methods (gptq, awq) know about a linear layer's inputs: the Gram
// matrix X^T X over the calibration rows (the layer's squared output error for a weight error E
// is tr(E X^T X E^T)) and, for AWQ, each input channel's mean magnitude.
#pragma once

#include <Eigen/Dense>

#include <cstdint>

#include "ir/tensor.h"

namespace vitq {

struct InputGram {
  Eigen::MatrixXd xtx;      // [K, K]
  Eigen::VectorXd abs_sum;  // sum of |x_c| over the rows; left empty by callers that do not need it
  int64_t rows = 0;

  explicit InputGram(int64_t width = 0, bool with_abs_sum = false)
      : xtx(Eigen::MatrixXd::Zero(width, width)), abs_sum(Eigen::VectorXd::Zero(with_abs_sum ? width : 0)) {}
  int64_t width() const { return xtx.rows(); }
};

/// Adds the rows of \p t (a float tensor whose last axis has the Gram's width) to \p g.
void addGramRows(InputGram& g, const Tensor& t);

/// tr(E H E^T): the squared output error of weight error \p e ([outputs, inputs]) on inputs with Gram \p h.
double outputError(const Eigen::MatrixXd& e, const Eigen::MatrixXd& h);

}  // namespace vitq
