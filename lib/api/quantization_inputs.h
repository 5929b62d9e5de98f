// What `vitq quantize` and `vitq sensitivity` start from: the float model twice (a reference and
// a working copy, both at opset >= 13 with BatchNorms folded and every node named, so that names
// match), the
// sample dataset, and its split into calibration and evaluation samples.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "calib/dataset.h"
#include "ir/graph.h"

namespace vitq {

struct SampleSplit {
  size_t calib_samples = 0;  // 0: all calibration samples
  size_t eval_samples = 0;   // 0: as many as calibration uses
  size_t holdout = 0;        // the last N samples: evaluation only, never calibration
};

struct QuantizationInputs {
  Model original;  // as loaded; the dataset checks samples against its inputs
  Model reference;
  Model working;
  std::unique_ptr<Dataset> data;
  std::unique_ptr<Dataset> calib;  // slices of data
  std::unique_ptr<Dataset> eval;
  size_t eval_begin = 0;  // index in data of eval's first sample
};

/// The labels of the evaluation samples from \p path (one per sample of the whole data), or none
/// when \p path is empty.
StatusOr<std::vector<int64_t>> evalLabels(const QuantizationInputs& in, const std::string& path);

/// The value each compute layer is judged by in reports: its output, or for a MatMul its bias
/// Add's output (reparameterizations move part of the bias into the MatMul; only the sum is kept).
std::vector<std::string> judgedLayerValues(const Graph& graph);

/// \p preprocess: the `--preprocess` declaration for image data (empty for .npy/.npz data).
StatusOr<QuantizationInputs> loadQuantizationInputs(const std::string& model_path, const std::string& data_path,
                                                    const SampleSplit& split, int threads,
                                                    const std::string& preprocess = "");

}  // namespace vitq
