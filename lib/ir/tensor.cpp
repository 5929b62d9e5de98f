#include "ir/tensor.h"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "ir/memory_limit.h"

namespace vitq {
namespace {

constexpr size_t kAlignment = 64;

// Large buffers are reused from the heap instead of fresh mmap()s, which would page-fault on every
// kernel output (measured: an 800k-element Add spent half its time in page faults).
void keepLargeBlocksInHeap() {
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 512 << 20);
    mallopt(M_TRIM_THRESHOLD, 1024 << 20);
    return true;
  }();
  (void)done;
}

std::shared_ptr<uint8_t> allocateAligned(size_t bytes, bool zero_fill) {
  keepLargeBlocksInHeap();
  if (bytes > tensorByteLimit()) throw TensorTooLarge(bytes);
  // Round up so that aligned_alloc's size is a multiple of the alignment; never allocate 0.
  const size_t padded = ((bytes + kAlignment - 1) / kAlignment + 1) * kAlignment;
  void* p = std::aligned_alloc(kAlignment, padded);
  if (p == nullptr) throw std::bad_alloc();
  if (zero_fill) std::memset(p, 0, padded);
  return std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); });
}

template <typename T>
double readAsDouble(const void* data, int64_t i) {
  return static_cast<double>(static_cast<const T*>(data)[i]);
}

}  // namespace

StatusOr<int64_t> checkedElementCount(const Shape& shape, int64_t max_elements) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) return invalidArgument("negative dimension in shape " + shapeToString(shape));
    if (d != 0 && count > max_elements / d) {
      return invalidArgument("shape " + shapeToString(shape) + " has more than " +
                             std::to_string(max_elements) + " elements");
    }
    count *= d;
  }
  return count;
}

Status checkAllocation(DataType dtype, const Shape& shape, const std::string& what) {
  const std::string named = what + " of shape " + shapeToString(shape);
  if (std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; })) {
    return invalidArgument(named + " has a negative dimension");
  }
  auto count = checkedElementCount(shape);
  if (!count.isOk()) return invalidArgument(named + " has more than " + std::to_string(int64_t{1} << 40) + " elements");
  const size_t bytes = dtype == DataType::kString ? 0 : storageBytes(dtype, *count);
  if (bytes > tensorByteLimit()) {
    return invalidArgument(named + " (" + dataTypeName(dtype) + ") " + tensorTooLargeMessage(bytes));
  }
  return Status::ok();
}

std::string shapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Tensor::Tensor(DataType dtype, Shape shape) : Tensor(dtype, std::move(shape), true) {}

Tensor::Tensor(DataType dtype, Shape shape, bool zero_fill) : dtype_(dtype), shape_(std::move(shape)) {
  auto count = checkedElementCount(shape_);
  const bool negative = std::any_of(shape_.begin(), shape_.end(), [](int64_t d) { return d < 0; });
  VITQ_CHECK(count.isOk() || !negative) << count.status().message();
  // Past 2^40 elements no machine has the memory: the same error as a size past the limit.
  if (!count.isOk()) throw TensorTooLarge("of " + count.status().message());
  numel_ = *count;
  if (dtype_ == DataType::kString) {
    strings_ = std::make_shared<std::vector<std::string>>(static_cast<size_t>(numel_));
    bytes_ = 0;
  } else {
    VITQ_CHECK(dataTypeBits(dtype_) > 0) << "tensor of dtype " << dataTypeName(dtype_);
    bytes_ = storageBytes(dtype_, numel_);
  }
  buffer_ = allocateAligned(bytes_, zero_fill);
}

Tensor Tensor::clone() const {
  Tensor copy(dtype_, shape_, false);
  if (bytes_) std::memcpy(copy.buffer_.get(), buffer_.get(), bytes_);
  if (strings_) *copy.strings_ = *strings_;
  return copy;
}

Tensor Tensor::reshaped(Shape shape) const {
  auto count = checkedElementCount(shape);
  VITQ_CHECK(count.isOk() && *count == numel_)
      << "reshape " << shapeToString(shape_) << " to " << shapeToString(shape);
  Tensor view = *this;
  view.shape_ = std::move(shape);
  return view;
}

bool Tensor::bitwiseEqual(const Tensor& other) const {
  if (dtype_ != other.dtype_ || shape_ != other.shape_) return false;
  if (dtype_ == DataType::kString) return *strings_ == *other.strings_;
  return bytes_ == 0 || buffer_ == other.buffer_ || std::memcmp(buffer_.get(), other.buffer_.get(), bytes_) == 0;
}

double Tensor::scalarAsDouble(int64_t index) const {
  VITQ_CHECK(index >= 0 && index < numel_) << "scalar index " << index << " of " << numel_;
  const void* p = rawData();
  switch (dtype_) {
    case DataType::kFloat: return readAsDouble<float>(p, index);
    case DataType::kDouble: return readAsDouble<double>(p, index);
    case DataType::kInt8: return readAsDouble<int8_t>(p, index);
    case DataType::kUInt8: return readAsDouble<uint8_t>(p, index);
    case DataType::kInt16: return readAsDouble<int16_t>(p, index);
    case DataType::kUInt16: return readAsDouble<uint16_t>(p, index);
    case DataType::kInt32: return readAsDouble<int32_t>(p, index);
    case DataType::kUInt32: return readAsDouble<uint32_t>(p, index);
    case DataType::kInt64: return readAsDouble<int64_t>(p, index);
    case DataType::kUInt64: return readAsDouble<uint64_t>(p, index);
    case DataType::kBool: return readAsDouble<bool>(p, index);
    default: break;
  }
  VITQ_CHECK(false) << "scalarAsDouble on " << dataTypeName(dtype_);
  return 0;
}

int64_t Tensor::scalarAsInt(int64_t index) const {
  if (dtype_ == DataType::kInt64) return data<int64_t>()[index];
  if (dtype_ == DataType::kUInt64) return static_cast<int64_t>(data<uint64_t>()[index]);
  return static_cast<int64_t>(scalarAsDouble(index));
}

std::vector<int64_t> Tensor::toInt64Vector() const {
  std::vector<int64_t> out(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) out[static_cast<size_t>(i)] = scalarAsInt(i);
  return out;
}

}  // namespace vitq
