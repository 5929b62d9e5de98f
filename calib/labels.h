// Class labels for the samples of a dataset (`--labels y.npy`): one integer per sample, in the
// dataset's order, so that reports can give task accuracy next to agreement with the float model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/status.h"

namespace vitq {

/// Reads a 1-D (or [N, 1]) integer .npy of at least \p needed labels; errors name the file.
StatusOr<std::vector<int64_t>> readLabels(const std::filesystem::path& path, size_t needed);

}  // namespace vitq
