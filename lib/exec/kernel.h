// Kernel interface: a function from a node's input tensors to its output tensors. Kernels never see
// the graph beyond their node; they report bad shapes or attributes as Status errors that name the
// node, never crash.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/node.h"
#include "ir/tensor.h"

namespace vitq {

struct KernelContext {
  const Node& node;
  int64_t opset = 0;  // ai.onnx opset of the model (selects attribute-vs-input spellings)
  int threads = 1;
  std::vector<const Tensor*> inputs;  // nullptr: omitted optional input
  std::vector<Tensor> outputs;        // the kernel sets one per output of the node

  size_t numInputs() const { return inputs.size(); }
  bool hasInput(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const Tensor& input(size_t i) const;
  Tensor& setOutput(size_t i, Tensor t);
  const Attributes& attrs() const { return node.attrs(); }
  /// An error naming the node: "node 'x' (Conv): <message>".
  Status error(const std::string& message) const;
};

using KernelFn = std::function<Status(KernelContext&)>;

}  // namespace vitq
