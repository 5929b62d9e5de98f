#include "calib/open_dataset.h"

#include "calib/image_dataset.h"
#include "calib/image_decode.h"
#include "calib/preprocess.h"

namespace vitq {
namespace fs = std::filesystem;

namespace {

bool holdsNpy(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".npy") return true;
  }
  return false;
}

}  // namespace

StatusOr<std::unique_ptr<Dataset>> openDataset(const fs::path& path, const std::vector<const Value*>& inputs,
                                               const std::string& preprocess) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return notFound("data path '" + path.string() + "' does not exist");
  if (!fs::is_directory(path, ec) && !fs::is_regular_file(path, ec)) {
    return invalidArgument("data path '" + path.string() + "' is neither a file nor a folder (a pipe or device: "
                           "vitq reads samples from files)");
  }
  std::vector<fs::path> images;
  if (fs::is_directory(path, ec)) {
    images = imageFilesIn(path);
    if (!images.empty() && holdsNpy(path)) {
      return invalidArgument("data folder '" + path.string() +
                             "' mixes images and .npy files: keep one kind of sample per folder");
    }
  } else if (isImageFile(path)) {
    images.push_back(path);
  }
  if (images.empty()) {
    if (!preprocess.empty()) {
      return invalidArgument("--preprocess applies to images; '" + path.string() + "' holds no .png, .jpg or .jpeg files");
    }
    return openNpyDataset(path, inputs);
  }
  if (preprocess.empty()) {
    return invalidArgument("'" + path.string() +
                           "' holds images: say how to turn them into the input with --preprocess (docs/cli.md)");
  }
  VITQ_ASSIGN_OR_RETURN(Preprocess p, parsePreprocess(preprocess));
  if (inputs.size() != 1) {
    return invalidArgument("images feed one-input models; this model has " + std::to_string(inputs.size()) +
                           " inputs (use .npz or a folder per sample)");
  }
  return makeImageDataset(std::move(images), inputs[0], std::move(p), preprocess);
}

}  // namespace vitq
