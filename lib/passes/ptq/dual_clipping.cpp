#include "passes/ptq/dual_clipping.h"

#include <Eigen/Core>
#include <algorithm>
#include <numeric>

#include "passes/ptq/scale_reparam.h"
#include "quant/math/quantize.h"
#include "quant/math/range_search.h"

namespace vitq {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Each channel's bound is tried at these fractions of its current value.
constexpr float kShrinkFactors[] = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f, 0.3f};

RowMatrix asMatrix(const Tensor& t) {
  return Eigen::Map<const RowMatrix>(t.data<float>(), t.dim(0), t.dim(1));
}

// The folded output error on a fixed set of rows; the float outputs are computed once.
class FoldedError {
 public:
  // \p rows of the samples, evenly strided over them.
  FoldedError(const DualClipProblem& p, size_t rows) : p_(p) {
    const size_t available = p.rows->size() / static_cast<size_t>(p.channels);
    const size_t n = std::min(rows, available);
    const Eigen::Map<const RowMatrix> samples(p.rows->data(), static_cast<Eigen::Index>(available), p.channels);
    x_.resize(static_cast<Eigen::Index>(n), p.channels);
    for (size_t r = 0; r < n; ++r) x_.row(static_cast<Eigen::Index>(r)) = samples.row(static_cast<Eigen::Index>(r * available / n));
    for (const Tensor& w : p.readers) {
      weights_.push_back(asMatrix(w));
      reference_.push_back(x_ * weights_.back());
    }
  }

  // Scores with each output column's weight clipping held at its ratio to the column's |max|
  // under \p lo / \p hi, instead of searching it again for every candidate (the search's 51 steps
  // per column would dominate); the final comparison, on an evaluator without held ratios,
  // searches it.
  void holdWeightClipping(const std::vector<float>& lo, const std::vector<float>& hi) {
    clip_ratios_.clear();
    const RepqFactors f = factors(lo, hi);
    for (const RowMatrix& w : weights_) {
      const Tensor folded = foldWeights(w, f.sigma);
      const QuantParams exact = weightParams(folded);
      const QuantParams plain = minMaxColumns(folded);
      std::vector<float> ratio(exact.scale.size());
      for (size_t o = 0; o < ratio.size(); ++o) ratio[o] = plain.scale[o] > 0 ? exact.scale[o] / plain.scale[o] : 1.0f;
      clip_ratios_.push_back(std::move(ratio));
    }
  }

  double operator()(const std::vector<float>& lo, const std::vector<float>& hi) const {
    const Eigen::Index n = x_.rows(), c = x_.cols();
    if (n == 0) return 0.0;
    const RepqFactors f = factors(lo, hi);
    const float s = f.per_tensor.scale[0];
    const int32_t z = f.per_tensor.zero_point[0];
    // The folded activation X' = (X - delta) / sigma through its per-tensor quantizer.
    RowMatrix xq(n, c);
    for (Eigen::Index r = 0; r < n; ++r) {
      for (Eigen::Index k = 0; k < c; ++k) {
        const auto ch = static_cast<size_t>(k);
        const float folded = (x_(r, k) - f.delta[ch]) / f.sigma[ch];
        xq(r, k) = dequantizeValue(quantizeValue(folded, s, z, p_.activation.qmin(), p_.activation.qmax()), s, z);
      }
    }
    double sum = 0;
    for (size_t i = 0; i < weights_.size(); ++i) {
      const RowMatrix& w = weights_[i];
      const Tensor folded = foldWeights(w, f.sigma);
      QuantParams wp = clip_ratios_.empty() ? weightParams(folded) : minMaxColumns(folded);
      for (size_t o = 0; o < wp.scale.size() && !clip_ratios_.empty(); ++o) wp.scale[o] *= clip_ratios_[i][o];
      const Tensor wq = fakeQuantizeTensor(folded, wp, p_.weight);
      // The fold's bias shift delta W keeps the float output unchanged.
      Eigen::RowVectorXf shift = Eigen::RowVectorXf::Zero(w.cols());
      for (Eigen::Index k = 0; k < c; ++k) shift += w.row(k) * f.delta[static_cast<size_t>(k)];
      const RowMatrix out = (xq * asMatrix(wq)).rowwise() + shift;
      sum += static_cast<double>((out - reference_[i]).squaredNorm());
    }
    return sum / static_cast<double>(n);
  }

 private:
  RepqFactors factors(const std::vector<float>& lo, const std::vector<float>& hi) const {
    return repqFactorsFromRanges(lo, hi, p_.activation, p_.median_scale);
  }

  static Tensor foldWeights(const RowMatrix& w, const std::vector<float>& sigma) {
    Tensor folded(DataType::kFloat, {w.rows(), w.cols()});
    Eigen::Map<RowMatrix> m(folded.data<float>(), w.rows(), w.cols());
    for (Eigen::Index k = 0; k < w.rows(); ++k) m.row(k) = w.row(k) * sigma[static_cast<size_t>(k)];
    return folded;
  }

  QuantParams weightParams(const Tensor& w) const {
    return p_.weight_mse ? mseWeightParams(w, p_.weight) : minMaxColumns(w);
  }

  QuantParams minMaxColumns(const Tensor& w) const {
    const Eigen::Map<const RowMatrix> m(w.data<float>(), w.dim(0), w.dim(1));
    std::vector<float> lo(static_cast<size_t>(w.dim(1))), hi(lo.size());
    for (Eigen::Index o = 0; o < m.cols(); ++o) {
      lo[static_cast<size_t>(o)] = std::min(m.col(o).minCoeff(), 0.0f);
      hi[static_cast<size_t>(o)] = std::max(m.col(o).maxCoeff(), 0.0f);
    }
    return paramsFromRanges(lo, hi, p_.weight);
  }

  const DualClipProblem& p_;
  RowMatrix x_;
  std::vector<RowMatrix> weights_, reference_;
  std::vector<std::vector<float>> clip_ratios_;  // per reader and output column, when held
};

}  // namespace

double foldedOutputError(const DualClipProblem& problem, const std::vector<float>& lo, const std::vector<float>& hi,
                         size_t rows) {
  return FoldedError(problem, rows)(lo, hi);
}

DualClipResult searchDualClipping(const DualClipProblem& problem, const std::vector<float>& lo,
                                  const std::vector<float>& hi, const DualClipOptions& o) {
  const auto c = static_cast<size_t>(problem.channels);
  const FoldedError all(problem, problem.rows->size());
  DualClipResult result{lo, hi, 0, 0, 0};
  result.loss_before = all(lo, hi);
  result.loss_after = result.loss_before;

  // Only channels wider than the median enlarge the folded weight rows beyond the others'.
  std::vector<float> width(c);
  for (size_t k = 0; k < c; ++k) width[k] = std::max(hi[k], 0.0f) - std::min(lo[k], 0.0f);
  std::vector<size_t> order(c);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&width](size_t a, size_t b) { return width[a] > width[b]; });
  std::vector<float> sorted = width;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(c / 2), sorted.end());
  const float median = c ? sorted[c / 2] : 0.0f;
  std::vector<size_t> candidates;
  for (size_t k : order) {
    if (static_cast<int>(candidates.size()) >= o.max_channels || !(width[k] > median)) break;
    candidates.push_back(k);
  }
  if (candidates.empty()) return result;

  FoldedError search(problem, o.search_rows);
  if (problem.weight_mse) search.holdWeightClipping(lo, hi);
  std::vector<float> best_lo = lo, best_hi = hi;
  double best = search(best_lo, best_hi);
  for (int sweep = 0; sweep < o.sweeps; ++sweep) {
    for (size_t k : candidates) {
      for (std::vector<float>* side : {&best_hi, &best_lo}) {
        const float bound = (*side)[k];
        if (bound == 0.0f) continue;
        float chosen = bound;
        for (float factor : kShrinkFactors) {
          (*side)[k] = bound * factor;
          const double loss = search(best_lo, best_hi);
          if (loss < best) {
            best = loss;
            chosen = (*side)[k];
          }
        }
        (*side)[k] = chosen;
      }
    }
  }
  const double final_loss = all(best_lo, best_hi);
  if (!(final_loss < result.loss_before)) return result;
  for (size_t k = 0; k < c; ++k) result.clipped_channels += best_lo[k] != lo[k] || best_hi[k] != hi[k];
  result.lo = std::move(best_lo);
  result.hi = std::move(best_hi);
  result.loss_after = final_loss;
  return result;
}

}  // namespace vitq
