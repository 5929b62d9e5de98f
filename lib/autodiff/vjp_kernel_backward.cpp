// VJPs that the kernels' own files compute: AveragePool (averagePoolBackward), MaxPool
// (maxPoolBackward: each window's maximum as the forward loop chose it) and Resize/Upsample
// (resizeBackward: the adjoint of the kernel's coordinate transformation and interpolation taps).
// The gradient comes from the same code that places the elements in the forward pass, so every
// mode and attribute the kernel handles is differentiated the same way.
#include <string>
#include <utility>

#include "autodiff/vjp.h"
#include "exec/kernels/pool.h"
#include "exec/kernels/resize.h"

namespace vitq {
namespace {

using KernelBackward = StatusOr<Tensor> (*)(const KernelContext& forward, const Tensor& grad_y);

// dL/d(input 0) from dL/d(output 0); the other inputs (Resize's roi and scales) get none, which
// the reconstructions never ask for: an error if one is wanted.
VjpFn firstInputGradient(KernelBackward backward) {
  return [backward](VjpContext& ctx) -> Status {
    for (size_t i = 1; i < ctx.forward.numInputs(); ++i) {
      if (ctx.wants(i)) return ctx.error("no gradient with respect to input " + std::to_string(i));
    }
    if (!ctx.wants(0)) return Status::ok();
    VITQ_ASSIGN_OR_RETURN(Tensor gx, backward(ctx.forward, ctx.outputGrad(0)));
    ctx.setInputGrad(0, std::move(gx));
    return Status::ok();
  };
}

}  // namespace

void registerKernelBackwardVjps(VjpRegistry& r) {
  r.add("AveragePool", firstInputGradient(averagePoolBackward));
  r.add("MaxPool", firstInputGradient(maxPoolBackward));
  r.add("Resize", firstInputGradient(resizeBackward));
  r.add("Upsample", firstInputGradient(resizeBackward));
}

}  // namespace vitq
