// ValueInfoProto/TypeProto <-> Value types. Tensor types become TensorType; other kinds
// (sequence, map, optional, sparse) are kept serialized so export gives them back unchanged.
#pragma once

#include <onnx/onnx_pb.h>

#include "ir/value.h"

namespace vitq {

void applyTypeProto(const onnx::TypeProto& type, Value* value);
void writeTypeProto(const Value& value, onnx::TypeProto* type);

}  // namespace vitq
