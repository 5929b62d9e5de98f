#include "calib/image_dataset.h"

#include <algorithm>

#include "calib/image_decode.h"

namespace vitq {
namespace fs = std::filesystem;

namespace {

class ImageDataset : public Dataset {
 public:
  ImageDataset(std::vector<fs::path> files, const Value* input, Preprocess preprocess, std::string text)
      : files_(std::move(files)), input_(input), preprocess_(std::move(preprocess)), text_(std::move(text)) {}
  size_t size() const override { return files_.size(); }
  StatusOr<TensorMap> sample(size_t index) const override {
    const std::string source = files_.at(index).string();
    VITQ_ASSIGN_OR_RETURN(Image image, readImage(files_[index]));
    VITQ_ASSIGN_OR_RETURN(Tensor t, preprocessImage(image, preprocess_, source));
    auto conformed = conformSample(std::move(t), *input_, source);
    if (!conformed.isOk()) {
      const Status& s = conformed.status();
      return Status(s.code(), s.message() + " (the image after --preprocess '" + text_ + "')");
    }
    return TensorMap{{input_->name(), std::move(conformed).value()}};
  }

 private:
  std::vector<fs::path> files_;
  const Value* input_;
  Preprocess preprocess_;
  std::string text_;
};

}  // namespace

std::unique_ptr<Dataset> makeImageDataset(std::vector<fs::path> files, const Value* input, Preprocess preprocess,
                                          std::string preprocess_text) {
  return std::make_unique<ImageDataset>(std::move(files), input, std::move(preprocess), std::move(preprocess_text));
}

std::vector<fs::path> imageFilesIn(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && isImageFile(e.path())) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace vitq
