#include "passes/canonicalize/export_style.h"

#include <cctype>

#include "exec/kernel_registry.h"
#include "passes/ptq/linear_rewrite.h"
#include "pattern/match_utils.h"
#include "quant/op_rules.h"

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
size_t foldConstantOps(Graph& g, int64_t opset, size_t& pass_throughs) {
  size_t folded = 0;
  for (Node* n : g.nodeList()) {
    if (n->numInputs() > 0 && n->input(0) && isPassThrough(*n) && n->output(0) && !g.isOutput(n->output(0))) {
      g.replaceAllUsesWith(n->output(0), n->input(0));
      g.eraseNode(n);
      ++pass_throughs;
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
    for (Value* v : operands) eraseIfUnused(g, v);
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
    eraseIfUnused(g, b);
    gemm->attrs().erase("alpha");
    changed = true;
  }
  if (beta != 1.0f && c && isFloatConstant(c)) {
    g.setInput(gemm, 2, scaledCopy(g, c, beta, "_beta"));
    eraseIfUnused(g, c);
    gemm->attrs().erase("beta");
    changed = true;
  }
  return changed;
}

// Einsum of two operands that is a batched matrix product ("bhik,bhkj->bhij", or with the second
// operand transposed, "bhik,bhjk->bhij", as attention writes Q K^T): a MatMul (after a Transpose
// of the last two axes of the second operand), which quantization and the attention patterns know.
bool einsumAsMatMul(Graph& g, Node* n) {
  if (!n->is("Einsum") || n->numInputs() != 2 || n->numOutputs() != 1 || !n->output(0)) return false;
  const std::string eq = n->attrs().stringOr("equation", "");
  std::string text;
  for (char ch : eq) {
    if (ch != ' ') text += ch;
  }
  const size_t comma = text.find(','), arrow = text.find("->");
  if (comma == std::string::npos || arrow == std::string::npos || comma > arrow) return false;
  const std::string a = text.substr(0, comma), b = text.substr(comma + 1, arrow - comma - 1), y = text.substr(arrow + 2);
  const size_t rank = y.size();
  if (rank < 2 || a.size() != rank || b.size() != rank) return false;
  for (const std::string* term : {&a, &b, &y}) {
    for (size_t i = 0; i < rank; ++i) {
      if (!std::isalpha(static_cast<unsigned char>((*term)[i])) || term->find((*term)[i], i + 1) != std::string::npos) return false;
    }
  }
  const std::string batch = y.substr(0, rank - 2);
  if (a.substr(0, rank - 2) != batch || b.substr(0, rank - 2) != batch) return false;
  const char i = y[rank - 2], j = y[rank - 1], k = a[rank - 1];
  if (a[rank - 2] != i || k == i || k == j || batch.find(k) != std::string::npos) return false;
  const bool transposed = b[rank - 2] == j && b[rank - 1] == k;
  if (!transposed && !(b[rank - 2] == k && b[rank - 1] == j)) return false;
  Value* rhs = n->input(1);
  const std::string base = n->name().empty() ? n->output(0)->name() : n->name();
  if (transposed) {
    Node* t = g.addNode("Transpose", {rhs}, 1, "", n);
    t->setName(g.uniqueName(base + "_rhs_transposed"));
    std::vector<int64_t> perm;
    for (size_t d = 0; d < rank; ++d) perm.push_back(static_cast<int64_t>(d));
    std::swap(perm[rank - 2], perm[rank - 1]);
    t->attrs().set("perm", Attribute::makeInts(perm));
    g.renameValue(t->output(0), g.uniqueName(base + "_rhs_transposed"));
    t->output(0)->type().dtype = rhs->type().dtype;
    rhs = t->output(0);
  }
  Node* matmul = g.addNode("MatMul", {n->input(0), rhs}, 1, "", n);
  matmul->setName(n->name().empty() ? g.uniqueName(base + "_MatMul") : n->name());
  Value* out = n->output(0);
  const std::string name = out->name();
  matmul->output(0)->type() = out->type();
  g.replaceAllUsesWith(out, matmul->output(0));
  g.eraseNode(n);
  g.renameValue(matmul->output(0), name);
  return true;
}

// The third input of a layer that takes an int32 bias, when other nodes read it too.
size_t unshareBiases(Graph& g) {
  size_t copies = 0;
  for (Node* n : g.nodeList()) {
    if (!takesBias(*n) || n->numInputs() < 3) continue;
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
  fixes.folded_constants = foldConstantOps(graph, opset, fixes.folded_identities);
  for (Node* n : graph.nodeList()) {
    if (n->is("Gemm") && foldGemmScalars(graph, n)) ++fixes.folded_gemm_scalars;
    if (einsumAsMatMul(graph, n)) ++fixes.einsum_matmuls;
  }
  fixes.unshared_biases = unshareBiases(graph);
  return fixes;
}

}  // namespace vitq
