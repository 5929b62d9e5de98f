// Shape and layout kernels: Reshape, Transpose, Flatten, Squeeze, Unsqueeze, Concat, Split, Shape,
// Size, Expand, Tile, Pad, Range, ConstantOfShape, Identity, Dropout, DepthToSpace, SpaceToDepth.
// Ops that keep the memory order (Reshape, Flatten, Squeeze, Unsqueeze, Identity) share the input
// buffer; the rest move elements by width (layout.h), so every fixed-size dtype works.
#include <cmath>
#include <cstring>

#include "exec/kernel_registry.h"
#include "exec/kernels/layout.h"

namespace vitq {
namespace {

// Validates a shape computed from tensor data before a Tensor is allocated with it.
Status checkShape(const KernelContext& ctx, const Shape& shape) {
  auto count = checkedElementCount(shape);
  if (!count.isOk()) return ctx.error(count.status().message());
  return Status::ok();
}

Status reshapeKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!ctx.hasInput(1)) return ctx.error("missing shape input");
  VITQ_ASSIGN_OR_RETURN(const std::vector<int64_t> spec, readInts(ctx, ctx.input(1), "shape"));
  const bool allowzero = ctx.attrs().intOr("allowzero", 0) != 0;
  Shape shape(spec.size());
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == 0 && !allowzero) {
      if (i >= x.shape().size()) return ctx.error("shape entry 0 at index " + std::to_string(i) + " has no input dim");
      d = x.shape()[i];
    }
    if (d == -1) {
      if (infer >= 0) return ctx.error("shape " + shapeToString(spec) + " has more than one -1");
      infer = static_cast<int64_t>(i);
      continue;
    }
    if (d < 0) return ctx.error("shape " + shapeToString(spec) + " has a negative dim");
    shape[i] = d;
    known *= d;
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0) {
      return ctx.error("cannot reshape " + shapeToString(x.shape()) + " to " + shapeToString(spec));
    }
    shape[static_cast<size_t>(infer)] = x.numel() / known;
  }
  auto count = checkedElementCount(shape);
  if (!count.isOk() || *count != x.numel()) {
    return ctx.error("cannot reshape " + shapeToString(x.shape()) + " (" + std::to_string(x.numel()) +
                     " elements) to " + shapeToString(spec));
  }
  ctx.setOutput(0, x.reshaped(shape));
  return Status::ok();
}

Status transposeKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> perm = ctx.attrs().getInts("perm").value_or(std::vector<int64_t>{});
  if (perm.empty()) {
    for (int64_t i = x.rank(); i-- > 0;) perm.push_back(i);
  }
  if (!isPermutation(perm, x.shape().size())) {
    return ctx.error("perm " + shapeToString(perm) + " is not a permutation of the axes of " + shapeToString(x.shape()));
  }
  if (!dispatchBySize(x.dtype(), [](auto) {})) return ctx.error(unsupportedType(x.dtype()));
  ctx.setOutput(0, transposeTensor(x, perm));
  return Status::ok();
}

Status flattenKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t axis = ctx.attrs().intOr("axis", 1);
  if (axis < 0) axis += x.rank();
  if (axis < 0 || axis > x.rank()) return ctx.error("axis is out of range for shape " + shapeToString(x.shape()));
  const size_t a = static_cast<size_t>(axis);
  ctx.setOutput(0, x.reshaped({product(x.shape(), 0, a), product(x.shape(), a, x.shape().size())}));
  return Status::ok();
}

Status squeezeKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  VITQ_ASSIGN_OR_RETURN(const auto axes, readIntsInputOrAttr(ctx, 1, "axes"));
  std::vector<bool> drop(x.shape().size(), false);
  if (axes && !axes->empty()) {
    for (int64_t a : *axes) {
      VITQ_ASSIGN_OR_RETURN(int64_t n, normalizeAxis(ctx, a, x.rank()));
      if (x.dim(n) != 1) return ctx.error("cannot squeeze axis " + std::to_string(a) + " of " + shapeToString(x.shape()));
      drop[static_cast<size_t>(n)] = true;
    }
  } else {
    for (size_t i = 0; i < drop.size(); ++i) drop[i] = x.shape()[i] == 1;
  }
  Shape shape;
  for (size_t i = 0; i < drop.size(); ++i) {
    if (!drop[i]) shape.push_back(x.shape()[i]);
  }
  ctx.setOutput(0, x.reshaped(shape));
  return Status::ok();
}

Status unsqueezeKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  VITQ_ASSIGN_OR_RETURN(const auto axes, readIntsInputOrAttr(ctx, 1, "axes"));
  if (!axes || axes->empty()) return ctx.error("missing axes");
  const int64_t rank = x.rank() + static_cast<int64_t>(axes->size());
  std::vector<bool> inserted(static_cast<size_t>(rank), false);
  for (int64_t a : *axes) {
    VITQ_ASSIGN_OR_RETURN(int64_t n, normalizeAxis(ctx, a, rank));
    if (inserted[static_cast<size_t>(n)]) return ctx.error("axis " + std::to_string(a) + " is repeated");
    inserted[static_cast<size_t>(n)] = true;
  }
  Shape shape;
  size_t next = 0;
  for (int64_t i = 0; i < rank; ++i) shape.push_back(inserted[static_cast<size_t>(i)] ? 1 : x.shape()[next++]);
  ctx.setOutput(0, x.reshaped(shape));
  return Status::ok();
}

Status concatKernel(KernelContext& ctx) {
  if (ctx.numInputs() == 0 || !ctx.hasInput(0)) return ctx.error("needs at least one input");
  const Tensor& first = ctx.input(0);
  const auto axis_attr = ctx.attrs().getInt("axis");
  if (!axis_attr) return ctx.error("missing axis attribute");
  VITQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, *axis_attr, first.rank()));
  if (first.rank() == 0) return ctx.error("cannot concatenate scalars");
  Shape shape = first.shape();
  shape[static_cast<size_t>(axis)] = 0;
  for (size_t i = 0; i < ctx.numInputs(); ++i) {
    if (!ctx.hasInput(i)) return ctx.error("input " + std::to_string(i) + " is missing");
    const Tensor& t = ctx.input(i);
    bool ok = t.dtype() == first.dtype() && t.rank() == first.rank();
    for (size_t d = 0; ok && d < shape.size(); ++d) ok = d == static_cast<size_t>(axis) || t.shape()[d] == shape[d];
    if (!ok) {
      return ctx.error("input " + std::to_string(i) + " " + shapeToString(t.shape()) + " does not match " +
                       shapeToString(first.shape()) + " outside axis " + std::to_string(axis));
    }
    shape[static_cast<size_t>(axis)] += t.shape()[static_cast<size_t>(axis)];
  }
  const int bits = dataTypeBits(first.dtype());
  if (bits % 8 != 0 || first.dtype() == DataType::kString) return ctx.error(unsupportedType(first.dtype()));
  Tensor y(first.dtype(), shape);
  const size_t elem = static_cast<size_t>(bits / 8);
  const int64_t outer = product(shape, 0, static_cast<size_t>(axis));
  const int64_t out_row = product(shape, static_cast<size_t>(axis), shape.size());
  uint8_t* dst = static_cast<uint8_t*>(y.rawData());
  int64_t col = 0;
  for (size_t i = 0; i < ctx.numInputs(); ++i) {
    const Tensor& t = ctx.input(i);
    const int64_t row = product(t.shape(), static_cast<size_t>(axis), t.shape().size());
    const uint8_t* src = static_cast<const uint8_t*>(t.rawData());
#pragma omp parallel for schedule(static) if (outer * row > 65536 && outer > 1)
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(dst + (o * out_row + col) * elem, src + o * row * elem, static_cast<size_t>(row) * elem);
    }
    col += row;
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status splitKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  VITQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, ctx.attrs().intOr("axis", 0), x.rank()));
  if (x.rank() == 0) return ctx.error("cannot split a scalar");
  const int64_t dim = x.dim(axis);
  const size_t n_out = ctx.outputs.size();
  std::vector<int64_t> sizes;
  VITQ_ASSIGN_OR_RETURN(const auto split, readIntsInputOrAttr(ctx, 1, "split"));
  if (split && !split->empty()) {
    sizes = *split;
  } else {
    // Equal parts; since opset 18 num_outputs allows a smaller last part.
    const int64_t parts = ctx.attrs().intOr("num_outputs", static_cast<int64_t>(n_out));
    if (parts <= 0) return ctx.error("no outputs to split into");
    const bool uneven_ok = ctx.attrs().has("num_outputs");
    if (!uneven_ok && dim % parts != 0) {
      return ctx.error("dim " + std::to_string(dim) + " does not split into " + std::to_string(parts) + " equal parts");
    }
    const int64_t chunk = (dim + parts - 1) / parts;
    for (int64_t i = 0, left = dim; i < parts; ++i, left -= chunk) sizes.push_back(std::max<int64_t>(0, std::min(chunk, left)));
  }
  int64_t sum = 0;
  for (int64_t s : sizes) {
    if (s < 0) return ctx.error("negative split size");
    sum += s;
  }
  if (sum != dim || sizes.size() != n_out) {
    return ctx.error("split sizes " + shapeToString(sizes) + " do not cover dim " + std::to_string(dim) + " with " +
                     std::to_string(n_out) + " outputs");
  }
  const int bits = dataTypeBits(x.dtype());
  if (bits % 8 != 0 || x.dtype() == DataType::kString) return ctx.error(unsupportedType(x.dtype()));
  const size_t elem = static_cast<size_t>(bits / 8);
  const int64_t outer = product(x.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = product(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  const uint8_t* src = static_cast<const uint8_t*>(x.rawData());
  int64_t offset = 0;
  for (size_t i = 0; i < n_out; ++i) {
    Shape shape = x.shape();
    shape[static_cast<size_t>(axis)] = sizes[i];
    Tensor y(x.dtype(), shape);
    const int64_t row = sizes[i] * inner;
    uint8_t* dst = static_cast<uint8_t*>(y.rawData());
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(dst + o * row * elem, src + (o * dim * inner + offset) * elem, static_cast<size_t>(row) * elem);
    }
    offset += row;
    ctx.setOutput(i, std::move(y));
  }
  return Status::ok();
}

Status shapeKernel(KernelContext& ctx) {
  const Shape& s = ctx.input(0).shape();
  const int64_t rank = static_cast<int64_t>(s.size());
  auto clampAxis = [rank](int64_t a) { return std::min(rank, std::max<int64_t>(0, a < 0 ? a + rank : a)); };
  const int64_t start = clampAxis(ctx.attrs().intOr("start", 0));
  const int64_t end = clampAxis(ctx.attrs().intOr("end", rank));
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) dims.push_back(s[static_cast<size_t>(i)]);
  const int64_t n = static_cast<int64_t>(dims.size());
  ctx.setOutput(0, Tensor::fromVector(dims, {n}));
  return Status::ok();
}

Status sizeKernel(KernelContext& ctx) {
  ctx.setOutput(0, Tensor::fromVector(std::vector<int64_t>{ctx.input(0).numel()}, {}));
  return Status::ok();
}

// Copies x broadcast to `shape` (numpy rules, already checked).
template <typename U>
void broadcastCopy(const Tensor& x, Tensor& y) {
  const U* src = rawAs<U>(x);
  U* dst = rawAs<U>(y);
  const Shape& out = y.shape();
  const std::vector<int64_t> st = broadcastStrides(x.shape(), out);
  const size_t r = out.size();
  if (y.numel() == 0) return;
  if (r == 0) {
    dst[0] = src[0];
    return;
  }
  const int64_t inner = out[r - 1], step = st[r - 1];
  const int64_t rows = y.numel() / inner;
#pragma omp parallel for schedule(static) if (y.numel() > 65536)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t off = 0, rem = row;
    for (size_t d = r - 1; d-- > 0;) {
      off += (rem % out[d]) * st[d];
      rem /= out[d];
    }
    U* d = dst + row * inner;
    if (step == 0) std::fill(d, d + inner, src[off]);
    else std::memcpy(d, src + off, sizeof(U) * static_cast<size_t>(inner));
  }
}

Status expandKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!ctx.hasInput(1)) return ctx.error("missing shape input");
  VITQ_ASSIGN_OR_RETURN(const Shape target, readInts(ctx, ctx.input(1), "shape"));
  VITQ_ASSIGN_OR_RETURN(Shape shape, broadcastShapes(ctx, x.shape(), target));
  VITQ_RETURN_IF_ERROR(checkShape(ctx, shape));
  Tensor y(x.dtype(), shape);
  if (!dispatchBySize(x.dtype(), [&](auto tag) { broadcastCopy<decltype(tag)>(x, y); })) {
    return ctx.error(unsupportedType(x.dtype()));
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

// Pad-like gathers: each output coordinate along dim d reads input coordinate map[d][o], or the
// constant when it is -1. Tile and Pad both reduce to this.
template <typename U>
void gatherByMaps(const Tensor& x, Tensor& y, const std::vector<std::vector<int64_t>>& maps, U constant) {
  const Shape& out = y.shape();
  const size_t r = out.size();
  const U* src = rawAs<U>(x);
  U* dst = rawAs<U>(y);
  if (y.numel() == 0) return;
  if (r == 0) {
    dst[0] = src[0];
    return;
  }
  const std::vector<int64_t> st = stridesOf(x.shape());
  const int64_t inner = out[r - 1];
  const int64_t rows = y.numel() / inner;
  const std::vector<int64_t>& last = maps[r - 1];
#pragma omp parallel for schedule(static) if (y.numel() > 65536)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t off = 0, rem = row;
    bool outside = false;
    for (size_t d = r - 1; d-- > 0;) {
      const int64_t i = maps[d][static_cast<size_t>(rem % out[d])];
      rem /= out[d];
      outside = outside || i < 0;
      off += i * st[d];
    }
    U* dr = dst + row * inner;
    if (outside) {
      std::fill(dr, dr + inner, constant);
      continue;
    }
    const U* sr = src + off;
    for (int64_t j = 0; j < inner; ++j) {
      const int64_t i = last[static_cast<size_t>(j)];
      dr[j] = i < 0 ? constant : sr[i];
    }
  }
}

Status tileKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!ctx.hasInput(1)) return ctx.error("missing repeats input");
  VITQ_ASSIGN_OR_RETURN(const std::vector<int64_t> repeats, readInts(ctx, ctx.input(1), "repeats"));
  if (static_cast<int64_t>(repeats.size()) != x.rank()) {
    return ctx.error("repeats " + shapeToString(repeats) + " do not match the rank of " + shapeToString(x.shape()));
  }
  Shape shape(repeats.size());
  std::vector<std::vector<int64_t>> maps(repeats.size());
  for (size_t d = 0; d < repeats.size(); ++d) {
    if (repeats[d] < 0) return ctx.error("negative repeat");
    if (__builtin_mul_overflow(x.shape()[d], repeats[d], &shape[d])) {
      return ctx.error("repeats " + shapeToString(repeats) + " overflow the shape " + shapeToString(x.shape()));
    }
  }
  VITQ_RETURN_IF_ERROR(checkShape(ctx, shape));
  for (size_t d = 0; d < repeats.size(); ++d) {
    for (int64_t o = 0; o < shape[d]; ++o) maps[d].push_back(o % x.shape()[d]);
  }
  Tensor y(x.dtype(), shape);
  if (!dispatchBySize(x.dtype(), [&](auto tag) { gatherByMaps<decltype(tag)>(x, y, maps, {}); })) {
    return ctx.error(unsupportedType(x.dtype()));
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status padKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t rank = x.rank();
  const std::string mode = ctx.attrs().stringOr("mode", "constant");
  std::vector<int64_t> pads;
  if (ctx.opset >= 11) {
    if (!ctx.hasInput(1)) return ctx.error("missing pads input");
    VITQ_ASSIGN_OR_RETURN(pads, readInts(ctx, ctx.input(1), "pads"));
  } else {
    pads = ctx.attrs().getInts("pads").value_or(std::vector<int64_t>{});
  }
  // Optional axes (opset 18) say which dims the pads apply to.
  std::vector<int64_t> axes;
  if (ctx.hasInput(3)) {
    VITQ_ASSIGN_OR_RETURN(const std::vector<int64_t> pad_axes, readInts(ctx, ctx.input(3), "axes"));
    for (int64_t a : pad_axes) {
      VITQ_ASSIGN_OR_RETURN(int64_t n, normalizeAxis(ctx, a, rank));
      axes.push_back(n);
    }
  } else {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  const size_t na = axes.size();
  if (pads.size() != 2 * na) {
    return ctx.error("pads " + shapeToString(pads) + " need " + std::to_string(2 * na) + " values for " +
                     shapeToString(x.shape()));
  }
  std::vector<int64_t> begin(static_cast<size_t>(rank), 0), end(static_cast<size_t>(rank), 0);
  for (size_t i = 0; i < na; ++i) {
    begin[static_cast<size_t>(axes[i])] = pads[i];
    end[static_cast<size_t>(axes[i])] = pads[i + na];
  }
  Shape shape(static_cast<size_t>(rank));
  std::vector<std::vector<int64_t>> maps(static_cast<size_t>(rank));
  for (size_t d = 0; d < shape.size(); ++d) {
    const int64_t n = x.shape()[d];
    shape[d] = n + begin[d] + end[d];
    if (shape[d] < 0) return ctx.error("pads crop more than dim " + std::to_string(d) + " holds");
    if (mode != "constant" && n == 0 && shape[d] > 0) return ctx.error(mode + " padding of an empty dim");
    if (mode == "reflect" && n > 1 && (begin[d] >= n || end[d] >= n)) {
      return ctx.error("reflect pads must be smaller than dim " + std::to_string(d) + " (" + std::to_string(n) + ")");
    }
  }
  VITQ_RETURN_IF_ERROR(checkShape(ctx, shape));
  for (size_t d = 0; d < shape.size(); ++d) {
    const int64_t n = x.shape()[d];
    for (int64_t o = 0; o < shape[d]; ++o) {
      int64_t i = o - begin[d];
      if (i < 0 || i >= n) {
        if (mode == "constant") i = -1;
        else if (mode == "edge") i = i < 0 ? 0 : n - 1;
        else if (mode == "wrap") i = ((i % n) + n) % n;
        else if (mode == "reflect") {
          if (n == 1) i = 0;
          const int64_t period = 2 * (n - 1);
          if (n > 1) {
            i = ((i % period) + period) % period;
            if (i >= n) i = period - i;
          }
        } else {
          return ctx.error("unknown mode '" + mode + "'");
        }
      }
      maps[d].push_back(i);
    }
  }
  if (ctx.hasInput(2) && ctx.input(2).numel() > 0 && ctx.input(2).dtype() != x.dtype()) {
    return ctx.error("constant_value type differs from the input type");
  }
  Tensor y(x.dtype(), shape);
  if (!dispatchBySize(x.dtype(), [&](auto tag) {
        using U = decltype(tag);
        // The constant as raw bits of x's element type (input since opset 11, float attr before).
        U bits{};
        if (ctx.hasInput(2) && ctx.input(2).numel() > 0) {
          bits = rawAs<U>(ctx.input(2))[0];
        } else if (ctx.opset < 11) {
          const float v = ctx.attrs().floatOr("value", 0.0f);
          dispatchNumeric(x.dtype(), [&](auto t) {
            using T = decltype(t);
            static_assert(sizeof(T) >= 1);
            if constexpr (sizeof(T) == sizeof(U)) {
              const T typed = static_cast<T>(v);
              std::memcpy(&bits, &typed, sizeof(U));
            }
          });
        }
        gatherByMaps<U>(x, y, maps, bits);
      })) {
    return ctx.error(unsupportedType(x.dtype()));
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status rangeKernel(KernelContext& ctx) {
  for (size_t i = 0; i < 3; ++i) {
    if (!ctx.hasInput(i) || ctx.input(i).numel() != 1) return ctx.error("start, limit and delta must be scalars");
  }
  const DataType dt = ctx.input(0).dtype();
  Tensor y;
  bool bad = false;
  const bool ok = dispatchNumeric(dt, [&](auto tag) {
    using T = decltype(tag);
    const T start = ctx.input(0).data<T>()[0], limit = ctx.input(1).data<T>()[0], delta = ctx.input(2).data<T>()[0];
    if (delta == T(0)) {
      bad = true;
      return;
    }
    const double n = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) / static_cast<double>(delta));
    if (!std::isfinite(n) || n > static_cast<double>(int64_t{1} << 32)) {  // converting those is undefined
      bad = true;
      return;
    }
    const int64_t count = std::max<int64_t>(0, static_cast<int64_t>(n));
    y = Tensor(dt, {count});
    T* out = y.data<T>();
    for (int64_t i = 0; i < count; ++i) out[i] = static_cast<T>(start + static_cast<T>(i) * delta);
  });
  if (!ok) return ctx.error(unsupportedType(dt));
  if (bad) return ctx.error("delta is zero, or the range is too long or not a number");
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status constantOfShapeKernel(KernelContext& ctx) {
  VITQ_ASSIGN_OR_RETURN(const Shape shape, readInts(ctx, ctx.input(0), "shape"));
  VITQ_RETURN_IF_ERROR(checkShape(ctx, shape));
  const Tensor* value = ctx.attrs().getTensor("value");
  if (value && value->numel() != 1) return ctx.error("value must hold one element");
  Tensor y(value ? value->dtype() : DataType::kFloat, shape);
  if (value && !dispatchBySize(value->dtype(), [&](auto tag) {
        using U = decltype(tag);
        std::fill(rawAs<U>(y), rawAs<U>(y) + y.numel(), rawAs<U>(*value)[0]);
      })) {
    return ctx.error(unsupportedType(value->dtype()));
  }
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status dropoutKernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  // Inference is the identity; training mode with a non-zero ratio draws random masks, which a
  // reference executor cannot reproduce.
  const bool training = ctx.hasInput(2) && ctx.input(2).numel() == 1 && ctx.input(2).dtype() == DataType::kBool &&
                        ctx.input(2).data<bool>()[0];
  const bool has_ratio = ctx.hasInput(1) && ctx.input(1).numel() == 1;
  const double ratio = has_ratio && ctx.input(1).dtype() == DataType::kFloat ? ctx.input(1).data<float>()[0]
                       : has_ratio && ctx.input(1).dtype() == DataType::kDouble ? ctx.input(1).data<double>()[0]
                                                                                 : 0.5;
  if (training && ratio != 0.0) return ctx.error("training-mode Dropout (random masks) is not supported");
  ctx.setOutput(0, x);
  if (ctx.outputs.size() > 1) {
    Tensor mask(DataType::kBool, x.shape());
    std::fill(mask.data<bool>(), mask.data<bool>() + mask.numel(), true);
    ctx.setOutput(1, std::move(mask));
  }
  return Status::ok();
}

// DepthToSpace / SpaceToDepth: a reshape to 6-d, a transpose and a reshape back.
Status depthSpaceKernel(KernelContext& ctx, bool to_space) {
  const Tensor& x = ctx.input(0);
  const int64_t b = ctx.attrs().intOr("blocksize", 0);
  if (x.rank() != 4) return ctx.error("input must be 4-d, got " + shapeToString(x.shape()));
  if (b <= 0) return ctx.error("blocksize must be positive");
  if (!dispatchBySize(x.dtype(), [](auto) {})) return ctx.error(unsupportedType(x.dtype()));
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  if (to_space) {
    if (c % (b * b) != 0) return ctx.error("channels " + std::to_string(c) + " are not divisible by blocksize^2");
    const int64_t oc = c / (b * b);
    const bool crd = ctx.attrs().stringOr("mode", "DCR") == "CRD";
    const Tensor v = crd ? x.reshaped({n, oc, b, b, h, w}) : x.reshaped({n, b, b, oc, h, w});
    const std::vector<int64_t> perm = crd ? std::vector<int64_t>{0, 1, 4, 2, 5, 3} : std::vector<int64_t>{0, 3, 4, 1, 5, 2};
    ctx.setOutput(0, transposeTensor(v, perm).reshaped({n, oc, h * b, w * b}));
  } else {
    if (h % b != 0 || w % b != 0) return ctx.error("spatial dims of " + shapeToString(x.shape()) + " are not divisible by blocksize");
    const Tensor v = x.reshaped({n, c, h / b, b, w / b, b});
    ctx.setOutput(0, transposeTensor(v, {0, 3, 5, 1, 2, 4}).reshaped({n, c * b * b, h / b, w / b}));
  }
  return Status::ok();
}

}  // namespace

void registerShapeKernels(KernelRegistry& r) {
  r.add("Reshape", reshapeKernel);
  r.add("Transpose", transposeKernel);
  r.add("Flatten", flattenKernel);
  r.add("Squeeze", squeezeKernel);
  r.add("Unsqueeze", unsqueezeKernel);
  r.add("Concat", concatKernel);
  r.add("Split", splitKernel);
  r.add("Shape", shapeKernel);
  r.add("Size", sizeKernel);
  r.add("Expand", expandKernel);
  r.add("Tile", tileKernel);
  r.add("Pad", padKernel);
  r.add("Range", rangeKernel);
  r.add("ConstantOfShape", constantOfShapeKernel);
  r.add("Identity", [](KernelContext& ctx) {
    ctx.setOutput(0, ctx.input(0));
    return Status::ok();
  });
  r.add("Dropout", dropoutKernel);
  r.add("DepthToSpace", [](KernelContext& ctx) { return depthSpaceKernel(ctx, true); });
  r.add("SpaceToDepth", [](KernelContext& ctx) { return depthSpaceKernel(ctx, false); });
  registerEinsumKernel(r);
}

}  // namespace vitq
