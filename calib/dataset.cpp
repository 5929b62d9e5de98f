#include "calib/dataset.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "calib/npy_io.h"
#include "calib/npz_io.h"
#include "core/logging.h"

namespace vitq {
namespace fs = std::filesystem;

namespace {

// The folder's samples in name order. A sample that is a broken link (a dataset whose files a
// tool like git-annex has not fetched) is an error, not a silently smaller calibration set; so is a
// `.npy` that is no regular file (a folder, pipe or socket) where files are the samples.
StatusOr<std::vector<fs::path>> sortedEntries(const fs::path& dir, bool want_dirs) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::directory_entry& e = *it;
    std::error_code link_ec;
    if (e.is_symlink(link_ec) && !fs::exists(e.path(), link_ec)) {
      return notFound("'" + e.path().string() + "' in data folder '" + dir.string() + "' is a link to nothing ('" +
                      fs::read_symlink(e.path(), link_ec).string() + "')");
    }
    const bool npy = e.path().extension() == ".npy";
    if (!want_dirs && npy && !e.is_regular_file(link_ec)) {
      return invalidArgument("'" + e.path().string() + "' in data folder '" + dir.string() +
                             "' is not a regular file (a folder, pipe, socket or device); samples are .npy files");
    }
    if (want_dirs ? e.is_directory(link_ec) : npy) out.push_back(e.path());
  }
  if (ec) return ioError("cannot list data folder '" + dir.string() + "': " + ec.message());
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

// Batches (one .npy, or the arrays of one .npz), one per input, read one sample at a time along dim 0.
class BatchDataset : public Dataset {
 public:
  struct Input {
    const Value* value;
    NpyArray batch;
    std::string source;  // names the array in errors
  };
  explicit BatchDataset(std::vector<Input> inputs) : inputs_(std::move(inputs)) {}
  size_t size() const override { return static_cast<size_t>(inputs_.at(0).batch.shape().at(0)); }
  StatusOr<TensorMap> sample(size_t index) const override {
    TensorMap feeds;
    for (const Input& in : inputs_) {
      VITQ_ASSIGN_OR_RETURN(Tensor one, in.batch.rows(static_cast<int64_t>(index), 1));
      auto sample = conformSample(std::move(one), *in.value, in.source + "[" + std::to_string(index) + "]");
      if (!sample.isOk()) {
        // Say how the sample was cut from the file: the usual cause is a batch saved in another layout.
        Shape sample_shape{1};
        sample_shape.insert(sample_shape.end(), in.batch.shape().begin() + 1, in.batch.shape().end());
        return invalidArgument(sample.status().message() + " (a batch file of shape " +
                               shapeToString(in.batch.shape()) + " is split along its first dimension: " +
                               std::to_string(in.batch.shape().at(0)) + " samples of shape " + shapeToString(sample_shape) + ")");
      }
      feeds[in.value->name()] = std::move(sample).value();
    }
    return feeds;
  }

 private:
  std::vector<Input> inputs_;
};

// The arrays of an .npz matched to the model inputs: by name, or the only array for a one-input model.
StatusOr<std::vector<BatchDataset::Input>> matchArrays(const fs::path& path, const std::vector<const Value*>& inputs) {
  VITQ_ASSIGN_OR_RETURN(auto arrays, openNpz(path));
  std::vector<BatchDataset::Input> matched;
  for (const Value* input : inputs) {
    auto it = std::find_if(arrays.begin(), arrays.end(), [&](const auto& a) { return a.first == input->name(); });
    if (it == arrays.end() && inputs.size() == 1 && arrays.size() == 1) it = arrays.begin();
    if (it == arrays.end()) {
      std::string names;
      for (const auto& a : arrays) names += (names.empty() ? "" : ", ") + a.first;
      return invalidArgument("'" + path.string() + "' has no array for input '" + input->name() + "' (it has: " +
                             names + ")");
    }
    matched.push_back({input, it->second, path.string() + ":" + it->first});
  }
  for (const auto& m : matched) {
    if (m.batch.shape().empty() || m.batch.shape()[0] != matched[0].batch.shape()[0]) {
      return invalidArgument("'" + path.string() + "': the arrays must hold the same number of samples (dim 0); " +
                             m.source + " has shape " + shapeToString(m.batch.shape()));
    }
  }
  return matched;
}

// numpy's default float64 arrays, for a float input: converted, refusing what float32 cannot hold.
StatusOr<Tensor> narrowToFloat(const Tensor& t, const std::string& source) {
  Tensor out = Tensor::uninitialized(DataType::kFloat, t.shape());
  const double* p = t.data<double>();
  float* q = out.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {  // NaN and Inf pass through to conformSample's check
    if (std::isfinite(p[i]) && std::fabs(p[i]) > std::numeric_limits<float>::max()) {
      return invalidArgument("'" + source + "' holds float64 and element " + std::to_string(i) + " (" +
                             std::to_string(p[i]) + ") is past float32's range");
    }
    q[i] = static_cast<float>(p[i]);
  }
  static std::atomic<bool> noted{false};
  if (!noted.exchange(true)) {
    logger("vitq.data")->warn("'{}' holds float64 (numpy's default); samples are converted to float32", source);
  }
  return out;
}

}  // namespace

StatusOr<Tensor> conformSample(Tensor t, const Value& input, const std::string& source) {
  const TensorType& type = input.type();
  if (type.dtype == DataType::kFloat && t.dtype() == DataType::kDouble) {
    VITQ_ASSIGN_OR_RETURN(t, narrowToFloat(t, source));
  }
  if (type.dtype != DataType::kUndefined && t.dtype() != type.dtype) {
    return invalidArgument("'" + source + "' holds " + dataTypeName(t.dtype()) + "; input '" + input.name() +
                           "' takes " + dataTypeName(type.dtype));
  }
  if (t.numel() == 0) {
    return invalidArgument("'" + source + "' has shape " + shapeToString(t.shape()) +
                           ", which holds no elements; a sample needs at least one");
  }
  if (type.dims) {
    const auto& dims = *type.dims;
    const auto fits = [&dims](const Shape& shape) {
      bool ok = shape.size() == dims.size();
      for (size_t i = 0; ok && i < dims.size(); ++i) ok = !dims[i].isKnown() || dims[i].value == shape[i];
      return ok;
    };
    if (static_cast<size_t>(t.rank()) + 1 == dims.size()) {  // sample saved without its batch dim
      Shape with_batch{1};
      with_batch.insert(with_batch.end(), t.shape().begin(), t.shape().end());
      t = t.reshaped(with_batch);
    } else if (static_cast<size_t>(t.rank()) == dims.size() + 1 && t.shape()[0] == 1 &&
               fits(Shape(t.shape().begin() + 1, t.shape().end()))) {
      // An input with no batch dim (token ids [L], a single image [C, H, W]) fed a sample with one:
      // every row of a stacked batch file comes with it.
      t = t.reshaped(Shape(t.shape().begin() + 1, t.shape().end()));
    }
    if (!fits(t.shape())) {
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
    std::vector<BatchDataset::Input> batches;
    if (path.extension() == ".npz") {
      VITQ_ASSIGN_OR_RETURN(batches, matchArrays(path, inputs));
    } else {
      if (inputs.size() != 1) {
        return invalidArgument("one .npy batch file can only feed a one-input model; use an .npz with one array per input");
      }
      VITQ_ASSIGN_OR_RETURN(NpyArray batch, openNpy(path));
      batches.push_back({inputs[0], std::move(batch), path.string()});
    }
    if (batches[0].batch.shape().empty() || batches[0].batch.shape()[0] == 0) {
      return invalidArgument("'" + path.string() + "' holds no samples");
    }
    return std::unique_ptr<Dataset>(new BatchDataset(std::move(batches)));
  }
  std::unique_ptr<Dataset> ds;
  if (inputs.size() == 1) {
    VITQ_ASSIGN_OR_RETURN(auto files, sortedEntries(path, false));
    if (!files.empty()) ds.reset(new FileListDataset(std::move(files), inputs[0]));
  }
  if (!ds) {
    VITQ_ASSIGN_OR_RETURN(auto dirs, sortedEntries(path, true));
    if (!dirs.empty()) ds.reset(new FolderPerSampleDataset(std::move(dirs), inputs));
  }
  if (!ds) {
    return invalidArgument("data folder '" + path.string() + "' holds no samples (" +
                           (inputs.size() == 1 ? std::string(".npy files") : "one subfolder per sample with <input>.npy files") + ")");
  }
  return ds;
}

}  // namespace vitq
