// The table of kernels, keyed by (domain, op type). Filled once from an explicit list of
// registration functions (no static self-registration: a static library would drop it).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "exec/kernel.h"

namespace vitq {

class KernelRegistry {
 public:
  static const KernelRegistry& instance();

  const KernelFn* find(const std::string& domain, const std::string& op_type) const;
  void add(const std::string& op_type, KernelFn fn, const std::string& domain = "");
  /// Every (domain, op) with a kernel, sorted.
  std::vector<std::pair<std::string, std::string>> ops() const;

 private:
  std::map<std::pair<std::string, std::string>, KernelFn> kernels_;
};

// One per kernel file (kernels/*.cpp).
void registerUnaryKernels(KernelRegistry& r);
void registerBinaryKernels(KernelRegistry& r);
void registerCastKernels(KernelRegistry& r);
void registerLinearKernels(KernelRegistry& r);
void registerConvKernels(KernelRegistry& r);
void registerNormalizationKernels(KernelRegistry& r);
void registerReduceKernels(KernelRegistry& r);
void registerPoolKernels(KernelRegistry& r);
void registerShapeKernels(KernelRegistry& r);
void registerIndexingKernels(KernelRegistry& r);
void registerResizeKernels(KernelRegistry& r);
void registerQuantKernels(KernelRegistry& r);
void registerRecurrentKernels(KernelRegistry& r);
// com.microsoft ops of weight-only language models.
void registerMatMulNBitsKernel(KernelRegistry& r);
void registerGatherBlockQuantizedKernel(KernelRegistry& r);

}  // namespace vitq
