// Vectorized float transcendentals for the hot elementwise kernels (GELU's Erf, Softmax's Exp,
// Tanh, Sigmoid): Eigen's SIMD polynomial forms, a few ulp from libm and several times faster.
// Work is cut into fixed chunks before it is spread over threads, so every element takes the same
// code path (SIMD body or scalar tail) whatever the thread count: results do not depend on it.
#pragma once

#include <cstdint>

namespace vitq::vec {

void exp(const float* in, float* out, int64_t n);
void erf(const float* in, float* out, int64_t n);
void tanh(const float* in, float* out, int64_t n);
void sigmoid(const float* in, float* out, int64_t n);

}  // namespace vitq::vec
