// Reading NumPy .npz archives (np.savez, np.savez_compressed): a ZIP of .npy files, stored or
// deflated, ZIP64 included. Every size and offset is checked against the file before use, every
// entry's CRC-32 is verified, and an entry may not claim more than deflate could expand to.
// Nothing is held whole: opening streams each entry once (checking its CRC-32 and size), and the
// arrays then read their rows from the file, a deflated entry by inflating up to the rows.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "calib/npy_io.h"
#include "core/status.h"

namespace vitq {

/// The arrays of \p path in archive order, named as np.savez names them (the entry name without
/// ".npy"). Errors name the file and the entry.
StatusOr<std::vector<std::pair<std::string, NpyArray>>> openNpz(const std::filesystem::path& path);

}  // namespace vitq
