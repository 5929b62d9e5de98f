// Tensor: a dense, 64-byte aligned buffer with an element type and a static shape.
// A Tensor is a cheap handle: copies share the buffer; clone() makes an independent copy.
// Strings live in their own vector (ONNX string tensors are not byte buffers).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/status.h"
#include "ir/dtype.h"

namespace vitq {

using Shape = std::vector<int64_t>;

/// Element count of \p shape, or an error if a dim is negative or the product overflows
/// \p max_elements (guards against hostile models declaring absurd sizes).
StatusOr<int64_t> checkedElementCount(const Shape& shape,
                                      int64_t max_elements = (int64_t{1} << 40));
std::string shapeToString(const Shape& shape);
/// Whether a tensor of \p dtype and \p shape (untrusted dims: a model's declared input, a file's
/// header) may be allocated: its element count is checked without overflow and its size against
/// the memory limit (ir/memory_limit.h). Errors name \p what and the shape, e.g. "input 'x' of
/// shape [4294967296,1] (float) needs 17.18 GB, more than half of this machine's memory (12 GB)".
Status checkAllocation(DataType dtype, const Shape& shape, const std::string& what);

class Tensor {
 public:
  /// An empty float tensor of shape [0].
  Tensor() : Tensor(DataType::kFloat, Shape{0}) {}
  /// Zero-filled tensor. The shape must be valid (use checkAllocation on untrusted shapes); one past
  /// the element count or the memory limit throws TensorTooLarge.
  Tensor(DataType dtype, Shape shape);
  /// A tensor whose contents are unspecified, for kernels that write every element (skips the
  /// zero fill, a full pass over memory per kernel output). String tensors are still empty strings.
  static Tensor uninitialized(DataType dtype, Shape shape) { return Tensor(dtype, std::move(shape), false); }

  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t axis) const { return shape_.at(static_cast<size_t>(axis)); }
  int64_t numel() const { return numel_; }
  size_t byteSize() const { return bytes_; }

  void* rawData() { return buffer_.get(); }
  const void* rawData() const { return buffer_.get(); }

  template <typename T>
  T* data() {
    VITQ_CHECK(DataTypeOf<T>::value == dtype_)
        << "tensor holds " << dataTypeName(dtype_) << ", accessed as "
        << dataTypeName(DataTypeOf<T>::value);
    return static_cast<T*>(rawData());
  }
  template <typename T>
  const T* data() const {
    return const_cast<Tensor*>(this)->data<T>();
  }

  std::vector<std::string>& strings() { return *strings_; }
  const std::vector<std::string>& strings() const { return *strings_; }

  /// Deep copy with its own buffer.
  Tensor clone() const;
  /// Same buffer, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  /// True when both hold the same dtype, shape and bytes (bitwise, so NaN == NaN).
  bool bitwiseEqual(const Tensor& other) const;

  /// Scalar helpers for small tensors (shapes, axes, constants); converts from any numeric dtype.
  double scalarAsDouble(int64_t index = 0) const;
  int64_t scalarAsInt(int64_t index = 0) const;
  std::vector<int64_t> toInt64Vector() const;

  template <typename T>
  static Tensor fromVector(const std::vector<T>& values, Shape shape) {
    Tensor t(DataTypeOf<T>::value, std::move(shape));
    VITQ_CHECK(static_cast<int64_t>(values.size()) == t.numel()) << "fromVector size mismatch";
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
  }

 private:
  Tensor(DataType dtype, Shape shape, bool zero_fill);

  DataType dtype_;
  Shape shape_;
  int64_t numel_ = 0;
  size_t bytes_ = 0;
  std::shared_ptr<uint8_t> buffer_;
  std::shared_ptr<std::vector<std::string>> strings_;
};

}  // namespace vitq
