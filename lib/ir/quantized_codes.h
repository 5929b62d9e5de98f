// Integer codes of quantized tensors as int32, whatever their element type: 8/16/32-bit, and the
// 4-bit types packed two per byte, low nibble first (ONNX's layout). Shared by the executor's
// QuantizeLinear/DequantizeLinear kernels and the QDQ export.
#pragma once

#include <cstdint>
#include <limits>

#include "ir/dtype.h"

namespace vitq {

struct CodeRange {
  int32_t lo, hi;
};

/// The codes type \p t can hold; false for types that hold no quantized codes.
inline bool quantCodeRange(DataType t, CodeRange& r) {
  switch (t) {
    case DataType::kUInt8: r = {0, 255}; return true;
    case DataType::kInt8: r = {-128, 127}; return true;
    case DataType::kUInt16: r = {0, 65535}; return true;
    case DataType::kInt16: r = {-32768, 32767}; return true;
    case DataType::kUInt4: r = {0, 15}; return true;
    case DataType::kInt4: r = {-8, 7}; return true;
    case DataType::kInt32: r = {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()}; return true;
    default: return false;
  }
}

/// Element \p i of the codes at \p p.
inline int32_t readCode(DataType t, const void* p, int64_t i) {
  switch (t) {
    case DataType::kUInt8: return static_cast<const uint8_t*>(p)[i];
    case DataType::kInt8: return static_cast<const int8_t*>(p)[i];
    case DataType::kUInt16: return static_cast<const uint16_t*>(p)[i];
    case DataType::kInt16: return static_cast<const int16_t*>(p)[i];
    case DataType::kInt32: return static_cast<const int32_t*>(p)[i];
    case DataType::kUInt4:
    case DataType::kInt4: {
      const uint8_t byte = static_cast<const uint8_t*>(p)[i / 2];
      const int32_t nib = (i % 2) ? (byte >> 4) : (byte & 0xF);
      return t == DataType::kInt4 && nib >= 8 ? nib - 16 : nib;
    }
    default: return 0;
  }
}

/// Stores \p v (already within the type's range) as element \p i; a 4-bit write keeps the other
/// nibble of its byte.
inline void writeCode(DataType t, void* p, int64_t i, int32_t v) {
  switch (t) {
    case DataType::kUInt8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v); break;
    case DataType::kInt8: static_cast<int8_t*>(p)[i] = static_cast<int8_t>(v); break;
    case DataType::kUInt16: static_cast<uint16_t*>(p)[i] = static_cast<uint16_t>(v); break;
    case DataType::kInt16: static_cast<int16_t*>(p)[i] = static_cast<int16_t>(v); break;
    case DataType::kInt32: static_cast<int32_t*>(p)[i] = v; break;
    case DataType::kUInt4:
    case DataType::kInt4: {
      uint8_t& byte = static_cast<uint8_t*>(p)[i / 2];
      const uint8_t nib = static_cast<uint8_t>(v) & 0xF;
      byte = (i % 2) ? static_cast<uint8_t>((byte & 0x0F) | (nib << 4)) : static_cast<uint8_t>((byte & 0xF0) | nib);
      break;
    }
    default: break;
  }
}

}  // namespace vitq
