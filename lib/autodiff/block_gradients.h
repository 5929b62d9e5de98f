// Reverse-mode differentiation over a block: an ordered list of nodes of one graph (a bridge block,
// a transformer block, one layer). Given the forward tensors of every value the block reads or
// writes and dL/d(block outputs), returns dL/dv for requested values: block inputs, constant
// weights, or intermediate values. Gradients of values used several times are summed. Used by the
// reconstruction passes (Q-HyViT bridge blocks, BRECQ-style Fisher weights); see
// docs/architecture.md, "Autodiff (as built)".
#pragma once

#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "exec/executor.h"
#include "ir/graph.h"

namespace vitq {

/// Tensors keyed by the IR value they hold (forward activations, gradients).
using ValueTensors = std::unordered_map<const Value*, Tensor>;

/// Runs \p block's nodes in order with the executor's kernels, reading inputs from \p tensors
/// (initializers default to their constant) and adding every output to it.
Status runBlockForward(const std::vector<const Node*>& block, int64_t opset, ValueTensors& tensors);

/// Executor hook that keeps the inputs and outputs of the given nodes as the executor runs the
/// whole graph (tensor handles, not copies: kernels never write into their inputs).
class BlockRecorder : public ExecHooks {
 public:
  explicit BlockRecorder(const std::vector<const Node*>& block);
  Status afterNode(const Node& node, const std::vector<const Tensor*>& inputs, std::vector<Tensor>& outputs) override;
  const ValueTensors& tensors() const { return tensors_; }

 private:
  std::vector<const Node*> block_;
  ValueTensors tensors_;
};

/// dL/dv for each value of \p wrt (float values read or written by \p block, which must be nodes of
/// \p graph in topological order). \p forward holds the tensor of every value the block's nodes read
/// or write (initializers may be left out); \p output_grads holds dL/dv for values produced by the
/// block (any subset; a gradient given for a value the block also reads is added to what flows back
/// to it). Values of \p wrt that no gradient reaches get zeros. Only nodes on a path from a wanted
/// value to a given gradient are differentiated; one without a VJP fails naming the node and op.
/// Dependence runs through float values only: a node is differentiated when a float input depends
/// on a wanted value, so shape arithmetic (Shape -> Gather -> Cast -> Div -> Resize scales) and
/// constant branches are not, whatever they feed.
StatusOr<ValueTensors> blockGradients(const Graph& graph, const std::vector<const Node*>& block,
                                      const ValueTensors& forward, const ValueTensors& output_grads,
                                      const std::vector<const Value*>& wrt, int64_t opset);

/// The check blockGradients makes before its work, from the IR's element types instead of forward
/// tensors (undefined types count as float), so that a pass can check every block before the first:
/// the first node of \p block, in order, that a gradient from \p seeded (values the block
/// produces) to \p wrt passes through and that has no VJP, or null.
const Node* firstNodeWithoutVjp(const std::vector<const Node*>& block, const std::vector<const Value*>& wrt,
                                const std::vector<const Value*>& seeded);

/// Whether \p v holds float by the IR's types (an initializer's tensor, else the value's type;
/// undefined counts as float).
bool holdsFloat(const Value* v);

/// "node 'x' (TopK): no gradient (vector-Jacobian product) for op TopK".
std::string noVjpMessage(const Node& node);

}  // namespace vitq
