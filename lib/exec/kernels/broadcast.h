// numpy-style broadcasting loops for elementwise kernels: out[i] = f(a[ia], b[ib] [, c[ic]]).
#pragma once

#include <algorithm>
#include <vector>

#include "exec/kernels/kernel_utils.h"

namespace vitq {

/// Row form: after merging dims that broadcast alike, calls
/// row(out_offset, base_offsets, steps, length) for each contiguous run of the output, where input
/// k's elements are base_offsets[k] + j * steps[k] (steps are 0 or 1 for broadcast / contiguous).
/// Hot binary kernels specialize their inner loop on the steps, so it vectorizes.
template <typename Row>
void forEachBroadcastRow(const Shape& out, const std::vector<Shape>& ins, Row&& row) {
  const int64_t total = product(out);
  if (total == 0) return;
  const size_t k = ins.size();
  std::vector<std::vector<int64_t>> strides;
  for (const Shape& s : ins) strides.push_back(broadcastStrides(s, out));
  // Merge dim d into d+1 when every input's stride pattern continues across the boundary.
  Shape dims;
  std::vector<std::vector<int64_t>> st(k);
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;
    bool merge = !dims.empty();
    for (size_t j = 0; merge && j < k; ++j) merge = st[j].back() == strides[j][d] * out[d];
    if (merge) {
      dims.back() *= out[d];
      for (size_t j = 0; j < k; ++j) st[j].back() = strides[j][d];
    } else {
      dims.push_back(out[d]);
      for (size_t j = 0; j < k; ++j) st[j].push_back(strides[j][d]);
    }
  }
  if (dims.empty()) {
    dims.push_back(1);
    for (size_t j = 0; j < k; ++j) st[j].push_back(0);
  }
  const size_t rank = dims.size();
  const int64_t inner = dims[rank - 1];
  const int64_t rows = total / inner;
  int64_t steps[4] = {0, 0, 0, 0};
  for (size_t j = 0; j < k; ++j) steps[j] = st[j][rank - 1];
  // Long rows (same-shape operands merge into one) are cut into pieces so threads share them.
  constexpr int64_t kPiece = 16384;
  const int64_t pieces = inner > 4 * kPiece ? (inner + kPiece - 1) / kPiece : 1;
  const int64_t piece_len = pieces > 1 ? kPiece : inner;
#pragma omp parallel for schedule(static) if (total > 65536 && rows * pieces > 1)
  for (int64_t rp = 0; rp < rows * pieces; ++rp) {
    const int64_t r = rp / pieces, first = rp % pieces * piece_len;
    int64_t base[4] = {0, 0, 0, 0};
    int64_t rem = r;
    for (size_t d = rank - 1; d-- > 0;) {
      const int64_t idx = rem % dims[d];
      rem /= dims[d];
      for (size_t j = 0; j < k; ++j) base[j] += idx * st[j][d];
    }
    for (size_t j = 0; j < k; ++j) base[j] += first * steps[j];
    row(r * inner + first, base, steps, std::min(piece_len, inner - first));
  }
}

/// Calls body(out_index, offsets) for every output element, where offsets[k] is the flat index into
/// input k. Convenient for cold kernels; hot ones use the row form directly.
template <typename Body>
void forEachBroadcast(const Shape& out, const std::vector<Shape>& ins, Body&& body) {
  const size_t k = ins.size();
  forEachBroadcastRow(out, ins, [&](int64_t first, const int64_t* base, const int64_t* step, int64_t n) {
    int64_t offs[4];
    for (int64_t j = 0; j < n; ++j) {
      for (size_t q = 0; q < k; ++q) offs[q] = base[q] + j * step[q];
      body(first + j, offs);
    }
  });
}

}  // namespace vitq
