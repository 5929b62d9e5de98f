// Calibration datasets: a sequence of samples, each a map from model input name to a tensor with
// a batch dimension of 1. Readers stream: only one sample is in memory at a time.
#pragma once

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "exec/executor.h"

namespace vitq {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual size_t size() const = 0;
  /// Sample \p index, validated (finite values, shape matching the model's declared input).
  virtual StatusOr<TensorMap> sample(size_t index) const = 0;
};

/// Samples [begin, begin + count) of another dataset (clamped to its size), without copying.
class DatasetSlice : public Dataset {
 public:
  DatasetSlice(const Dataset& base, size_t begin, size_t count) : base_(base), begin_(begin), count_(count) {}
  size_t size() const override {
    return begin_ >= base_.size() ? 0 : std::min(count_, base_.size() - begin_);
  }
  StatusOr<TensorMap> sample(size_t index) const override { return base_.sample(begin_ + index); }

 private:
  const Dataset& base_;
  size_t begin_, count_;
};

/// Reads .npy samples for the model inputs \p inputs:
/// - a folder of .npy files, one sample each (with or without the batch dim), for a one-input model;
/// - a folder of sample subfolders holding <input name>.npy, for several inputs;
/// - one .npy file holding a batch, split along its first dim (one-input models).
/// Files are visited in name order. Errors name the file.
StatusOr<std::unique_ptr<Dataset>> openNpyDataset(const std::filesystem::path& path,
                                                  const std::vector<const Value*>& inputs);

/// Checks \p t against \p input's declared type (dtype, rank, known dims; a missing batch dim is
/// added) and rejects NaN/Inf and samples of no elements; \p source names the file in errors.
StatusOr<Tensor> conformSample(Tensor t, const Value& input, const std::string& source);

}  // namespace vitq
