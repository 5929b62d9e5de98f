#include "passes/ptq/input_gram.h"

namespace vitq {

void addGramRows(InputGram& g, const Tensor& t) {
  const int64_t width = g.width();
  if (width == 0 || t.numel() % width != 0) return;
  const int64_t rows = t.numel() / width;
  Eigen::Map<const Eigen::MatrixXf> x(t.data<float>(), width, rows);  // one column per row of the tensor
  g.xtx += (x * x.transpose()).cast<double>();
  if (g.abs_sum.size() == width) g.abs_sum += x.cwiseAbs().rowwise().sum().cast<double>();
  g.rows += rows;
}

double outputError(const Eigen::MatrixXd& e, const Eigen::MatrixXd& h) { return (e * h).cwiseProduct(e).sum(); }

}  // namespace vitq
