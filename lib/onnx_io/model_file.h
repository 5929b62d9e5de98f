// Reading an ONNX file into a ModelProto, with clear errors for missing, empty, truncated and
// non-ONNX files.
#pragma once

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <string>

#include "core/status.h"

namespace vitq {

StatusOr<onnx::ModelProto> readModelProto(const std::filesystem::path& path);

/// The same checks on bytes already in memory; \p label names them in errors.
StatusOr<onnx::ModelProto> parseModelProto(const void* data, size_t size, const std::string& label);

/// Deterministic serialization (same model, same bytes).
StatusOr<std::string> serializeModelProto(const onnx::ModelProto& proto);

}  // namespace vitq
