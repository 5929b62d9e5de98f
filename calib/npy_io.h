// Reading and writing NumPy .npy files (format versions 1.0 to 3.0, little-endian, C order).
// Every header field and size is checked against the file before any data is read.
#pragma once

#include <filesystem>

#include "core/status.h"
#include "ir/tensor.h"

namespace vitq {

StatusOr<Tensor> readNpy(const std::filesystem::path& path);
/// Parses .npy bytes already in memory; \p label names the source in errors.
StatusOr<Tensor> parseNpy(const std::string& bytes, const std::string& label);
/// Serializes \p tensor as a version 1.0 .npy file image.
StatusOr<std::string> encodeNpy(const Tensor& tensor);
/// Writes atomically (temporary file, then rename).
Status writeNpy(const Tensor& tensor, const std::filesystem::path& path);

}  // namespace vitq
