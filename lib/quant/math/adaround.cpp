#include "quant/math/adaround.h"

#include <algorithm>
#include <cmath>

#include "quant/math/quantize.h"

namespace vitq {

float adaroundH(float v) {
  const float sig = 1.0f / (1.0f + std::exp(-v));
  return std::clamp(sig * (AdaRoundConstants::kZeta - AdaRoundConstants::kGamma) + AdaRoundConstants::kGamma, 0.0f, 1.0f);
}

float adaroundDh(float v) {
  const float sig = 1.0f / (1.0f + std::exp(-v));
  const float h = sig * (AdaRoundConstants::kZeta - AdaRoundConstants::kGamma) + AdaRoundConstants::kGamma;
  if (h <= 0.0f || h >= 1.0f) return 0.0f;
  return sig * (1.0f - sig) * (AdaRoundConstants::kZeta - AdaRoundConstants::kGamma);
}

float adaroundInitV(float frac) {
  const float f = std::clamp(frac, 0.0f, 1.0f);
  return -std::log((AdaRoundConstants::kZeta - AdaRoundConstants::kGamma) / (f - AdaRoundConstants::kGamma) - 1.0f);
}

bool RoundingSchedule::regularized(int t) const { return t >= static_cast<int>(warmup * static_cast<float>(total)); }

float RoundingSchedule::beta(int t) const {
  const int tw = static_cast<int>(warmup * static_cast<float>(total));
  if (t < tw || total <= tw) return beta_start;
  const float progress = static_cast<float>(t - tw) / static_cast<float>(total - tw);
  return beta_end + (beta_start - beta_end) * (1.0f - progress);
}

AdaRoundWeight::AdaRoundWeight(const Tensor& w, const QuantParams& params, const QuantSpec& spec)
    : shape_(w.shape()), scale_(params.scale), zero_(params.zero_point), qmin_(spec.qmin()), qmax_(spec.qmax()) {
  if (params.perChannel()) {
    channels_ = w.dim(params.axis);
    for (int64_t d = params.axis + 1; d < w.rank(); ++d) inner_ *= w.dim(d);
  }
  const float* src = w.data<float>();
  w_.assign(src, src + w.numel());
  floor_.resize(w_.size());
  v_.resize(w_.size());
  for (size_t i = 0; i < w_.size(); ++i) {
    const size_t c = channelOf(static_cast<int64_t>(i));
    const float x = w_[i] / scale_[c];
    floor_[i] = std::floor(x);
    v_[i] = adaroundInitV(x - floor_[i]);
  }
}

size_t AdaRoundWeight::channelOf(int64_t i) const { return static_cast<size_t>((i / inner_) % channels_); }

Tensor AdaRoundWeight::soft() const {
  Tensor t(DataType::kFloat, shape_);
  float* dst = t.data<float>();
  for (size_t i = 0; i < v_.size(); ++i) {
    const size_t c = channelOf(static_cast<int64_t>(i));
    const float code = std::clamp(floor_[i] + adaroundH(v_[i]) + static_cast<float>(zero_[c]),
                                  static_cast<float>(qmin_), static_cast<float>(qmax_));
    dst[i] = scale_[c] * (code - static_cast<float>(zero_[c]));
  }
  return t;
}

std::vector<int32_t> AdaRoundWeight::hardCodes() const {
  std::vector<int32_t> codes(v_.size());
  for (size_t i = 0; i < v_.size(); ++i) {
    const size_t c = channelOf(static_cast<int64_t>(i));
    const int64_t code = static_cast<int64_t>(floor_[i]) + (v_[i] >= 0.0f ? 1 : 0) + zero_[c];
    codes[i] = static_cast<int32_t>(std::clamp<int64_t>(code, qmin_, qmax_));
  }
  return codes;
}

Tensor AdaRoundWeight::hard() const {
  Tensor t(DataType::kFloat, shape_);
  const std::vector<int32_t> codes = hardCodes();
  for (size_t i = 0; i < codes.size(); ++i) {
    const size_t c = channelOf(static_cast<int64_t>(i));
    t.data<float>()[i] = dequantizeValue(codes[i], scale_[c], zero_[c]);
  }
  return t;
}

Tensor AdaRoundWeight::nearest() const {
  Tensor t(DataType::kFloat, shape_);
  for (size_t i = 0; i < w_.size(); ++i) {
    const size_t c = channelOf(static_cast<int64_t>(i));
    t.data<float>()[i] = dequantizeValue(quantizeValue(w_[i], scale_[c], zero_[c], qmin_, qmax_), scale_[c], zero_[c]);
  }
  return t;
}

int64_t AdaRoundWeight::flipped() const {
  const std::vector<int32_t> codes = hardCodes();
  int64_t n = 0;
  for (size_t i = 0; i < codes.size(); ++i) {
    const size_t c = channelOf(static_cast<int64_t>(i));
    n += codes[i] != quantizeValue(w_[i], scale_[c], zero_[c], qmin_, qmax_);
  }
  return n;
}

double AdaRoundWeight::gradient(const Tensor& grad_w, float lambda, float beta, std::vector<float>& grad_v) const {
  grad_v.assign(v_.size(), 0.0f);
  const float* g = grad_w.data<float>();
  double reg = 0.0;
  for (size_t i = 0; i < v_.size(); ++i) {
    const size_t c = channelOf(static_cast<int64_t>(i));
    const float h = adaroundH(v_[i]);
    const float dh = adaroundDh(v_[i]);
    const float pre = floor_[i] + h + static_cast<float>(zero_[c]);
    float gv = (pre < static_cast<float>(qmin_) || pre > static_cast<float>(qmax_)) ? 0.0f : g[i] * scale_[c] * dh;
    if (lambda > 0.0f) {
      const float u = 2.0f * h - 1.0f;
      const float a = std::fabs(u);
      reg += lambda * (1.0 - std::pow(static_cast<double>(a), static_cast<double>(beta)));
      if (a > 0.0f) {
        const float dreg_dh = -lambda * beta * std::pow(a, beta - 1.0f) * (u > 0.0f ? 2.0f : -2.0f);
        gv += dreg_dh * dh;
      }
    }
    grad_v[i] = gv;
  }
  return reg;
}

void Adam::step(std::vector<float>& params, const std::vector<float>& grad) {
  ++t_;
  const float c1 = 1.0f - std::pow(b1_, static_cast<float>(t_));
  const float c2 = 1.0f - std::pow(b2_, static_cast<float>(t_));
  for (size_t i = 0; i < params.size(); ++i) {
    m_[i] = b1_ * m_[i] + (1.0f - b1_) * grad[i];
    s_[i] = b2_ * s_[i] + (1.0f - b2_) * grad[i] * grad[i];
    params[i] -= lr_ * (m_[i] / c1) / (std::sqrt(s_[i] / c2) + eps_);
  }
}

}  // namespace vitq
