#include "support/random_dataset.h"

#include <random>

namespace vitq::test {

NormalDataset::NormalDataset(size_t n, const Shape& shape, unsigned seed, std::string input) : input_(std::move(input)) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (size_t i = 0; i < n; ++i) {
    Tensor x(DataType::kFloat, shape);
    for (int64_t k = 0; k < x.numel(); ++k) x.data<float>()[k] = dist(gen);
    samples_.push_back(x);
  }
}

}  // namespace vitq::test
