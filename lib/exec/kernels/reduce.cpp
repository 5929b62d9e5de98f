// Reductions (ReduceMean/Sum/Max/Min/Prod/L1/L2/SumSquare/LogSum/LogSumExp) and ArgMax/ArgMin.
// Axes come from the attribute (before opset 18; ReduceSum before 13) or the second input; the
// reduced axes are brought into one contiguous block ([outer, reduced, inner], transposing only
// when they are scattered), so the inner loops run over contiguous memory. Sums accumulate in
// double.
#include <cmath>
#include <limits>

#include "exec/kernel_registry.h"
#include "exec/kernels/layout.h"

namespace vitq {
namespace {

enum class Op { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSum, kLogSumExp };

struct Plan {
  Tensor x;  // input, transposed when the reduced axes were not one block
  int64_t outer = 1, reduced = 1, inner = 1;
  Shape out_shape;
  bool identity = false;  // noop_with_empty_axes with no axes
};

StatusOr<Plan> plan(const KernelContext& ctx, const Tensor& x) {
  VITQ_ASSIGN_OR_RETURN(auto axes_opt, readIntsInputOrAttr(ctx, 1, "axes"));
  const bool keepdims = ctx.attrs().intOr("keepdims", 1) != 0;
  const size_t rank = x.shape().size();
  std::vector<bool> red(rank, false);
  Plan p;
  if (!axes_opt || axes_opt->empty()) {
    if (ctx.attrs().intOr("noop_with_empty_axes", 0) != 0) {
      p.identity = true;
      p.x = x;
      return p;
    }
    red.assign(rank, true);
  } else {
    for (int64_t a : *axes_opt) {
      VITQ_ASSIGN_OR_RETURN(int64_t n, normalizeAxis(ctx, a, static_cast<int64_t>(rank)));
      if (rank > 0) red[static_cast<size_t>(n)] = true;
    }
  }
  for (size_t d = 0; d < rank; ++d) {
    if (!red[d]) p.out_shape.push_back(x.shape()[d]);
    else if (keepdims) p.out_shape.push_back(1);
  }
  // Reduced axes that form one run among the non-unit dims need no transpose.
  std::vector<int> pattern;
  for (size_t d = 0; d < rank; ++d) {
    if (x.shape()[d] != 1) pattern.push_back(red[d] ? 1 : 0);
  }
  int runs = 0;
  for (size_t i = 0; i < pattern.size(); ++i) runs += pattern[i] == 1 && (i == 0 || pattern[i - 1] == 0) ? 1 : 0;
  if (runs <= 1) {
    p.x = x;
    size_t d = 0;
    for (; d < rank && !(red[d] && x.shape()[d] != 1); ++d) p.outer *= x.shape()[d];
    for (; d < rank && (red[d] || x.shape()[d] == 1); ++d) p.reduced *= x.shape()[d];
    for (; d < rank; ++d) p.inner *= x.shape()[d];
  } else {
    std::vector<int64_t> perm;
    for (size_t d = 0; d < rank; ++d) {
      if (!red[d]) perm.push_back(static_cast<int64_t>(d));
    }
    for (size_t d = 0; d < rank; ++d) {
      if (red[d]) {
        perm.push_back(static_cast<int64_t>(d));
        p.reduced *= x.shape()[d];
      }
    }
    p.x = transposeTensor(x, perm);
    p.outer = p.reduced == 0 ? product(p.out_shape) : x.numel() / p.reduced;
  }
  return p;
}

template <typename T>
double finish(Op op, double acc, int64_t n) {
  switch (op) {
    case Op::kMean: return acc / static_cast<double>(n);
    case Op::kL2: return std::sqrt(acc);
    case Op::kLogSum: return std::log(acc);
    default: return acc;
  }
}

template <typename T>
T toOutput(Op op, double v) {
  if constexpr (std::is_integral_v<T>) {
    v = std::isfinite(v) ? v : 0.0;  // integer outputs cannot hold inf/NaN
    if (op == Op::kMean || op == Op::kL2 || op == Op::kLogSum || op == Op::kLogSumExp) v = std::trunc(v);
  }
  return static_cast<T>(v);
}

template <typename T>
void reduceLoop(Op op, const Plan& p, Tensor& y) {
  const T* src = p.x.data<T>();
  T* dst = y.data<T>();
  const int64_t R = p.reduced, I = p.inner;
  if (op == Op::kMax || op == Op::kMin) {
    // Kept in T (exact for int64); NaN propagates.
    const bool is_max = op == Op::kMax;
    T init;
    if constexpr (std::numeric_limits<T>::has_infinity) {
      init = is_max ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    } else {
      init = is_max ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
    }
#pragma omp parallel for schedule(static) if (p.outer * R * I > 65536)
    for (int64_t o = 0; o < p.outer; ++o) {
      T* out = dst + o * I;
      std::fill(out, out + I, init);
      for (int64_t r = 0; r < R; ++r) {
        const T* row = src + (o * R + r) * I;
        for (int64_t i = 0; i < I; ++i) {
          const T v = row[i];
          if constexpr (std::is_floating_point_v<T>) {
            if (std::isnan(v)) out[i] = v;
          }
          if (is_max ? v > out[i] : v < out[i]) out[i] = v;
        }
      }
    }
    return;
  }
  if (I == 1) {
    // Reducing a contiguous run per output (the LayerNorm/softmax shape): scalar accumulators.
#pragma omp parallel for schedule(static) if (p.outer * R > 65536)
    for (int64_t o = 0; o < p.outer; ++o) {
      const T* row = src + o * R;
      double mx = 0.0, acc = op == Op::kProd ? 1.0 : 0.0;
      if (op == Op::kLogSumExp) {
        mx = -std::numeric_limits<double>::infinity();
        for (int64_t r = 0; r < R; ++r) mx = std::max(mx, static_cast<double>(row[r]));
        if (!std::isfinite(mx)) mx = 0.0;
      }
      for (int64_t r = 0; r < R; ++r) {
        const double v = static_cast<double>(row[r]);
        switch (op) {
          case Op::kProd: acc *= v; break;
          case Op::kL1: acc += std::fabs(v); break;
          case Op::kL2:
          case Op::kSumSquare: acc += v * v; break;
          case Op::kLogSumExp: acc += std::exp(v - mx); break;
          default: acc += v; break;
        }
      }
      dst[o] = toOutput<T>(op, op == Op::kLogSumExp ? std::log(acc) + mx : finish<T>(op, acc, R));
    }
    return;
  }
#pragma omp parallel for schedule(static) if (p.outer * R * I > 65536)
  for (int64_t o = 0; o < p.outer; ++o) {
    std::vector<double> acc(static_cast<size_t>(I), op == Op::kProd ? 1.0 : 0.0);
    std::vector<double> mx;
    if (op == Op::kLogSumExp) {
      // Subtract the max first so exp cannot overflow.
      mx.assign(static_cast<size_t>(I), -std::numeric_limits<double>::infinity());
      for (int64_t r = 0; r < R; ++r) {
        const T* row = src + (o * R + r) * I;
        for (int64_t i = 0; i < I; ++i) mx[static_cast<size_t>(i)] = std::max(mx[static_cast<size_t>(i)], static_cast<double>(row[i]));
      }
      for (double& m : mx) m = std::isfinite(m) ? m : 0.0;
    }
    for (int64_t r = 0; r < R; ++r) {
      const T* row = src + (o * R + r) * I;
      double* a = acc.data();
      switch (op) {
        case Op::kSum:
        case Op::kMean:
        case Op::kLogSum:
          for (int64_t i = 0; i < I; ++i) a[i] += static_cast<double>(row[i]);
          break;
        case Op::kProd:
          for (int64_t i = 0; i < I; ++i) a[i] *= static_cast<double>(row[i]);
          break;
        case Op::kL1:
          for (int64_t i = 0; i < I; ++i) a[i] += std::fabs(static_cast<double>(row[i]));
          break;
        case Op::kL2:
        case Op::kSumSquare:
          for (int64_t i = 0; i < I; ++i) a[i] += static_cast<double>(row[i]) * static_cast<double>(row[i]);
          break;
        case Op::kLogSumExp:
          for (int64_t i = 0; i < I; ++i) a[i] += std::exp(static_cast<double>(row[i]) - mx[static_cast<size_t>(i)]);
          break;
        default: break;
      }
    }
    for (int64_t i = 0; i < I; ++i) {
      const double v = op == Op::kLogSumExp ? std::log(acc[static_cast<size_t>(i)]) + mx[static_cast<size_t>(i)]
                                            : finish<T>(op, acc[static_cast<size_t>(i)], R);
      dst[o * I + i] = toOutput<T>(op, v);
    }
  }
}

Status reduceKernel(KernelContext& ctx, Op op) {
  const Tensor& x = ctx.input(0);
  VITQ_ASSIGN_OR_RETURN(Plan p, plan(ctx, x));
  if (p.identity) {
    ctx.setOutput(0, x);
    return Status::ok();
  }
  Tensor y(x.dtype(), p.out_shape);
  const bool ok = dispatchNumeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (y.numel() > 0) reduceLoop<T>(op, p, y);
  });
  if (!ok) return ctx.error(unsupportedType(x.dtype()));
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

Status argKernel(KernelContext& ctx, bool is_max) {
  const Tensor& x = ctx.input(0);
  VITQ_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(ctx, ctx.attrs().intOr("axis", 0), x.rank()));
  const bool keepdims = ctx.attrs().intOr("keepdims", 1) != 0;
  const bool last = ctx.attrs().intOr("select_last_index", 0) != 0;
  const int64_t dim = x.rank() ? x.dim(axis) : 1;
  if (dim == 0) return ctx.error("cannot take ArgMax/ArgMin over an empty axis");
  Shape shape;
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (d != axis) shape.push_back(x.dim(d));
    else if (keepdims) shape.push_back(1);
  }
  const int64_t outer = product(x.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = product(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  Tensor y(DataType::kInt64, shape);
  int64_t* out = y.data<int64_t>();
  const bool ok = dispatchNumeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = x.data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const T* s = src + o * dim * inner + i;
        int64_t best = 0;
        for (int64_t k = 1; k < dim; ++k) {
          const T v = s[k * inner], b = s[best * inner];
          const bool better = is_max ? (last ? v >= b : v > b) : (last ? v <= b : v < b);
          if (better) best = k;
        }
        out[o * inner + i] = best;
      }
    }
  });
  if (!ok) return ctx.error(unsupportedType(x.dtype()));
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

}  // namespace

void registerReduceKernels(KernelRegistry& r) {
  const std::pair<const char*, Op> ops[] = {
      {"ReduceSum", Op::kSum},       {"ReduceMean", Op::kMean}, {"ReduceMax", Op::kMax},
      {"ReduceMin", Op::kMin},       {"ReduceProd", Op::kProd}, {"ReduceL1", Op::kL1},
      {"ReduceL2", Op::kL2},         {"ReduceSumSquare", Op::kSumSquare},
      {"ReduceLogSum", Op::kLogSum}, {"ReduceLogSumExp", Op::kLogSumExp}};
  for (const auto& [name, op] : ops) {
    const Op o = op;
    r.add(name, [o](KernelContext& ctx) { return reduceKernel(ctx, o); });
  }
  r.add("ArgMax", [](KernelContext& ctx) { return argKernel(ctx, true); });
  r.add("ArgMin", [](KernelContext& ctx) { return argKernel(ctx, false); });
}

}  // namespace vitq
