#include "exec/kernels/layout.h"

#include <algorithm>
#include <cstring>

namespace vitq {

std::string unsupportedType(DataType dtype) {
  return std::string("element type ") + dataTypeName(dtype) + " is not supported";
}

StatusOr<std::vector<int64_t>> readInts(const KernelContext& ctx, const Tensor& t, const char* what) {
  if (!isInteger(t.dtype()) || dataTypeBits(t.dtype()) < 8) {
    return ctx.error(std::string(what) + " must be an integer tensor, got " + dataTypeName(t.dtype()));
  }
  return t.toInt64Vector();
}

StatusOr<std::optional<std::vector<int64_t>>> readIntsInputOrAttr(const KernelContext& ctx, size_t input,
                                                                  const char* attr) {
  if (ctx.hasInput(input)) {
    VITQ_ASSIGN_OR_RETURN(std::vector<int64_t> v, readInts(ctx, ctx.input(input), attr));
    return std::optional<std::vector<int64_t>>(std::move(v));
  }
  return ctx.attrs().getInts(attr);
}

bool isPermutation(const std::vector<int64_t>& perm, size_t rank) {
  if (perm.size() != rank) return false;
  std::vector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(rank) || seen[static_cast<size_t>(p)]) return false;
    seen[static_cast<size_t>(p)] = true;
  }
  return true;
}

namespace {

// Offset in the input of output row `row` (row-major over the output dims [0, dims)).
inline int64_t rowOffset(int64_t row, const std::vector<int64_t>& out, const std::vector<int64_t>& st, size_t dims) {
  int64_t off = 0;
  for (size_t d = dims; d-- > 0;) {
    off += (row % out[d]) * st[d];
    row /= out[d];
  }
  return off;
}

template <typename U>
void transposeLoop(const U* src, U* dst, const std::vector<int64_t>& out, const std::vector<int64_t>& st,
                   int64_t total) {
  const size_t r = out.size();
  if (st[r - 1] == 1) {
    // Inner axis stays contiguous: copy blocks.
    const int64_t block = out[r - 1];
    const int64_t rows = total / block;
#pragma omp parallel for schedule(static) if (total > 65536)
    for (int64_t row = 0; row < rows; ++row) {
      std::memcpy(dst + row * block, src + rowOffset(row, out, st, r - 1), sizeof(U) * static_cast<size_t>(block));
    }
    return;
  }
  if (r >= 2 && st[r - 2] == 1) {
    // The input's contiguous axis becomes the output's second-to-last: tiled 2-D transposes.
    constexpr int64_t kTile = 32;
    const int64_t A = out[r - 2], B = out[r - 1], sb = st[r - 1];
    const int64_t outer = total / (A * B);
    const int64_t a_tiles = (A + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (total > 65536)
    for (int64_t job = 0; job < outer * a_tiles; ++job) {
      const int64_t o = job / a_tiles;
      const int64_t a0 = (job % a_tiles) * kTile;
      const int64_t a1 = std::min(A, a0 + kTile);
      const U* s = src + rowOffset(o, out, st, r - 2);
      U* d = dst + o * A * B;
      for (int64_t b0 = 0; b0 < B; b0 += kTile) {
        const int64_t b1 = std::min(B, b0 + kTile);
        for (int64_t a = a0; a < a1; ++a) {
          for (int64_t b = b0; b < b1; ++b) d[a * B + b] = s[a + b * sb];
        }
      }
    }
    return;
  }
  const int64_t inner = out[r - 1], step = st[r - 1];
  const int64_t rows = total / inner;
#pragma omp parallel for schedule(static) if (total > 65536)
  for (int64_t row = 0; row < rows; ++row) {
    const U* s = src + rowOffset(row, out, st, r - 1);
    U* d = dst + row * inner;
    for (int64_t x = 0; x < inner; ++x) d[x] = s[x * step];
  }
}

}  // namespace

Tensor transposeTensor(const Tensor& x, const std::vector<int64_t>& perm) {
  const Shape& in = x.shape();
  Shape out_shape(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) out_shape[i] = in[static_cast<size_t>(perm[i])];
  if (x.numel() == 0) return Tensor(x.dtype(), out_shape);
  // Drop size-1 axes, then merge output-adjacent axes that are also input-adjacent.
  std::vector<int64_t> keep_index(in.size(), -1);
  int64_t kept = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != 1) keep_index[i] = kept++;
  }
  std::vector<int64_t> p;
  for (int64_t a : perm) {
    if (keep_index[static_cast<size_t>(a)] >= 0) p.push_back(keep_index[static_cast<size_t>(a)]);
  }
  Shape reduced_in;
  for (int64_t d : in) {
    if (d != 1) reduced_in.push_back(d);
  }
  // Groups: maximal runs of p with consecutive values.
  std::vector<std::vector<int64_t>> groups;
  for (int64_t a : p) {
    if (!groups.empty() && groups.back().back() + 1 == a) groups.back().push_back(a);
    else groups.push_back({a});
  }
  // Each group becomes one axis; order groups by their first input axis to get the merged input.
  std::vector<size_t> by_input(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) by_input[i] = i;
  std::sort(by_input.begin(), by_input.end(), [&](size_t a, size_t b) { return groups[a][0] < groups[b][0]; });
  std::vector<int64_t> merged_in(groups.size()), group_pos(groups.size());
  for (size_t j = 0; j < by_input.size(); ++j) {
    const auto& g = groups[by_input[j]];
    int64_t size = 1;
    for (int64_t a : g) size *= reduced_in[static_cast<size_t>(a)];
    merged_in[j] = size;
    group_pos[by_input[j]] = static_cast<int64_t>(j);
  }
  bool identity = true;
  for (size_t i = 0; i < groups.size(); ++i) identity = identity && group_pos[i] == static_cast<int64_t>(i);
  if (identity) return x.reshaped(out_shape);  // same memory order: share the buffer

  const std::vector<int64_t> in_strides = stridesOf(merged_in);
  std::vector<int64_t> out(groups.size()), st(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    out[i] = merged_in[static_cast<size_t>(group_pos[i])];
    st[i] = in_strides[static_cast<size_t>(group_pos[i])];
  }
  Tensor y = Tensor::uninitialized(x.dtype(), out_shape);
  const bool moved = dispatchBySize(x.dtype(), [&](auto tag) {
    using U = decltype(tag);
    transposeLoop<U>(rawAs<U>(x), rawAs<U>(y), out, st, x.numel());
  });
  VITQ_CHECK(moved) << "transposeTensor: callers check the dtype first, got " << dataTypeName(x.dtype());
  return y;
}

bool isIndexType(DataType t) { return t == DataType::kInt64 || t == DataType::kInt32; }

Status readIndices(const KernelContext& ctx, const Tensor& t, int64_t dim, std::vector<int64_t>& out) {
  if (!isIndexType(t.dtype())) return ctx.error("indices must be int32 or int64");
  VITQ_ASSIGN_OR_RETURN(out, readInts(ctx, t, "indices"));
  for (int64_t& i : out) {
    if (i < -dim || i >= dim) {
      return ctx.error("index " + std::to_string(i) + " is out of range for a dim of size " + std::to_string(dim));
    }
    if (i < 0) i += dim;
  }
  return Status::ok();
}

}  // namespace vitq
