// Reading NumPy .npz archives (np.savez, np.savez_compressed): a ZIP of .npy files, stored or
// deflated, ZIP64 included. Every size and offset is checked against the file before use, every
// entry's CRC-32 is verified, and an entry may not claim more than deflate could expand to.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "ir/tensor.h"

namespace vitq {

/// The arrays of \p path in archive order, named as np.savez names them (the entry name without
/// ".npy"). Errors name the file and the entry.
StatusOr<std::vector<std::pair<std::string, Tensor>>> readNpz(const std::filesystem::path& path);

}  // namespace vitq
