#include "passes/canonicalize/export_style.h"

#include "pattern/match_utils.h"

namespace vitq {
namespace {

std::vector<std::string> freezeInitializerInputs(Graph& g) {
  std::vector<std::string> frozen;
  const std::vector<Value*> inputs = g.inputs();  // copied: unmarking edits the list
  for (Value* v : inputs) {
    if (!v->isInitializer()) continue;
    g.unmarkInput(v);
    frozen.push_back(v->name());
  }
  return frozen;
}

size_t foldIdentityOfConstants(Graph& g) {
  size_t folded = 0;
  for (Node* n : g.nodeList()) {
    if (!n->is("Identity") || n->numInputs() != 1 || n->numOutputs() != 1) continue;
    Value* in = n->input(0);
    Value* out = n->output(0);
    if (!in || !in->isConstant() || !out || g.isOutput(out)) continue;
    g.replaceAllUsesWith(out, in);
    g.eraseNode(n);
    ++folded;
  }
  return folded;
}

// \p v times \p factor as a new initializer named after \p v.
Value* scaledCopy(Graph& g, const Value* v, float factor, const std::string& suffix) {
  Tensor t = v->initializer().clone();
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] *= factor;
  return g.addInitializer(g.uniqueName(v->name() + suffix), std::move(t));
}

void eraseIfOrphan(Graph& g, Value* v) {
  if (v && v->isConstant() && !v->hasUses() && !g.isOutput(v)) g.eraseValue(v);
}

bool foldGemmScalars(Graph& g, Node* gemm) {
  const float alpha = gemm->attrs().floatOr("alpha", 1.0f);
  const float beta = gemm->attrs().floatOr("beta", 1.0f);
  Value* b = gemm->input(1);
  Value* c = gemm->numInputs() > 2 ? gemm->input(2) : nullptr;
  bool changed = false;
  if (alpha != 1.0f && isFloatConstant(b)) {
    g.setInput(gemm, 1, scaledCopy(g, b, alpha, "_alpha"));
    eraseIfOrphan(g, b);
    gemm->attrs().erase("alpha");
    changed = true;
  }
  if (beta != 1.0f && c && isFloatConstant(c)) {
    g.setInput(gemm, 2, scaledCopy(g, c, beta, "_beta"));
    eraseIfOrphan(g, c);
    gemm->attrs().erase("beta");
    changed = true;
  }
  return changed;
}

// The third input of a layer that takes an int32 bias, when other nodes read it too.
size_t unshareBiases(Graph& g) {
  size_t copies = 0;
  for (Node* n : g.nodeList()) {
    if (!(n->is("Conv") || n->is("ConvTranspose") || n->is("Gemm")) || n->numInputs() < 3) continue;
    Value* b = n->input(2);
    if (!isFloatConstant(b) || b->uses().size() < 2) continue;
    const std::string name = g.uniqueName(b->name() + "_" + (n->name().empty() ? n->opType() : n->name()));
    g.setInput(n, 2, g.addInitializer(name, b->initializer().clone()));
    ++copies;
  }
  return copies;
}

}  // namespace

ExportStyleFixes normalizeExportStyle(Graph& graph) {
  ExportStyleFixes fixes;
  fixes.frozen_inputs = freezeInitializerInputs(graph);
  fixes.folded_identities = foldIdentityOfConstants(graph);
  for (Node* n : graph.nodeList()) {
    if (n->is("Gemm") && foldGemmScalars(graph, n)) ++fixes.folded_gemm_scalars;
  }
  fixes.unshared_biases = unshareBiases(graph);
  return fixes;
}

}  // namespace vitq
