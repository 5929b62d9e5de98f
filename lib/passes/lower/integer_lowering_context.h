// The state and the node-emitting helpers that the I-ViT integer lowering's op lowerings share
// (integer_lowering.cpp runs the pass; integer_lowering_linear.cpp and
// integer_lowering_nonlinear.cpp lower the ops). Internal to lib/passes/lower.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "calib/calibration_session.h"
#include "passes/lower/integer_lowering.h"
#include "pattern/transformer_patterns.h"
#include "quant/math/dyadic.h"
#include "quant/op_rules.h"

namespace vitq::integer_lowering_detail {

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

inline constexpr int64_t kInt32Max = 2147483647;
inline int bitlen(uint64_t v) { return v == 0 ? 0 : 64 - __builtin_clzll(v); }
inline int64_t qmaxOf(int bits) { return (int64_t{1} << (bits - 1)) - 1; }


// The attributes of \p from on \p to (graph attributes aside: the ops lowered here have none).
inline void copyAttrs(const Node& from, Node* to) {
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

  // The calibrated range of \p v (observed extremes, or each sample's averaged), widened to hold 0.
  std::pair<double, double> range(const Value* v) const {
    auto it = stats_.stats.find(v->name());
    if (it == stats_.stats.end()) return {0.0, 0.0};
    const TensorStats& t = it->second;
    if (o_.mean_ranges && t.observations > 0) {
      const double n = static_cast<double>(t.observations);
      return {std::min(0.0, t.sample_min_sum / n), std::max(0.0, t.sample_max_sum / n)};
    }
    return {std::min(0.0f, t.min), std::max(0.0f, t.max)};
  }
  double absmax(const Value* v) const {
    const auto [lo, hi] = range(v);
    return std::max(-lo, hi);
  }
  double scaleFor(const Value* v, int bits) const {
    const double a = absmax(v);
    return a > 0 ? a / static_cast<double>(qmaxOf(bits)) : 1.0;
  }

  // Dyadic requantization of \p r to one scale \p target, clipped to signed \p bits; int32 codes.
  StatusOr<Value*> requant(const Rep& r, double target, int bits, const std::string& hint) {
    return requant(r, target, -qmaxOf(bits), qmaxOf(bits), hint);
  }
  // The same clipped to [lo, hi] (lo <= 0 <= hi): an asymmetric range around a zero point.
  StatusOr<Value*> requant(const Rep& r, double target, int64_t lo, int64_t hi, const std::string& hint) {
    if (!r.perChannel() && !r.is64 && std::fabs(r.scale[0] / target - 1.0) < 1e-12 && r.bound <= std::min(-lo, hi)) return r.v;
    // |x m| < 2^61, so that x m + 2^(c-1) + 2^62 is positive and below 2^63.
    const int mb = std::min(30, 61 - bitlen(static_cast<uint64_t>(r.bound)));
    if (mb < 8) return internalError("requantizer '" + hint + "': input bound too large");
    std::vector<int64_t> mult, half, div, offset;
    for (double s : r.scale) {
      const double M = s / target;
      const Dyadic d = dyadicFromScale(M, mb);
      int64_t m = d.multiplier;
      int shift = d.shift;
      if (m == 0 || shift > 62) {  // every code requantizes to 0
        m = 0;
        shift = 1;
      }
      if (shift < 1) return internalError("requantizer '" + hint + "': multiplier " + std::to_string(M) + " too large");
      mult.push_back(m);
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
    p = node("Clip", {p, i64s(lo, hint + "_lo"), i64s(hi, hint + "_hi")}, DataType::kInt64, hint);
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

  // Per-tensor int32 codes of at most the residual stream's bits (the operands of an elementwise
  // product or a HardSigmoid): the codes themselves when they already are.
  StatusOr<Rep> residualInput(const Value* fv, const Rep& r, const std::string& hint) {
    const int bits = o_.residual_bits;
    if (!r.perChannel() && !r.is64 && r.bound <= qmaxOf(bits)) return r;
    return requantRep(r, scaleFor(fv, bits), bits, hint);
  }

  // uint8 codes of a ConvInteger input (ONNX Runtime has only u8 x u8): narrow symmetric codes
  // + 128; anything wider is requantized over its calibrated range, asymmetric, so that a
  // mostly-positive activation (after ReLU, HardSwish) keeps every level: s = (hi - lo) / (2^b - 1),
  // zero point round(-lo / s).
  struct UnsignedCodes {
    Value* v = nullptr;           // uint8
    Value* zero_point = nullptr;  // uint8 scalar
    double scale = 1;
    int64_t bound = 0;            // largest |code - zero point|
  };
  StatusOr<UnsignedCodes> unsignedInput(const Value* fv, const Rep& r, const std::string& hint) {
    const int bits = o_.activation_bits;
    UnsignedCodes u;
    int64_t zp = 128;
    Value* codes = r.v;
    if (!r.perChannel() && !r.is64 && r.bound <= qmaxOf(bits)) {
      u.scale = r.scale[0];
      u.bound = r.bound;
    } else {
      const auto [lo, hi] = range(fv);
      const int64_t levels = (int64_t{1} << bits) - 1;
      u.scale = hi > lo ? (hi - lo) / static_cast<double>(levels) : 1.0;
      zp = std::clamp<int64_t>(static_cast<int64_t>(std::nearbyint(-lo / u.scale)), 0, levels);
      VITQ_ASSIGN_OR_RETURN(codes, requant(r, u.scale, -zp, levels - zp, hint));
      u.bound = std::max(zp, levels - zp);
    }
    Value* shifted = node("Add", {codes, g_.addInitializer(g_.uniqueName(hint + "_zp"), Tensor::fromVector<int32_t>({static_cast<int32_t>(zp)}, {}))},
                          DataType::kInt32, hint);
    u.v = cast(shifted, DataType::kUInt8, hint);
    u.zero_point = g_.addInitializer(g_.uniqueName(hint + "_zero_point"), Tensor::fromVector<uint8_t>({static_cast<uint8_t>(zp)}, {}));
    return u;
  }

  // int8-range codes of a linear/attention input: its own scale if already narrow and per-tensor.
  StatusOr<Rep> narrowInput(const Value* fv, const Rep& r, const std::string& hint) {
    const int bits = o_.activation_bits;
    if (!r.perChannel() && !r.is64 && r.bound <= qmaxOf(bits)) return r;
    return requantRep(r, scaleFor(fv, bits), bits, hint);
  }

  // Codes of a float value computed from constants only (an initializer, or shape ops on one); a
  // value that float ops compute from constants and the input's shape (a position embedding
  // interpolated to the token grid: Resize -> Cast -> Transpose) is quantized where it is computed.
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
    if (!p) return unsupported("value '" + fv->name() + "' has no integer form");
    if (!movesElementsOnly(*p) || !p->input(0) || !isConstantLike(p->input(0))) return quantizeAtRunTime(fv, scale, qmax, hint);
    VITQ_ASSIGN_OR_RETURN(Value * in, constantCodes(p->input(0), scale, bits, hint));
    return cloneOn(*p, in, hint);
  }

  // int32 codes clip(round(fv / scale), -qmax, qmax) computed by the graph.
  Value* quantizeAtRunTime(Value* fv, double scale, int64_t qmax, const std::string& hint) {
    Value* s = g_.addInitializer(g_.uniqueName(hint + "_scale"), Tensor::fromVector<float>({static_cast<float>(scale)}, {}));
    Value* r = node("Round", {node("Div", {fv, s}, DataType::kFloat, hint)}, DataType::kFloat, hint);
    Value* lo = g_.addInitializer(g_.uniqueName(hint + "_lo"), Tensor::fromVector<float>({static_cast<float>(-qmax)}, {}));
    Value* hi = g_.addInitializer(g_.uniqueName(hint + "_hi"), Tensor::fromVector<float>({static_cast<float>(qmax)}, {}));
    return cast(node("Clip", {r, lo, hi}, DataType::kFloat, hint), DataType::kInt32, hint);
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
      if (movesElementsOnly(n) && u.index == 0) {
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
    // A channel of (all but) zero weights gets a scale of at least 2^-24 of the largest channel's,
    // so that its bias codes stay finite.
    const double floor_scale = *std::max_element(scales.begin(), scales.end()) * 0x1p-24;
    for (double& s : scales) s = s > floor_scale ? s / static_cast<double>(qmax) : (floor_scale > 0 ? floor_scale / qmax : 1.0);
    Tensor q(DataType::kInt8, w.shape());
    for (int64_t i = 0; i < w.numel(); ++i) {
      const double c = std::nearbyint(x[i] / scales[static_cast<size_t>(chan(i))]);
      q.data<int8_t>()[i] = static_cast<int8_t>(std::clamp<double>(c, -qmax, qmax));
    }
    return q;
  }

  // Adds the bias \p b (one float per scale of \p r, in channel order) to the accumulator \p r in
  // codes at its scales. int32 while the sum fits; otherwise (a channel whose weights are all but
  // zero has a tiny scale, so its bias has huge codes) the accumulator widens to int64.
  void addBias(Rep& r, const Tensor& b, const std::string& hint) {
    constexpr double kMaxCode = 1125899906842624.0;  // 2^50: bounds stay below 2^53 (requant needs < 2^53)
    std::vector<int64_t> codes;
    int64_t bmax = 0;
    for (int64_t i = 0; i < b.numel(); ++i) {
      const double c = std::nearbyint(b.data<float>()[i] / r.scale[static_cast<size_t>(i) % r.scale.size()]);
      codes.push_back(static_cast<int64_t>(std::clamp(c, -kMaxCode, kMaxCode)));
      bmax = std::max<int64_t>(bmax, std::llabs(codes.back()));
    }
    const std::vector<int64_t> shape = r.perChannel() ? r.chan_shape : std::vector<int64_t>{};
    const bool wide = r.is64 || r.bound + bmax > kInt32Max;
    Value* bias;
    if (wide) {
      bias = i64(codes, shape, hint + "_bias_codes");
      if (!r.is64) r.v = cast(r.v, DataType::kInt64, hint);
    } else {
      bias = g_.addInitializer(g_.uniqueName(hint + "_bias_codes"),
                               Tensor::fromVector<int32_t>(std::vector<int32_t>(codes.begin(), codes.end()), shape));
    }
    r.v = node("Add", {r.v, bias}, wide ? DataType::kInt64 : DataType::kInt32, hint);
    r.is64 = wide;
    r.bound += bmax;
  }

  // ---- op lowerings -------------------------------------------------------------------------
  Status lowerInput(Value* x, const std::string& prefix = "input_quantizer/");
  Value* dequantize(const Rep& r, const std::string& hint);
  Status lowerAtFloatBoundary(Node& n);
  Status lowerConv(Node& n);
  Status lowerMatMul(Node& n);
  Status lowerGemm(Node& n);
  Status lowerAdd(Node& n);
  Status lowerScale(Node& n);
  Status lowerSoftmax(Node& n);
  Status lowerGelu(const GeluMatch& m);
  Status lowerLayerNorm(const LayerNormMatch& m);
  Status lowerShapeOp(Node& n);
  Status lowerPad(Node& n);
  Status lowerConcat(Node& n);
  Status lowerRelu(Node& n);
  Status lowerSilu(Node& n, const Node& sig);
  Status lowerClip(Node& n);
  Status lowerGlobalAveragePool(Node& n);
  Status lowerAveragePool(Node& n);
  Status lowerHardSigmoid(Node& n);
  Status lowerHardSwish(Node& n);
  Status lowerProduct(Node& n);
  StatusOr<Rep> productCodes(const Value* a, const Rep& ra, const Value* b, const Rep& rb, const std::string& hint);
  StatusOr<Rep> hardSigmoidCodes(const Node& n, double alpha, double beta, const std::string& hint);
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

/// The Sigmoid of a SiLU Mul(x, Sigmoid(x)), or null.
const Node* siluSigmoid(const Node& mul);

}  // namespace vitq::integer_lowering_detail
