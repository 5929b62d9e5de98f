// Helpers for kernels that only move elements (shape ops, indexing, pooling indices): dispatch by
// element width instead of type, so float16/bfloat16 and every integer type share one instantiation.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "exec/kernel_registry.h"
#include "exec/kernels/kernel_utils.h"

namespace vitq {

/// Calls f(U{}) with an unsigned type of the element's byte width (1, 2, 4 or 8); returns false for
/// strings and sub-byte types, which cannot be moved element by element.
template <typename F>
bool dispatchBySize(DataType dtype, F&& f) {
  if (dtype == DataType::kString) return false;
  switch (dataTypeBits(dtype)) {
    case 8: f(uint8_t{}); return true;
    case 16: f(uint16_t{}); return true;
    case 32: f(uint32_t{}); return true;
    case 64: f(uint64_t{}); return true;
    default: return false;
  }
}

/// Untyped element access for dispatchBySize (Tensor::data<T> checks the dtype).
template <typename U>
const U* rawAs(const Tensor& t) {
  return static_cast<const U*>(t.rawData());
}
template <typename U>
U* rawAs(Tensor& t) {
  return static_cast<U*>(t.rawData());
}

/// Error text for an element type that movement kernels cannot handle.
std::string unsupportedType(DataType dtype);

/// The values of an integer tensor (shapes, axes, pads, starts, repeats) or an error naming \p what;
/// guards against models that feed such inputs with a float or sub-byte type.
StatusOr<std::vector<int64_t>> readInts(const KernelContext& ctx, const Tensor& t, const char* what);

bool isIndexType(DataType t);  // int32 or int64

/// Gather-style indices into a dim of size \p dim: negatives wrapped; any index outside
/// [-dim, dim) is an error naming it.
Status readIndices(const KernelContext& ctx, const Tensor& t, int64_t dim, std::vector<int64_t>& out);

/// Like intsFromInputOrAttr, with readInts' type check on the input.
StatusOr<std::optional<std::vector<int64_t>>> readIntsInputOrAttr(const KernelContext& ctx, size_t input,
                                                                  const char* attr);

/// True when \p perm is a permutation of [0, rank).
bool isPermutation(const std::vector<int64_t>& perm, size_t rank);

/// x transposed by \p perm (validated by the caller; x's dtype must pass dispatchBySize). Size-1
/// dims are dropped and runs of axes that stay adjacent merged, so most real transposes become
/// block copies or a tiled 2-D transpose.
Tensor transposeTensor(const Tensor& x, const std::vector<int64_t>& perm);

/// Einsum lives in its own file; registered by registerShapeKernels.
void registerEinsumKernel(KernelRegistry& r);

}  // namespace vitq
