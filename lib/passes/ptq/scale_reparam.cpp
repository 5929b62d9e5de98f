#include "passes/ptq/scale_reparam.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "passes/ptq/linear_rewrite.h"
#include "quant/math/quantize.h"
#include "pattern/match_utils.h"

namespace vitq {
namespace {


// A per-channel vector from a constant broadcast along the last axis (numel 1 or channels).
bool channelVector(const Value* v, int64_t channels, float fill, std::vector<float>& out) {
  out.assign(static_cast<size_t>(channels), fill);
  if (!v) return true;
  if (!isFloatConstant(v)) return false;
  const Tensor& t = v->initializer();
  if (t.numel() == 1) {
    std::fill(out.begin(), out.end(), t.data<float>()[0]);
    return true;
  }
  if (t.numel() != channels || t.shape().back() != channels) return false;
  std::copy(t.data<float>(), t.data<float>() + channels, out.begin());
  return true;
}

// The decomposed LayerNorm's node that reads \p constant.
Node* nodeReading(const LayerNormMatch& m, const Value* constant) {
  for (Node* n : m.nodes) {
    for (const Value* in : n->inputs()) {
      if (in == constant) return n;
    }
  }
  return nullptr;
}

// bias' = bias + alpha * delta W for one consumer (W as stored, before the rewrite).
std::vector<float> biasDelta(const Node& n, const Tensor& w, const std::vector<float>& delta) {
  const bool trans = n.is("Gemm") && n.attrs().intOr("transB", 0);
  const int64_t k = trans ? w.dim(1) : w.dim(0), out = trans ? w.dim(0) : w.dim(1);
  const float alpha = n.is("Gemm") ? n.attrs().floatOr("alpha", 1.0f) : 1.0f;
  std::vector<double> acc(static_cast<size_t>(out), 0.0);
  const float* p = w.data<float>();
  for (int64_t c = 0; c < k; ++c) {
    const double d = delta[static_cast<size_t>(c)];
    if (d == 0) continue;
    for (int64_t o = 0; o < out; ++o) acc[static_cast<size_t>(o)] += d * (trans ? p[o * k + c] : p[c * out + o]);
  }
  std::vector<float> result(acc.size());
  for (size_t o = 0; o < acc.size(); ++o) result[o] = static_cast<float>(alpha * acc[o]);
  return result;
}

}  // namespace

std::vector<ChannelFoldSite> findChannelFoldSites(const Graph& graph) {
  std::vector<ChannelFoldSite> sites;
  for (LayerNormMatch& m : findLayerNorms(graph)) {
    if (!m.output || graph.isOutput(m.output) || !m.output->hasUses()) continue;
    ChannelFoldSite site;
    bool ok = true;
    for (Node* user : usersOf(m.output)) {
      if (user->is("Shape") || user->is("Size")) continue;  // read only the shape, which stays
      const int64_t c = linearInputChannels(*user, m.output);
      if (c <= 0 || (site.channels && c != site.channels)) ok = false;
      site.channels = c;
      site.consumers.push_back(user);
    }
    std::vector<float> probe;
    ok = ok && channelVector(m.gamma, site.channels, 1.0f, probe) && channelVector(m.beta, site.channels, 0.0f, probe);
    if (!ok || site.consumers.empty()) continue;
    site.norm = std::move(m);
    sites.push_back(std::move(site));
  }
  return sites;
}

std::vector<Tensor> readerWeightMatrices(const ChannelFoldSite& site) {
  std::vector<Tensor> matrices;
  for (const Node* n : site.consumers) {
    const Tensor& w = n->input(1)->initializer();
    const bool trans = n->is("Gemm") && n->attrs().intOr("transB", 0);
    const float alpha = n->is("Gemm") ? n->attrs().floatOr("alpha", 1.0f) : 1.0f;
    const int64_t c = site.channels, out = trans ? w.dim(0) : w.dim(1);
    Tensor m(DataType::kFloat, {c, out});
    const float* p = w.data<float>();
    float* dst = m.data<float>();
    for (int64_t i = 0; i < c; ++i) {
      for (int64_t o = 0; o < out; ++o) dst[i * out + o] = alpha * (trans ? p[o * c + i] : p[i * out + o]);
    }
    matrices.push_back(std::move(m));
  }
  return matrices;
}

StatusOr<Value*> foldChannelTransform(Graph& g, const ChannelFoldSite& site, const std::vector<float>& sigma,
                                      const std::vector<float>& delta) {
  const int64_t channels = site.channels;
  if (static_cast<int64_t>(sigma.size()) != channels || static_cast<int64_t>(delta.size()) != channels) {
    return invalidArgument("channel transform for '" + site.norm.output->name() + "' needs " +
                           std::to_string(channels) + " factors");
  }
  for (float s : sigma) {
    if (!(s > 0) || !std::isfinite(s)) return invalidArgument("channel scales must be positive and finite");
  }
  // Consumers first: they read the weights and biases as they are now.
  for (Node* n : site.consumers) {
    Value* w = n->input(1);
    const std::vector<float> add = biasDelta(*n, w->initializer(), delta);
    Value* w2 = g.addInitializer(g.uniqueName(w->name() + "_reparam"), scaleLinearInputRows(*n, w->initializer(), sigma));
    g.setInput(n, 1, w2);
    eraseIfUnused(g, w);
    addToLinearBias(g, n, add);
  }
  std::vector<float> gamma, beta;
  channelVector(site.norm.gamma, channels, 1.0f, gamma);
  channelVector(site.norm.beta, channels, 0.0f, beta);
  for (int64_t c = 0; c < channels; ++c) {
    const size_t i = static_cast<size_t>(c);
    gamma[i] /= sigma[i];
    beta[i] = (beta[i] - delta[i]) / sigma[i];
  }
  const std::string base = site.norm.output->name();
  Value* g2 = g.addInitializer(g.uniqueName(base + "_reparam_gamma"), Tensor::fromVector<float>(gamma, {channels}));
  Value* b2 = g.addInitializer(g.uniqueName(base + "_reparam_beta"), Tensor::fromVector<float>(beta, {channels}));
  Value* out = site.norm.output;
  if (site.norm.fused) {
    Node* ln = site.norm.nodes.front();
    g.setInput(ln, 1, g2);
    setOrAppendInput(g, ln, 2, b2);
  } else {
    if (site.norm.gamma) replaceInputConstant(g, nodeReading(site.norm, site.norm.gamma), site.norm.gamma, g2);
    if (site.norm.beta) replaceInputConstant(g, nodeReading(site.norm, site.norm.beta), site.norm.beta, b2);
    // Without an affine of their own, the new factors get nodes of their own after the output.
    if (!site.norm.gamma) out = appendAffine(g, out, "Mul", g2);
    if (!site.norm.beta) out = appendAffine(g, out, "Add", b2);
  }
  eraseIfUnused(g, site.norm.gamma);
  eraseIfUnused(g, site.norm.beta);
  return out;
}

RepqFactors repqFactors(const QuantParams& pc, const std::vector<bool>& degenerate, bool median_scale) {
  std::vector<float> scales;
  double zero_sum = 0;
  for (size_t c = 0; c < pc.scale.size(); ++c) {
    if (degenerate[c]) continue;
    scales.push_back(pc.scale[c]);
    zero_sum += pc.zero_point[c];
  }
  RepqFactors f;
  f.sigma.assign(pc.scale.size(), 1.0f);
  f.delta.assign(pc.scale.size(), 0.0f);
  f.per_tensor.scale = {1.0f};
  f.per_tensor.zero_point = {0};
  if (scales.empty()) return f;
  float target;
  if (median_scale) {
    std::vector<float> sorted = scales;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(sorted.size() / 2), sorted.end());
    target = sorted[sorted.size() / 2];
  } else {
    target = static_cast<float>(std::accumulate(scales.begin(), scales.end(), 0.0) / static_cast<double>(scales.size()));
  }
  const int32_t zero = static_cast<int32_t>(std::lround(zero_sum / static_cast<double>(scales.size())));
  f.per_tensor.scale = {target};
  f.per_tensor.zero_point = {zero};
  for (size_t c = 0; c < pc.scale.size(); ++c) {
    if (degenerate[c]) continue;
    f.sigma[c] = pc.scale[c] / target;
    f.delta[c] = f.sigma[c] * target * static_cast<float>(zero - pc.zero_point[c]);
  }
  return f;
}

RepqFactors repqFactorsFromRanges(const std::vector<float>& lo, const std::vector<float>& hi, const QuantSpec& spec,
                                  bool median_scale) {
  std::vector<bool> degenerate;
  for (size_t c = 0; c < lo.size(); ++c) degenerate.push_back(!(std::max(hi[c], 0.0f) > std::min(lo[c], 0.0f)));
  return repqFactors(paramsFromRanges(lo, hi, spec), degenerate, median_scale);
}

}  // namespace vitq
