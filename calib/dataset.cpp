#include "calib/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "calib/npy_io.h"

namespace vitq {
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> sortedEntries(const fs::path& dir, bool want_dirs) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (want_dirs ? e.is_directory() : (e.is_regular_file() && e.path().extension() == ".npy")) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class FileListDataset : public Dataset {
 public:
  FileListDataset(std::vector<fs::path> files, const Value* input) : files_(std::move(files)), input_(input) {}
  size_t size() const override { return files_.size(); }
  StatusOr<TensorMap> sample(size_t index) const override {
    VITQ_ASSIGN_OR_RETURN(Tensor t, readNpy(files_.at(index)));
    VITQ_ASSIGN_OR_RETURN(Tensor conformed, conformSample(std::move(t), *input_, files_[index].string()));
    return TensorMap{{input_->name(), std::move(conformed)}};
  }

 private:
  std::vector<fs::path> files_;
  const Value* input_;
};

class FolderPerSampleDataset : public Dataset {
 public:
  FolderPerSampleDataset(std::vector<fs::path> dirs, std::vector<const Value*> inputs)
      : dirs_(std::move(dirs)), inputs_(std::move(inputs)) {}
  size_t size() const override { return dirs_.size(); }
  StatusOr<TensorMap> sample(size_t index) const override {
    TensorMap feeds;
    for (const Value* in : inputs_) {
      const fs::path file = dirs_.at(index) / (in->name() + ".npy");
      VITQ_ASSIGN_OR_RETURN(Tensor t, readNpy(file));
      VITQ_ASSIGN_OR_RETURN(feeds[in->name()], conformSample(std::move(t), *in, file.string()));
    }
    return feeds;
  }

 private:
  std::vector<fs::path> dirs_;
  std::vector<const Value*> inputs_;
};

// One .npy holding a batch: kept in memory (it is one file), sliced along dim 0.
class BatchFileDataset : public Dataset {
 public:
  BatchFileDataset(Tensor batch, const Value* input, std::string source)
      : batch_(std::move(batch)), input_(input), source_(std::move(source)) {}
  size_t size() const override { return static_cast<size_t>(batch_.dim(0)); }
  StatusOr<TensorMap> sample(size_t index) const override {
    Shape shape = batch_.shape();
    shape[0] = 1;
    Tensor one(batch_.dtype(), shape);
    const size_t bytes = one.byteSize();
    std::memcpy(one.rawData(), static_cast<const char*>(batch_.rawData()) + index * bytes, bytes);
    VITQ_ASSIGN_OR_RETURN(Tensor conformed,
                          conformSample(std::move(one), *input_, source_ + "[" + std::to_string(index) + "]"));
    return TensorMap{{input_->name(), std::move(conformed)}};
  }

 private:
  Tensor batch_;
  const Value* input_;
  std::string source_;
};

}  // namespace

StatusOr<Tensor> conformSample(Tensor t, const Value& input, const std::string& source) {
  const TensorType& type = input.type();
  if (type.dtype != DataType::kUndefined && t.dtype() != type.dtype) {
    return invalidArgument("'" + source + "' holds " + dataTypeName(t.dtype()) + "; input '" + input.name() +
                           "' takes " + dataTypeName(type.dtype));
  }
  if (type.dims) {
    const auto& dims = *type.dims;
    if (static_cast<size_t>(t.rank()) + 1 == dims.size()) {  // sample saved without its batch dim
      Shape with_batch{1};
      with_batch.insert(with_batch.end(), t.shape().begin(), t.shape().end());
      t = t.reshaped(with_batch);
    }
    bool ok = static_cast<size_t>(t.rank()) == dims.size();
    for (size_t i = 0; ok && i < dims.size(); ++i) ok = !dims[i].isKnown() || dims[i].value == t.shape()[i];
    if (!ok) {
      return invalidArgument("'" + source + "' has shape " + shapeToString(t.shape()) + "; input '" + input.name() +
                             "' is " + type.toString());
    }
  }
  if (t.dtype() == DataType::kFloat) {
    const float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (!std::isfinite(p[i])) {
        return invalidArgument("'" + source + "' contains " + (std::isnan(p[i]) ? "NaN" : "Inf") + " at element " +
                               std::to_string(i));
      }
    }
  }
  return t;
}

StatusOr<std::unique_ptr<Dataset>> openNpyDataset(const fs::path& path, const std::vector<const Value*>& inputs) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return notFound("data path '" + path.string() + "' does not exist");
  if (inputs.empty()) return invalidArgument("the model has no inputs to feed");
  if (fs::is_regular_file(path, ec)) {
    if (inputs.size() != 1) return invalidArgument("one .npy batch file can only feed a one-input model");
    VITQ_ASSIGN_OR_RETURN(Tensor batch, readNpy(path));
    if (batch.rank() == 0 || batch.dim(0) == 0) return invalidArgument("'" + path.string() + "' holds no samples");
    return std::unique_ptr<Dataset>(new BatchFileDataset(std::move(batch), inputs[0], path.string()));
  }
  std::unique_ptr<Dataset> ds;
  if (inputs.size() == 1) {
    auto files = sortedEntries(path, false);
    if (!files.empty()) ds.reset(new FileListDataset(std::move(files), inputs[0]));
  }
  if (!ds) {
    auto dirs = sortedEntries(path, true);
    if (!dirs.empty()) ds.reset(new FolderPerSampleDataset(std::move(dirs), inputs));
  }
  if (!ds) {
    return invalidArgument("data folder '" + path.string() + "' holds no samples (" +
                           (inputs.size() == 1 ? std::string(".npy files") : "one subfolder per sample with <input>.npy files") + ")");
  }
  return ds;
}

}  // namespace vitq
