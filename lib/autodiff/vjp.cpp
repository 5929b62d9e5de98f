#include "autodiff/vjp.h"

#include "exec/kernels/kernel_utils.h"

namespace vitq {

bool VjpContext::wants(size_t i) const {
  return i < wanted.size() && wanted[i] && hasInput(i) && input(i).dtype() == DataType::kFloat;
}

void VjpContext::setInputGrad(size_t i, Tensor grad) {
  if (input_grads.size() <= i) input_grads.resize(i + 1);
  input_grads[i] = std::move(grad);
}

const VjpRegistry& VjpRegistry::instance() {
  static const VjpRegistry registry = [] {
    VjpRegistry r;
    registerElementwiseVjps(r);
    registerLinearVjps(r);
    registerNormalizationVjps(r);
    registerMovementVjps(r);
    registerKernelBackwardVjps(r);
    return r;
  }();
  return registry;
}

const VjpFn* VjpRegistry::find(const std::string& domain, const std::string& op_type) const {
  const std::string d = domain == "ai.onnx" ? "" : domain;
  auto it = vjps_.find({d, op_type});
  return it == vjps_.end() ? nullptr : &it->second;
}

void VjpRegistry::add(const std::string& op_type, VjpFn fn, const std::string& domain) {
  vjps_[{domain, op_type}] = std::move(fn);
}

std::vector<std::pair<std::string, std::string>> VjpRegistry::ops() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, fn] : vjps_) out.push_back(key);
  return out;
}

Tensor sumToShape(const Tensor& grad, const Shape& target) {
  if (grad.shape() == target) return grad;
  // Serial on purpose: many gradient elements land on one target element.
  const Shape& shape = grad.shape();
  const std::vector<int64_t> strides = broadcastStrides(target, shape);
  std::vector<double> acc(static_cast<size_t>(product(target)), 0.0);
  std::vector<int64_t> index(shape.size(), 0);
  const float* g = grad.data<float>();
  int64_t offset = 0;
  for (int64_t i = 0; i < grad.numel(); ++i) {
    acc[static_cast<size_t>(offset)] += g[i];
    for (size_t d = shape.size(); d-- > 0;) {  // odometer step over grad's index
      offset += strides[d];
      if (++index[d] < shape[d]) break;
      offset -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
  Tensor out(DataType::kFloat, target);
  for (size_t i = 0; i < acc.size(); ++i) out.data<float>()[i] = static_cast<float>(acc[i]);
  return out;
}

}  // namespace vitq
