// Einsum. Two-operand float contractions without repeated or single-operand summed labels (every
// attention form: "bhid,bhjd->bhij", "bhij,bhjd->bhid", "bij,bjk->bik", ...) run as batched sgemm,
// with transposes only where an operand is not already [batch, M, K] / [batch, K, N] (or the
// transposed variants, which sgemm takes directly). Everything else (diagonals, sums, one or three
// operands) runs through a direct loop over all label values, exact but slow.
#include <algorithm>
#include <cctype>
#include <map>
#include <string>

#include "exec/gemm.h"
#include "exec/kernels/layout.h"

namespace vitq {
namespace {

constexpr int kEllipsisBase = 128;  // labels: ASCII letters, then 128 + k for ellipsis dims

struct Equation {
  std::vector<std::vector<int>> inputs;  // labels per operand axis
  std::vector<int> output;
};

// Parses one term, expanding "..." into `ellipsis_rank` labels aligned to the right.
StatusOr<std::vector<int>> parseTerm(const KernelContext& ctx, const std::string& term, int64_t rank, int64_t& max_ell,
                                     bool is_output) {
  std::vector<int> labels;
  size_t letters = 0;
  const size_t dots = term.find("...");
  for (char c : term) letters += std::isalpha(static_cast<unsigned char>(c)) ? 1 : 0;
  if (dots != std::string::npos && term.find("...", dots + 1) != std::string::npos) {
    return ctx.error("term '" + term + "' has more than one ellipsis");
  }
  const int64_t ell = dots == std::string::npos ? 0 : (is_output ? max_ell : rank - static_cast<int64_t>(letters));
  if (!is_output && (ell < 0 || (dots == std::string::npos && rank != static_cast<int64_t>(letters)))) {
    return ctx.error("term '" + term + "' does not match an operand of rank " + std::to_string(rank));
  }
  if (!is_output) max_ell = std::max(max_ell, ell);
  for (size_t i = 0; i < term.size(); ++i) {
    const char c = term[i];
    if (i == dots) {
      for (int64_t k = 0; k < ell; ++k) labels.push_back(kEllipsisBase + static_cast<int>(max_ell - ell + k));
      i += 2;
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      labels.push_back(c);
    } else {
      return ctx.error(std::string("unexpected character '") + c + "' in the equation");
    }
  }
  return labels;
}

StatusOr<Equation> parseEquation(const KernelContext& ctx, std::string eq) {
  eq.erase(std::remove(eq.begin(), eq.end(), ' '), eq.end());
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t start = 0;;) {
    const size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != ctx.numInputs()) {
    return ctx.error("equation '" + eq + "' has " + std::to_string(terms.size()) + " operands, the node has " +
                     std::to_string(ctx.numInputs()) + " inputs");
  }
  Equation e;
  int64_t max_ell = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    if (!ctx.hasInput(i)) return ctx.error("input " + std::to_string(i) + " is missing");
    VITQ_ASSIGN_OR_RETURN(auto labels, parseTerm(ctx, terms[i], ctx.input(i).rank(), max_ell, false));
    e.inputs.push_back(std::move(labels));
  }
  // Ellipsis labels were numbered against the running maximum; renumber right-aligned to the final one.
  for (size_t i = 0; i < terms.size(); ++i) {
    int64_t ell = 0;
    for (int l : e.inputs[i]) ell += l >= kEllipsisBase ? 1 : 0;
    int64_t k = 0;
    for (int& l : e.inputs[i]) {
      if (l >= kEllipsisBase) l = kEllipsisBase + static_cast<int>(max_ell - ell + k++);
    }
  }
  if (arrow != std::string::npos) {
    VITQ_ASSIGN_OR_RETURN(e.output, parseTerm(ctx, eq.substr(arrow + 2), 0, max_ell, true));
  } else {
    // Implicit output: ellipsis dims, then labels seen exactly once, in alphabetical order.
    std::map<int, int> count;
    for (const auto& in : e.inputs) {
      for (int l : in) ++count[l];
    }
    for (int64_t k = 0; k < max_ell; ++k) e.output.push_back(kEllipsisBase + static_cast<int>(k));
    for (const auto& [l, n] : count) {
      if (l < kEllipsisBase && n == 1) e.output.push_back(l);
    }
  }
  return e;
}

bool contains(const std::vector<int>& v, int l) { return std::find(v.begin(), v.end(), l) != v.end(); }

// Permutation that reorders `have` into `want` (both hold the same labels), or empty when equal.
std::vector<int64_t> permFor(const std::vector<int>& have, const std::vector<int>& want) {
  std::vector<int64_t> perm;
  for (int l : want) perm.push_back(std::find(have.begin(), have.end(), l) - have.begin());
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] != static_cast<int64_t>(i)) return perm;
  }
  return {};
}

std::vector<int> concat(std::vector<int> a, const std::vector<int>& b, const std::vector<int>& c) {
  a.insert(a.end(), b.begin(), b.end());
  a.insert(a.end(), c.begin(), c.end());
  return a;
}

// Batched sgemm path; returns false (without touching ctx) when the equation does not fit it.
bool tryGemm(KernelContext& ctx, const Equation& e, const std::map<int, int64_t>& dims) {
  if (e.inputs.size() != 2 || ctx.input(0).dtype() != DataType::kFloat || ctx.input(1).dtype() != DataType::kFloat) {
    return false;
  }
  const auto& la = e.inputs[0];
  const auto& lb = e.inputs[1];
  for (const auto* labels : {&la, &lb}) {
    for (size_t i = 0; i < labels->size(); ++i) {
      if (std::count(labels->begin(), labels->end(), (*labels)[i]) != 1) return false;
    }
  }
  for (size_t k = 0; k < 2; ++k) {
    for (size_t i = 0; i < e.inputs[k].size(); ++i) {
      if (ctx.input(k).shape()[i] != dims.at(e.inputs[k][i])) return false;  // broadcasting: general path
    }
  }
  std::vector<int> batch, m, n, kk;
  for (int l : e.output) {
    const bool ia = contains(la, l), ib = contains(lb, l);
    if (ia && ib) batch.push_back(l);
    else if (ia) m.push_back(l);
    else if (ib) n.push_back(l);
  }
  for (int l : la) {
    if (!contains(e.output, l)) {
      if (!contains(lb, l)) return false;  // summed within one operand
      kk.push_back(l);
    }
  }
  for (int l : lb) {
    if (!contains(e.output, l) && !contains(la, l)) return false;
  }
  auto size = [&](const std::vector<int>& ls) {
    int64_t p = 1;
    for (int l : ls) p *= dims.at(l);
    return p;
  };
  const int64_t B = size(batch), M = size(m), N = size(n), K = size(kk);
  // A as [batch, M, K] or [batch, K, M] (trans_a); B as [batch, K, N] or [batch, N, K] (trans_b).
  Tensor a = ctx.input(0), b = ctx.input(1);
  bool ta = false, tb = false;
  if (auto p = permFor(la, concat(batch, m, kk)); !p.empty()) {
    if (permFor(la, concat(batch, kk, m)).empty()) ta = true;
    else a = transposeTensor(a, p);
  }
  if (auto p = permFor(lb, concat(batch, kk, n)); !p.empty()) {
    if (permFor(lb, concat(batch, n, kk)).empty()) tb = true;
    else b = transposeTensor(b, p);
  }
  const std::vector<int> c_labels = concat(batch, m, n);
  Shape c_shape;
  for (int l : c_labels) c_shape.push_back(dims.at(l));
  Tensor c(DataType::kFloat, c_shape);
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* pc = c.data<float>();
#pragma omp parallel for schedule(static) if (B > 1)
  for (int64_t i = 0; i < B; ++i) {
    sgemm(ta, tb, M, N, K, 1.0f, pa + i * M * K, ta ? M : K, pb + i * K * N, tb ? K : N, 0.0f, pc + i * M * N, N);
  }
  const auto p = permFor(c_labels, e.output);
  ctx.setOutput(0, p.empty() ? c : transposeTensor(c, p));
  return true;
}

// Direct loop over every combination of label values.
template <typename T>
void einsumLoop(KernelContext& ctx, const Equation& e, const std::vector<int>& labels,
                const std::map<int, int64_t>& dims, Tensor& y) {
  const size_t nl = labels.size();
  std::vector<int64_t> extent(nl);
  for (size_t i = 0; i < nl; ++i) extent[i] = dims.at(labels[i]);
  // stride[k][i]: step of operand k (or the output, k = n) per unit of label i; 0 when broadcast.
  const size_t n = e.inputs.size();
  std::vector<std::vector<int64_t>> stride(n + 1, std::vector<int64_t>(nl, 0));
  auto fill = [&](size_t k, const std::vector<int>& ls, const Shape& shape) {
    const std::vector<int64_t> st = stridesOf(shape);
    for (size_t ax = 0; ax < ls.size(); ++ax) {
      const size_t i = static_cast<size_t>(std::find(labels.begin(), labels.end(), ls[ax]) - labels.begin());
      if (shape[ax] != 1 || extent[i] == 1) stride[k][i] += st[ax];
    }
  };
  for (size_t k = 0; k < n; ++k) fill(k, e.inputs[k], ctx.input(k).shape());
  fill(n, e.output, y.shape());
  std::vector<double> acc(static_cast<size_t>(y.numel()), 0.0);
  std::vector<int64_t> idx(nl, 0), off(n + 1, 0);
  int64_t total = 1;
  for (int64_t x : extent) total *= x;
  for (int64_t it = 0; it < total; ++it) {
    double v = 1.0;
    for (size_t k = 0; k < n; ++k) v *= static_cast<double>(ctx.input(k).data<T>()[off[k]]);
    acc[static_cast<size_t>(off[n])] += v;
    for (size_t i = nl; i-- > 0;) {  // odometer step
      for (size_t k = 0; k <= n; ++k) off[k] += stride[k][i];
      if (++idx[i] < extent[i]) break;
      for (size_t k = 0; k <= n; ++k) off[k] -= stride[k][i] * extent[i];
      idx[i] = 0;
    }
  }
  T* out = y.data<T>();
  for (int64_t i = 0; i < y.numel(); ++i) out[i] = static_cast<T>(acc[static_cast<size_t>(i)]);
}

Status einsumKernel(KernelContext& ctx) {
  const auto equation = ctx.attrs().getString("equation");
  if (!equation) return ctx.error("missing equation");
  VITQ_ASSIGN_OR_RETURN(Equation e, parseEquation(ctx, *equation));
  std::map<int, int64_t> dims;
  const DataType dt = ctx.input(0).dtype();
  for (size_t k = 0; k < e.inputs.size(); ++k) {
    if (ctx.input(k).dtype() != dt) return ctx.error("operand types differ");
    for (size_t ax = 0; ax < e.inputs[k].size(); ++ax) {
      const int64_t d = ctx.input(k).shape()[ax];
      auto [it, fresh] = dims.emplace(e.inputs[k][ax], d);
      if (!fresh && it->second != d) {
        if (it->second != 1 && d != 1) {
          return ctx.error("equation '" + *equation + "': label sizes " + std::to_string(it->second) + " and " +
                           std::to_string(d) + " disagree");
        }
        it->second = std::max(it->second, d);
      }
    }
  }
  Shape out_shape;
  for (int l : e.output) {
    auto it = dims.find(l);
    if (it == dims.end()) return ctx.error("output label of '" + *equation + "' is not in any operand");
    out_shape.push_back(it->second);
  }
  if (tryGemm(ctx, e, dims)) return Status::ok();
  std::vector<int> labels;
  int64_t total = 1;
  for (const auto& [l, d] : dims) {
    labels.push_back(l);
    total *= std::max<int64_t>(d, 1);
    if (total > (int64_t{1} << 32)) return ctx.error("equation '" + *equation + "' is too large for the direct loop");
  }
  Tensor y(dt, out_shape);
  bool any_empty = false;
  for (const auto& [l, d] : dims) any_empty = any_empty || d == 0;
  bool ok = true;
  if (!any_empty) {
    ok = dispatchNumeric(dt, [&](auto tag) { einsumLoop<decltype(tag)>(ctx, e, labels, dims, y); });
  }
  if (!ok) return ctx.error(unsupportedType(dt));
  ctx.setOutput(0, std::move(y));
  return Status::ok();
}

}  // namespace

void registerEinsumKernel(KernelRegistry& r) { r.add("Einsum", einsumKernel); }

}  // namespace vitq
