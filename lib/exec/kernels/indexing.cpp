// Indexing kernels: Gather, GatherElements, GatherND, ScatterElements (and the older Scatter),
// ScatterND, Slice, Trilu, OneHot, NonZero, TopK, CumSum. Every index is range-checked before any
// element moves; a bad index is an error naming the node, the index and the dim.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "exec/kernel_registry.h"
#include "exec/kernels/layout.h"

namespace vitq {
namespace {

Status gatherKernel(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  if (data.rank() == 0) return ctx.error("data must have rank >= 1");
  VITQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, ctx.attrs().intOr("axis", 0), data.rank()));
  const size_t a = static_cast<size_t>(axis);
  std::vector<int64_t> idx;
  VITQ_RETURN_IF_ERROR(readIndices(ctx, indices, data.dim(axis), idx));
  Shape shape(data.shape().begin(), data.shape().begin() + axis);
  shape.insert(shape.end(), indices.shape().begin(), indices.shape().end());
  shape.insert(shape.end(), data.shape().begin() + axis + 1, data.shape().end());
  const int bits = dataTypeBits(data.dtype());
  if (bits % 8 != 0 || data.dtype() == DataType::kString) return ctx.error(unsupportedType(data.dtype()));
  Tensor y(data.dtype(), shape);
  const size_t elem = static_cast<size_t>(bits / 8);
  const int64_t outer = product(data.shape(), 0, a), inner = product(data.shape(), a + 1, data.shape().size());
  const int64_t n = static_cast<int64_t>(idx.size()), dim = data.dim(axis);
  const uint8_t* src = static_cast<const uint8_t*>(data.rawData());
  uint8_t* dst = static_cast<uint8_t*>(y.rawData());
  const size_t block = static_cast<size_t>(inner) * elem;
#pragma omp parallel for schedule(static) if (y.numel() > 65536)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < n; ++j) {
      std::memcpy(dst + static_cast<size_t>(o * n + j) * block, src + static_cast<size_t>(o * dim + idx[static_cast<size_t>(j)]) * block, block);
    }
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

// Calls f(out_flat, data_offset_without_axis, axis_coordinate) for every element of `shape`.
template <typename F>
void forEachWithAxis(const Shape& shape, const std::vector<int64_t>& data_strides, size_t axis, F&& f) {
  const int64_t total = product(shape);
  std::vector<int64_t> coord(shape.size(), 0);
  int64_t off = 0;
  for (int64_t i = 0; i < total; ++i) {
    f(i, off, coord[axis]);
    for (size_t d = shape.size(); d-- > 0;) {
      if (d != axis) off += data_strides[d];
      if (++coord[d] < shape[d]) break;
      if (d != axis) off -= data_strides[d] * shape[d];
      coord[d] = 0;
    }
  }
}

// Shared checks for GatherElements / ScatterElements: same rank, index dims within data dims.
Status checkElementsShapes(const KernelContext& ctx, const Tensor& data, const Tensor& indices, int64_t axis) {
  bool ok = data.rank() == indices.rank();
  for (size_t d = 0; ok && d < data.shape().size(); ++d) {
    ok = d == static_cast<size_t>(axis) || indices.shape()[d] <= data.shape()[d];
  }
  if (!ok) {
    return ctx.error("indices " + shapeToString(indices.shape()) + " do not fit data " + shapeToString(data.shape()));
  }
  return Status::ok();
}

Status gatherElementsKernel(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  VITQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, ctx.attrs().intOr("axis", 0), data.rank()));
  VITQ_RETURN_IF_ERROR(checkElementsShapes(ctx, data, indices, axis));
  std::vector<int64_t> idx;
  VITQ_RETURN_IF_ERROR(readIndices(ctx, indices, data.dim(axis), idx));
  Tensor y(data.dtype(), indices.shape());
  const std::vector<int64_t> st = stridesOf(data.shape());
  const int64_t sa = st[static_cast<size_t>(axis)];
  if (!dispatchBySize(data.dtype(), [&](auto tag) {
        using U = decltype(tag);
        const U* src = rawAs<U>(data);
        U* dst = rawAs<U>(y);
        forEachWithAxis(indices.shape(), st, static_cast<size_t>(axis), [&](int64_t i, int64_t off, int64_t) {
          dst[i] = src[off + idx[static_cast<size_t>(i)] * sa];
        });
      })) {
    return ctx.error(unsupportedType(data.dtype()));
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

StatusOr<Reduction> readReduction(const KernelContext& ctx) {
  const std::string r = ctx.attrs().stringOr("reduction", "none");
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max") return Reduction::kMax;
  if (r == "min") return Reduction::kMin;
  return ctx.error("unknown reduction '" + r + "'");
}

template <typename T>
inline void reduceInto(Reduction r, T& dst, T v) {
  switch (r) {
    case Reduction::kNone: dst = v; break;
    case Reduction::kAdd: dst = static_cast<T>(dst + v); break;
    case Reduction::kMul: dst = static_cast<T>(dst * v); break;
    case Reduction::kMax: dst = std::max(dst, v); break;
    case Reduction::kMin: dst = std::min(dst, v); break;
  }
}

Status scatterElementsKernel(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  VITQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, ctx.attrs().intOr("axis", 0), data.rank()));
  VITQ_ASSIGN_OR_RETURN(Reduction red, readReduction(ctx));
  VITQ_RETURN_IF_ERROR(checkElementsShapes(ctx, data, indices, axis));
  if (updates.shape() != indices.shape() || updates.dtype() != data.dtype()) {
    return ctx.error("updates " + shapeToString(updates.shape()) + " must match indices " + shapeToString(indices.shape()));
  }
  std::vector<int64_t> idx;
  VITQ_RETURN_IF_ERROR(readIndices(ctx, indices, data.dim(axis), idx));
  Tensor y = data.clone();
  const std::vector<int64_t> st = stridesOf(data.shape());
  const int64_t sa = st[static_cast<size_t>(axis)];
  if (!dispatchAll(data.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* up = updates.data<T>();
        T* dst = y.data<T>();
        forEachWithAxis(indices.shape(), st, static_cast<size_t>(axis), [&](int64_t i, int64_t off, int64_t) {
          reduceInto(red, dst[off + idx[static_cast<size_t>(i)] * sa], up[i]);
        });
      })) {
    return ctx.error(unsupportedType(data.dtype()));
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

// GatherND / ScatterND geometry: indices [..., k] address slices of data over its first k dims
// (after batch_dims); returns each tuple's element offset into data (per batch).
Status ndOffsets(const KernelContext& ctx, const Tensor& data, const Tensor& indices, int64_t batch_dims,
                 std::vector<int64_t>& offsets, int64_t& slice) {
  if (!isIndexType(indices.dtype())) return ctx.error("indices must be int32 or int64");
  if (indices.rank() < 1) return ctx.error("indices must have rank >= 1");
  const int64_t k = indices.shape().back();
  if (batch_dims < 0 || batch_dims >= indices.rank() || k < 0 || batch_dims + k > data.rank()) {
    return ctx.error("indices " + shapeToString(indices.shape()) + " do not fit data " + shapeToString(data.shape()));
  }
  for (int64_t b = 0; b < batch_dims; ++b) {
    if (indices.dim(b) != data.dim(b)) return ctx.error("batch dims of indices and data differ");
  }
  const size_t b0 = static_cast<size_t>(batch_dims), kk = static_cast<size_t>(k);
  slice = product(data.shape(), b0 + kk, data.shape().size());
  const std::vector<int64_t> raw = indices.toInt64Vector();
  offsets.resize(raw.size() / std::max<size_t>(kk, 1));
  if (kk == 0) offsets.assign(static_cast<size_t>(product(indices.shape(), 0, indices.shape().size() - 1)), 0);
  for (size_t t = 0; kk > 0 && t < offsets.size(); ++t) {
    int64_t off = 0;
    for (size_t j = 0; j < kk; ++j) {
      const int64_t dim = data.shape()[b0 + j];
      int64_t i = raw[t * kk + j];
      if (i < -dim || i >= dim) {
        return ctx.error("index " + std::to_string(i) + " is out of range for a dim of size " + std::to_string(dim));
      }
      if (i < 0) i += dim;
      off = off * dim + i;
    }
    offsets[t] = off * slice;
  }
  return Status::ok();
}

Status gatherNDKernel(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const int64_t batch_dims = ctx.attrs().intOr("batch_dims", 0);
  std::vector<int64_t> offsets;
  int64_t slice = 0;
  VITQ_RETURN_IF_ERROR(ndOffsets(ctx, data, indices, batch_dims, offsets, slice));
  const int64_t k = indices.shape().back();
  Shape shape(indices.shape().begin(), indices.shape().end() - 1);
  shape.insert(shape.end(), data.shape().begin() + batch_dims + k, data.shape().end());
  const int64_t batches = product(data.shape(), 0, static_cast<size_t>(batch_dims));
  const int64_t per_batch = static_cast<int64_t>(offsets.size()) / std::max<int64_t>(batches, 1);
  const int64_t batch_stride = product(data.shape(), static_cast<size_t>(batch_dims), data.shape().size());
  Tensor y(data.dtype(), shape);
  if (!dispatchBySize(data.dtype(), [&](auto tag) {
        using U = decltype(tag);
        const U* src = rawAs<U>(data);
        U* dst = rawAs<U>(y);
        for (size_t t = 0; t < offsets.size(); ++t) {
          const int64_t b = static_cast<int64_t>(t) / std::max<int64_t>(per_batch, 1);
          std::memcpy(dst + static_cast<int64_t>(t) * slice, src + b * batch_stride + offsets[t], sizeof(U) * static_cast<size_t>(slice));
        }
      })) {
    return ctx.error(unsupportedType(data.dtype()));
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status scatterNDKernel(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  VITQ_ASSIGN_OR_RETURN(Reduction red, readReduction(ctx));
  std::vector<int64_t> offsets;
  int64_t slice = 0;
  VITQ_RETURN_IF_ERROR(ndOffsets(ctx, data, indices, 0, offsets, slice));
  Shape expect(indices.shape().begin(), indices.shape().end() - 1);
  expect.insert(expect.end(), data.shape().begin() + indices.shape().back(), data.shape().end());
  if (updates.shape() != expect || updates.dtype() != data.dtype()) {
    return ctx.error("updates " + shapeToString(updates.shape()) + " must have shape " + shapeToString(expect));
  }
  Tensor y = data.clone();
  if (!dispatchAll(data.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* up = updates.data<T>();
        T* dst = y.data<T>();
        for (size_t t = 0; t < offsets.size(); ++t) {
          for (int64_t j = 0; j < slice; ++j) reduceInto(red, dst[offsets[t] + j], up[static_cast<int64_t>(t) * slice + j]);
        }
      })) {
    return ctx.error(unsupportedType(data.dtype()));
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status sliceKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t rank = x.rank();
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.opset < 10) {
    starts = ctx.attrs().getInts("starts").value_or(std::vector<int64_t>{});
    ends = ctx.attrs().getInts("ends").value_or(std::vector<int64_t>{});
    axes = ctx.attrs().getInts("axes").value_or(std::vector<int64_t>{});
  } else {
    if (!ctx.hasInput(1) || !ctx.hasInput(2)) return ctx.error("missing starts or ends input");
    VITQ_ASSIGN_OR_RETURN(starts, readInts(ctx, ctx.input(1), "starts"));
    VITQ_ASSIGN_OR_RETURN(ends, readInts(ctx, ctx.input(2), "ends"));
    if (ctx.hasInput(3)) {
      VITQ_ASSIGN_OR_RETURN(axes, readInts(ctx, ctx.input(3), "axes"));
    }
    if (ctx.hasInput(4)) {
      VITQ_ASSIGN_OR_RETURN(steps, readInts(ctx, ctx.input(4), "steps"));
    }
  }
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
    return ctx.error("starts, ends, axes and steps have different lengths");
  }
  std::vector<int64_t> begin(static_cast<size_t>(rank), 0), step(static_cast<size_t>(rank), 1);
  Shape shape = x.shape();
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (size_t i = 0; i < starts.size(); ++i) {
    VITQ_ASSIGN_OR_RETURN(int64_t a, normalizeAxis(ctx, axes[i], rank));
    const size_t ax = static_cast<size_t>(a);
    if (seen[ax]) return ctx.error("axis " + std::to_string(axes[i]) + " is repeated");
    seen[ax] = true;
    const int64_t d = x.shape()[ax], s = steps[i];
    if (s == 0) return ctx.error("step must not be zero");
    // Clamp as the spec says: [0, d] for positive steps, [-1, d - 1] for negative ones.
    int64_t b = starts[i] < 0 ? std::max(starts[i], std::numeric_limits<int64_t>::min() + d) + d : starts[i];
    int64_t e = ends[i] < 0 ? std::max(ends[i], std::numeric_limits<int64_t>::min() + d) + d : ends[i];
    if (s > 0) {
      b = std::clamp<int64_t>(b, 0, d);
      e = std::clamp<int64_t>(e, 0, d);
      shape[ax] = e > b ? (e - b + s - 1) / s : 0;
    } else {
      b = std::clamp<int64_t>(b, 0, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
      shape[ax] = b > e ? (b - e + (-s) - 1) / (-s) : 0;
    }
    begin[ax] = b;
    step[ax] = s;
  }
  if (!dispatchBySize(x.dtype(), [](auto) {})) return ctx.error(unsupportedType(x.dtype()));
  Tensor y(x.dtype(), shape);
  if (y.numel() == 0) {
    ctx.setOutput(0, std::move(y));
    return Status::ok();
  }
  if (rank == 0) {
    ctx.setOutput(0, x);
    return Status::ok();
  }
  const std::vector<int64_t> st = stridesOf(x.shape());
  const size_t r = static_cast<size_t>(rank);
  int64_t base = 0;
  for (size_t d = 0; d < r; ++d) base += begin[d] * st[d];
  const int64_t inner = shape[r - 1], inner_step = step[r - 1];
  const int64_t rows = y.numel() / inner;
  dispatchBySize(x.dtype(), [&](auto tag) {
    using U = decltype(tag);
    const U* src = rawAs<U>(x);
    U* dst = rawAs<U>(y);
#pragma omp parallel for schedule(static) if (y.numel() > 65536)
    for (int64_t row = 0; row < rows; ++row) {
      int64_t off = base, rem = row;
      for (size_t d = r - 1; d-- > 0;) {
        off += (rem % shape[d]) * step[d] * st[d];
        rem /= shape[d];
      }
      U* dr = dst + row * inner;
      if (inner_step == 1) std::memcpy(dr, src + off, sizeof(U) * static_cast<size_t>(inner));
      else for (int64_t j = 0; j < inner; ++j) dr[j] = src[off + j * inner_step];
    }
  });
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status triluKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) return ctx.error("input must have rank >= 2");
  int64_t k = 0;
  if (ctx.hasInput(1) && ctx.input(1).numel() > 0) {
    VITQ_ASSIGN_OR_RETURN(const std::vector<int64_t> kv, readInts(ctx, ctx.input(1), "k"));
    k = kv[0];
  }
  const bool upper = ctx.attrs().intOr("upper", 1) != 0;
  const int64_t n = x.dim(x.rank() - 2), m = x.dim(x.rank() - 1);
  Tensor y(x.dtype(), x.shape());
  if (!dispatchBySize(x.dtype(), [&](auto tag) {
        using U = decltype(tag);
        const U* src = rawAs<U>(x);
        U* dst = rawAs<U>(y);
        const int64_t mats = n * m == 0 ? 0 : x.numel() / (n * m);
        for (int64_t b = 0; b < mats; ++b) {
          for (int64_t i = 0; i < n; ++i) {
            for (int64_t j = 0; j < m; ++j) {
              const bool keep = upper ? j - i >= k : j - i <= k;
              const int64_t o = (b * n + i) * m + j;
              dst[o] = keep ? src[o] : U{};
            }
          }
        }
      })) {
    return ctx.error(unsupportedType(x.dtype()));
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status oneHotKernel(KernelContext& ctx) {
  const Tensor& indices = ctx.input(0);
  const Tensor& depth_t = ctx.input(1);
  const Tensor& values = ctx.input(2);
  if (depth_t.numel() != 1 || values.numel() != 2) return ctx.error("depth must be a scalar and values hold 2 elements");
  auto numeric = [](DataType t) {
    return t == DataType::kFloat || t == DataType::kDouble || (isInteger(t) && dataTypeBits(t) >= 8);
  };
  if (!numeric(depth_t.dtype()) || !numeric(indices.dtype())) {
    return ctx.error("depth and indices must be float, double or integer tensors");
  }
  const int64_t depth = static_cast<int64_t>(depth_t.scalarAsDouble());
  if (depth <= 0) return ctx.error("depth must be positive");
  const int64_t rank = indices.rank() + 1;
  VITQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, ctx.attrs().intOr("axis", -1), rank));
  Shape shape = indices.shape();
  shape.insert(shape.begin() + axis, depth);
  if (!checkedElementCount(shape).isOk()) return ctx.error("output shape " + shapeToString(shape) + " is too large");
  std::vector<int64_t> idx(static_cast<size_t>(indices.numel()));
  for (int64_t i = 0; i < indices.numel(); ++i) idx[static_cast<size_t>(i)] = static_cast<int64_t>(indices.scalarAsDouble(i));
  Tensor y(values.dtype(), shape);
  const int64_t outer = product(indices.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = product(indices.shape(), static_cast<size_t>(axis), indices.shape().size());
  if (!dispatchBySize(values.dtype(), [&](auto tag) {
        using U = decltype(tag);
        const U off = rawAs<U>(values)[0], on = rawAs<U>(values)[1];
        U* dst = rawAs<U>(y);
        std::fill(dst, dst + y.numel(), off);
        for (int64_t o = 0; o < outer; ++o) {
          for (int64_t i = 0; i < inner; ++i) {
            int64_t v = idx[static_cast<size_t>(o * inner + i)];
            if (v < 0) v += depth;
            if (v >= 0 && v < depth) dst[(o * depth + v) * inner + i] = on;
          }
        }
      })) {
    return ctx.error(unsupportedType(values.dtype()));
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status nonZeroKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> hits;
  if (!dispatchAll(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* p = x.data<T>();
        for (int64_t i = 0; i < x.numel(); ++i) {
          if (p[i] != T(0)) hits.push_back(i);
        }
      })) {
    return ctx.error(unsupportedType(x.dtype()));
  }
  const int64_t rank = x.rank(), n = static_cast<int64_t>(hits.size());
  Tensor y(DataType::kInt64, {rank, n});
  int64_t* out = y.data<int64_t>();
  for (int64_t j = 0; j < n; ++j) {
    int64_t rem = hits[static_cast<size_t>(j)];
    for (int64_t d = rank; d-- > 0;) {
      out[d * n + j] = rem % x.dim(d);
      rem /= x.dim(d);
    }
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status topKKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  VITQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, ctx.attrs().intOr("axis", -1), x.rank()));
  int64_t k = 0;
  if (ctx.opset >= 10) {
    if (!ctx.hasInput(1) || ctx.input(1).numel() != 1) return ctx.error("K must be a 1-element tensor");
    VITQ_ASSIGN_OR_RETURN(const std::vector<int64_t> kv, readInts(ctx, ctx.input(1), "K"));
    k = kv[0];
  } else {
    k = ctx.attrs().intOr("k", -1);
  }
  const int64_t dim = x.rank() ? x.dim(axis) : 1;
  if (k < 0 || k > dim) return ctx.error("K " + std::to_string(k) + " is out of range for a dim of size " + std::to_string(dim));
  const bool largest = ctx.attrs().intOr("largest", 1) != 0;
  Shape shape = x.shape();
  if (x.rank()) shape[static_cast<size_t>(axis)] = k;
  Tensor values(x.dtype(), shape), indices(DataType::kInt64, shape);
  const int64_t outer = product(x.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = product(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  if (!dispatchNumeric(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* src = x.data<T>();
        T* vout = values.data<T>();
        int64_t* iout = indices.data<int64_t>();
        std::vector<int64_t> order(static_cast<size_t>(dim));
        for (int64_t o = 0; o < outer; ++o) {
          for (int64_t in = 0; in < inner; ++in) {
            const T* s = src + o * dim * inner + in;
            for (int64_t i = 0; i < dim; ++i) order[static_cast<size_t>(i)] = i;
            // Ties keep the lower index first, as the spec asks.
            std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t b) {
              const T va = s[a * inner], vb = s[b * inner];
              if (va != vb) return largest ? va > vb : va < vb;
              return a < b;
            });
            for (int64_t j = 0; j < k; ++j) {
              const int64_t i = order[static_cast<size_t>(j)];
              vout[(o * k + j) * inner + in] = s[i * inner];
              iout[(o * k + j) * inner + in] = i;
            }
          }
        }
      })) {
    return ctx.error(unsupportedType(x.dtype()));
  }
  ctx.setOutput(0, std::move(values));
  ctx.setOutput(1, std::move(indices));
  return Status::ok();
}

Status cumSumKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!ctx.hasInput(1) || ctx.input(1).numel() != 1) return ctx.error("axis must be a 1-element tensor");
  VITQ_ASSIGN_OR_RETURN(const std::vector<int64_t> axis_v, readInts(ctx, ctx.input(1), "axis"));
  VITQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, axis_v[0], x.rank()));
  const bool exclusive = ctx.attrs().intOr("exclusive", 0) != 0;
  const bool reverse = ctx.attrs().intOr("reverse", 0) != 0;
  const int64_t dim = x.rank() ? x.dim(axis) : 1;
  const int64_t outer = product(x.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = product(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  Tensor y(x.dtype(), x.shape());
  if (!dispatchNumeric(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* src = x.data<T>();
        T* dst = y.data<T>();
        for (int64_t o = 0; o < outer; ++o) {
          for (int64_t in = 0; in < inner; ++in) {
            T acc{};
            for (int64_t step = 0; step < dim; ++step) {
              const int64_t i = reverse ? dim - 1 - step : step;
              const int64_t at = (o * dim + i) * inner + in;
              if (exclusive) {
                dst[at] = acc;
                acc = static_cast<T>(acc + src[at]);
              } else {
                acc = static_cast<T>(acc + src[at]);
                dst[at] = acc;
              }
            }
          }
        }
      })) {
    return ctx.error(unsupportedType(x.dtype()));
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

}  // namespace

void registerIndexingKernels(KernelRegistry& r) {
  r.add("Gather", gatherKernel);
  r.add("GatherElements", gatherElementsKernel);
  r.add("GatherND", gatherNDKernel);
  r.add("ScatterElements", scatterElementsKernel);
  r.add("Scatter", scatterElementsKernel);  // deprecated alias (opset 9-10)
  r.add("ScatterND", scatterNDKernel);
  r.add("Slice", sliceKernel);
  r.add("Trilu", triluKernel);
  r.add("OneHot", oneHotKernel);
  r.add("NonZero", nonZeroKernel);
  r.add("TopK", topKKernel);
  r.add("CumSum", cumSumKernel);
}

}  // namespace vitq
