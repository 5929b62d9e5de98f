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

/// Which nodes of a block a gradient passes through, from the element types \p is_float reports.
struct GradientPath {
  std::unordered_set<const Value*> needs;  // wanted values and the float values that depend on them
  std::vector<const Node*> active;         // nodes to differentiate, last first
};

template <typename IsFloat>
GradientPath gradientPath(const std::vector<const Node*>& block, const std::vector<const Value*>& wrt,
                          const std::vector<const Value*>& seeded, IsFloat is_float) {
  GradientPath path;
  // needs: v depends on a wanted value through float values. An integer value (a shape, an index)
  // carries no gradient, so what is computed from it (a Cast of a shape to float, Resize scales)
  // does not depend on anything wanted.
  std::unordered_set<const Value*>& needs = path.needs;
  needs.insert(wrt.begin(), wrt.end());
  auto needed = [&](const Value* v) { return v && needs.count(v) && is_float(v); };
  for (const Node* node : block) {
    if (!std::any_of(node->inputs().begin(), node->inputs().end(), needed)) continue;
    for (const Value* v : node->outputs()) {
      if (v && is_float(v)) needs.insert(v);
    }
  }
  // reaches: a gradient flows into v from the seeded values, again through float values only.
  std::unordered_set<const Value*> reaches(seeded.begin(), seeded.end());
  for (auto it = block.rbegin(); it != block.rend(); ++it) {
    const Node* node = *it;
    const bool out_reached = std::any_of(node->outputs().begin(), node->outputs().end(), [&](const Value* v) { return v && reaches.count(v); });
    if (!out_reached || !std::any_of(node->inputs().begin(), node->inputs().end(), needed)) continue;
    for (const Value* v : node->inputs()) {
      if (v && is_float(v)) reaches.insert(v);
    }
    path.active.push_back(node);
  }
  return path;
}

/// The first node in block order (\p active is last first) that has no VJP, or null.
const Node* firstWithoutVjp(const std::vector<const Node*>& active) {
  const VjpRegistry& registry = VjpRegistry::instance();
  for (auto it = active.rbegin(); it != active.rend(); ++it) {
    if (!registry.find((*it)->domain(), (*it)->opType())) return *it;
  }
  return nullptr;
}

}  // namespace

std::string noVjpMessage(const Node& node) {
  return "node " + node.describe() + ": no gradient (vector-Jacobian product) for op " +
         (node.domain().empty() ? "" : node.domain() + "::") + node.opType();
}

bool holdsFloat(const Value* v) {
  const DataType t = v->isInitializer() ? v->initializer().dtype() : v->type().dtype;
  return t == DataType::kFloat || t == DataType::kUndefined;
}

const Node* firstNodeWithoutVjp(const std::vector<const Node*>& block, const std::vector<const Value*>& wrt,
                                const std::vector<const Value*>& seeded) {
  return firstWithoutVjp(gradientPath(block, wrt, seeded, holdsFloat).active);
}

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
  auto is_float = [&](const Value* v) {
    const Tensor* t = lookupTensor(forward, v);
    return !t || t->dtype() == DataType::kFloat;  // a missing tensor is reported below
  };
  std::vector<const Value*> seeded;
  for (const auto& [v, g] : output_grads) seeded.push_back(v);
  const GradientPath path = gradientPath(block, wrt, seeded, is_float);
  const std::unordered_set<const Value*>& needs = path.needs;
  // Fail before any work on a node without a VJP.
  const VjpRegistry& registry = VjpRegistry::instance();
  if (const Node* missing = firstWithoutVjp(path.active)) return unsupported(noVjpMessage(*missing));

  GradientSums grads;
  for (const auto& [v, g] : output_grads) grads.add(v, g);
  for (const Node* node : path.active) {
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
