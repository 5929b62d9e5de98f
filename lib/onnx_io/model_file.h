// Reading an ONNX file into a ModelProto, with clear errors for missing, empty, truncated and
// non-ONNX files.
#pragma once

#include <onnx/onnx_pb.h>

#include <filesystem>

#include "core/status.h"

namespace vitq {

StatusOr<onnx::ModelProto> readModelProto(const std::filesystem::path& path);

/// Deterministic serialization (same model, same bytes).
StatusOr<std::string> serializeModelProto(const onnx::ModelProto& proto);

}  // namespace vitq
