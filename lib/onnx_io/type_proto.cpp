#include "onnx_io/type_proto.h"

namespace vitq {

void applyTypeProto(const onnx::TypeProto& type, Value* value) {
  if (type.value_case() != onnx::TypeProto::kTensorType) {
    if (type.value_case() != onnx::TypeProto::VALUE_NOT_SET) value->setOpaqueType(type.SerializeAsString());
    return;
  }
  const auto& tt = type.tensor_type();
  TensorType out;
  out.dtype = isKnownDataType(tt.elem_type()) ? static_cast<DataType>(tt.elem_type()) : DataType::kUndefined;
  if (tt.has_shape()) {
    std::vector<Dim> dims;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) dims.push_back(Dim::known(d.dim_value()));
      else if (d.has_dim_param()) dims.push_back(Dim::symbolic(d.dim_param()));
      else dims.push_back(Dim{});
    }
    out.dims = std::move(dims);
  }
  value->type() = std::move(out);
}

void writeTypeProto(const Value& value, onnx::TypeProto* type) {
  if (!value.opaqueType().empty()) {
    type->ParseFromString(value.opaqueType());
    return;
  }
  const TensorType& t = value.type();
  auto* tt = type->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(t.dtype));
  if (!t.dims) return;
  auto* shape = tt->mutable_shape();
  for (const Dim& d : *t.dims) {
    auto* dim = shape->add_dim();
    if (d.isKnown()) dim->set_dim_value(d.value);
    else if (!d.param.empty()) dim->set_dim_param(d.param);
  }
}

}  // namespace vitq
