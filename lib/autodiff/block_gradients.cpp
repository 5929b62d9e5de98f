#include "autodiff/block_gradients.h"

#include <algorithm>
#include <unordered_set>

#include "autodiff/vjp.h"
#include "exec/kernel_registry.h"

namespace vitq {
namespace {

/// The forward tensor of \p v, falling back to the initializer; nullptr when neither exists.
const Tensor* lookupTensor(const ValueTensors& tensors, const Value* v) {
  auto it = tensors.find(v);
  if (it != tensors.end()) return &it->second;
  return v->isInitializer() ? &v->initializer() : nullptr;
}

/// Gradients being accumulated; the first contribution is kept as given (it may share a buffer
/// with a caller's tensor), later ones are added into a private copy.
class GradientSums {
 public:
  void add(const Value* v, const Tensor& g) {
    auto it = sums_.find(v);
    if (it == sums_.end()) {
      sums_.emplace(v, Entry{g, false});
      return;
    }
    Entry& e = it->second;
    if (!e.owned) {
      e.sum = e.sum.clone();
      e.owned = true;
    }
    float* dst = e.sum.data<float>();
    const float* src = g.data<float>();
    for (int64_t i = 0; i < g.numel(); ++i) dst[i] += src[i];
  }
  const Tensor* find(const Value* v) const {
    auto it = sums_.find(v);
    return it == sums_.end() ? nullptr : &it->second.sum;
  }

 private:
  struct Entry {
    Tensor sum;
    bool owned;
  };
  std::unordered_map<const Value*, Entry> sums_;
};

}  // namespace

Status runBlockForward(const std::vector<const Node*>& block, int64_t opset, ValueTensors& tensors) {
  for (const Node* node : block) {
    const KernelFn* kernel = KernelRegistry::instance().find(node->domain(), node->opType());
    if (!kernel) return unsupported("node " + node->describe() + ": op " + node->opType() + " has no kernel");
    KernelContext ctx{*node, opset, 1, {}, {}};
    for (const Value* v : node->inputs()) {
      const Tensor* t = v ? lookupTensor(tensors, v) : nullptr;
      if (v && !t) return invalidArgument("node " + node->describe() + ": no tensor for its input '" + v->name() + "'");
      ctx.inputs.push_back(t);
    }
    ctx.outputs.resize(node->numOutputs());
    VITQ_RETURN_IF_ERROR((*kernel)(ctx));
    for (size_t i = 0; i < node->numOutputs(); ++i) {
      if (node->output(i)) tensors[node->output(i)] = std::move(ctx.outputs[i]);
    }
  }
  return Status::ok();
}

BlockRecorder::BlockRecorder(const std::vector<const Node*>& block) : block_(block) {}

Status BlockRecorder::afterNode(const Node& node, const std::vector<const Tensor*>& inputs,
                                std::vector<Tensor>& outputs) {
  if (std::find(block_.begin(), block_.end(), &node) == block_.end()) return Status::ok();
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] && node.input(i)) tensors_[node.input(i)] = *inputs[i];
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (node.output(i)) tensors_[node.output(i)] = outputs[i];
  }
  return Status::ok();
}

StatusOr<ValueTensors> blockGradients(const Graph& graph, const std::vector<const Node*>& block,
                                      const ValueTensors& forward, const ValueTensors& output_grads,
                                      const std::vector<const Value*>& wrt, int64_t opset) {
  std::unordered_set<const Value*> produced, read;
  for (const Node* node : block) {
    if (node->owner() != &graph) return invalidArgument("node " + node->describe() + " is not in graph '" + graph.name() + "'");
    for (const Value* v : node->inputs()) {
      if (v) read.insert(v);
    }
    for (const Value* v : node->outputs()) {
      if (v) produced.insert(v);
    }
  }
  for (const Value* v : wrt) {
    if (!read.count(v) && !produced.count(v)) {
      return invalidArgument("value '" + v->name() + "' is neither read nor written by the block");
    }
    const Tensor* t = lookupTensor(forward, v);
    if (!t) return invalidArgument("no forward tensor for value '" + v->name() + "'");
    if (t->dtype() != DataType::kFloat) {
      return invalidArgument("value '" + v->name() + "' is " + dataTypeName(t->dtype()) + "; gradients are float only");
    }
  }
  for (const auto& [v, g] : output_grads) {
    if (!produced.count(v)) return invalidArgument("gradient given for '" + v->name() + "', which the block does not produce");
    const Tensor* t = lookupTensor(forward, v);
    if (!t || t->shape() != g.shape() || g.dtype() != DataType::kFloat) {
      return invalidArgument("gradient for '" + v->name() + "' must be float of the forward tensor's shape");
    }
  }
  // needs: a gradient of v is wanted (v requested, or v feeds a node that produces such a value)...
  std::unordered_set<const Value*> needs(wrt.begin(), wrt.end());
  for (const Node* node : block) {
    const bool any = std::any_of(node->inputs().begin(), node->inputs().end(), [&](const Value* v) { return v && needs.count(v); });
    for (const Value* v : node->outputs()) {
      if (any && v) needs.insert(v);
    }
  }
  // ...reaches: a gradient flows into v from the given output gradients. Only float values carry
  // one, so shape computations (Shape -> Gather -> Concat -> Reshape) are never differentiated.
  auto carries = [&](const Value* v) {
    const Tensor* t = lookupTensor(forward, v);
    return !t || t->dtype() == DataType::kFloat;  // a missing tensor is reported below
  };
  std::unordered_set<const Value*> reaches;
  for (const auto& [v, g] : output_grads) reaches.insert(v);
  std::vector<const Node*> active;  // nodes to differentiate, last first
  for (auto it = block.rbegin(); it != block.rend(); ++it) {
    const Node* node = *it;
    const bool out_reached = std::any_of(node->outputs().begin(), node->outputs().end(), [&](const Value* v) { return v && reaches.count(v); });
    const bool in_needed = std::any_of(node->inputs().begin(), node->inputs().end(), [&](const Value* v) { return v && needs.count(v); });
    if (!out_reached || !in_needed) continue;
    for (const Value* v : node->inputs()) {
      if (v && carries(v)) reaches.insert(v);
    }
    active.push_back(node);
  }
  // Fail before any work on a node without a VJP.
  const VjpRegistry& registry = VjpRegistry::instance();
  for (const Node* node : active) {
    if (!registry.find(node->domain(), node->opType())) {
      return unsupported("node " + node->describe() + ": no gradient (vector-Jacobian product) for op " +
                         (node->domain().empty() ? "" : node->domain() + "::") + node->opType());
    }
  }

  GradientSums grads;
  for (const auto& [v, g] : output_grads) grads.add(v, g);
  for (const Node* node : active) {
    VjpContext ctx{KernelContext{*node, opset, 1, {}, {}}, {}, {}, {}, {}};
    for (const Value* v : node->inputs()) {
      const Tensor* t = v ? lookupTensor(forward, v) : nullptr;
      if (v && !t) return invalidArgument("node " + node->describe() + ": no forward tensor for its input '" + v->name() + "'");
      ctx.forward.inputs.push_back(t);
      ctx.wanted.push_back(v && needs.count(v));
    }
    for (const Value* v : node->outputs()) {
      const Tensor* t = v ? lookupTensor(forward, v) : nullptr;
      if (v && !t) return invalidArgument("node " + node->describe() + ": no forward tensor for its output '" + v->name() + "'");
      ctx.forward.outputs.push_back(t ? *t : Tensor());
      const Tensor* g = v ? grads.find(v) : nullptr;
      ctx.has_output_grad.push_back(g != nullptr);
      ctx.output_grads.push_back(g ? *g : t && t->dtype() == DataType::kFloat ? Tensor(DataType::kFloat, t->shape()) : Tensor());
    }
    VITQ_RETURN_IF_ERROR((*registry.find(node->domain(), node->opType()))(ctx));
    for (size_t i = 0; i < node->numInputs(); ++i) {
      if (!ctx.wants(i)) continue;
      if (i >= ctx.input_grads.size() || !ctx.input_grads[i]) {
        return internalError("node " + node->describe() + ": the VJP gave no gradient for input " + std::to_string(i));
      }
      const Tensor& g = *ctx.input_grads[i];
      if (g.shape() != ctx.input(i).shape()) {
        return internalError("node " + node->describe() + ": gradient of input " + std::to_string(i) + " has shape " +
                             shapeToString(g.shape()) + ", the input " + shapeToString(ctx.input(i).shape()));
      }
      grads.add(node->input(i), g);
    }
  }
  ValueTensors out;
  for (const Value* v : wrt) {
    const Tensor* g = grads.find(v);
    out[v] = g ? *g : Tensor(DataType::kFloat, lookupTensor(forward, v)->shape());
  }
  return out;
}

}  // namespace vitq
