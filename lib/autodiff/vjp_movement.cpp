// VJPs of ops that only move elements (Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Concat,
// Slice, Split, Expand, Gather on data, Tile, DepthToSpace, SpaceToDepth, Pad). One generic rule,
// built on the executor's own kernel: re-run the kernel with every float input replaced by an int64
// tensor of element numbers (input k numbered after inputs 0..k-1, from 1), keeping the integer
// inputs (shapes, axes, starts, indices). Each output element then holds the number of the input
// element it was copied from, or 0 where the kernel filled in a value of its own (Pad's constant
// without a constant_value input), and the input gradient is the output gradient scattered back
// (added, so Expand's and Gather's repeats, and Pad's constant_value, sum). Exactly the kernel's
// semantics, attribute and opset variants included, with no second copy of it.
#include <algorithm>
#include <vector>

#include "autodiff/vjp.h"
#include "exec/kernel_registry.h"

namespace vitq {
namespace {

Status indexMapVjp(VjpContext& ctx) {
  const Node& node = ctx.node();
  const KernelFn* kernel = KernelRegistry::instance().find(node.domain(), node.opType());
  if (!kernel) return ctx.error("no kernel to trace the element moves of " + node.opType());
  // Float inputs become element numbers; `first[k]` is the number of input k's first element.
  std::vector<Tensor> numbered(ctx.forward.numInputs());
  std::vector<int64_t> first(ctx.forward.numInputs(), -1);
  KernelContext trace{node, ctx.forward.opset, 1, ctx.forward.inputs, {}};
  int64_t next = 1;  // 0: no source element
  for (size_t k = 0; k < ctx.forward.numInputs(); ++k) {
    if (!ctx.hasInput(k) || ctx.input(k).dtype() != DataType::kFloat) continue;
    numbered[k] = Tensor(DataType::kInt64, ctx.input(k).shape());
    int64_t* p = numbered[k].data<int64_t>();
    for (int64_t i = 0; i < numbered[k].numel(); ++i) p[i] = next + i;
    first[k] = next;
    next += numbered[k].numel();
    trace.inputs[k] = &numbered[k];
  }
  trace.outputs.resize(node.numOutputs());
  VITQ_RETURN_IF_ERROR((*kernel)(trace));
  // Scatter-add every output gradient back to the element it came from.
  std::vector<double> acc(static_cast<size_t>(next), 0.0);
  for (size_t o = 0; o < trace.outputs.size() && o < ctx.output_grads.size(); ++o) {
    if (!ctx.has_output_grad[o]) continue;
    const Tensor& map = trace.outputs[o];
    const Tensor& g = ctx.outputGrad(o);
    if (map.dtype() != DataType::kInt64 || map.numel() != g.numel()) {
      return ctx.error("output " + std::to_string(o) + " is not a copy of input elements");
    }
    const int64_t* src = map.data<int64_t>();
    const float* pg = g.data<float>();
    for (int64_t i = 0; i < map.numel(); ++i) acc[static_cast<size_t>(src[i])] += pg[i];  // acc[0]: filled in
  }
  for (size_t k = 0; k < first.size(); ++k) {
    if (first[k] < 0 || !ctx.wants(k)) continue;
    Tensor grad(DataType::kFloat, ctx.input(k).shape());
    float* out = grad.data<float>();
    for (int64_t i = 0; i < grad.numel(); ++i) out[i] = static_cast<float>(acc[static_cast<size_t>(first[k] + i)]);
    ctx.setInputGrad(k, std::move(grad));
  }
  return Status::ok();
}

// Pad before opset 11 fills with its float `value` attribute, which the trace would read as an
// element number; only 0 (the default) traces as "no source".
Status padVjp(VjpContext& ctx) {
  if (ctx.forward.opset < 11 && ctx.attrs().stringOr("mode", "constant") == "constant" &&
      static_cast<int64_t>(ctx.attrs().floatOr("value", 0.0f)) != 0) {
    return ctx.error("no gradient for a constant pad value other than 0 before opset 11");
  }
  return indexMapVjp(ctx);
}

}  // namespace

void registerMovementVjps(VjpRegistry& r) {
  for (const char* op : {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Slice", "Split",
                         "Expand", "Gather", "Tile", "DepthToSpace", "SpaceToDepth"}) {
    r.add(op, indexMapVjp);
  }
  r.add("Pad", padVjp);
}

}  // namespace vitq
