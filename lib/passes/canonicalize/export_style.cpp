#include "passes/canonicalize/export_style.h"

#include "exec/kernel_registry.h"
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

void eraseIfOrphan(Graph& g, Value* v) {
  if (v && v->isConstant() && !v->hasUses() && !g.isOutput(v)) g.eraseValue(v);
}

// Identity of a constant, and Dropout in inference (no training_mode input, no mask read): the
// readers read the input itself.
bool isPassThrough(const Node& n) {
  if (n.is("Identity")) return n.input(0) && n.input(0)->isConstant();
  if (!n.is("Dropout")) return false;
  if (n.numInputs() > 2 && n.input(2)) {  // training_mode: only a constant false keeps it inference
    const std::optional<double> training = scalarConstant(n.input(2));
    if (!training || *training != 0) return false;
  }
  const Value* mask = n.numOutputs() > 1 ? n.output(1) : nullptr;
  return !mask || (!mask->hasUses() && !mask->owner()->isOutput(mask));
}

size_t foldPassThroughs(Graph& g) {
  size_t folded = 0;
  for (Node* n : g.nodeList()) {
    if (n->numInputs() < 1 || !isPassThrough(*n)) continue;
    Value* in = n->input(0);
    Value* out = n->output(0);
    if (!in || !out || g.isOutput(out)) continue;
    g.replaceAllUsesWith(out, in);
    g.eraseNode(n);
    ++folded;
  }
  return folded;
}

// Ops that only move, retype or reshape a constant: computed once by their kernel, the result is
// no larger than the inputs.
bool isFoldableOp(const Node& n) {
  static const char* const ops[] = {"Transpose", "Cast", "Reshape", "Squeeze", "Unsqueeze", "Flatten"};
  if (!(n.domain().empty() || n.domain() == "ai.onnx") || n.numOutputs() != 1) return false;
  for (const char* op : ops) {
    if (n.opType() == op) return true;
  }
  return false;
}

// One pass in graph order, so that chains (Cast -> Identity -> Transpose of a weight) fold whole:
// each node's inputs are folded before it is visited.
size_t foldConstantOps(Graph& g, int64_t opset, size_t& identities) {
  size_t folded = 0;
  for (Node* n : g.nodeList()) {
    if (n->is("Identity") && isPassThrough(*n) && n->output(0) && !g.isOutput(n->output(0))) {
      g.replaceAllUsesWith(n->output(0), n->input(0));
      g.eraseNode(n);
      ++identities;
      continue;
    }
    if (!isFoldableOp(*n) || !n->output(0) || g.isOutput(n->output(0))) continue;
    std::vector<const Tensor*> inputs;
    bool constant = n->numInputs() > 0;
    for (const Value* v : n->inputs()) {
      constant = constant && (!v || v->isConstant());
      inputs.push_back(v && v->isConstant() ? &v->initializer() : nullptr);
    }
    const KernelFn* kernel = KernelRegistry::instance().find(n->domain(), n->opType());
    if (!constant || !kernel) continue;
    KernelContext ctx{*n, opset, 1, inputs, {}};
    ctx.outputs.resize(1);
    if (!(*kernel)(ctx).isOk()) continue;  // left for the run to report
    Value* out = n->output(0);
    const std::string name = out->name();
    Value* folded_value = g.addInitializer(g.uniqueName(name + "_folded"), std::move(ctx.outputs[0]));
    const std::vector<Value*> operands = n->inputs();
    g.replaceAllUsesWith(out, folded_value);
    g.eraseNode(n);
    g.renameValue(folded_value, name);
    for (Value* v : operands) eraseIfOrphan(g, v);
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

ExportStyleFixes normalizeExportStyle(Graph& graph, int64_t opset) {
  ExportStyleFixes fixes;
  fixes.frozen_inputs = freezeInitializerInputs(graph);
  fixes.folded_identities = foldPassThroughs(graph);
  fixes.folded_constants = foldConstantOps(graph, opset, fixes.folded_identities);
  for (Node* n : graph.nodeList()) {
    if (n->is("Gemm") && foldGemmScalars(graph, n)) ++fixes.folded_gemm_scalars;
  }
  fixes.unshared_biases = unshareBiases(graph);
  return fixes;
}

}  // namespace vitq
