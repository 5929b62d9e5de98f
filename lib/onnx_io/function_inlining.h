// Inlining of model-local functions (ModelProto.functions): every node that calls one is replaced
// by the function's body, with the body's values renamed apart. Lets vitq's executor, which has
// kernels only for operators, run models whose custom ops are defined as functions (the I-ViT
// integer export's vitq.Shiftmax, vitq.ShiftGELU, vitq.ILayerNorm).
#pragma once

#include <onnx/onnx_pb.h>

#include "core/status.h"

namespace vitq {

/// Inlines every call of a local function in the main graph (nested calls too) and drops the
/// inlined functions. Fails on attribute references (ref_attr_name), which vitq does not bind, and
/// on recursion deeper than 16 levels. Returns the number of calls inlined.
StatusOr<int> inlineLocalFunctions(onnx::ModelProto& proto);

}  // namespace vitq
