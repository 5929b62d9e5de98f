#include "passes/canonicalize/fold_batchnorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "pattern/match_utils.h"

namespace vitq {
namespace {


bool foldOne(Graph& g, Node* conv) {
  if (!conv->is("Conv") || conv->numOutputs() != 1) return false;
  Node* bn = soleUser(conv->output(0));
  if (!bn || !bn->is("BatchNormalization") || bn->input(0) != conv->output(0)) return false;
  if (bn->attrs().intOr("training_mode", 0) != 0) return false;
  for (size_t i = 1; i < bn->numOutputs(); ++i) {
    if (bn->output(i) && (bn->output(i)->hasUses() || g.isOutput(bn->output(i)))) return false;
  }
  Value* w = conv->input(1);
  Value* b = conv->input(2);
  if (!isFloatConstant(w) || w->uses().size() != 1 || (b && (!isFloatConstant(b) || b->uses().size() != 1))) return false;
  const int64_t m = w->initializer().dim(0);
  for (size_t i = 1; i <= 4; ++i) {
    if (!isFloatConstant(bn->input(i)) || bn->input(i)->initializer().numel() != m) return false;
  }
  const float* gamma = bn->input(1)->initializer().data<float>();
  const float* beta = bn->input(2)->initializer().data<float>();
  const float* mean = bn->input(3)->initializer().data<float>();
  const float* var = bn->input(4)->initializer().data<float>();
  const double eps = bn->attrs().floatOr("epsilon", 1e-5f);
  Tensor new_w = w->initializer().clone();
  Tensor new_b(DataType::kFloat, {m});
  const int64_t per_channel = new_w.numel() / m;
  for (int64_t c = 0; c < m; ++c) {
    const double a = gamma[c] / std::sqrt(static_cast<double>(var[c]) + eps);
    float* wc = new_w.data<float>() + c * per_channel;
    for (int64_t i = 0; i < per_channel; ++i) wc[i] = static_cast<float>(wc[i] * a);
    const double bias = b ? b->initializer().data<float>()[c] : 0.0;
    new_b.data<float>()[c] = static_cast<float>((bias - mean[c]) * a + beta[c]);
  }
  Value* w2 = g.addInitializer(w->name() + "_bnfolded", std::move(new_w));
  Value* b2 = g.addInitializer((b ? b->name() : conv->output(0)->name() + "_bias") + "_bnfolded", std::move(new_b));
  g.setInput(conv, 1, w2);
  if (conv->numInputs() > 2) g.setInput(conv, 2, b2);
  else g.appendInput(conv, b2);
  const std::string bn_name = bn->output(0)->name();
  const std::vector<Value*> bn_params = {bn->input(1), bn->input(2), bn->input(3), bn->input(4)};
  Value* conv_out = conv->output(0);
  g.replaceAllUsesWith(bn->output(0), conv_out);
  g.eraseNode(bn);
  g.renameValue(conv_out, bn_name);
  // Each value once: BatchNorm parameters may share one initializer.
  std::vector<Value*> unused;
  for (Value* v : {bn_params[0], bn_params[1], bn_params[2], bn_params[3], w, b}) {
    if (std::find(unused.begin(), unused.end(), v) == unused.end()) unused.push_back(v);
  }
  for (Value* old : unused) {
    if (old && !old->hasUses() && !old->isGraphInput() && !g.isOutput(old)) g.eraseValue(old);
  }
  return true;
}

}  // namespace

size_t foldBatchNorms(Graph& graph) {
  size_t folded = 0;
  // Convs first: folding erases BatchNorm nodes, which a snapshot of all nodes would still visit.
  std::vector<Node*> convs;
  for (Node* node : graph.nodeList()) {
    if (node->is("Conv")) convs.push_back(node);
  }
  for (Node* conv : convs) folded += foldOne(graph, conv) ? 1 : 0;
  return folded;
}

}  // namespace vitq
