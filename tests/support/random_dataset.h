// In-memory datasets of normal samples for tests that calibrate or score models.
#pragma once

#include <string>
#include <vector>

#include "calib/dataset.h"

namespace vitq::test {

/// \p n samples of shape \p shape for the input \p input, N(0, 1), reproducible from \p seed.
class NormalDataset : public Dataset {
 public:
  NormalDataset(size_t n, const Shape& shape, unsigned seed, std::string input = "X");
  size_t size() const override { return samples_.size(); }
  StatusOr<TensorMap> sample(size_t i) const override { return TensorMap{{input_, samples_.at(i)}}; }

 private:
  std::string input_;
  std::vector<Tensor> samples_;
};

}  // namespace vitq::test
