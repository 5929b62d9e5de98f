// Reading tensors stored outside the model file. Locations are confined to the model's folder:
// absolute paths, "..", and symlinks that lead elsewhere are refused.
#pragma once

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <string>

#include "core/status.h"

namespace vitq {

/// Reads the \p expected_bytes of \p proto's external data relative to \p model_dir.
StatusOr<std::string> readExternalData(const onnx::TensorProto& proto,
                                       const std::filesystem::path& model_dir,
                                       size_t expected_bytes);

/// Resolves \p location inside \p model_dir, or explains why it is refused.
StatusOr<std::filesystem::path> confineToFolder(const std::string& location,
                                                const std::filesystem::path& model_dir);

}  // namespace vitq
