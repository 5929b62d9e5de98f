// Reading tensors stored outside the model file. Locations are confined to the model's folder:
// absolute paths, "..", and symlinks that lead elsewhere are refused.
#pragma once

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <string>

#include "core/status.h"

namespace vitq {

/// Where a tensor's external bytes are, checked: inside the model's folder, in a file long enough.
struct ExternalSpan {
  std::string label;  // "tensor 'w'", for errors
  std::filesystem::path path;
  uint64_t offset = 0;
  size_t bytes = 0;
};

/// Validates \p proto's external data entries relative to \p model_dir against the
/// \p expected_bytes of its shape, before anything is allocated for it.
StatusOr<ExternalSpan> locateExternalData(const onnx::TensorProto& proto, const std::filesystem::path& model_dir,
                                          size_t expected_bytes);

/// Reads the span into \p destination (the tensor's own buffer: the weights are never held twice).
Status readExternalSpan(const ExternalSpan& span, void* destination);

/// Resolves \p location inside \p model_dir, or explains why it is refused.
StatusOr<std::filesystem::path> confineToFolder(const std::string& location,
                                                const std::filesystem::path& model_dir);

}  // namespace vitq
