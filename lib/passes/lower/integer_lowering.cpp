#include "passes/lower/integer_lowering.h"

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "calib/calibration_session.h"
#include "core/logging.h"
#include "passes/lower/integer_functions.h"
#include "pattern/transformer_patterns.h"
#include "quant/math/integer_nonlinear.h"

namespace vitq {
namespace {

// Integer codes standing for a float value: value ≈ codes · scale[c] along `axis`.
struct Rep {
  Value* v = nullptr;               // int32 (or int64 when is64) codes, the float value's shape
  std::vector<double> scale;        // one, or one per channel along axis
  int64_t axis = -1;                // channel axis (absolute) when per-channel
  std::vector<int64_t> chan_shape;  // shape of a per-channel constant broadcasting along axis
  int64_t bound = 0;                // largest |code|
  bool is64 = false;
  bool acc = false;                 // a linear accumulator that can still take a bias
  bool perChannel() const { return scale.size() > 1 || axis >= 0; }
};

int bitlen(uint64_t v) { return v == 0 ? 0 : 64 - __builtin_clzll(v); }
int64_t qmaxOf(int bits) { return (int64_t{1} << (bits - 1)) - 1; }

bool isShapeOp(const Node& n) {
  static const std::set<std::string> ops = {"Reshape", "Transpose", "Gather",  "Flatten", "Squeeze",
                                            "Unsqueeze", "Slice",   "Expand",  "Identity", "Tile"};
  return n.domain().empty() && ops.count(n.opType()) > 0;
}

// The attributes of \p from on \p to (graph attributes aside: the ops lowered here have none).
void copyAttrs(const Node& from, Node* to) {
  for (const auto& [name, a] : from.attrs()) {
    Attribute c;
    c.kind = a.kind;
    c.f = a.f;
    c.i = a.i;
    c.s = a.s;
    c.t = a.t;
    c.floats = a.floats;
    c.ints = a.ints;
    c.strings = a.strings;
    c.tensors = a.tensors;
    c.doc_string = a.doc_string;
    to->attrs().set(name, std::move(c));
  }
}

class Lowering {
 public:
  Lowering(Model& model, const IntegerLoweringOptions& o, const CalibrationResult& stats)
      : model_(model), g_(*model.graph), o_(o), stats_(stats) {}

  Status run(IntegerLoweringReport& report);

 private:
  // ---- helpers that emit nodes --------------------------------------------------------------
  Value* node(const std::string& op, const std::vector<Value*>& in, DataType out_type, const std::string& hint,
              const std::string& domain = "") {
    Node* n = g_.addNode(op, in, 1, domain);
    n->setName(uniqueNodeName(hint + "/" + op));
    g_.renameValue(n->output(0), g_.uniqueName(hint + "/" + op + "_out"));
    n->output(0)->type().dtype = out_type;
    last_ = n;
    return n->output(0);
  }
  std::string uniqueNodeName(const std::string& hint) {
    if (node_names_.empty()) {
      for (const auto& n : g_.nodes()) node_names_.insert(n->name());
    }
    std::string name = hint;
    for (int i = 1; node_names_.count(name); ++i) name = hint + "_" + std::to_string(i);
    node_names_.insert(name);
    return name;
  }
  Value* cast(Value* x, DataType to, const std::string& hint) {
    Value* y = node("Cast", {x}, to, hint);
    last_->attrs().set("to", Attribute::makeInt(static_cast<int64_t>(to)));
    return y;
  }
  Value* i64(const std::vector<int64_t>& v, const std::vector<int64_t>& shape, const std::string& hint) {
    return g_.addInitializer(g_.uniqueName(hint), Tensor::fromVector<int64_t>(v, shape));
  }
  Value* i64s(int64_t v, const std::string& hint) { return i64({v}, {}, hint); }

  double absmax(const Value* v) const {
    auto it = stats_.stats.find(v->name());
    if (it == stats_.stats.end()) return 0;
    return std::max(std::fabs(it->second.min), std::fabs(it->second.max));
  }
  double scaleFor(const Value* v, int bits) const {
    const double a = absmax(v);
    return a > 0 ? a / static_cast<double>(qmaxOf(bits)) : 1.0;
  }

  // Dyadic requantization of \p r to one scale \p target, clipped to signed \p bits; int32 codes.
  StatusOr<Value*> requant(const Rep& r, double target, int bits, const std::string& hint) {
    const int64_t qmax = qmaxOf(bits);
    if (!r.perChannel() && !r.is64 && std::fabs(r.scale[0] / target - 1.0) < 1e-12 && r.bound <= qmax) return r.v;
    // |x m| < 2^61, so that x m + 2^(c-1) + 2^62 is positive and below 2^63.
    const int mb = std::min(30, 61 - bitlen(static_cast<uint64_t>(r.bound)));
    if (mb < 8) return internalError("requantizer '" + hint + "': input bound too large");
    std::vector<int64_t> mult, half, div, offset;
    for (double s : r.scale) {
      const double M = s / target;
      int e = 0;
      const double f = std::frexp(std::fabs(M), &e);
      int64_t m = static_cast<int64_t>(std::floor(std::ldexp(f, mb) + 0.5));
      if (m == (int64_t{1} << mb)) {
        m >>= 1;
        ++e;
      }
      int shift = mb - e;
      if (M == 0 || shift > 62) {
        m = 0;
        shift = 1;
      }
      if (shift < 1) return internalError("requantizer '" + hint + "': multiplier " + std::to_string(M) + " too large");
      mult.push_back(M < 0 ? -m : m);
      half.push_back((int64_t{1} << (shift - 1)) + (int64_t{1} << 62));
      div.push_back(int64_t{1} << shift);
      offset.push_back(int64_t{1} << (62 - shift));
    }
    const std::vector<int64_t> shape = r.perChannel() ? r.chan_shape : std::vector<int64_t>{};
    Value* x = r.is64 ? r.v : cast(r.v, DataType::kInt64, hint);
    Value* p = node("Mul", {x, i64(mult, shape, hint + "_m")}, DataType::kInt64, hint);
    p = node("Add", {p, i64(half, shape, hint + "_half")}, DataType::kInt64, hint);
    // floor(v / 2^c) = (v + 2^62) / 2^c - 2^(62-c), the division on a positive value (Div truncates).
    p = node("Div", {p, i64(div, shape, hint + "_2pow")}, DataType::kInt64, hint);
    p = node("Sub", {p, i64(offset, shape, hint + "_offset")}, DataType::kInt64, hint);
    p = node("Clip", {p, i64s(-qmax, hint + "_lo"), i64s(qmax, hint + "_hi")}, DataType::kInt64, hint);
    ++requantizers_;
    return cast(p, DataType::kInt32, hint);
  }
  StatusOr<Rep> requantRep(const Rep& r, double target, int bits, const std::string& hint) {
    VITQ_ASSIGN_OR_RETURN(Value * v, requant(r, target, bits, hint));
    Rep out;
    out.v = v;
    out.scale = {target};
    out.bound = qmaxOf(bits);
    if (v == r.v) out = r;
    return out;
  }

  // int8-range codes of a linear/attention input: its own scale if already narrow and per-tensor.
  StatusOr<Rep> narrowInput(const Value* fv, const Rep& r, const std::string& hint) {
    const int bits = o_.activation_bits;
    if (!r.perChannel() && !r.is64 && r.bound <= qmaxOf(bits)) return r;
    return requantRep(r, scaleFor(fv, bits), bits, hint);
  }

  // Codes of a float value computed from constants only (an initializer, or shape ops on one).
  StatusOr<Value*> constantCodes(Value* fv, double scale, int bits, const std::string& hint) {
    const int64_t qmax = qmaxOf(bits);
    if (fv->isConstant()) {
      const Tensor& t = fv->initializer();
      if (t.dtype() != DataType::kFloat) return unsupported("constant '" + fv->name() + "' is not float");
      Tensor q(DataType::kInt32, t.shape());
      for (int64_t i = 0; i < t.numel(); ++i) {
        const double c = std::nearbyint(static_cast<double>(t.data<float>()[i]) / scale);
        q.data<int32_t>()[i] = static_cast<int32_t>(std::clamp<double>(c, -qmax, qmax));
      }
      return g_.addInitializer(g_.uniqueName(fv->name() + "_codes"), std::move(q));
    }
    Node* p = fv->producer();
    if (!p || !isShapeOp(*p) || !p->input(0)) return unsupported("value '" + fv->name() + "' has no integer form");
    VITQ_ASSIGN_OR_RETURN(Value * in, constantCodes(p->input(0), scale, bits, hint));
    return cloneOn(*p, in, hint);
  }

  // Copy of a shape op \p n reading \p data instead of its first input; int32 output.
  Value* cloneOn(const Node& n, Value* data, const std::string& hint) {
    std::vector<Value*> ins = n.inputs();
    ins[0] = data;
    Value* y = node(n.opType(), ins, data->type().dtype, hint);
    copyAttrs(n, last_);
    return y;
  }

  bool hasRep(const Value* v) const { return v && reps_.count(v) > 0; }
  // Float values computed from constants only (initializers, shape ops over them).
  bool isConstantLike(const Value* v) const {
    if (!v) return false;
    if (v->isConstant()) return true;
    return pending_.count(v) > 0;
  }

  // Do all readers of \p v (through shape ops) take 8-bit inputs (linear, Softmax, GELU)?
  bool feedsNarrowOnly(const Value* v, int depth = 0) const {
    if (depth > 16) return false;
    for (const Use& u : v->uses()) {
      const Node& n = *u.user;
      if (n.is("Shape")) continue;
      if (isShapeOp(n) && u.index == 0) {
        if (!feedsNarrowOnly(n.output(0), depth + 1)) return false;
        continue;
      }
      if (n.is("MatMul") || n.is("Gemm") || n.is("Conv") || n.is("Softmax")) continue;
      if (gelu_input_.count(v)) continue;
      return false;
    }
    return true;
  }

  StatusOr<Tensor> weightCodes(const Tensor& w, int64_t channels, int64_t axis_stride, bool channel_last,
                               std::vector<double>& scales) {
    // Symmetric per output channel: s = absmax / qmax; channel of element i is (i / stride) % C.
    const int64_t qmax = qmaxOf(o_.weight_bits);
    scales.assign(static_cast<size_t>(channels), 0.0);
    const float* x = w.data<float>();
    auto chan = [&](int64_t i) { return channel_last ? i % channels : (i / axis_stride) % channels; };
    for (int64_t i = 0; i < w.numel(); ++i) {
      double& s = scales[static_cast<size_t>(chan(i))];
      s = std::max(s, static_cast<double>(std::fabs(x[i])));
    }
    for (double& s : scales) s = s > 0 ? s / static_cast<double>(qmax) : 1.0;
    Tensor q(DataType::kInt8, w.shape());
    for (int64_t i = 0; i < w.numel(); ++i) {
      const double c = std::nearbyint(x[i] / scales[static_cast<size_t>(chan(i))]);
      q.data<int8_t>()[i] = static_cast<int8_t>(std::clamp<double>(c, -qmax, qmax));
    }
    return q;
  }

  Value* biasCodes(const Tensor& b, const std::vector<double>& scale, const std::vector<int64_t>& shape,
                   const std::string& hint, int64_t& max_abs) {
    std::vector<int32_t> codes;
    max_abs = 0;
    for (int64_t i = 0; i < b.numel(); ++i) {
      const double c = std::nearbyint(b.data<float>()[i] / scale[static_cast<size_t>(i) % scale.size()]);
      codes.push_back(static_cast<int32_t>(std::clamp<double>(c, -2147483647.0, 2147483647.0)));
      max_abs = std::max<int64_t>(max_abs, std::llabs(codes.back()));
    }
    return g_.addInitializer(g_.uniqueName(hint + "_bias_codes"), Tensor::fromVector<int32_t>(codes, shape));
  }

  // ---- op lowerings -------------------------------------------------------------------------
  Status lowerInput(Value* x);
  Status lowerConv(Node& n);
  Status lowerMatMul(Node& n);
  Status lowerGemm(Node& n);
  Status lowerAdd(Node& n);
  Status lowerScale(Node& n);
  Status lowerSoftmax(Node& n);
  Status lowerGelu(const GeluMatch& m);
  Status lowerLayerNorm(const LayerNormMatch& m);
  Status lowerShapeOp(Node& n);
  Status lowerConcat(Node& n);
  Status lowerRelu(Node& n);
  Status lowerSilu(Node& n, const Node& sig);
  Status lowerClip(Node& n);
  Status lowerGlobalAveragePool(Node& n);
  Status lowerOutput(size_t index);

  Model& model_;
  Graph& g_;
  IntegerLoweringOptions o_;
  const CalibrationResult& stats_;
  Node* last_ = nullptr;
  std::unordered_map<const Value*, Rep> reps_;
  std::unordered_set<const Value*> pending_;
  std::unordered_set<const Value*> gelu_input_;
  int requantizers_ = 0;
  std::unordered_set<std::string> node_names_;
  IntegerLoweringReport* report_ = nullptr;
};

Status Lowering::lowerInput(Value* x) {
  const double s = scaleFor(x, o_.activation_bits);
  const int64_t qmax = qmaxOf(o_.activation_bits);
  const std::string hint = "input_quantizer/" + x->name();
  Value* scaled = node("Div", {x, g_.addInitializer(g_.uniqueName(hint + "_scale"),
                                                     Tensor::fromVector<float>({static_cast<float>(s)}, {}))},
                       DataType::kFloat, hint);
  Value* r = node("Round", {scaled}, DataType::kFloat, hint);
  r = node("Clip", {r, g_.addInitializer(g_.uniqueName(hint + "_lo"), Tensor::fromVector<float>({static_cast<float>(-qmax)}, {})),
                    g_.addInitializer(g_.uniqueName(hint + "_hi"), Tensor::fromVector<float>({static_cast<float>(qmax)}, {}))},
           DataType::kFloat, hint);
  Rep rep;
  rep.v = cast(r, DataType::kInt32, hint);
  rep.scale = {static_cast<float>(s)};  // the float32 scale the graph divides by
  rep.bound = qmax;
  reps_[x] = rep;
  return Status::ok();
}

Status Lowering::lowerConv(Node& n) {
  Value* w = n.input(1);
  if (!w || !w->isConstant() || !hasRep(n.input(0))) return unsupported("node " + n.describe() + ": needs a constant weight");
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  VITQ_ASSIGN_OR_RETURN(Rep x, narrowInput(n.input(0), reps_.at(n.input(0)), hint + "/in"));
  const Tensor& wt = w->initializer();
  const int64_t M = wt.dim(0);
  std::vector<double> sw;
  VITQ_ASSIGN_OR_RETURN(Tensor wq, weightCodes(wt, M, wt.numel() / M, false, sw));
  // ONNX Runtime's ConvInteger is uint8 x uint8: codes + 128 with zero point 128 (padding too).
  Tensor wu(DataType::kUInt8, wt.shape());
  for (int64_t i = 0; i < wt.numel(); ++i) wu.data<uint8_t>()[i] = static_cast<uint8_t>(wq.data<int8_t>()[i] + 128);
  Value* wv = g_.addInitializer(g_.uniqueName(hint + "_weight_u8"), std::move(wu));
  Value* zp = g_.addInitializer(g_.uniqueName(hint + "_zero_point"), Tensor::fromVector<uint8_t>({128}, {}));
  Value* xu = cast(node("Add", {x.v, g_.addInitializer(g_.uniqueName(hint + "_128"), Tensor::fromVector<int32_t>({128}, {}))},
                        DataType::kInt32, hint),
                   DataType::kUInt8, hint);
  Value* acc = node("ConvInteger", {xu, wv, zp, zp}, DataType::kInt32, hint);
  copyAttrs(n, last_);
  Rep r;
  r.axis = 1;
  r.chan_shape = {M, 1, 1};
  for (double s : sw) r.scale.push_back(x.scale[0] * s);
  r.bound = qmaxOf(o_.activation_bits) * qmaxOf(o_.weight_bits) * (wt.numel() / M);
  if (n.input(2)) {
    int64_t bmax = 0;
    Value* b = biasCodes(n.input(2)->initializer(), r.scale, {M, 1, 1}, hint, bmax);
    acc = node("Add", {acc, b}, DataType::kInt32, hint);
    r.bound += bmax;
  }
  r.v = acc;
  r.acc = true;
  reps_[n.output(0)] = r;
  ++report_->convolutions;
  return Status::ok();
}

Status Lowering::lowerMatMul(Node& n) {
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  Value* a = n.input(0);
  Value* b = n.input(1);
  if (!hasRep(a)) return unsupported("node " + n.describe() + ": first input has no integer form");
  VITQ_ASSIGN_OR_RETURN(Rep ra, narrowInput(a, reps_.at(a), hint + "/a"));
  Value* a8 = cast(ra.v, DataType::kInt8, hint);
  const int64_t q = qmaxOf(o_.activation_bits);
  Rep r;
  if (b->isConstant() && b->initializer().rank() == 2) {
    const Tensor& wt = b->initializer();
    const int64_t K = wt.dim(0), N = wt.dim(1);
    std::vector<double> sw;
    VITQ_ASSIGN_OR_RETURN(Tensor wq, weightCodes(wt, N, 1, true, sw));
    Value* wv = g_.addInitializer(g_.uniqueName(hint + "_weight_i8"), std::move(wq));
    r.v = node("MatMulInteger", {a8, wv}, DataType::kInt32, hint);
    for (double s : sw) r.scale.push_back(ra.scale[0] * s);
    r.chan_shape = {N};
    const auto& dims = n.output(0)->type().dims;
    r.axis = dims ? static_cast<int64_t>(dims->size()) - 1 : 2;
    r.bound = q * qmaxOf(o_.weight_bits) * K;
    r.acc = true;
    ++report_->linear;
  } else {
    if (!hasRep(b)) return unsupported("node " + n.describe() + ": second input has no integer form");
    VITQ_ASSIGN_OR_RETURN(Rep rb, narrowInput(b, reps_.at(b), hint + "/b"));
    Value* b8 = cast(rb.v, DataType::kInt8, hint);
    r.v = node("MatMulInteger", {a8, b8}, DataType::kInt32, hint);
    r.scale = {ra.scale[0] * rb.scale[0]};
    int64_t K = 4096;
    const auto& dims = b->type().dims;
    if (dims && dims->size() >= 2 && (*dims)[dims->size() - 2].isKnown()) K = (*dims)[dims->size() - 2].value;
    r.bound = ra.bound * rb.bound * K;
    ++report_->activation_matmuls;
  }
  reps_[n.output(0)] = r;
  return Status::ok();
}

Status Lowering::lowerGemm(Node& n) {
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  Value* a = n.input(0);
  Value* w = n.input(1);
  if (!hasRep(a) || !w->isConstant() || n.attrs().intOr("transA", 0) != 0 ||
      n.attrs().floatOr("alpha", 1.0f) != 1.0f || n.attrs().floatOr("beta", 1.0f) != 1.0f) {
    return unsupported("node " + n.describe() + ": only Gemm(x, W const, C const), alpha = beta = 1, no transA");
  }
  VITQ_ASSIGN_OR_RETURN(Rep ra, narrowInput(a, reps_.at(a), hint + "/a"));
  Value* a8 = cast(ra.v, DataType::kInt8, hint);
  const Tensor& wt0 = w->initializer();
  const bool transB = n.attrs().intOr("transB", 0) != 0;
  const int64_t K = transB ? wt0.dim(1) : wt0.dim(0), N = transB ? wt0.dim(0) : wt0.dim(1);
  Tensor wt(DataType::kFloat, {K, N});
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) wt.data<float>()[k * N + j] = transB ? wt0.data<float>()[j * K + k] : wt0.data<float>()[k * N + j];
  std::vector<double> sw;
  VITQ_ASSIGN_OR_RETURN(Tensor wq, weightCodes(wt, N, 1, true, sw));
  Value* wv = g_.addInitializer(g_.uniqueName(hint + "_weight_i8"), std::move(wq));
  Rep r;
  r.v = node("MatMulInteger", {a8, wv}, DataType::kInt32, hint);
  for (double s : sw) r.scale.push_back(ra.scale[0] * s);
  r.chan_shape = {N};
  r.axis = 1;
  r.bound = qmaxOf(o_.activation_bits) * qmaxOf(o_.weight_bits) * K;
  if (n.input(2)) {
    if (!n.input(2)->isConstant()) return unsupported("node " + n.describe() + ": Gemm C must be constant");
    const Tensor& c = n.input(2)->initializer();
    if (c.numel() != N) return unsupported("node " + n.describe() + ": Gemm C must have N elements");
    int64_t bmax = 0;
    Value* b = biasCodes(c, r.scale, {N}, hint, bmax);
    r.v = node("Add", {r.v, b}, DataType::kInt32, hint);
    r.bound += bmax;
  }
  r.acc = true;
  reps_[n.output(0)] = r;
  ++report_->linear;
  return Status::ok();
}

Status Lowering::lowerAdd(Node& n) {
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  Value* a = n.input(0);
  Value* b = n.input(1);
  // Bias of a linear accumulator: add its int32 codes at the accumulator's scale.
  for (int k = 0; k < 2; ++k) {
    Value* x = k == 0 ? a : b;
    Value* c = k == 0 ? b : a;
    if (!hasRep(x) || !c->isConstant() || !reps_.at(x).acc) continue;
    const Rep& rx = reps_.at(x);
    const Tensor& ct = c->initializer();
    const int64_t C = static_cast<int64_t>(rx.scale.size());
    if (ct.dtype() != DataType::kFloat || ct.rank() != 1 || rx.axis < 0 || rx.chan_shape.size() != 1 || ct.numel() != C) continue;
    int64_t bmax = 0;
    Value* bc = biasCodes(ct, rx.scale, {C}, hint, bmax);
    Rep r = rx;
    r.v = node("Add", {rx.v, bc}, DataType::kInt32, hint);
    r.bound += bmax;
    reps_[n.output(0)] = r;
    return Status::ok();
  }
  // Residual add: each branch to the output's 16-bit scale, summed, clipped.
  const int bits = o_.residual_bits;
  const double s = scaleFor(n.output(0), bits);
  const int64_t qmax = qmaxOf(bits);
  std::vector<Value*> parts;
  for (int k = 0; k < 2; ++k) {
    Value* x = n.input(k);
    if (hasRep(x)) {
      VITQ_ASSIGN_OR_RETURN(Value * v, requant(reps_.at(x), s, bits, hint + "/branch" + std::to_string(k)));
      parts.push_back(v);
    } else if (isConstantLike(x)) {
      VITQ_ASSIGN_OR_RETURN(Value * v, constantCodes(x, s, bits, hint + "/const"));
      parts.push_back(v);
    } else {
      return unsupported("node " + n.describe() + ": input '" + x->name() + "' has no integer form");
    }
  }
  Value* sum = node("Add", {parts[0], parts[1]}, DataType::kInt32, hint);
  Rep r;
  r.v = node("Clip", {sum, g_.addInitializer(g_.uniqueName(hint + "_lo"), Tensor::fromVector<int32_t>({static_cast<int32_t>(-qmax)}, {})),
                      g_.addInitializer(g_.uniqueName(hint + "_hi"), Tensor::fromVector<int32_t>({static_cast<int32_t>(qmax)}, {}))},
             DataType::kInt32, hint);
  r.scale = {s};
  r.bound = qmax;
  reps_[n.output(0)] = r;
  ++report_->residual_adds;
  return Status::ok();
}

// Mul(x, Sigmoid(x)) (SiLU/Swish): ShiftGELU's body computes x · σ(k x) with x0 = floor(-1/(k s));
// k = 1 here, so x0 = floor(-1/s) and the output scale is s · 2^-7.
const Node* siluSigmoid(const Node& mul) {
  if (!mul.is("Mul") || mul.numInputs() != 2) return nullptr;
  for (int k = 0; k < 2; ++k) {
    const Node* sig = mul.input(k) ? mul.input(k)->producer() : nullptr;
    if (sig && sig->is("Sigmoid") && sig->input(0) == mul.input(1 - k) && sig->output(0)->uses().size() == 1) return sig;
  }
  return nullptr;
}

Status Lowering::lowerSilu(Node& n, const Node& sig) {
  Value* in = sig.input(0);
  const std::string hint = n.output(0)->name();
  if (!hasRep(in)) return unsupported("SiLU '" + hint + "': input has no integer form");
  const double s = scaleFor(in, o_.activation_bits);
  VITQ_ASSIGN_OR_RETURN(Value * x, requant(reps_.at(in), s, o_.activation_bits, hint + "/in"));
  VITQ_ASSIGN_OR_RETURN(ShiftGeluPlan plan, planShiftGelu(s / 1.702, kShiftGeluN, true));  // x0 = floor(-1/s)
  Rep r;
  r.v = node("ShiftGELU", {x, i64s(plan.exp.x0, hint + "_x0")}, DataType::kInt32, hint, kIntegerDomain);
  r.scale = {s / 128};
  r.bound = qmaxOf(o_.activation_bits) * 128;
  reps_[n.output(0)] = r;
  ++report_->shiftgelu;
  return Status::ok();
}

// Clip with constant bounds on per-tensor codes: the bounds in codes (rounded).
Status Lowering::lowerClip(Node& n) {
  Value* in = n.input(0);
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  if (!hasRep(in)) return unsupported("node " + n.describe() + ": input has no integer form");
  Rep r = reps_.at(in);
  if (r.perChannel() || r.is64 || r.bound > qmaxOf(o_.residual_bits)) {
    const int bits = feedsNarrowOnly(n.output(0)) ? o_.activation_bits : o_.residual_bits;
    VITQ_ASSIGN_OR_RETURN(r, requantRep(r, scaleFor(in, bits), bits, hint + "/in"));
  }
  std::vector<Value*> ins = {r.v};
  for (size_t i = 1; i < 3; ++i) {
    double bound = i == 1 ? -2147483647.0 : 2147483647.0;
    if (n.input(i)) {
      if (!n.input(i)->isConstant()) return unsupported("node " + n.describe() + ": Clip bounds must be constant");
      bound = std::nearbyint(n.input(i)->initializer().scalarAsDouble() / r.scale[0]);
    } else if (n.attrs().has(i == 1 ? "min" : "max")) {
      bound = std::nearbyint(n.attrs().floatOr(i == 1 ? "min" : "max", 0.0f) / r.scale[0]);
    }
    bound = std::clamp(bound, -2147483647.0, 2147483647.0);
    ins.push_back(g_.addInitializer(g_.uniqueName(hint + (i == 1 ? "_lo" : "_hi")),
                                    Tensor::fromVector<int32_t>({static_cast<int32_t>(bound)}, {})));
  }
  r.v = node("Clip", ins, DataType::kInt32, hint);
  r.acc = false;
  reps_[n.output(0)] = r;
  return Status::ok();
}

// GlobalAveragePool: an integer sum over the spatial axes; 1/(H W) goes into the scale.
Status Lowering::lowerGlobalAveragePool(Node& n) {
  Value* in = n.input(0);
  const auto& dims = in->type().dims;
  if (!hasRep(in) || !dims || dims->size() != 4 || !(*dims)[2].isKnown() || !(*dims)[3].isKnown()) {
    return unsupported("node " + n.describe() + ": needs NCHW codes with known H and W");
  }
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  Rep r = reps_.at(in);
  const int64_t hw = (*dims)[2].value * (*dims)[3].value;
  Value* axes = i64({2, 3}, {2}, hint + "_axes");
  r.v = node("ReduceSum", {r.v, axes}, r.is64 ? DataType::kInt64 : DataType::kInt32, hint);
  last_->attrs().set("keepdims", Attribute::makeInt(1));
  for (double& s : r.scale) s /= static_cast<double>(hw);
  r.bound *= hw;
  r.acc = false;
  reps_[n.output(0)] = r;
  return Status::ok();
}

// Mul or Div by a positive constant scalar (the attention's 1/sqrt(d)): folded into the scale.
Status Lowering::lowerScale(Node& n) {
  if (const Node* sig = siluSigmoid(n)) return lowerSilu(n, *sig);
  Value* x = hasRep(n.input(0)) ? n.input(0) : n.input(1);
  Value* c = x == n.input(0) ? n.input(1) : n.input(0);
  if (!hasRep(x) || !c || !c->isConstant() || c->initializer().numel() != 1 || (n.is("Div") && x != n.input(0))) {
    return unsupported("node " + n.describe() + ": only Mul/Div of integer codes by a constant scalar is lowered");
  }
  const double k = c->initializer().scalarAsDouble();
  if (!(k > 0) || !std::isfinite(k)) return unsupported("node " + n.describe() + ": the constant must be positive");
  Rep r = reps_.at(x);
  for (double& s : r.scale) s = n.is("Mul") ? s * k : s / k;
  reps_[n.output(0)] = r;
  return Status::ok();
}

Status Lowering::lowerSoftmax(Node& n) {
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  const auto& dims = n.input(0)->type().dims;
  const int64_t axis = n.attrs().intOr("axis", -1);
  const int64_t rank = dims ? static_cast<int64_t>(dims->size()) : -1;
  if (!(axis == -1 || (rank > 0 && axis == rank - 1)) || (model_.opsetVersion("") < 13 && rank != 2)) {
    return unsupported("node " + n.describe() + ": Softmax is lowered over the last axis only");
  }
  if (!hasRep(n.input(0))) return unsupported("node " + n.describe() + ": input has no integer form");
  const double s = scaleFor(n.input(0), o_.activation_bits);
  VITQ_ASSIGN_OR_RETURN(Value * x, requant(reps_.at(n.input(0)), s, o_.activation_bits, hint + "/in"));
  VITQ_ASSIGN_OR_RETURN(ShiftmaxPlan plan, planShiftmax(s, kShiftmaxN, kShiftmaxOutBits));
  Rep r;
  r.v = node("Shiftmax", {x, i64s(plan.exp.x0, hint + "_x0")}, DataType::kInt32, hint, kIntegerDomain);
  r.scale = {plan.outScale()};
  r.bound = qmaxOf(kShiftmaxOutBits);
  reps_[n.output(0)] = r;
  ++report_->shiftmax;
  return Status::ok();
}

Status Lowering::lowerGelu(const GeluMatch& m) {
  const std::string hint = m.output->name();
  if (!hasRep(m.input)) return unsupported("GELU '" + hint + "': input has no integer form");
  const double s = scaleFor(m.input, o_.activation_bits);
  VITQ_ASSIGN_OR_RETURN(Value * x, requant(reps_.at(m.input), s, o_.activation_bits, hint + "/in"));
  VITQ_ASSIGN_OR_RETURN(ShiftGeluPlan plan, planShiftGelu(s, kShiftGeluN, true));
  Rep r;
  r.v = node("ShiftGELU", {x, i64s(plan.exp.x0, hint + "_x0")}, DataType::kInt32, hint, kIntegerDomain);
  r.scale = {plan.outScale()};
  r.bound = qmaxOf(o_.activation_bits) * 128;
  reps_[m.output] = r;
  ++report_->shiftgelu;
  return Status::ok();
}

Status Lowering::lowerLayerNorm(const LayerNormMatch& m) {
  const std::string hint = m.output->name();
  if (!hasRep(m.input)) return unsupported("LayerNorm '" + hint + "': input has no integer form");
  if (m.fused && m.nodes.size() == 1) {
    const int64_t axis = m.nodes[0]->attrs().intOr("axis", -1);
    const auto& dims = m.input->type().dims;
    if (axis != -1 && !(dims && axis == static_cast<int64_t>(dims->size()) - 1)) {
      return unsupported("LayerNorm '" + hint + "': only the last axis is lowered");
    }
  }
  if (!m.gamma || !m.gamma->isConstant()) return unsupported("LayerNorm '" + hint + "': needs a constant gamma");
  const Tensor& gt = m.gamma->initializer();
  std::vector<float> gamma(gt.data<float>(), gt.data<float>() + gt.numel());
  std::vector<float> beta(gamma.size(), 0.0f);
  if (m.beta) {
    if (!m.beta->isConstant() || m.beta->initializer().numel() != gt.numel())
      return unsupported("LayerNorm '" + hint + "': needs a constant beta per channel");
    const Tensor& bt = m.beta->initializer();
    beta.assign(bt.data<float>(), bt.data<float>() + bt.numel());
  }
  VITQ_ASSIGN_OR_RETURN(ILayerNormPlan plan, planILayerNorm(gamma, beta));
  // Input codes with one scale (it drops out) and at most 16 bits (|x| <= 2^20 is the kernel's range).
  const Rep& in = reps_.at(m.input);
  Rep x = in;
  if (in.perChannel() || in.is64 || in.bound > (int64_t{1} << 20)) {
    VITQ_ASSIGN_OR_RETURN(x, requantRep(in, scaleFor(m.input, o_.residual_bits), o_.residual_bits, hint + "/in"));
  }
  const int64_t C = static_cast<int64_t>(gamma.size());
  int64_t bmax = 0;
  for (int64_t b : plan.bias) bmax = std::max<int64_t>(bmax, std::llabs(b));
  Rep r;
  r.v = node("ILayerNorm", {x.v, i64(plan.bias, {C}, hint + "_bias")}, DataType::kInt64, hint, kIntegerDomain);
  r.scale = plan.out_scale;
  r.chan_shape = {C};
  const auto& dims = m.output->type().dims;
  r.axis = dims ? static_cast<int64_t>(dims->size()) - 1 : 2;
  r.bound = (int64_t{1} << 31) + bmax;
  r.is64 = true;
  reps_[m.output] = r;
  ++report_->layernorms;
  return Status::ok();
}

Status Lowering::lowerShapeOp(Node& n) {
  Value* x = n.input(0);
  if (isConstantLike(x)) {  // e.g. Expand(cls_token): quantized where it is used
    pending_.insert(n.output(0));
    return Status::ok();
  }
  if (!hasRep(x)) return unsupported("node " + n.describe() + ": input has no integer form");
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  Rep r = reps_.at(x);
  if (r.perChannel() || r.is64) {
    const int bits = feedsNarrowOnly(n.output(0)) ? o_.activation_bits : o_.residual_bits;
    VITQ_ASSIGN_OR_RETURN(r, requantRep(r, scaleFor(x, bits), bits, hint + "/in"));
  }
  r.v = cloneOn(n, r.v, hint);
  r.acc = false;
  reps_[n.output(0)] = r;
  return Status::ok();
}

Status Lowering::lowerConcat(Node& n) {
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  const int bits = feedsNarrowOnly(n.output(0)) ? o_.activation_bits : o_.residual_bits;
  const double s = scaleFor(n.output(0), bits);
  std::vector<Value*> parts;
  for (size_t i = 0; i < n.numInputs(); ++i) {
    Value* x = n.input(i);
    if (hasRep(x)) {
      VITQ_ASSIGN_OR_RETURN(Value * v, requant(reps_.at(x), s, bits, hint + "/in" + std::to_string(i)));
      parts.push_back(v);
    } else if (isConstantLike(x)) {
      VITQ_ASSIGN_OR_RETURN(Value * v, constantCodes(x, s, bits, hint + "/const" + std::to_string(i)));
      parts.push_back(v);
    } else {
      return unsupported("node " + n.describe() + ": input '" + x->name() + "' has no integer form");
    }
  }
  Rep r;
  r.v = node("Concat", parts, DataType::kInt32, hint);
  copyAttrs(n, last_);
  r.scale = {s};
  r.bound = qmaxOf(bits);
  reps_[n.output(0)] = r;
  return Status::ok();
}

Status Lowering::lowerRelu(Node& n) {
  if (!hasRep(n.input(0))) return unsupported("node " + n.describe() + ": input has no integer form");
  const std::string hint = n.name().empty() ? n.output(0)->name() : n.name();
  Rep r = reps_.at(n.input(0));
  Value* zero = r.is64 ? i64s(0, hint + "_zero") : g_.addInitializer(g_.uniqueName(hint + "_zero"), Tensor::fromVector<int32_t>({0}, {}));
  r.v = node("Max", {r.v, zero}, r.is64 ? DataType::kInt64 : DataType::kInt32, hint);
  r.acc = false;
  reps_[n.output(0)] = r;
  return Status::ok();
}

Status Lowering::lowerOutput(size_t index) {
  Value* out = g_.outputs()[index];
  if (!hasRep(out)) return Status::ok();  // non-float outputs stay as they are
  const Rep& r = reps_.at(out);
  const std::string name = out->name();
  const std::string hint = "output_dequantizer/" + name;
  Value* f = cast(r.v, DataType::kFloat, hint);
  std::vector<float> scale(r.scale.begin(), r.scale.end());
  const std::vector<int64_t> shape = r.perChannel() ? r.chan_shape : std::vector<int64_t>{};
  Value* y = node("Mul", {f, g_.addInitializer(g_.uniqueName(hint + "_scale"), Tensor::fromVector<float>(scale, shape))},
                  DataType::kFloat, hint);
  y->type() = out->type();
  g_.renameValue(out, g_.uniqueName(name + "_float"));
  g_.setOutput(index, y);
  g_.renameValue(y, name);
  return Status::ok();
}

Status Lowering::run(IntegerLoweringReport& report) {
  report_ = &report;
  std::unordered_map<const Node*, const LayerNormMatch*> ln_at;
  std::unordered_map<const Node*, const GeluMatch*> gelu_at;
  std::unordered_set<const Node*> inside;
  const std::vector<LayerNormMatch> lns = findLayerNorms(g_);
  const std::vector<GeluMatch> gelus = findGelus(g_);
  for (const auto& m : lns) {
    ln_at[m.output->producer()] = &m;
    for (const Node* n : m.nodes) inside.insert(n);
  }
  for (const auto& m : gelus) {
    gelu_at[m.output->producer()] = &m;
    gelu_input_.insert(m.input);
    for (const Node* n : m.nodes) inside.insert(n);
  }
  const std::vector<Node*> float_nodes = g_.nodeList();  // before any node is added
  for (Value* in : g_.inputs()) {
    if (!in->isInitializer() && in->type().dtype == DataType::kFloat) VITQ_RETURN_IF_ERROR(lowerInput(in));
  }
  for (Node* n : float_nodes) {
    if (auto it = ln_at.find(n); it != ln_at.end()) {
      VITQ_RETURN_IF_ERROR(lowerLayerNorm(*it->second));
      continue;
    }
    if (auto it = gelu_at.find(n); it != gelu_at.end()) {
      VITQ_RETURN_IF_ERROR(lowerGelu(*it->second));
      continue;
    }
    if (inside.count(n)) continue;
    if (n->is("Sigmoid") && n->output(0)->uses().size() == 1 && siluSigmoid(*n->output(0)->uses()[0].user) == n) continue;
    bool float_out = false;
    for (const Value* o : n->outputs()) float_out = float_out || (o && o->type().dtype == DataType::kFloat);
    if (!float_out) {
      // Integer side computations (shapes) stay; a float input they read becomes its codes.
      for (size_t i = 0; i < n->numInputs(); ++i) {
        Value* x = n->input(i);
        if (!x || x->type().dtype != DataType::kFloat) continue;
        if (!n->is("Shape") && !n->is("Size")) return unsupported("node " + n->describe() + ": reads a float value");
        if (hasRep(x)) g_.setInput(n, i, reps_.at(x).v);
      }
      continue;
    }
    bool all_const = true;
    for (const Value* x : n->inputs()) {
      if (x && x->type().dtype == DataType::kFloat && !isConstantLike(x)) all_const = false;
    }
    if (all_const) {
      pending_.insert(n->output(0));
      continue;
    }
    Status st;
    if (n->is("Conv")) st = lowerConv(*n);
    else if (n->is("MatMul")) st = lowerMatMul(*n);
    else if (n->is("Gemm")) st = lowerGemm(*n);
    else if (n->is("Add")) st = lowerAdd(*n);
    else if (n->is("Mul") || n->is("Div")) st = lowerScale(*n);
    else if (n->is("Softmax")) st = lowerSoftmax(*n);
    else if (n->is("Concat")) st = lowerConcat(*n);
    else if (n->is("Relu")) st = lowerRelu(*n);
    else if (n->is("Clip")) st = lowerClip(*n);
    else if (n->is("GlobalAveragePool")) st = lowerGlobalAveragePool(*n);
    else if (isShapeOp(*n)) st = lowerShapeOp(*n);
    else st = unsupported("node " + n->describe() + ": op " + n->opType() + " has no integer lowering");
    VITQ_RETURN_IF_ERROR(st);
  }
  for (size_t i = 0; i < g_.outputs().size(); ++i) VITQ_RETURN_IF_ERROR(lowerOutput(i));
  // Drop the float graph: nodes whose outputs nobody reads, then unused initializers.
  for (bool changed = true; changed;) {
    changed = false;
    std::vector<Node*> nodes = g_.nodeList();
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
      bool used = false;
      for (const Value* o : (*it)->outputs()) used = used || (o && (o->hasUses() || g_.isOutput(o)));
      if (!used) {
        g_.eraseNode(*it);
        changed = true;
      }
    }
  }
  for (Value* v : g_.initializers()) {
    if (!v->hasUses() && !v->isGraphInput() && !g_.isOutput(v)) g_.eraseValue(v);
  }
  VITQ_RETURN_IF_ERROR(g_.topologicalSort());
  for (const std::string& f : integerFunctionProtos(model_.opsetVersion(""))) model_.functions.push_back(f);
  bool has_domain = false;
  for (const auto& op : model_.opset_imports) has_domain = has_domain || op.domain == kIntegerDomain;
  if (!has_domain) model_.opset_imports.push_back({kIntegerDomain, 1});
  report.requantizers = requantizers_;
  return Status::ok();
}

}  // namespace

StatusOr<IntegerLoweringReport> lowerToInteger(Model& model, const Dataset& calib, const IntegerLoweringOptions& o) {
  if (model.opsetVersion("") < 13) return unsupported("the integer export needs ai.onnx opset >= 13");
  if (o.weight_bits < 2 || o.weight_bits > 8 || o.activation_bits < 2 || o.activation_bits > 8 ||
      o.residual_bits < o.activation_bits || o.residual_bits > 16) {
    return invalidArgument("integer export: weights and activations take 2 to 8 bits, the residual stream up to 16");
  }
  auto log = logger("vitq.lower");
  VITQ_ASSIGN_OR_RETURN(CalibrationResult stats,
                        calibrate(*model.graph, model.opsetVersion(""), calib, [](const Value&) { return makeMinMaxObserver(); },
                                  nullptr, {o.threads}));
  IntegerLoweringReport report;
  report.calibration_samples = stats.samples;
  Lowering lowering(model, o, stats);
  VITQ_RETURN_IF_ERROR(lowering.run(report));
  log->info("integer lowering: {} linear, {} conv, {} act matmuls, {} Shiftmax, {} ShiftGELU, {} I-LayerNorm, {} residual adds, {} requantizers",
            report.linear, report.convolutions, report.activation_matmuls, report.shiftmax, report.shiftgelu,
            report.layernorms, report.residual_adds, report.requantizers);
  return report;
}

}  // namespace vitq
