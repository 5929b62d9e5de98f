#include "exec/kernel.h"

#include "core/check.h"

namespace vitq {

const Tensor& KernelContext::input(size_t i) const {
  VITQ_CHECK(hasInput(i)) << "kernel " << node.opType() << " read missing input " << i;
  return *inputs[i];
}

Tensor& KernelContext::setOutput(size_t i, Tensor t) {
  if (outputs.size() <= i) outputs.resize(i + 1);
  outputs[i] = std::move(t);
  return outputs[i];
}

Status KernelContext::error(const std::string& message) const {
  return invalidArgument("node " + node.describe() + ": " + message);
}

}  // namespace vitq
