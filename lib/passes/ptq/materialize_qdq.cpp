#include "passes/ptq/materialize_qdq.h"

#include "passes/ptq/log_quant_export.h"
#include "quant/math/quantize.h"

namespace vitq {
namespace {

DataType containerType(const QuantSpec& spec) {
  if (spec.bits == 32) return DataType::kInt32;
  return spec.is_signed ? DataType::kInt8 : DataType::kUInt8;
}

// A per-channel activation is stored in the other 8-bit type, its zero points shifted by 128 (the
// same grid): ONNX Runtime (1.20) fuses DequantizeLinear -> Conv -> QuantizeLinear into a QLinearConv
// when the types match, without checking that the parameters are per-tensor, and that node fails at
// run time; with different input and output types it leaves the Conv in float.
QuantParams containerParams(const TensorQuant& q, DataType& type) {
  type = containerType(q.spec);
  QuantParams p = q.params;
  if (!p.perChannel()) return p;
  const int32_t shift = type == DataType::kUInt8 ? -128 : 128;
  type = type == DataType::kUInt8 ? DataType::kInt8 : DataType::kUInt8;
  for (int32_t& z : p.zero_point) z += shift;
  return p;
}

Tensor scaleTensor(const QuantParams& p) {
  if (p.perChannel()) return Tensor::fromVector<float>(p.scale, {static_cast<int64_t>(p.scale.size())});
  return Tensor::fromVector<float>({p.scale.at(0)}, {});
}

Tensor zeroPointTensor(const QuantParams& p, DataType type) {
  const bool per_channel = p.perChannel();
  Shape shape = per_channel ? Shape{static_cast<int64_t>(p.zero_point.size())} : Shape{};
  Tensor t(type, shape);
  for (size_t i = 0; i < p.zero_point.size(); ++i) {
    const int32_t z = p.zero_point[i];
    if (type == DataType::kInt8) t.data<int8_t>()[i] = static_cast<int8_t>(z);
    else if (type == DataType::kUInt8) t.data<uint8_t>()[i] = static_cast<uint8_t>(z);
    else t.data<int32_t>()[i] = z;
  }
  return t;
}

Value* addDequantize(Graph& g, Value* quantized, const QuantParams& p, DataType type, const std::string& base,
                     Node* before) {
  Value* scale = g.addInitializer(base + "_scale", scaleTensor(p));
  Value* zero = g.addInitializer(base + "_zero_point", zeroPointTensor(p, type));
  Node* dq = g.addNode("DequantizeLinear", {quantized, scale, zero}, 1, "", before);
  dq->setName(g.uniqueName(base + "_DequantizeLinear"));
  if (p.perChannel()) dq->attrs().set("axis", Attribute::makeInt(p.axis));
  g.renameValue(dq->output(0), g.uniqueName(base + "_dequantized"));
  dq->output(0)->type().dtype = DataType::kFloat;
  return dq->output(0);
}

// Integer tensor for a constant: weights on their per-channel grid, biases in int32.
Tensor quantizeConstant(const Tensor& w, const QuantParams& p, const QuantSpec& spec) {
  const DataType type = containerType(spec);
  Tensor q(type, w.shape());
  const int64_t channels = p.perChannel() ? w.dim(p.axis) : 1;
  int64_t inner = 1;
  for (int64_t d = p.axis + 1; p.perChannel() && d < w.rank(); ++d) inner *= w.dim(d);
  const int32_t qmin = spec.bits == 32 ? INT32_MIN : spec.qmin(), qmax = spec.bits == 32 ? INT32_MAX : spec.qmax();
  const float* src = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) {
    const size_t c = p.perChannel() ? static_cast<size_t>((i / inner) % channels) : 0;
    const int32_t v = quantizeValue(src[i], p.scale[c], p.zero_point[c], qmin, qmax);
    if (type == DataType::kInt8) q.data<int8_t>()[i] = static_cast<int8_t>(v);
    else if (type == DataType::kUInt8) q.data<uint8_t>()[i] = static_cast<uint8_t>(v);
    else q.data<int32_t>()[i] = v;
  }
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
  Shape shape{static_cast<int64_t>(bound.size())};
  for (int64_t d = axis + 1; d < rank; ++d) shape.push_back(1);
  return Tensor::fromVector<float>(bound, shape);
}

// Narrow range in an 8-bit container: \p source clipped in float to exactly the b-bit grid's span
// (Clip for one scale; Max and Min with per-channel bounds, since Clip takes scalars only).
StatusOr<Value*> clipToGrid(Graph& graph, Value* source, const Value& v, const TensorQuant& q, Node* before,
                            Node*& reader) {
  const std::string base = v.name();
  const QuantParams& p = q.params;
  if (!p.perChannel()) {
    const float s = p.scale[0];
    const int32_t z = p.zero_point[0];
    Value* lo = graph.addInitializer(base + "_clip_min", Tensor::fromVector<float>({(q.spec.qmin() - z) * s}, {}));
    Value* hi = graph.addInitializer(base + "_clip_max", Tensor::fromVector<float>({(q.spec.qmax() - z) * s}, {}));
    Node* clip = graph.addNode("Clip", {source, lo, hi}, 1, "", before);
    clip->setName(graph.uniqueName(base + "_Clip"));
    reader = clip;
    clip->output(0)->type().dtype = DataType::kFloat;
    return clip->output(0);
  }
  VITQ_ASSIGN_OR_RETURN(const int64_t rank, activationRank(v));
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

}  // namespace

StatusOr<MaterializeStats> materializeQdq(Graph& graph, const QuantTable& table) {
  MaterializeStats stats;
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
    for (int64_t c = 0; c < n; ++c) {
      const float sw = w->params.scale[w->params.perChannel() ? static_cast<size_t>(c) : 0];
      const float sx = x->params.scale[x->params.perChannel() ? static_cast<size_t>(c / multiplier) : 0];
      p.scale.push_back(sx * sw);
      p.zero_point.push_back(0);
    }
    bias_params.emplace_back(const_cast<Value*>(cv), p);
  }
  for (const Value* cv : table.values()) {
    Value* v = const_cast<Value*>(cv);
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
      DataType type;
      const QuantParams stored = containerParams(q, type);
      const int container_bits = 8;
      if (q.spec.bits < container_bits) {
        VITQ_ASSIGN_OR_RETURN(source, clipToGrid(graph, source, *v, q, before, reader));
      }
      Value* scale = graph.addInitializer(base + "_scale", scaleTensor(stored));
      Value* zero = graph.addInitializer(base + "_zero_point", zeroPointTensor(stored, type));
      Node* quant = graph.addNode("QuantizeLinear", {source, scale, zero}, 1, "", before);
      quant->setName(graph.uniqueName(base + "_QuantizeLinear"));
      if (q.params.perChannel()) quant->attrs().set("axis", Attribute::makeInt(q.params.axis));
      graph.renameValue(quant->output(0), graph.uniqueName(base + "_quantized"));
      quant->output(0)->type().dtype = type;
      Node* dq = graph.addNode("DequantizeLinear", {quant->output(0), scale, zero}, 1, "", before);
      dq->setName(graph.uniqueName(base + "_DequantizeLinear"));
      if (q.params.perChannel()) dq->attrs().set("axis", Attribute::makeInt(q.params.axis));
      graph.renameValue(dq->output(0), graph.uniqueName(base + "_dequantized"));
      dq->output(0)->type().dtype = DataType::kFloat;
      graph.redirectUsesExcept(v, dq->output(0), reader ? reader : quant);
      ++stats.quantize_nodes;
      ++stats.dequantize_nodes;
      if (q.params.perChannel()) ++stats.per_channel_activations;
    } else if (q.role == QuantRoleOfValue::kWeight) {
      Tensor wq = quantizeConstant(v->initializer(), q.params, q.spec);
      Value* stored = graph.addInitializer(v->name() + "_quantized", std::move(wq));
      Node* first = v->uses().empty() ? nullptr : v->uses()[0].user;
      if (!first) continue;
      Value* deq = addDequantize(graph, stored, q.params, containerType(q.spec), v->name(), graph.nodes().front().get());
      graph.replaceAllUsesWith(v, deq);
      ++stats.weights;
      ++stats.dequantize_nodes;
    }
  }
  for (auto& [b, p] : bias_params) {
    QuantSpec spec;
    spec.bits = 32;
    spec.axis = 0;
    Tensor bq = quantizeConstant(b->initializer(), p, spec);
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

}  // namespace vitq
