#include "passes/ptq/materialize_qdq.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "ir/quantized_codes.h"
#include "passes/canonicalize/raise_opset.h"
#include "passes/ptq/gather_block_quantized_export.h"
#include "passes/ptq/log_quant_export.h"
#include "passes/ptq/quant_step.h"
#include "quant/math/quantize.h"
#include "quant/op_rules.h"

namespace vitq {
namespace {

DataType containerType(const QuantSpec& spec, const MaterializeOptions& options) {
  if (spec.bits == 32) return DataType::kInt32;
  if (options.four_bit_types && spec.bits <= 4) return spec.is_signed ? DataType::kInt4 : DataType::kUInt4;
  return spec.is_signed ? DataType::kInt8 : DataType::kUInt8;
}

// A per-channel activation is stored in the other type of its width, its zero points shifted by
// half the range (the same grid): ONNX Runtime (1.20) fuses DequantizeLinear -> Conv ->
// QuantizeLinear into a QLinearConv when the types match, without checking that the parameters are
// per-tensor, and that node fails at run time; with different input and output types it leaves
// the Conv in float.
QuantParams containerParams(const TensorQuant& q, const MaterializeOptions& options, DataType& type) {
  type = containerType(q.spec, options);
  QuantParams p = q.params;
  if (!p.perChannel()) return p;
  const bool unsigned_type = type == DataType::kUInt8 || type == DataType::kUInt4;
  const int32_t half = dataTypeBits(type) == 4 ? 8 : 128;
  const int32_t shift = unsigned_type ? -half : half;
  if (dataTypeBits(type) == 4) type = unsigned_type ? DataType::kInt4 : DataType::kUInt4;
  else type = unsigned_type ? DataType::kInt8 : DataType::kUInt8;
  for (int32_t& z : p.zero_point) z += shift;
  return p;
}

Tensor scaleTensor(const QuantParams& p) {
  if (p.blocked()) return Tensor::fromVector<float>(p.scale, p.scale_shape);
  if (p.perChannel()) return Tensor::fromVector<float>(p.scale, {static_cast<int64_t>(p.scale.size())});
  return Tensor::fromVector<float>({p.scale.at(0)}, {});
}

Tensor zeroPointTensor(const QuantParams& p, DataType type) {
  const bool per_channel = p.perChannel();
  Shape shape = p.blocked() ? p.scale_shape : per_channel ? Shape{static_cast<int64_t>(p.zero_point.size())} : Shape{};
  Tensor t(type, shape);
  for (size_t i = 0; i < p.zero_point.size(); ++i) writeCode(type, t.rawData(), static_cast<int64_t>(i), p.zero_point[i]);
  return t;
}

Value* addDequantize(Graph& g, Value* quantized, const QuantParams& p, DataType type, const std::string& base,
                     Node* before) {
  Value* scale = g.addInitializer(base + "_scale", scaleTensor(p));
  Value* zero = g.addInitializer(base + "_zero_point", zeroPointTensor(p, type));
  Node* dq = g.addNode("DequantizeLinear", {quantized, scale, zero}, 1, "", before);
  dq->setName(g.uniqueName(base + "_DequantizeLinear"));
  if (p.perChannel()) dq->attrs().set("axis", Attribute::makeInt(p.axis));
  if (p.blocked()) dq->attrs().set("block_size", Attribute::makeInt(p.block_size));
  g.renameValue(dq->output(0), g.uniqueName(base + "_dequantized"));
  dq->output(0)->type().dtype = DataType::kFloat;
  return dq->output(0);
}

// Integer tensor of \p type for a constant: weights on their per-channel grid, biases in int32. With
// \p error, also the energy of w and of its quantization error, summed in the same pass (a separate
// pass over every weight cost weight-only RTN on a 1 GB model a third more time).
Tensor quantizeConstant(const Tensor& w, const QuantParams& p, const QuantSpec& spec, DataType type,
                        ErrorEnergy* error = nullptr) {
  Tensor q(type, w.shape());
  const int32_t qmin = spec.bits == 32 ? INT32_MIN : spec.qmin(), qmax = spec.bits == 32 ? INT32_MAX : spec.qmax();
  const float* src = w.data<float>();
  ParamIndexer(p, w.shape()).forEachRun(w.numel(), [&](int64_t start, int64_t count, int64_t c, int64_t step) {
    double signal = 0, noise = 0;
    for (int64_t i = start; i < start + count; ++i, c += step) {
      const size_t k = static_cast<size_t>(c);
      const int32_t code = quantizeValue(src[i], p.scale[k], p.zero_point[k], qmin, qmax);
      writeCode(type, q.rawData(), i, code);
      if (!error) continue;
      const double x = src[i], d = dequantizeValue(code, p.scale[k], p.zero_point[k]) - x;
      signal += x * x;
      noise += d * d;
    }
    if (error) {
      error->signal += signal;
      error->noise += noise;
    }
  });
  return q;
}

// Rank of activation \p v: from its type, else from a Conv that reads it (same rank as its weight).
StatusOr<int64_t> activationRank(const Value& v) {
  if (v.type().hasRank()) return static_cast<int64_t>(v.type().dims->size());
  for (const Use& use : v.uses()) {
    const Value* w = use.user->is("Conv") ? use.user->input(1) : nullptr;
    if (w && w->isConstant()) return w->initializer().rank();
  }
  return invalidArgument("activation '" + v.name() + "' is quantized per channel but its rank is unknown");
}

// The b-bit grid's span of each channel, as a tensor [C, 1, ..] that broadcasts along \p axis.
Tensor channelBound(const QuantParams& p, int32_t code, int64_t axis, int64_t rank) {
  std::vector<float> bound;
  for (size_t c = 0; c < p.scale.size(); ++c) bound.push_back(static_cast<float>(code - p.zero_point[c]) * p.scale[c]);
  if (!p.perChannel()) return Tensor::fromVector<float>(bound, {});
  Shape shape{static_cast<int64_t>(bound.size())};
  for (int64_t d = axis + 1; d < rank; ++d) shape.push_back(1);
  return Tensor::fromVector<float>(bound, shape);
}

// Narrow range in a wider container, per channel or in a 4-bit container: \p source clipped in
// float to exactly the b-bit grid's span with Max and Min (Clip takes scalar bounds only). ONNX
// Runtime (1.20) fails to load a Clip that feeds a QuantizeLinear with a 4-bit zero point (its
// Clip/QuantizeLinear fusion reads only 8- and 16-bit zero points).
StatusOr<Value*> clipToGrid(Graph& graph, Value* source, const Value& v, const TensorQuant& q, Node* before,
                            Node*& reader) {
  const std::string base = v.name();
  const QuantParams& p = q.params;
  int64_t rank = 0;  // one scale: scalar bounds
  if (p.perChannel()) {
    VITQ_ASSIGN_OR_RETURN(rank, activationRank(v));
  }
  Value* lo = graph.addInitializer(base + "_clip_min", channelBound(p, q.spec.qmin(), p.axis, rank));
  Value* hi = graph.addInitializer(base + "_clip_max", channelBound(p, q.spec.qmax(), p.axis, rank));
  Node* floor = graph.addNode("Max", {source, lo}, 1, "", before);
  floor->setName(graph.uniqueName(base + "_ClipMin"));
  floor->output(0)->type().dtype = DataType::kFloat;
  Node* ceiling = graph.addNode("Min", {floor->output(0), hi}, 1, "", before);
  ceiling->setName(graph.uniqueName(base + "_ClipMax"));
  ceiling->output(0)->type().dtype = DataType::kFloat;
  reader = floor;
  return ceiling->output(0);
}

// Narrow range in an 8-bit container with one scale: the codes clipped to [qmin, qmax] between the
// QuantizeLinear and the DequantizeLinear. Rounding then clipping gives the codes that clipping in
// float then rounding gives, and the layer before still ends in a QuantizeLinear, so ONNX Runtime
// fuses it (QLinearConv, QLinearMatMul) as at 8 bits; a float Clip in front of the quantizer
// narrower than its range kept it in float.
Value* clipCodes(Graph& graph, Value* codes, const TensorQuant& q, DataType type, const std::string& base,
                 Node* before) {
  auto bound = [&](const char* what, int32_t code) {
    Tensor t(type, {});
    writeCode(type, t.rawData(), 0, code);
    return graph.addInitializer(graph.uniqueName(base + what), std::move(t));
  };
  Node* clip = graph.addNode("Clip", {codes, bound("_code_min", q.spec.qmin()), bound("_code_max", q.spec.qmax())}, 1,
                             "", before);
  clip->setName(graph.uniqueName(base + "_ClipCodes"));
  graph.renameValue(clip->output(0), graph.uniqueName(base + "_quantized_clipped"));
  clip->output(0)->type().dtype = type;
  return clip->output(0);
}

// The float span [lo, hi] of \p p's whole grid (over all channels).
std::pair<float, float> gridSpan(const QuantParams& p, const QuantSpec& spec) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (size_t c = 0; c < p.scale.size(); ++c) {
    lo = std::min(lo, static_cast<float>(spec.qmin() - p.zero_point[c]) * p.scale[c]);
    hi = std::max(hi, static_cast<float>(spec.qmax() - p.zero_point[c]) * p.scale[c]);
  }
  return {lo, hi};
}

// The Relu or Clip that produces \p v when nothing else reads \p v, with its bounds; null otherwise.
Node* boundingProducer(const Graph& graph, const Value& v, float& lo, float& hi) {
  Node* p = v.producer();
  if (!p || graph.isOutput(&v) || !(p->domain().empty() || p->domain() == "ai.onnx")) return nullptr;
  lo = -std::numeric_limits<float>::infinity();
  hi = std::numeric_limits<float>::infinity();
  if (p->is("Relu")) {
    lo = 0.0f;
    return p;
  }
  if (!p->is("Clip")) return nullptr;
  for (size_t i = 1; i < p->numInputs() && i < 3; ++i) {
    const Value* bound = p->input(i);
    if (!bound) continue;
    if (!bound->isConstant() || bound->initializer().numel() != 1) return nullptr;
    (i == 1 ? lo : hi) = bound->initializer().data<float>()[0];
  }
  return p;
}

// Where a Relu or Clip feeds a 4-bit quantizer, ONNX Runtime (1.20) cannot load the model (above).
// When the quantizer's grid lies inside the bounds, the bound is redundant (both saturate alike,
// the fusion ONNX Runtime would apply itself) and the quantizer reads the bound's input instead;
// otherwise the activation stays in an 8-bit container.
bool gridInside(const TensorQuant& q, float lo, float hi) {
  const auto [grid_lo, grid_hi] = gridSpan(q.params, q.spec);
  return lo <= grid_lo && grid_hi <= hi;
}

// Activations that must stay in an 8-bit container although they have at most 4 bits: the inputs
// and outputs of Conv/ConvTranspose/MatMul/Gemm layers whose weights are wider. ONNX Runtime (1.20)
// fuses such a layer into QLinearConv/QLinearMatMul by its weight type alone, and those reject
// 4-bit inputs.
std::unordered_set<const Value*> besideWideWeights(const Graph& graph, const QuantTable& table) {
  std::unordered_set<const Value*> wide;
  for (const auto& node : graph.nodes()) {
    const bool linear = quantRole(*node) == QuantRole::kCompute;
    if (!linear || node->numInputs() < 2) continue;
    const TensorQuant* w = table.find(node->input(1));
    if (!w || w->role != QuantRoleOfValue::kWeight || w->spec.bits <= 4) continue;
    wide.insert(node->input(0));
    wide.insert(node->output(0));
  }
  return wide;
}

// The weight's error as written (\p written: measured while its codes were made); a weight an
// earlier step rounded itself keeps that step's figure.
WeightError weightError(const Value& weight, const Node& reader, const TensorQuant& q, const ErrorEnergy& written,
                        const MaterializeOptions& options) {
  WeightError e{weight.name(), reader.name(), reader.opType(), q.spec.bits, "tensor", written.sqnrDb()};
  if (q.params.blocked()) e.granularity = "block " + std::to_string(q.params.block_size);
  else if (q.params.perChannel()) e.granularity = "channel";
  if (const auto* rounded = options.rounded_weight_sqnr_db) {
    if (auto it = rounded->find(weight.name()); it != rounded->end()) e.sqnr_db = it->second;
  }
  return e;
}

}  // namespace

StatusOr<MaterializeStats> materializeQdq(Graph& graph, const QuantTable& table, const MaterializeOptions& options) {
  MaterializeStats stats;
  const std::unordered_set<const Value*> stay_8bit =
      options.four_bit_types ? besideWideWeights(graph, table) : std::unordered_set<const Value*>{};
  // Biases first: they read the activation and weight scales before those values are rewritten.
  std::vector<std::pair<Value*, QuantParams>> bias_params;
  for (const Value* cv : table.values()) {
    const TensorQuant& q = *table.find(cv);
    if (q.role != QuantRoleOfValue::kBias) continue;
    const TensorQuant* x = table.find(q.bias_input);
    const TensorQuant* w = table.find(q.bias_weight);
    if (!x || !w || x->params.scale.empty() || w->params.scale.empty()) {
      return internalError("bias '" + cv->name() + "' has no calibrated input or weight scale");
    }
    QuantParams p;
    p.axis = 0;
    const int64_t n = cv->initializer().numel();
    // A per-channel input (depthwise Conv): output channel c reads input channel c / multiplier.
    const size_t in_channels = x->params.scale.size();
    if (n % static_cast<int64_t>(in_channels) != 0) {
      return internalError("bias '" + cv->name() + "': " + std::to_string(n) + " outputs do not divide among " +
                           std::to_string(in_channels) + " per-channel input scales");
    }
    const int64_t multiplier = n / static_cast<int64_t>(in_channels);
    // A grouped ConvTranspose's weight [C, M/g, k..] has M/g scales for its M outputs: output c
    // reads scale c % (M/g) (the weight's channel axis within every group).
    const size_t weight_scales = w->params.scale.size();
    if (w->params.perChannel() && n % static_cast<int64_t>(weight_scales) != 0) {
      return internalError("bias '" + cv->name() + "': " + std::to_string(n) + " outputs do not divide among " +
                           std::to_string(weight_scales) + " per-channel weight scales");
    }
    const float* bias = cv->initializer().data<float>();
    std::string overflow;
    for (int64_t c = 0; c < n; ++c) {
      const float sw = w->params.scale[w->params.perChannel() ? static_cast<size_t>(c) % weight_scales : 0];
      const float sx = x->params.scale[x->params.perChannel() ? static_cast<size_t>(c / multiplier) : 0];
      // Two tiny scales can multiply to zero: the bias's int32 codes would divide by it, so such a
      // layer is refused rather than written wrong. (A subnormal product is kept: a dead weight
      // channel of PP-OCR rec gives one, and ONNX Runtime computes with it as vitq does.)
      if (!(sx * sw > 0.0f)) {
        char scales[64];
        std::snprintf(scales, sizeof scales, "input scale %.3g x weight scale %.3g", sx, sw);
        return invalidArgument("bias '" + cv->name() + "': its scale, " + scales + ", is 0 in float; the layer's "
                               "ranges are too small to quantize (--exclude it)");
      }
      p.scale.push_back(sx * sw);
      p.zero_point.push_back(0);
      const double code = std::nearbyint(static_cast<double>(bias[c]) / (static_cast<double>(sx) * sw));
      if (overflow.empty() && !(std::fabs(code) <= static_cast<double>(INT32_MAX))) {
        char why[160];
        std::snprintf(why, sizeof why, "element %lld (%.6g) is %.4g steps of its scale %.3g, past int32",
                      static_cast<long long>(c), bias[c], code, static_cast<double>(sx) * sw);
        overflow = why;
      }
    }
    if (!overflow.empty()) {
      const Node* layer = cv->uses().empty() ? nullptr : cv->uses()[0].user;
      stats.float_biases.push_back("bias '" + cv->name() + "'" + (layer ? " of node " + layer->describe() : "") +
                                   " stays float: " + overflow);
      continue;
    }
    bias_params.emplace_back(graph.mutableValue(cv), p);
  }
  for (const Value* cv : table.values()) {
    Value* v = graph.mutableValue(cv);
    const TensorQuant& q = *table.find(v);
    if (q.params.scale.empty() && q.role != QuantRoleOfValue::kBias) {
      return internalError("value '" + v->name() + "' was planned for quantization but has no parameters");
    }
    if (q.role == QuantRoleOfValue::kActivation) {
      Node* first_user = v->uses().empty() ? nullptr : v->uses()[0].user;
      if (!first_user) continue;  // nothing reads it (a graph output only)
      Value* source = v;
      const std::string base = v->name();
      // Insert right after the producer (or at the top for graph inputs) so every user follows.
      Node* before = v->producer() ? graph.nodeAfter(v->producer())
                                   : (graph.nodes().empty() ? nullptr : graph.nodes().front().get());
      Node* reader = nullptr;  // the first inserted node, the one that reads v
      if (q.spec.scheme == QuantScheme::kLogSqrt2) {
        insertLogSqrt2FakeQuant(graph, v, q.params.scale.at(0), q.spec.bits, before);
        ++stats.log_quantizers;
        continue;
      }
      // 4-bit types where ONNX Runtime can load them (above); a redundant Relu/Clip in front is
      // read past.
      bool four_bit = options.four_bit_types && q.spec.bits <= 4 && !stay_8bit.count(v);
      float lo = 0, hi = 0;
      Node* bypassed = four_bit ? boundingProducer(graph, *v, lo, hi) : nullptr;
      if (bypassed && !gridInside(q, lo, hi)) {
        four_bit = false;
        bypassed = nullptr;
      }
      if (bypassed) source = bypassed->input(0);
      DataType type;
      const QuantParams stored = containerParams(q, {four_bit}, type);
      if (four_bit) ++stats.four_bit_tensors;
      // In a 4-bit container every grid with fewer levels is clipped, symmetric ones ([-7, 7] of
      // [-8, 7]) included: ONNX Runtime fuses no 4-bit layer, so the clip costs no fusion. In 8-bit
      // containers a full-width symmetric grid stays unclipped, so that ONNX Runtime still fuses
      // its producer; the file then saturates at -128 where vitq's grid stops at -127.
      const int32_t levels = q.spec.qmax() - q.spec.qmin() + 1;
      const bool narrow = four_bit ? levels < 16 : q.spec.bits < dataTypeBits(type);
      const bool clip_codes = narrow && !four_bit && !q.params.perChannel();
      if (narrow && !clip_codes) {
        VITQ_ASSIGN_OR_RETURN(source, clipToGrid(graph, source, *v, q, before, reader));
      }
      Value* scale = graph.addInitializer(base + "_scale", scaleTensor(stored));
      Value* zero = graph.addInitializer(base + "_zero_point", zeroPointTensor(stored, type));
      Node* quant = graph.addNode("QuantizeLinear", {source, scale, zero}, 1, "", before);
      quant->setName(graph.uniqueName(base + "_QuantizeLinear"));
      if (q.params.perChannel()) quant->attrs().set("axis", Attribute::makeInt(q.params.axis));
      graph.renameValue(quant->output(0), graph.uniqueName(base + "_quantized"));
      quant->output(0)->type().dtype = type;
      Value* codes = clip_codes ? clipCodes(graph, quant->output(0), q, type, base, before) : quant->output(0);
      Node* dq = graph.addNode("DequantizeLinear", {codes, scale, zero}, 1, "", before);
      dq->setName(graph.uniqueName(base + "_DequantizeLinear"));
      if (q.params.perChannel()) dq->attrs().set("axis", Attribute::makeInt(q.params.axis));
      graph.renameValue(dq->output(0), graph.uniqueName(base + "_dequantized"));
      dq->output(0)->type().dtype = DataType::kFloat;
      graph.redirectUsesExcept(v, dq->output(0), reader ? reader : quant);
      if (bypassed && !v->hasUses()) {
        const std::vector<Value*> bounds(bypassed->inputs().begin() + 1, bypassed->inputs().end());
        graph.eraseNode(bypassed);
        for (Value* b : bounds) {
          if (b && b->isConstant() && !b->hasUses() && !graph.isOutput(b)) graph.eraseValue(b);
        }
      }
      ++stats.quantize_nodes;
      ++stats.dequantize_nodes;
      if (q.params.perChannel()) ++stats.per_channel_activations;
    } else if (q.role == QuantRoleOfValue::kWeight) {
      const DataType type = containerType(q.spec, options);
      ErrorEnergy error;
      Value* stored =
          graph.addInitializer(v->name() + "_quantized", quantizeConstant(v->initializer(), q.params, q.spec, type, &error));
      Node* first = v->uses().empty() ? nullptr : v->uses()[0].user;
      if (!first) continue;
      if (dataTypeBits(type) == 4) ++stats.four_bit_tensors;
      if (q.params.blocked()) ++stats.blocked_weights;
      stats.weight_errors.push_back(weightError(*v, *first, q, error, options));
      Value* deq = addDequantize(graph, stored, q.params, type, v->name(), graph.nodes().front().get());
      graph.replaceAllUsesWith(v, deq);
      ++stats.weights;
      ++stats.dequantize_nodes;
    }
  }
  for (auto& [b, p] : bias_params) {
    QuantSpec spec;
    spec.bits = 32;
    spec.axis = 0;
    Tensor bq = quantizeConstant(b->initializer(), p, spec, DataType::kInt32);
    Value* stored = graph.addInitializer(b->name() + "_quantized", std::move(bq));
    Value* deq = addDequantize(graph, stored, p, DataType::kInt32, b->name(), graph.nodes().front().get());
    graph.replaceAllUsesWith(b, deq);
    ++stats.biases;
    ++stats.dequantize_nodes;
  }
  // Float originals of weights and biases are now unused.
  for (Value* v : graph.initializers()) {
    if (!v->hasUses() && !v->isGraphInput() && !graph.isOutput(v) && table.has(v)) graph.eraseValue(v);
  }
  return stats;
}

namespace {

}  // namespace

Status checkMatMulNBits(const PipelineOptions& o) {
  if (o.matmul_nbits && (!o.quant.weights_only || o.quant.weight_bits > 4)) {
    return invalidArgument("materialize-qdq{matmul-nbits} (--weight-format matmul-nbits) writes ONNX Runtime's 4-bit "
                           "weight-only product: it takes --weight-only (plan{weights-only}) with --wbits 4 or fewer");
  }
  return Status::ok();
}

namespace {

class MaterializeQdqStep final : public QuantStep {
 public:
  const char* name() const override { return "materialize-qdq"; }
  const char* summary() const override {
    return "the only step that writes QuantizeLinear/DequantizeLinear (--int4: INT4/UINT4 for tensors of 4 bits or fewer, the model raised to opset 21)";
  }
  StepTraits traits() const override { return StepTraits{}.writesQuantized(); }
  bool enabled(const PipelineOptions& o) const override { return !o.integer_lowering; }
  void enable(PipelineOptions&) const override {}  // runs unless integer-lowering takes its place
  std::vector<StepOption> options() const override {
    return {switchOption(
                "int4", [](const PipelineOptions& o) { return o.four_bit_types; },
                [](PipelineOptions& o) { o.four_bit_types = true; }),
            switchOption(
                "matmul-nbits", [](const PipelineOptions& o) { return o.matmul_nbits; },
                [](PipelineOptions& o) { o.matmul_nbits = true; })};
  }
  void addToReport(const PipelineOptions& o, const PipelineReport& r, nlohmann::json& out) const override {
    if (!o.matmul_nbits) return;
    out["recipe"]["matmul_nbits"] = {{"nodes", r.matmul_nbits.fused},
                                     {"gather_nodes", r.matmul_nbits.gather_nodes},
                                     {"kept_dequantize", r.matmul_nbits.kept}};
  }
  Status run(QuantContext& ctx) const override {
    // Weights GPTQ or learned rounding already put on their grid: their error is the step's.
    std::map<std::string, double> rounded;
    for (const auto& block : ctx.report.reconstructed) {
      for (const auto& [weight, sqnr] : block.weight_sqnr_db) rounded[weight] = sqnr;
    }
    for (const auto& layer : ctx.report.gptq) rounded[layer.weight] = layer.weight_sqnr_db;  // the first rounding
    VITQ_ASSIGN_OR_RETURN(ctx.report.materialized,
                          materializeQdq(*ctx.model.graph, ctx.table, {ctx.options.four_bit_types, &rounded}));
    // ONNX's 4-bit types in QuantizeLinear/DequantizeLinear need opset 21.
    // ... and so does DequantizeLinear's block_size (group-wise weights).
    const MaterializeStats& ms = ctx.report.materialized;
    if (ms.four_bit_tensors > 0 || ms.blocked_weights > 0) VITQ_RETURN_IF_ERROR(raiseOpset(ctx.model, 21));
    if (ctx.options.matmul_nbits) {
      VITQ_ASSIGN_OR_RETURN(ctx.report.matmul_nbits, writeMatMulNBits(ctx.model));
      VITQ_ASSIGN_OR_RETURN(GatherBlockQuantizedStats tables, writeGatherBlockQuantized(ctx.model));
      ctx.report.matmul_nbits.gather_nodes = tables.fused;
      ctx.report.matmul_nbits.kept.insert(ctx.report.matmul_nbits.kept.end(), tables.kept.begin(), tables.kept.end());
    }
    return Status::ok();
  }
};

}  // namespace

const QuantStep& materializeQdqStep() {
  static const MaterializeQdqStep step;
  return step;
}

}  // namespace vitq
