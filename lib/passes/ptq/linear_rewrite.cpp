#include "passes/ptq/linear_rewrite.h"

#include "pattern/match_utils.h"

namespace vitq {
namespace {


// \p old + factor * add, broadcast along the last axis; in place when nothing else reads it.
void updateBias(Graph& g, Node* reader, Value* old, const std::vector<float>& add, float factor) {
  const int64_t out = static_cast<int64_t>(add.size());
  Tensor t = old->initializer().clone();
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] += factor * add[static_cast<size_t>(i % out)];
  if (old->uses().size() == 1 && !g.isOutput(old)) {
    g.setInitializer(old, std::move(t));
    return;
  }
  Value* fresh = g.addInitializer(g.uniqueName(old->name() + "_corrected"), std::move(t));
  replaceInputConstant(g, reader, old, fresh);
}

}  // namespace

void setOrAppendInput(Graph& g, Node* n, size_t index, Value* v) {
  while (n->numInputs() < index) g.appendInput(n, nullptr);
  if (n->numInputs() > index) g.setInput(n, index, v);
  else g.appendInput(n, v);
}

void replaceInputConstant(Graph& g, Node* n, const Value* old, Value* replacement) {
  for (size_t i = 0; i < n->numInputs(); ++i) {
    if (n->input(i) == old) g.setInput(n, i, replacement);
  }
}

// Inserts `op(value, constant)` right after value's producer; value's uses move to it. A graph
// output moves too and keeps its name.
Value* appendAffine(Graph& g, Value* value, const char* op, Value* constant) {
  Node* after = g.nodeAfter(value->producer());
  Node* n = g.addNode(op, {value, constant}, 1, "", after);
  Value* out = n->output(0);
  out->type() = value->type();
  g.redirectUsesExcept(value, out, n);
  const auto& outputs = g.outputs();
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i] != value) continue;
    const std::string name = value->name();
    g.renameValue(value, g.uniqueName(name + "_before_" + op));
    g.renameValue(out, name);
    g.setOutput(i, out);
    out->setTypeDeclared(value->typeDeclared());
  }
  n->setName(g.uniqueName(out->name() + "_" + op));
  return out;
}

void eraseIfUnused(Graph& g, Value* v) {
  if (v && v->isInitializer() && !v->hasUses() && !v->isGraphInput() && !g.isOutput(v)) g.eraseValue(v);
}

void addToLinearBias(Graph& g, Node* n, const std::vector<float>& add) {
  const int64_t out = static_cast<int64_t>(add.size());
  if (n->is("Gemm")) {
    const float beta = n->attrs().floatOr("beta", 1.0f);
    Value* c = n->input(2);
    if (isFloatConstant(c) && beta != 0 && c->initializer().numel() > 1 && c->initializer().shape().back() == out) {
      updateBias(g, n, c, add, 1.0f / beta);
      return;
    }
    if (!c || beta == 0) {  // no usable C: the correction becomes C with beta 1
      Value* c2 = g.addInitializer(g.uniqueName(n->output(0)->name() + "_bias"), Tensor::fromVector<float>(add, {out}));
      setOrAppendInput(g, n, 2, c2);
      n->attrs().set("beta", Attribute::makeFloat(1.0f));
      eraseIfUnused(g, c);
      return;
    }
    // A scalar or otherwise shaped C: add the correction after the Gemm.
  }
  Value* y = n->output(0);
  Node* add_node = soleUser(y);
  if (n->is("MatMul") && add_node && add_node->is("Add")) {
    Value* b = otherOperand(add_node, y);
    if (isFloatConstant(b) && b->initializer().numel() == out && b->initializer().shape().back() == out) {
      updateBias(g, add_node, b, add, 1.0f);
      return;
    }
  }
  Value* b2 = g.addInitializer(g.uniqueName(y->name() + "_bias"), Tensor::fromVector<float>(add, {out}));
  appendAffine(g, y, "Add", b2);
}

int64_t linearInputChannels(const Node& n, const Value* x) {
  if (n.input(0) != x || !isFloatConstant(n.input(1))) return -1;
  const Tensor& w = n.input(1)->initializer();
  if (w.rank() != 2) return -1;
  if (n.is("MatMul")) return w.dim(0);
  if (n.is("Gemm") && !n.attrs().intOr("transA", 0)) return n.attrs().intOr("transB", 0) ? w.dim(1) : w.dim(0);
  return -1;
}

Tensor scaleLinearInputRows(const Node& n, const Tensor& w, const std::vector<float>& sigma) {
  const bool trans = n.is("Gemm") && n.attrs().intOr("transB", 0);
  Tensor out = w.clone();
  float* p = out.data<float>();
  const int64_t rows = w.dim(0), cols = w.dim(1);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) p[r * cols + c] *= sigma[static_cast<size_t>(trans ? c : r)];
  }
  return out;
}

void importContribDomain(Model& model) {
  for (const OpsetImport& o : model.opset_imports) {
    if (o.domain == "com.microsoft") return;
  }
  model.opset_imports.push_back({"com.microsoft", 1});
}

}  // namespace vitq
