// Cast and CastLike between every numeric type, bool, float16 and bfloat16. Casts to and from the
// 16-bit floats go through float32 (exact for a 16-bit source); from a wider source the 16-bit
// value is rounded once (half.h). Kept apart from the arithmetic: the type-by-type table is the
// largest instantiation in the executor.
#include <cmath>
#include <limits>

#include "exec/kernels/cast.h"

#include "exec/kernel_registry.h"
#include "exec/kernels/kernel_utils.h"
#include "ir/half.h"

namespace vitq {

StatusOr<Tensor> castTensor(const KernelContext& ctx, const Tensor& source, DataType target) {
  const Tensor x = widenToFloat(source);
  if (x.dtype() == target) return x.dtype() == source.dtype() ? x.clone() : x;
  if (is16BitFloat(target) && x.dtype() == DataType::kFloat) return narrowFromFloat(x, target);
  Tensor y = Tensor::uninitialized(target, x.shape());
  bool ok = false;
  if (is16BitFloat(target)) {
    const bool half = target == DataType::kFloat16;
    auto* out = static_cast<uint16_t*>(y.rawData());
    ok = dispatchAll(x.dtype(), [&](auto tin) {
      using TI = decltype(tin);
      const TI* in = x.data<TI>();
      for (int64_t i = 0; i < x.numel(); ++i) {
        const auto v = static_cast<long double>(in[i]);  // exact for every integer and double
        out[i] = half ? toHalfBits(v) : toBFloat16Bits(v);
      }
    });
  } else {
    dispatchAll(x.dtype(), [&](auto tin) {
      using TI = decltype(tin);
      ok = dispatchAll(target, [&](auto tout) {
        using TO = decltype(tout);
        const TI* in = x.data<TI>();
        TO* out = y.data<TO>();
        const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; ++i) {
          if constexpr (std::is_same_v<TO, bool>) out[i] = in[i] != TI(0);
          else if constexpr (std::is_integral_v<TO> && std::is_floating_point_v<TI>) {
            // Out-of-range float to int is undefined in C++; saturate like the reference backend does.
            const double v = static_cast<double>(in[i]);
            out[i] = std::isnan(v) ? TO(0)
                     : v <= static_cast<double>(std::numeric_limits<TO>::lowest()) ? std::numeric_limits<TO>::lowest()
                     : v >= static_cast<double>(std::numeric_limits<TO>::max()) ? std::numeric_limits<TO>::max()
                                                                                : static_cast<TO>(v);
          } else {
            out[i] = static_cast<TO>(in[i]);
          }
        }
      });
    });
  }
  if (!ok) {
    return ctx.error(std::string("cast from ") + dataTypeName(source.dtype()) + " to " + dataTypeName(target) +
                     " is not supported");
  }
  return y;
}

namespace {

Status castKernel(KernelContext& ctx) {
  const auto to = ctx.attrs().getInt("to");
  if (!to || !isKnownDataType(static_cast<int32_t>(*to))) return ctx.error("missing or unknown 'to' type");
  VITQ_ASSIGN_OR_RETURN(Tensor y, castTensor(ctx, ctx.input(0), static_cast<DataType>(*to)));
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

// CastLike (opset 15): Cast to the element type of the second input.
Status castLikeKernel(KernelContext& ctx) {
  VITQ_ASSIGN_OR_RETURN(Tensor y, castTensor(ctx, ctx.input(0), ctx.input(1).dtype()));
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

}  // namespace

void registerCastKernels(KernelRegistry& r) {
  r.add("Cast", castKernel);
  r.add("CastLike", castLikeKernel);
}

}  // namespace vitq
