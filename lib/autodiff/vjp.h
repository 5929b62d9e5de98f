// Vector-Jacobian products: one function per op type that, given a node's forward inputs and
// outputs and the gradient of the loss with respect to each output, writes the gradient with
// respect to each float input the caller wants. The table mirrors the kernel registry: keyed by
// (domain, op type), filled once from an explicit list of registration functions. Integer inputs
// (shapes, axes, indices) never get a gradient. Everything is float32, as the kernels are.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "exec/kernel.h"

namespace vitq {

struct VjpContext {
  /// The node's forward call as the kernel saw it: node, opset, inputs (nullptr: omitted) and, in
  /// `outputs`, the forward outputs (an empty tensor for an omitted output). The kernel helpers
  /// that take a KernelContext (normalizeAxis, readIntsInputOrAttr, convGeometry) take this.
  KernelContext forward;
  /// dL/d(output i), same shape as the output; zeros where no gradient reaches that output.
  std::vector<Tensor> output_grads;
  /// Whether a gradient actually reaches output i (false: output_grads[i] is only zeros).
  std::vector<bool> has_output_grad;
  /// Per input: the caller needs its gradient.
  std::vector<bool> wanted;
  /// Set by the VJP for every wanted float input (see wants()).
  std::vector<std::optional<Tensor>> input_grads;

  const Node& node() const { return forward.node; }
  const Attributes& attrs() const { return forward.attrs(); }
  const Tensor& input(size_t i) const { return forward.input(i); }
  bool hasInput(size_t i) const { return forward.hasInput(i); }
  const Tensor& output(size_t i) const { return forward.outputs.at(i); }
  const Tensor& outputGrad(size_t i) const { return output_grads.at(i); }
  /// True for an input that is present, float, and wanted by the caller.
  bool wants(size_t i) const;
  void setInputGrad(size_t i, Tensor grad);
  /// An error naming the node: "node 'x' (Conv): <message>".
  Status error(const std::string& message) const { return forward.error(message); }
};

using VjpFn = std::function<Status(VjpContext&)>;

class VjpRegistry {
 public:
  static const VjpRegistry& instance();

  const VjpFn* find(const std::string& domain, const std::string& op_type) const;
  void add(const std::string& op_type, VjpFn fn, const std::string& domain = "");
  /// Every (domain, op) with a VJP, sorted.
  std::vector<std::pair<std::string, std::string>> ops() const;

 private:
  std::map<std::pair<std::string, std::string>, VjpFn> vjps_;
};

// One per file (vjp_*.cpp).
void registerElementwiseVjps(VjpRegistry& r);
void registerLinearVjps(VjpRegistry& r);
void registerNormalizationVjps(VjpRegistry& r);
void registerMovementVjps(VjpRegistry& r);
void registerKernelBackwardVjps(VjpRegistry& r);

// ---- helpers shared by the VJP files -------------------------------------------------------------

/// \p grad (of a broadcast result) summed over the axes along which \p target was broadcast, so it
/// has \p target's shape; \p grad itself when the shapes already agree.
Tensor sumToShape(const Tensor& grad, const Shape& target);

}  // namespace vitq
