// raise-opset: moves a model at ai.onnx opset 13..20 to a newer opset (up to 21) in vitq's IR,
// rewriting the ops whose form or meaning changed on the way; the others only gained types. Needed
// by 4-bit QDQ exports (INT4/UINT4 in QuantizeLinear/DequantizeLinear need opset 21, IR 10), past
// what onnx 1.12's version converter knows (17).
#pragma once

#include <cstdint>

#include "core/status.h"
#include "ir/graph.h"

namespace vitq {

/// The newest ai.onnx opset raiseOpset reaches.
constexpr int64_t kNewestRaisableOpset = 21;

/// Rewrites \p model in place for ai.onnx opset \p target:
/// - 16: RoiAlign without coordinate_transformation_mode gets "output_half_pixel" (the old
///   behaviour; the new default is "half_pixel");
/// - 18: the axes attribute of ReduceL1/L2/LogSum/LogSumExp/Max/Mean/Min/Prod/SumSquare becomes an
///   int64 initializer input; Split without a split input gets num_outputs;
/// - 20: GridSample's modes "bilinear"/"bicubic" become "linear"/"cubic".
/// Fails naming the node for ops it cannot carry over (DFT before 20, ops with subgraphs); a model
/// already at or above \p target is left unchanged. The IR version rises to the one \p target needs.
Status raiseOpset(Model& model, int64_t target);

/// Whether raiseOpset(\p model, \p target) would succeed, without changing anything: for callers
/// that want to refuse before long work.
Status checkRaiseOpset(const Model& model, int64_t target);

}  // namespace vitq
