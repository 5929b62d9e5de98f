#include "onnx_io/tensor_proto.h"

#include <cstring>

#include "ir/memory_limit.h"
#include "onnx_io/external_data.h"

namespace vitq {
namespace {

std::string tensorLabel(const onnx::TensorProto& proto) {
  return "tensor '" + proto.name() + "'";
}

template <typename Dst, typename Src>
void copyConverted(const Src& src, Tensor& t) {
  Dst* out = static_cast<Dst*>(t.rawData());
  for (int i = 0; i < src.size(); ++i) out[i] = static_cast<Dst>(src.Get(i));
}

Status sizeMismatch(const onnx::TensorProto& proto, int64_t have, int64_t want, const char* unit) {
  return invalidModel(tensorLabel(proto) + " holds " + std::to_string(have) + " " + unit +
                      " of data but its shape needs " + std::to_string(want));
}

// Typed repeated fields: one entry per element (two per element for complex types).
StatusOr<Tensor> fromTypedFields(const onnx::TensorProto& proto, DataType dtype, const Shape& shape,
                                 int64_t count) {
  const int64_t per_element =
      (dtype == DataType::kComplex64 || dtype == DataType::kComplex128) ? 2 : 1;
  switch (dtype) {
    case DataType::kFloat:
    case DataType::kComplex64: {
      if (proto.float_data_size() != count * per_element)
        return sizeMismatch(proto, proto.float_data_size(), count * per_element, "floats");
      Tensor t(dtype, shape);
      if (count) std::memcpy(t.rawData(), proto.float_data().data(), t.byteSize());
      return t;
    }
    case DataType::kDouble:
    case DataType::kComplex128: {
      if (proto.double_data_size() != count * per_element)
        return sizeMismatch(proto, proto.double_data_size(), count * per_element, "doubles");
      Tensor t(dtype, shape);
      if (count) std::memcpy(t.rawData(), proto.double_data().data(), t.byteSize());
      return t;
    }
    case DataType::kInt64: {
      if (proto.int64_data_size() != count) return sizeMismatch(proto, proto.int64_data_size(), count, "int64s");
      Tensor t(dtype, shape);
      if (count) std::memcpy(t.rawData(), proto.int64_data().data(), t.byteSize());
      return t;
    }
    case DataType::kUInt32:
    case DataType::kUInt64: {
      if (proto.uint64_data_size() != count) return sizeMismatch(proto, proto.uint64_data_size(), count, "uint64s");
      Tensor t(dtype, shape);
      if (dtype == DataType::kUInt32) copyConverted<uint32_t>(proto.uint64_data(), t);
      else copyConverted<uint64_t>(proto.uint64_data(), t);
      return t;
    }
    case DataType::kString: {
      if (proto.string_data_size() != count) return sizeMismatch(proto, proto.string_data_size(), count, "strings");
      Tensor t(dtype, shape);
      for (int i = 0; i < proto.string_data_size(); ++i) t.strings()[static_cast<size_t>(i)] = proto.string_data(i);
      return t;
    }
    case DataType::kInt32: {
      if (proto.int32_data_size() != count) return sizeMismatch(proto, proto.int32_data_size(), count, "int32s");
      Tensor t(dtype, shape);
      copyConverted<int32_t>(proto.int32_data(), t);
      return t;
    }
    case DataType::kInt16:
    case DataType::kUInt16:
    case DataType::kFloat16:
    case DataType::kBFloat16: {
      if (proto.int32_data_size() != count) return sizeMismatch(proto, proto.int32_data_size(), count, "int32s");
      Tensor t(dtype, shape);
      copyConverted<uint16_t>(proto.int32_data(), t);
      return t;
    }
    case DataType::kInt8:
    case DataType::kUInt8:
    case DataType::kBool:
    case DataType::kFloat8E4M3FN:
    case DataType::kFloat8E4M3FNUZ:
    case DataType::kFloat8E5M2:
    case DataType::kFloat8E5M2FNUZ: {
      if (proto.int32_data_size() != count) return sizeMismatch(proto, proto.int32_data_size(), count, "int32s");
      Tensor t(dtype, shape);
      copyConverted<uint8_t>(proto.int32_data(), t);
      return t;
    }
    case DataType::kInt4:
    case DataType::kUInt4:
    case DataType::kFloat4E2M1: {
      // Two 4-bit elements packed per int32_data entry (low nibble first).
      const int64_t entries = (count + 1) / 2;
      if (proto.int32_data_size() != entries) return sizeMismatch(proto, proto.int32_data_size(), entries, "int32s");
      Tensor t(dtype, shape);
      copyConverted<uint8_t>(proto.int32_data(), t);
      return t;
    }
    case DataType::kUndefined: break;
  }
  return unsupported(tensorLabel(proto) + " has data type " + dataTypeName(dtype));
}

bool hasTypedData(const onnx::TensorProto& p) {
  return p.float_data_size() || p.int32_data_size() || p.string_data_size() || p.int64_data_size() ||
         p.double_data_size() || p.uint64_data_size();
}

StatusOr<Tensor> decodeTensor(const onnx::TensorProto& proto, const TensorSource& source) {
  if (!isKnownDataType(proto.data_type())) {
    return invalidModel(tensorLabel(proto) + " has unknown data type code " + std::to_string(proto.data_type()));
  }
  const auto dtype = static_cast<DataType>(proto.data_type());
  if (proto.has_segment()) return unsupported(tensorLabel(proto) + " is segmented; segmented tensors are not supported");
  Shape shape(proto.dims().begin(), proto.dims().end());
  auto count_or = checkedElementCount(shape);
  if (!count_or.isOk()) return invalidModel(tensorLabel(proto) + ": " + count_or.status().message());
  const int64_t count = *count_or;

  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    if (!source.allow_external) return unsupported(tensorLabel(proto) + " uses external data, which is not allowed here");
    if (dtype == DataType::kString) return invalidModel(tensorLabel(proto) + ": string tensors cannot use external data");
    VITQ_ASSIGN_OR_RETURN(ExternalSpan span, locateExternalData(proto, source.model_dir, storageBytes(dtype, count)));
    Tensor t = Tensor::uninitialized(dtype, shape);  // every byte is read below (or the tensor is dropped)
    VITQ_RETURN_IF_ERROR(readExternalSpan(span, t.rawData()));
    return t;
  }
  if (proto.has_raw_data()) {
    if (dtype == DataType::kString) return invalidModel(tensorLabel(proto) + ": string tensors cannot use raw_data");
    const size_t want = storageBytes(dtype, count);
    if (proto.raw_data().size() != want) {
      return sizeMismatch(proto, static_cast<int64_t>(proto.raw_data().size()), static_cast<int64_t>(want), "bytes");
    }
    Tensor t = Tensor::uninitialized(dtype, shape);  // every byte is copied below
    if (want) std::memcpy(t.rawData(), proto.raw_data().data(), want);
    return t;
  }
  if (!hasTypedData(proto) && count != 0) {
    return invalidModel(tensorLabel(proto) + " of shape " + shapeToString(shape) + " has no data");
  }
  return fromTypedFields(proto, dtype, shape, count);
}

}  // namespace

bool carriesData(const onnx::TensorProto& proto) {
  return proto.has_raw_data() || proto.data_location() == onnx::TensorProto::EXTERNAL || hasTypedData(proto);
}

StatusOr<Tensor> tensorFromProto(const onnx::TensorProto& proto, const TensorSource& source) {
  // Every size is checked against the data the proto carries before anything is allocated; a
  // shape that passes those checks (external data in a sparse file) can still ask for more than
  // the machine has, which the Tensor refuses.
  try {
    return decodeTensor(proto, source);
  } catch (const TensorTooLarge& e) {
    return invalidModel(tensorLabel(proto) + " " + e.what());
  }
}

void tensorToProto(const Tensor& tensor, onnx::TensorProto* proto) {
  proto->set_data_type(static_cast<int32_t>(tensor.dtype()));
  proto->clear_dims();
  for (int64_t d : tensor.shape()) proto->add_dims(d);
  if (tensor.dtype() == DataType::kString) {
    for (const auto& s : tensor.strings()) proto->add_string_data(s);
    return;
  }
  proto->set_raw_data(static_cast<const char*>(tensor.rawData()), tensor.byteSize());
}

}  // namespace vitq
