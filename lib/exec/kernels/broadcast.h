// numpy-style broadcasting loops for elementwise kernels: out[i] = f(a[ia], b[ib] [, c[ic]]).
#pragma once

#include <vector>

#include "exec/kernels/kernel_utils.h"

namespace vitq {

/// Calls body(out_index, offsets) for every output element, where offsets[k] is the flat index into
/// input k (shapes \p ins broadcast to \p out). Rows of the last dim run in parallel.
template <typename Body>
void forEachBroadcast(const Shape& out, const std::vector<Shape>& ins, Body&& body) {
  const int64_t total = product(out);
  if (total == 0) return;
  bool same = true;
  for (const Shape& s : ins) same = same && s == out;
  const size_t k = ins.size();
  if (same) {
#pragma omp parallel for schedule(static) if (total > 65536)
    for (int64_t i = 0; i < total; ++i) {
      int64_t offs[4] = {i, i, i, i};
      body(i, offs);
    }
    return;
  }
  std::vector<std::vector<int64_t>> strides;
  for (const Shape& s : ins) strides.push_back(broadcastStrides(s, out));
  const size_t rank = out.size();
  const int64_t inner = rank ? out[rank - 1] : 1;
  const int64_t rows = total / inner;
#pragma omp parallel for schedule(static) if (total > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t base[4] = {0, 0, 0, 0};
    int64_t rem = r;
    for (size_t d = rank - 1; d-- > 0;) {
      const int64_t idx = rem % out[d];
      rem /= out[d];
      for (size_t j = 0; j < k; ++j) base[j] += idx * strides[j][d];
    }
    int64_t step[4] = {0, 0, 0, 0};
    for (size_t j = 0; j < k; ++j) step[j] = rank ? strides[j][rank - 1] : 0;
    for (int64_t x = 0; x < inner; ++x) {
      int64_t offs[4];
      for (size_t j = 0; j < k; ++j) offs[j] = base[j] + x * step[j];
      body(r * inner + x, offs);
    }
  }
}

}  // namespace vitq
