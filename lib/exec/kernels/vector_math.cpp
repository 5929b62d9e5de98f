#include "exec/kernels/vector_math.h"

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>

namespace vitq::vec {
namespace {

constexpr int64_t kChunk = 4096;  // elements; a multiple of every SIMD width

template <typename F>
void chunked(const float* in, float* out, int64_t n, F f) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  auto one = [&](int64_t c) {
    const int64_t begin = c * kChunk, len = std::min(kChunk, n - begin);
    Eigen::Map<const Eigen::ArrayXf> x(in + begin, len);
    Eigen::Map<Eigen::ArrayXf> y(out + begin, len);
    f(x, y);
  };
  // Small inputs (a softmax row) stay out of OpenMP: even a one-thread region costs a microsecond.
  if (chunks <= 16) {
    for (int64_t c = 0; c < chunks; ++c) one(c);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) one(c);
}

}  // namespace

void exp(const float* in, float* out, int64_t n) {
  chunked(in, out, n, [](const auto& x, auto& y) { y = x.exp(); });
}

void erf(const float* in, float* out, int64_t n) {
  chunked(in, out, n, [](const auto& x, auto& y) { y = x.erf(); });
}

void tanh(const float* in, float* out, int64_t n) {
  chunked(in, out, n, [](const auto& x, auto& y) { y = x.tanh(); });
}

void sigmoid(const float* in, float* out, int64_t n) {
  chunked(in, out, n, [](const auto& x, auto& y) { y = x.logistic(); });
}

}  // namespace vitq::vec
