// Image datasets: PNG/JPEG files, one sample each, turned into the model input by a declared
// preprocessing (calib/preprocess.h). Streams: one image is decoded per sample() call.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "calib/dataset.h"
#include "calib/preprocess.h"

namespace vitq {

/// The images \p files (in this order) for the one input \p input. \p preprocess_text is the
/// declaration as the user wrote it, quoted in shape errors.
std::unique_ptr<Dataset> makeImageDataset(std::vector<std::filesystem::path> files, const Value* input,
                                          Preprocess preprocess, std::string preprocess_text);

/// The image files of folder \p dir, sorted by name (.png, .jpg, .jpeg).
std::vector<std::filesystem::path> imageFilesIn(const std::filesystem::path& dir);

}  // namespace vitq
