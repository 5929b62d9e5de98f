// AdaRound (algorithms.md section 10.1): learned up/down rounding of weights on a fixed uniform grid.
// A weight w with scale s and zero point z is written as
//   w~ = s (clamp(floor(w / s) + h(V) + z, qmin, qmax) - z),  h(V) = clamp(sigmoid(V)(zeta - gamma) + gamma, 0, 1)
// and V is optimized; the regularizer lambda sum (1 - |2h - 1|^beta) pushes h to 0 or 1, with beta
// annealed from 20 to 2 after a warm-up without regularization. The final codes take h = [V >= 0].
// Pure arithmetic, no graph: the reconstruction pass (passes/ptq/block_reconstruction.h) supplies
// the gradient of its loss with respect to w~.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/tensor.h"
#include "quant/quant_spec.h"

namespace vitq {

struct AdaRoundConstants {
  static constexpr float kZeta = 1.1f;
  static constexpr float kGamma = -0.1f;
};

/// The rectified sigmoid h(V) and its derivative dh/dV (0 where h is clamped).
float adaroundH(float v);
float adaroundDh(float v);
/// V with h(V) = \p frac (frac in [0, 1)), AdaRound's initialization.
float adaroundInitV(float frac);

/// beta at iteration \p t of \p total, and whether the regularizer is on (after the warm-up).
struct RoundingSchedule {
  int total = 1;
  float warmup = 0.2f;
  float beta_start = 20.0f;
  float beta_end = 2.0f;
  bool regularized(int t) const;
  float beta(int t) const;
};

/// One weight tensor under learned rounding: floor(w / s) per element, the channel's scale and zero
/// point, and the variables V. Channels follow params.axis (per-tensor when -1).
class AdaRoundWeight {
 public:
  AdaRoundWeight(const Tensor& w, const QuantParams& params, const QuantSpec& spec);

  /// w~ with the soft rounding h(V).
  Tensor soft() const;
  /// w with hard rounding: [V >= 0] (learned), or round-half-even (nearest, the starting point).
  Tensor hard() const;
  Tensor nearest() const;
  /// Integer codes of hard() (before the zero point is subtracted).
  std::vector<int32_t> hardCodes() const;

  /// dLoss/dV from dLoss/dw~ (same shape as the weight) plus the regularizer's gradient
  /// (lambda, beta; lambda 0: none), written into \p grad_v. Returns the regularizer's value.
  double gradient(const Tensor& grad_w, float lambda, float beta, std::vector<float>& grad_v) const;

  std::vector<float>& v() { return v_; }
  const std::vector<float>& v() const { return v_; }
  int64_t numel() const { return static_cast<int64_t>(v_.size()); }
  /// Elements whose learned code differs from the nearest one.
  int64_t flipped() const;

 private:
  size_t channelOf(int64_t i) const;
  Shape shape_;
  std::vector<float> w_;
  std::vector<float> floor_;  // floor(w / s)
  std::vector<float> v_;
  std::vector<float> scale_;
  std::vector<int32_t> zero_;
  int64_t channels_ = 1, inner_ = 1;
  int32_t qmin_ = 0, qmax_ = 0;
};

/// Adam (Kingma & Ba) over one parameter vector, deterministic (fixed update order, float state).
class Adam {
 public:
  explicit Adam(size_t n, float lr, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f)
      : m_(n, 0.0f), s_(n, 0.0f), lr_(lr), b1_(beta1), b2_(beta2), eps_(eps) {}
  void step(std::vector<float>& params, const std::vector<float>& grad);

 private:
  std::vector<float> m_, s_;
  float lr_, b1_, b2_, eps_;
  int t_ = 0;
};

}  // namespace vitq
