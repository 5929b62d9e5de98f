// Helpers shared by kernels: axis normalization, numpy broadcasting, strides, dtype dispatch.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "exec/kernel.h"

namespace vitq {

/// Maps a possibly negative \p axis into [0, rank) or returns an error naming the node.
StatusOr<int64_t> normalizeAxis(const KernelContext& ctx, int64_t axis, int64_t rank);
/// numpy-style broadcast of two shapes, or an error naming both.
StatusOr<Shape> broadcastShapes(const KernelContext& ctx, const Shape& a, const Shape& b);
/// Row-major strides of \p shape.
std::vector<int64_t> stridesOf(const Shape& shape);
/// Strides of \p in viewed as broadcast to \p out (0 where broadcast), aligned to out's rank.
std::vector<int64_t> broadcastStrides(const Shape& in, const Shape& out);
/// Product of dims in [begin, end).
int64_t product(const Shape& shape, size_t begin, size_t end);
inline int64_t product(const Shape& shape) { return product(shape, 0, shape.size()); }

/// Reads an int64 list from an optional input (opset >= 13 style) or an attribute (older style).
std::optional<std::vector<int64_t>> intsFromInputOrAttr(const KernelContext& ctx, size_t input,
                                                        const char* attr);

/// Calls f(T{}) with the C++ type for \p dtype among the common numeric types; returns false if the
/// dtype is none of them.
template <typename F>
bool dispatchNumeric(DataType dtype, F&& f) {
  switch (dtype) {
    case DataType::kFloat: f(float{}); return true;
    case DataType::kDouble: f(double{}); return true;
    case DataType::kInt8: f(int8_t{}); return true;
    case DataType::kUInt8: f(uint8_t{}); return true;
    case DataType::kInt16: f(int16_t{}); return true;
    case DataType::kUInt16: f(uint16_t{}); return true;
    case DataType::kInt32: f(int32_t{}); return true;
    case DataType::kUInt32: f(uint32_t{}); return true;
    case DataType::kInt64: f(int64_t{}); return true;
    case DataType::kUInt64: f(uint64_t{}); return true;
    default: return false;
  }
}

/// Like dispatchNumeric plus bool; for ops that only move elements, any fixed-size type works.
template <typename F>
bool dispatchAll(DataType dtype, F&& f) {
  if (dtype == DataType::kBool) {
    f(bool{});
    return true;
  }
  return dispatchNumeric(dtype, std::forward<F>(f));
}

}  // namespace vitq
