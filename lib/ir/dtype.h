// Element types. The enum values are ONNX's TensorProto.DataType codes, so conversion at the
// import/export edge is a cast and newer codes (float8, int4) pass through unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vitq {

enum class DataType : int32_t {
  kUndefined = 0,
  kFloat = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kDouble = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBFloat16 = 16,
  kFloat8E4M3FN = 17,
  kFloat8E4M3FNUZ = 18,
  kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20,
  kUInt4 = 21,
  kInt4 = 22,
  kFloat4E2M1 = 23,
};

/// True for codes vitq knows (the table above); anything else is rejected at import.
bool isKnownDataType(int32_t code);
/// Lower-case ONNX spelling: "float", "int8", "uint4", ...
const char* dataTypeName(DataType t);
/// Storage bits per element: 4 for int4/uint4/float4, 8 * bytes otherwise, 0 for string/undefined.
int dataTypeBits(DataType t);
bool isFloatingPoint(DataType t);
bool isInteger(DataType t);  // signed or unsigned, bool excluded
bool isSignedInteger(DataType t);

/// Bytes needed to store \p count elements (sub-byte types are packed two per byte, as in ONNX).
size_t storageBytes(DataType t, int64_t count);

/// Maps a C++ type to its DataType (used by Tensor::data<T>() to check the element type).
template <typename T>
struct DataTypeOf;
template <> struct DataTypeOf<float> { static constexpr DataType value = DataType::kFloat; };
template <> struct DataTypeOf<double> { static constexpr DataType value = DataType::kDouble; };
template <> struct DataTypeOf<uint8_t> { static constexpr DataType value = DataType::kUInt8; };
template <> struct DataTypeOf<int8_t> { static constexpr DataType value = DataType::kInt8; };
template <> struct DataTypeOf<uint16_t> { static constexpr DataType value = DataType::kUInt16; };
template <> struct DataTypeOf<int16_t> { static constexpr DataType value = DataType::kInt16; };
template <> struct DataTypeOf<int32_t> { static constexpr DataType value = DataType::kInt32; };
template <> struct DataTypeOf<int64_t> { static constexpr DataType value = DataType::kInt64; };
template <> struct DataTypeOf<uint32_t> { static constexpr DataType value = DataType::kUInt32; };
template <> struct DataTypeOf<uint64_t> { static constexpr DataType value = DataType::kUInt64; };
template <> struct DataTypeOf<bool> { static constexpr DataType value = DataType::kBool; };

}  // namespace vitq
