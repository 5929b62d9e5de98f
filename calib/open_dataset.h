// Which reader a `--data` path needs: .npy/.npz samples (calib/dataset.h), or image files with
// the preprocessing declared by `--preprocess` (calib/image_dataset.h).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "calib/dataset.h"

namespace vitq {

/// Opens \p path for the model inputs \p inputs. A folder holding .png/.jpg/.jpeg files (or one
/// such file) is an image dataset for a one-input model and needs \p preprocess (the
/// `--preprocess` text); anything else is read by openNpyDataset, and \p preprocess must be empty.
/// A folder mixing images and .npy files is refused.
StatusOr<std::unique_ptr<Dataset>> openDataset(const std::filesystem::path& path,
                                               const std::vector<const Value*>& inputs,
                                               const std::string& preprocess);

}  // namespace vitq
