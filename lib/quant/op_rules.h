// Which ops vitq quantizes and how: one table, used by placement passes and by `vitq inspect`
// to count quantizable nodes and explain why a node stays float.
#pragma once

#include <string>

#include "ir/node.h"

namespace vitq {

enum class QuantRole {
  kCompute,      // integer kernel candidate: Conv, ConvTranspose, Gemm, MatMul
  kPassThrough,  // moves or selects values; shares its input's quantization (Reshape, MaxPool, ...)
  kFloat,        // stays in float unless a method lowers it (Softmax, LayerNorm, GELU, ...)
};

QuantRole quantRole(const Node& node);
/// Conv, ConvTranspose and Gemm: a third input is a bias added per output channel (int32 in QDQ).
bool takesBias(const Node& node);
/// Ops that only move or select elements of their first input (no arithmetic, no second data
/// input): the integer lowering applies them to the codes unchanged.
bool movesElementsOnly(const Node& node);
const char* quantRoleName(QuantRole role);
/// One sentence on why \p node has its role, for reports ("Softmax stays float: ...").
std::string quantRoleReason(const Node& node);

}  // namespace vitq
