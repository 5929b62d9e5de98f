// The ONNX schema registry as vitq's shape inference sees it: ONNX's own, except that inference
// functions which trust their input shapes (and read past them on hostile models, crashing the
// process: found by the importer fuzzer) first check those shapes and fail cleanly.
#pragma once

#include <onnx/defs/schema.h>

namespace vitq {

/// A registry to pass to onnx::shape_inference::InferShapes instead of OpSchemaRegistry::Instance().
const onnx::ISchemaRegistry* guardedSchemaRegistry();

}  // namespace vitq
