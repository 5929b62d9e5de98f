#include "exec/kernel_registry.h"

namespace vitq {

const KernelRegistry& KernelRegistry::instance() {
  static const KernelRegistry registry = [] {
    KernelRegistry r;
    registerUnaryKernels(r);
    registerBinaryKernels(r);
    registerCastKernels(r);
    registerShapeKernels(r);
    registerIndexingKernels(r);
    registerReduceKernels(r);
    registerPoolKernels(r);
    registerResizeKernels(r);
    registerQuantKernels(r);
    registerLinearKernels(r);
    registerConvKernels(r);
    registerNormalizationKernels(r);
    registerRecurrentKernels(r);
    registerMatMulNBitsKernel(r);
    registerGatherBlockQuantizedKernel(r);
    return r;
  }();
  return registry;
}

const KernelFn* KernelRegistry::find(const std::string& domain, const std::string& op_type) const {
  const std::string d = domain == "ai.onnx" ? "" : domain;
  auto it = kernels_.find({d, op_type});
  return it == kernels_.end() ? nullptr : &it->second;
}

void KernelRegistry::add(const std::string& op_type, KernelFn fn, const std::string& domain) {
  kernels_[{domain, op_type}] = std::move(fn);
}

std::vector<std::pair<std::string, std::string>> KernelRegistry::ops() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, fn] : kernels_) out.push_back(key);
  return out;
}

}  // namespace vitq
