// Recurrent layers: LSTM, GRU and RNN (ONNX opsets 7 and 14), float32.
//
// Per direction, the input projection of every time step is one GEMM, X[seq*batch, input] * W^T,
// with the biases that are plain sums folded in; each step then adds one GEMM of the previous
// hidden state with R^T (two for GRU with linear_before_reset = 0, whose candidate gate multiplies
// r (.) H_{t-1} by R_h) and applies the gates elementwise. Gate orders are the spec's: i, o, f, c
// for LSTM (peepholes P: i, o, f); z, r, h for GRU.
//
// sequence_lens: batch entry b runs its first len_b steps (the reverse direction from len_b - 1
// down to 0); Y is zero past len_b and Y_h / Y_c hold the state after its last step, as in ONNX
// Runtime. layout = 1 (opset 14) puts batch first in X, Y, initial_h/c and Y_h/c.
// activations: Sigmoid, Tanh, Relu, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid,
// Elu, Softsign, Softplus (names case-insensitive; alpha/beta taken in order by the functions that
// use them, as ONNX Runtime does); one list for one direction is used for both when bidirectional.
// clip bounds the input of every gate activation.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "exec/gemm.h"
#include "exec/kernel_registry.h"
#include "exec/kernels/vector_math.h"

namespace vitq {
namespace {

enum class ActKind { kSigmoid, kTanh, kRelu, kAffine, kLeakyRelu, kThresholdedRelu, kScaledTanh, kHardSigmoid, kElu,
                     kSoftsign, kSoftplus };

struct Activation {
  ActKind kind = ActKind::kSigmoid;
  float alpha = 0.0f, beta = 0.0f;

  /// In place over n values.
  void apply(float* p, int64_t n) const {
    switch (kind) {
      case ActKind::kSigmoid: vec::sigmoid(p, p, n); return;
      case ActKind::kTanh: vec::tanh(p, p, n); return;
      case ActKind::kRelu:
        for (int64_t i = 0; i < n; ++i) p[i] = std::max(p[i], 0.0f);
        return;
      case ActKind::kAffine:
        for (int64_t i = 0; i < n; ++i) p[i] = alpha * p[i] + beta;
        return;
      case ActKind::kLeakyRelu:
        for (int64_t i = 0; i < n; ++i) p[i] = p[i] >= 0.0f ? p[i] : alpha * p[i];
        return;
      case ActKind::kThresholdedRelu:
        for (int64_t i = 0; i < n; ++i) p[i] = p[i] > alpha ? p[i] : 0.0f;
        return;
      case ActKind::kScaledTanh:
        for (int64_t i = 0; i < n; ++i) p[i] = alpha * std::tanh(beta * p[i]);
        return;
      case ActKind::kHardSigmoid:
        for (int64_t i = 0; i < n; ++i) p[i] = std::min(1.0f, std::max(0.0f, alpha * p[i] + beta));
        return;
      case ActKind::kElu:
        for (int64_t i = 0; i < n; ++i) p[i] = p[i] >= 0.0f ? p[i] : alpha * (std::exp(p[i]) - 1.0f);
        return;
      case ActKind::kSoftsign:
        for (int64_t i = 0; i < n; ++i) p[i] = p[i] / (1.0f + std::fabs(p[i]));
        return;
      case ActKind::kSoftplus:
        for (int64_t i = 0; i < n; ++i) p[i] = std::log1p(std::exp(p[i]));
        return;
    }
  }
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// The activations of every direction, \p per_dir per direction (defaults when the attribute is
/// absent), or an error.
Status readActivations(const KernelContext& ctx, const std::vector<std::string>& defaults, int64_t num_dir,
                       std::vector<Activation>& out) {
  std::vector<std::string> names;
  const Attribute* a = ctx.attrs().find("activations");
  if (a != nullptr && a->kind == AttributeKind::kStrings && !a->strings.empty()) {
    names = a->strings;
  } else {
    for (int64_t d = 0; d < num_dir; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
  }
  const size_t per_dir = defaults.size();
  if (names.size() == per_dir && num_dir == 2) {
    std::vector<std::string> both = names;
    both.insert(both.end(), names.begin(), names.end());
    names = both;
  }
  if (names.size() != per_dir * static_cast<size_t>(num_dir)) {
    return ctx.error("activations lists " + std::to_string(names.size()) + " functions; expected " +
                     std::to_string(per_dir * static_cast<size_t>(num_dir)) + " (" + std::to_string(per_dir) +
                     " per direction)");
  }
  const std::vector<float> alphas = ctx.attrs().getFloats("activation_alpha").value_or(std::vector<float>{});
  const std::vector<float> betas = ctx.attrs().getFloats("activation_beta").value_or(std::vector<float>{});
  size_t ai = 0, bi = 0;
  auto take = [](const std::vector<float>& v, size_t& i, float fallback) { return i < v.size() ? v[i++] : fallback; };
  out.clear();
  for (const std::string& name : names) {
    const std::string n = lower(name);
    Activation act;
    if (n == "sigmoid") {
      act.kind = ActKind::kSigmoid;
    } else if (n == "tanh") {
      act.kind = ActKind::kTanh;
    } else if (n == "relu") {
      act.kind = ActKind::kRelu;
    } else if (n == "affine") {
      act.kind = ActKind::kAffine;
      act.alpha = take(alphas, ai, 1.0f);
      act.beta = take(betas, bi, 0.0f);
    } else if (n == "leakyrelu") {
      act.kind = ActKind::kLeakyRelu;
      act.alpha = take(alphas, ai, 0.01f);
    } else if (n == "thresholdedrelu") {
      act.kind = ActKind::kThresholdedRelu;
      act.alpha = take(alphas, ai, 1.0f);
    } else if (n == "scaledtanh") {
      act.kind = ActKind::kScaledTanh;
      act.alpha = take(alphas, ai, 1.0f);
      act.beta = take(betas, bi, 1.0f);
    } else if (n == "hardsigmoid") {
      act.kind = ActKind::kHardSigmoid;
      act.alpha = take(alphas, ai, 0.2f);
      act.beta = take(betas, bi, 0.5f);
    } else if (n == "elu") {
      act.kind = ActKind::kElu;
      act.alpha = take(alphas, ai, 1.0f);
    } else if (n == "softsign") {
      act.kind = ActKind::kSoftsign;
    } else if (n == "softplus") {
      act.kind = ActKind::kSoftplus;
    } else {
      return ctx.error("activation '" + name + "' is not supported");
    }
    out.push_back(act);
  }
  return Status::ok();
}

/// What every recurrent op shares: dims, attributes, sequence lengths, weights.
struct Recurrence {
  int64_t seq = 0, batch = 0, input = 0, hidden = 0, num_dir = 1, gates = 1;
  int layout = 0;
  bool reverse_only = false;  // direction = reverse
  float clip = 0.0f;          // 0: no clipping
  std::vector<int64_t> lens;  // per batch entry
  std::vector<Activation> acts;
  const float* x = nullptr;
  const float* w = nullptr;
  const float* r = nullptr;
  const float* b = nullptr;  // [num_dir, 2 * gates * hidden] or nullptr

  bool reverseDir(int64_t d) const { return d == 1 || reverse_only; }
  /// Offset of state row (d, b) in initial_h/c and Y_h/c.
  int64_t stateOffset(int64_t d, int64_t bi) const {
    return (layout == 0 ? d * batch + bi : bi * num_dir + d) * hidden;
  }
  /// Offset of Y[t, d, b] (layout 0) or Y[b, t, d] (layout 1).
  int64_t yOffset(int64_t t, int64_t d, int64_t bi) const {
    return (layout == 0 ? (t * num_dir + d) * batch + bi : (bi * seq + t) * num_dir + d) * hidden;
  }
  Shape stateShape() const { return layout == 0 ? Shape{num_dir, batch, hidden} : Shape{batch, num_dir, hidden}; }
  Shape yShape() const {
    return layout == 0 ? Shape{seq, num_dir, batch, hidden} : Shape{batch, seq, num_dir, hidden};
  }
  /// Time index of step s for batch entry bi in direction d.
  int64_t timeOf(int64_t d, int64_t s, int64_t bi) const { return reverseDir(d) ? lens[bi] - 1 - s : s; }
  void clipInPlace(float* p, int64_t n) const {
    if (clip <= 0.0f) return;
    for (int64_t i = 0; i < n; ++i) p[i] = std::min(clip, std::max(-clip, p[i]));
  }
};

Status checkShape(const KernelContext& ctx, const char* what, const Tensor& t, const Shape& want) {
  if (t.shape() != want) {
    return ctx.error(std::string(what) + " has shape " + shapeToString(t.shape()) + "; expected " +
                     shapeToString(want));
  }
  return Status::ok();
}

/// Reads inputs 0-5 (X, W, R, B, sequence_lens, initial_h) and the shared attributes.
Status setUp(const KernelContext& ctx, int64_t gates, const std::vector<std::string>& default_acts, Recurrence& rc) {
  rc.gates = gates;
  if (!ctx.hasInput(0) || !ctx.hasInput(1) || !ctx.hasInput(2)) return ctx.error("X, W and R are required");
  for (size_t i : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{6}, size_t{7}}) {
    if (ctx.hasInput(i) && ctx.input(i).dtype() != DataType::kFloat) {
      return ctx.error("input " + std::to_string(i) + " is " + dataTypeName(ctx.input(i).dtype()) +
                       "; only float is supported");
    }
  }
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor& r = ctx.input(2);
  const int64_t layout = ctx.attrs().intOr("layout", 0);
  if (layout != 0 && layout != 1) return ctx.error("layout must be 0 or 1, got " + std::to_string(layout));
  rc.layout = static_cast<int>(layout);
  const std::string direction = ctx.attrs().stringOr("direction", "forward");
  if (direction == "forward") {
    rc.num_dir = 1;
  } else if (direction == "reverse") {
    rc.num_dir = 1;
    rc.reverse_only = true;
  } else if (direction == "bidirectional") {
    rc.num_dir = 2;
  } else {
    return ctx.error("direction '" + direction + "' is not one of forward, reverse, bidirectional");
  }
  if (x.rank() != 3) return ctx.error("X must be 3-D, got " + shapeToString(x.shape()));
  rc.seq = layout == 0 ? x.dim(0) : x.dim(1);
  rc.batch = layout == 0 ? x.dim(1) : x.dim(0);
  rc.input = x.dim(2);
  if (r.rank() != 3) return ctx.error("R must be 3-D, got " + shapeToString(r.shape()));
  rc.hidden = ctx.attrs().intOr("hidden_size", r.dim(2));
  if (rc.hidden <= 0) return ctx.error("hidden_size must be positive, got " + std::to_string(rc.hidden));
  const int64_t gh = gates * rc.hidden;
  VITQ_RETURN_IF_ERROR(checkShape(ctx, "W", w, {rc.num_dir, gh, rc.input}));
  VITQ_RETURN_IF_ERROR(checkShape(ctx, "R", r, {rc.num_dir, gh, rc.hidden}));
  if (ctx.hasInput(3)) {
    VITQ_RETURN_IF_ERROR(checkShape(ctx, "B", ctx.input(3), {rc.num_dir, 2 * gh}));
    rc.b = ctx.input(3).data<float>();
  }
  rc.lens.assign(static_cast<size_t>(rc.batch), rc.seq);
  if (ctx.hasInput(4)) {
    const Tensor& sl = ctx.input(4);
    if (sl.dtype() != DataType::kInt32 && sl.dtype() != DataType::kInt64) {
      return ctx.error(std::string("sequence_lens must be int32, got ") + dataTypeName(sl.dtype()));
    }
    VITQ_RETURN_IF_ERROR(checkShape(ctx, "sequence_lens", sl, {rc.batch}));
    rc.lens = sl.toInt64Vector();
    for (int64_t len : rc.lens) {
      if (len < 0 || len > rc.seq) {
        return ctx.error("sequence_lens value " + std::to_string(len) + " is outside [0, " + std::to_string(rc.seq) +
                         "]");
      }
    }
  }
  if (ctx.hasInput(5)) VITQ_RETURN_IF_ERROR(checkShape(ctx, "initial_h", ctx.input(5), rc.stateShape()));
  rc.clip = ctx.attrs().floatOr("clip", 0.0f);
  if (ctx.attrs().has("clip") && rc.clip <= 0.0f) return ctx.error("clip must be positive");
  VITQ_RETURN_IF_ERROR(readActivations(ctx, default_acts, rc.num_dir, rc.acts));
  rc.x = x.data<float>();
  rc.w = w.data<float>();
  rc.r = r.data<float>();
  return Status::ok();
}

/// XW[seq * batch, gates * hidden] = X (time-major) * W_d^T + the bias columns selected by
/// \p fold_rb (Wb always; Rb of gate g where fold_rb[g]).
std::vector<float> inputProjection(const Recurrence& rc, int64_t d, const std::vector<bool>& fold_rb) {
  const int64_t gh = rc.gates * rc.hidden, rows = rc.seq * rc.batch;
  std::vector<float> xt;
  const float* x = rc.x;
  if (rc.layout == 1 && rc.seq > 1 && rc.batch > 1) {
    xt.resize(static_cast<size_t>(rows * rc.input));
    for (int64_t b = 0; b < rc.batch; ++b) {
      for (int64_t t = 0; t < rc.seq; ++t) {
        std::memcpy(xt.data() + (t * rc.batch + b) * rc.input, rc.x + (b * rc.seq + t) * rc.input,
                    sizeof(float) * static_cast<size_t>(rc.input));
      }
    }
    x = xt.data();
  }
  std::vector<float> xw(static_cast<size_t>(rows * gh), 0.0f);
  if (rows > 0) {
    sgemm(false, true, rows, gh, rc.input, 1.0f, x, rc.input, rc.w + d * gh * rc.input, rc.input, 0.0f, xw.data(), gh);
  }
  if (rc.b != nullptr) {
    std::vector<float> bias(static_cast<size_t>(gh));
    const float* wb = rc.b + d * 2 * gh;
    const float* rb = wb + gh;
    for (int64_t j = 0; j < gh; ++j) bias[j] = wb[j] + (fold_rb[static_cast<size_t>(j / rc.hidden)] ? rb[j] : 0.0f);
    for (int64_t row = 0; row < rows; ++row) {
      float* p = xw.data() + row * gh;
      for (int64_t j = 0; j < gh; ++j) p[j] += bias[j];
    }
  }
  return xw;
}

/// initial state rows of direction d (zeros without the input).
std::vector<float> initialState(const KernelContext& ctx, size_t input, const Recurrence& rc, int64_t d) {
  std::vector<float> s(static_cast<size_t>(rc.batch * rc.hidden), 0.0f);
  if (!ctx.hasInput(input)) return s;
  const float* p = ctx.input(input).data<float>();
  for (int64_t b = 0; b < rc.batch; ++b) {
    std::memcpy(s.data() + b * rc.hidden, p + rc.stateOffset(d, b), sizeof(float) * static_cast<size_t>(rc.hidden));
  }
  return s;
}

void storeState(const Recurrence& rc, int64_t d, const std::vector<float>& s, Tensor& out) {
  float* p = out.data<float>();
  for (int64_t b = 0; b < rc.batch; ++b) {
    std::memcpy(p + rc.stateOffset(d, b), s.data() + b * rc.hidden, sizeof(float) * static_cast<size_t>(rc.hidden));
  }
}

bool wants(const KernelContext& ctx, size_t i) { return ctx.node.output(i) != nullptr; }

Status lstmKernel(KernelContext& ctx) {
  Recurrence rc;
  VITQ_RETURN_IF_ERROR(setUp(ctx, 4, {"Sigmoid", "Tanh", "Tanh"}, rc));
  const int64_t H = rc.hidden, gh = 4 * H;
  if (ctx.hasInput(6)) VITQ_RETURN_IF_ERROR(checkShape(ctx, "initial_c", ctx.input(6), rc.stateShape()));
  const float* peep = nullptr;
  if (ctx.hasInput(7)) {
    VITQ_RETURN_IF_ERROR(checkShape(ctx, "P", ctx.input(7), {rc.num_dir, 3 * H}));
    peep = ctx.input(7).data<float>();
  }
  const bool input_forget = ctx.attrs().intOr("input_forget", 0) != 0;
  Tensor y(DataType::kFloat, rc.yShape());
  Tensor y_h(DataType::kFloat, rc.stateShape());
  Tensor y_c(DataType::kFloat, rc.stateShape());
  std::vector<float> hr(static_cast<size_t>(rc.batch * gh));
  for (int64_t d = 0; d < rc.num_dir; ++d) {
    const std::vector<float> xw = inputProjection(rc, d, {true, true, true, true});
    std::vector<float> h = initialState(ctx, 5, rc, d), c = initialState(ctx, 6, rc, d);
    const float* rd = rc.r + d * gh * H;
    const float* pi = peep ? peep + d * 3 * H : nullptr;
    const float* po = pi ? pi + H : nullptr;
    const float* pf = pi ? pi + 2 * H : nullptr;
    const Activation& f = rc.acts[static_cast<size_t>(d * 3)];
    const Activation& g = rc.acts[static_cast<size_t>(d * 3 + 1)];
    const Activation& hact = rc.acts[static_cast<size_t>(d * 3 + 2)];
    std::vector<float> ct(static_cast<size_t>(H));
    for (int64_t s = 0; s < rc.seq; ++s) {
      sgemm(false, true, rc.batch, gh, H, 1.0f, h.data(), H, rd, H, 0.0f, hr.data(), gh);
      for (int64_t b = 0; b < rc.batch; ++b) {
        if (s >= rc.lens[b]) continue;
        const int64_t t = rc.timeOf(d, s, b);
        float* gates = hr.data() + b * gh;
        const float* xrow = xw.data() + (t * rc.batch + b) * gh;
        for (int64_t j = 0; j < gh; ++j) gates[j] += xrow[j];
        float* gi = gates;
        float* go = gates + H;
        float* gf = gates + 2 * H;
        float* gc = gates + 3 * H;
        float* hb = h.data() + b * H;
        float* cb = c.data() + b * H;
        if (pi) {
          for (int64_t j = 0; j < H; ++j) {
            gi[j] += pi[j] * cb[j];
            gf[j] += pf[j] * cb[j];
          }
        }
        rc.clipInPlace(gi, H);
        rc.clipInPlace(gf, 2 * H);  // f and c
        f.apply(gi, H);
        if (input_forget) {
          for (int64_t j = 0; j < H; ++j) gf[j] = 1.0f - gi[j];
        } else {
          f.apply(gf, H);
        }
        g.apply(gc, H);
        for (int64_t j = 0; j < H; ++j) cb[j] = gf[j] * cb[j] + gi[j] * gc[j];
        if (po) {
          for (int64_t j = 0; j < H; ++j) go[j] += po[j] * cb[j];
        }
        rc.clipInPlace(go, H);
        f.apply(go, H);
        std::memcpy(ct.data(), cb, sizeof(float) * static_cast<size_t>(H));
        hact.apply(ct.data(), H);
        for (int64_t j = 0; j < H; ++j) hb[j] = go[j] * ct[j];
        std::memcpy(y.data<float>() + rc.yOffset(t, d, b), hb, sizeof(float) * static_cast<size_t>(H));
      }
    }
    storeState(rc, d, h, y_h);
    storeState(rc, d, c, y_c);
  }
  if (wants(ctx, 0)) ctx.setOutput(0, std::move(y));
  if (wants(ctx, 1)) ctx.setOutput(1, std::move(y_h));
  if (wants(ctx, 2)) ctx.setOutput(2, std::move(y_c));
  return Status::ok();
}

Status gruKernel(KernelContext& ctx) {
  Recurrence rc;
  VITQ_RETURN_IF_ERROR(setUp(ctx, 3, {"Sigmoid", "Tanh"}, rc));
  const int64_t H = rc.hidden, gh = 3 * H;
  const bool lbr = ctx.attrs().intOr("linear_before_reset", 0) != 0;
  Tensor y(DataType::kFloat, rc.yShape());
  Tensor y_h(DataType::kFloat, rc.stateShape());
  std::vector<float> hr(static_cast<size_t>(rc.batch * gh), 0.0f);
  std::vector<float> rh(static_cast<size_t>(rc.batch * H), 0.0f);
  std::vector<float> hh(static_cast<size_t>(rc.batch * H), 0.0f);
  std::vector<float> one_minus_z(static_cast<size_t>(rc.batch * H), 0.0f);
  for (int64_t d = 0; d < rc.num_dir; ++d) {
    // Rb_h stays out of the projection with linear_before_reset (it is scaled by r).
    const std::vector<float> xw = inputProjection(rc, d, {true, true, !lbr});
    const float* rbh = (lbr && rc.b != nullptr) ? rc.b + d * 2 * gh + gh + 2 * H : nullptr;
    std::vector<float> h = initialState(ctx, 5, rc, d);
    const float* rd = rc.r + d * gh * H;
    const Activation& f = rc.acts[static_cast<size_t>(d * 2)];
    const Activation& g = rc.acts[static_cast<size_t>(d * 2 + 1)];
    for (int64_t s = 0; s < rc.seq; ++s) {
      // z and r (and h's recurrent term with linear_before_reset) from H_{t-1}.
      sgemm(false, true, rc.batch, lbr ? gh : 2 * H, H, 1.0f, h.data(), H, rd, H, 0.0f, hr.data(), gh);
      for (int64_t b = 0; b < rc.batch; ++b) {
        float* gates = hr.data() + b * gh;
        const float* hb = h.data() + b * H;
        if (s >= rc.lens[b]) {
          std::fill(rh.begin() + b * H, rh.begin() + (b + 1) * H, 0.0f);
          continue;
        }
        const int64_t t = rc.timeOf(d, s, b);
        const float* xrow = xw.data() + (t * rc.batch + b) * gh;
        for (int64_t j = 0; j < 2 * H; ++j) gates[j] += xrow[j];
        rc.clipInPlace(gates, 2 * H);
        // 1 - z, as sigmoid(-x) for Sigmoid: 1 - sigmoid(x) cancels to 0 in float where z rounds to 1.
        float* omz = one_minus_z.data() + b * H;
        if (f.kind == ActKind::kSigmoid) {
          for (int64_t j = 0; j < H; ++j) omz[j] = -gates[j];
          f.apply(omz, H);
        }
        f.apply(gates, 2 * H);  // z, r
        if (f.kind != ActKind::kSigmoid) {
          for (int64_t j = 0; j < H; ++j) omz[j] = 1.0f - gates[j];
        }
        const float* r = gates + H;
        if (lbr) {
          float* gh_ = gates + 2 * H;
          for (int64_t j = 0; j < H; ++j) gh_[j] = xrow[2 * H + j] + r[j] * (gh_[j] + (rbh ? rbh[j] : 0.0f));
        } else {
          for (int64_t j = 0; j < H; ++j) rh[static_cast<size_t>(b * H + j)] = r[j] * hb[j];
        }
      }
      if (!lbr) {
        sgemm(false, true, rc.batch, H, H, 1.0f, rh.data(), H, rd + 2 * H * H, H, 0.0f, hh.data(), H);
      }
      for (int64_t b = 0; b < rc.batch; ++b) {
        if (s >= rc.lens[b]) continue;
        const int64_t t = rc.timeOf(d, s, b);
        float* gates = hr.data() + b * gh;
        float* cand = gates + 2 * H;
        if (!lbr) {
          const float* xrow = xw.data() + (t * rc.batch + b) * gh;
          for (int64_t j = 0; j < H; ++j) cand[j] = xrow[2 * H + j] + hh[static_cast<size_t>(b * H + j)];
        }
        rc.clipInPlace(cand, H);
        g.apply(cand, H);
        const float* z = gates;
        float* hb = h.data() + b * H;
        const float* omz = one_minus_z.data() + b * H;
        for (int64_t j = 0; j < H; ++j) hb[j] = omz[j] * cand[j] + z[j] * hb[j];
        std::memcpy(y.data<float>() + rc.yOffset(t, d, b), hb, sizeof(float) * static_cast<size_t>(H));
      }
    }
    storeState(rc, d, h, y_h);
  }
  if (wants(ctx, 0)) ctx.setOutput(0, std::move(y));
  if (wants(ctx, 1)) ctx.setOutput(1, std::move(y_h));
  return Status::ok();
}

Status rnnKernel(KernelContext& ctx) {
  Recurrence rc;
  VITQ_RETURN_IF_ERROR(setUp(ctx, 1, {"Tanh"}, rc));
  const int64_t H = rc.hidden;
  Tensor y(DataType::kFloat, rc.yShape());
  Tensor y_h(DataType::kFloat, rc.stateShape());
  std::vector<float> hr(static_cast<size_t>(rc.batch * H));
  for (int64_t d = 0; d < rc.num_dir; ++d) {
    const std::vector<float> xw = inputProjection(rc, d, {true});
    std::vector<float> h = initialState(ctx, 5, rc, d);
    const float* rd = rc.r + d * H * H;
    const Activation& f = rc.acts[static_cast<size_t>(d)];
    for (int64_t s = 0; s < rc.seq; ++s) {
      sgemm(false, true, rc.batch, H, H, 1.0f, h.data(), H, rd, H, 0.0f, hr.data(), H);
      for (int64_t b = 0; b < rc.batch; ++b) {
        if (s >= rc.lens[b]) continue;
        const int64_t t = rc.timeOf(d, s, b);
        float* p = hr.data() + b * H;
        const float* xrow = xw.data() + (t * rc.batch + b) * H;
        for (int64_t j = 0; j < H; ++j) p[j] += xrow[j];
        rc.clipInPlace(p, H);
        f.apply(p, H);
        std::memcpy(h.data() + b * H, p, sizeof(float) * static_cast<size_t>(H));
        std::memcpy(y.data<float>() + rc.yOffset(t, d, b), p, sizeof(float) * static_cast<size_t>(H));
      }
    }
    storeState(rc, d, h, y_h);
  }
  if (wants(ctx, 0)) ctx.setOutput(0, std::move(y));
  if (wants(ctx, 1)) ctx.setOutput(1, std::move(y_h));
  return Status::ok();
}

}  // namespace

void registerRecurrentKernels(KernelRegistry& r) {
  r.add("LSTM", lstmKernel);
  r.add("GRU", gruKernel);
  r.add("RNN", rnnKernel);
}

}  // namespace vitq
