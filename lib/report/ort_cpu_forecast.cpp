#include "report/ort_cpu_forecast.h"

#include <algorithm>
#include <cmath>

namespace vitq {
namespace {

const Node* producerOf(const Value* v, const char* op) {
  return v && v->producer() && v->producer()->is(op) ? v->producer() : nullptr;
}

const Tensor* constant(const Value* v) { return v && v->isConstant() ? &v->initializer() : nullptr; }

bool isEightBit(DataType t) { return t == DataType::kUInt8 || t == DataType::kInt8; }

// The integer type a DequantizeLinear reads (its input's, else its zero point's).
DataType dequantizedType(const Node& dq) {
  const DataType t = dq.input(0)->type().dtype;
  if (t != DataType::kUndefined) return t;
  return dq.numInputs() > 2 && dq.input(2) ? dq.input(2)->type().dtype : DataType::kUInt8;
}

// The integer type a QuantizeLinear writes (its zero point's, else uint8 as ONNX defaults).
DataType quantizedType(const Node& q) {
  if (q.numInputs() > 2 && q.input(2)) return q.input(2)->type().dtype;
  const DataType t = q.output(0)->type().dtype;
  return t == DataType::kUndefined ? DataType::kUInt8 : t;
}

bool perTensor(const Node& qdq) {
  const Tensor* scale = constant(qdq.input(1));
  return scale && scale->numel() == 1;
}

// The value's only reader, or null where it has several or is a graph output.
const Node* soleReader(const Value* v) {
  if (!v || v->uses().size() != 1 || v->owner()->isOutput(v)) return nullptr;
  return v->uses().front().user;
}

// The real interval a QuantizeLinear can write: [s (qmin - z), s (qmax - z)].
bool quantizerRange(const Node& q, double& lo, double& hi) {
  const Tensor* scale = constant(q.input(1));
  const Tensor* zero = q.numInputs() > 2 ? constant(q.input(2)) : nullptr;
  if (!scale || scale->numel() != 1) return false;
  const DataType t = zero ? zero->dtype() : DataType::kUInt8;
  const double qmin = t == DataType::kInt8 ? -128 : 0, qmax = t == DataType::kInt8 ? 127 : 255;
  const double z = zero ? zero->scalarAsDouble() : 0, s = scale->scalarAsDouble();
  lo = s * (qmin - z);
  hi = s * (qmax - z);
  return true;
}

// ONNX Runtime drops a Relu or Clip in front of a QuantizeLinear whose range lies inside it.
bool activationDroppedBefore(const Node& act, const Node& q) {
  double lo = 0, hi = 0;
  if (!quantizerRange(q, lo, hi)) return false;
  const double eps = 1e-6 * std::max(1.0, hi - lo);
  if (act.is("Relu")) return lo >= -eps;
  if (!act.is("Clip")) return false;
  // Clip's bounds: inputs 1 and 2 from opset 11, attributes before; absent means unbounded.
  double clip_lo = act.attrs().floatOr("min", -INFINITY), clip_hi = act.attrs().floatOr("max", INFINITY);
  for (size_t i = 1; i < act.numInputs() && i < 3; ++i) {
    if (!act.input(i)) continue;
    const Tensor* bound = constant(act.input(i));
    if (!bound) return false;
    (i == 1 ? clip_lo : clip_hi) = bound->scalarAsDouble();
  }
  return lo >= clip_lo - eps && hi <= clip_hi + eps;
}

// Ops ONNX Runtime moves a QuantizeLinear up across (its QDQ propagation), so that a QuantizeLinear
// after them also requantizes the layer before.
bool quantizerMovesAcross(const Node& n) {
  return n.is("MaxPool") || n.is("Reshape") || n.is("Transpose") || n.is("Squeeze") || n.is("Unsqueeze");
}

// The QuantizeLinear the node's output goes into alone (across ops the quantizer moves over and
// Relu/Clip ranges it makes redundant), or null.
const Node* requantizer(const Node& n) {
  std::vector<const Node*> activations;
  const Node* reader = soleReader(n.output(0));
  while (reader && !reader->is("QuantizeLinear")) {
    if (reader->is("Relu") || reader->is("Clip")) {
      activations.push_back(reader);
    } else if (!quantizerMovesAcross(*reader)) {
      return nullptr;
    }
    reader = soleReader(reader->output(0));
  }
  if (!reader) return nullptr;
  for (const Node* act : activations) {
    if (!activationDroppedBefore(*act, *reader)) return nullptr;
  }
  return reader;
}

double product(const std::optional<std::vector<Dim>>& dims) {
  if (!dims) return 0;
  double p = 1;
  for (const Dim& d : *dims) p *= d.isKnown() ? static_cast<double>(d.value) : 1.0;
  return p;
}

// Whether \p n is one of the quantizer nodes the export inserts: QuantizeLinear, DequantizeLinear, or
// the Clip of a narrow grid's codes between them.
bool isQuantizerNode(const Node& n) {
  return n.is("DequantizeLinear") || n.is("QuantizeLinear") || (n.is("Clip") && producerOf(n.input(0), "QuantizeLinear"));
}

// The float value behind the quantizers the export inserted in front of \p v (\p v itself if none).
const Value* quantizedSource(const Value* v) {
  while (v->producer() && isQuantizerNode(*v->producer())) v = v->producer()->input(0);
  return v;
}

// The value's dims; the quantizers the export inserts carry none, so those of the float value they
// quantize stand in.
const std::optional<std::vector<Dim>>& dimsOf(const Value* v) {
  return v->type().dims ? v->type().dims : quantizedSource(v)->type().dims;
}

std::vector<int64_t> shapeOf(const Value* v) {
  if (const Tensor* t = constant(v)) return t->shape();
  std::vector<int64_t> out;
  if (v && dimsOf(v)) {
    for (const Dim& d : *dimsOf(v)) out.push_back(d.isKnown() ? d.value : 1);
  }
  return out;
}

// Multiply-adds of one run; the weight's shape comes from its DequantizeLinear's input.
double multiplyAdds(const Node& n, const Node& weight_dq) {
  const std::vector<int64_t> w = shapeOf(weight_dq.input(0));
  const double out = product(dimsOf(n.output(0)));
  if (w.empty()) return 0;
  double w_numel = 1;
  for (int64_t d : w) w_numel *= static_cast<double>(d);
  if (n.is("Conv")) return out * w_numel / static_cast<double>(std::max<int64_t>(w[0], 1));
  if (n.is("ConvTranspose")) {
    return product(dimsOf(n.input(0))) * w_numel / static_cast<double>(std::max<int64_t>(w[0], 1));
  }
  const std::vector<int64_t> a = shapeOf(n.input(0));
  if (a.empty()) return 0;
  const bool trans_a = n.is("Gemm") && n.attrs().intOr("transA", 0) != 0;
  const int64_t k = trans_a ? a.front() : a.back();
  return out * static_cast<double>(k);
}

// Whether a bias input lets ONNX Runtime fuse: absent, or int32 through a DequantizeLinear.
bool biasFuses(const Node& n) {
  if (n.numInputs() < 3 || !n.input(2)) return true;
  const Node* dq = producerOf(n.input(2), "DequantizeLinear");
  return dq && dequantizedType(*dq) == DataType::kInt32;
}

// The value's rank where its dims or its producer tell (a Flatten's output is 2-D, a Reshape's has as
// many dims as its constant shape); -1 where neither does.
int64_t rankOf(const Value* v) {
  if (dimsOf(v)) return static_cast<int64_t>(dimsOf(v)->size());
  const Node* p = quantizedSource(v)->producer();
  if (p && p->is("Flatten")) return 2;
  if (p && p->is("Reshape") && constant(p->input(1))) return constant(p->input(1))->numel();
  return -1;
}

// ONNX Runtime's MatMulAddFusion (level basic, before the QDQ fusions) turns a 2-D MatMul whose
// output goes alone into an Add of a constant into a Gemm; with a float bias that Gemm stays float.
bool foldsIntoFloatGemm(const Node& matmul) {
  const Node* add = soleReader(matmul.output(0));
  if (!add || !add->is("Add") || rankOf(matmul.input(0)) != 2) return false;
  const Value* other = add->input(0) == matmul.output(0) ? add->input(1) : add->input(0);
  return constant(other) && constant(other)->rank() <= 2;
}

OrtLayerForecast forecastLayer(const Node& n, const Node& x_dq, const Node& w_dq) {
  OrtLayerForecast f{n.name(), n.opType(), "float", "", multiplyAdds(n, w_dq)};
  const DataType x_type = dequantizedType(x_dq), w_type = dequantizedType(w_dq);
  if (!isEightBit(x_type) || !isEightBit(w_type)) {
    f.why = "inputs are not 8-bit integers";
    return f;
  }
  if (!biasFuses(n)) {
    f.why = "the bias is not an int32 DequantizeLinear";
    return f;
  }
  const Node* q = requantizer(n);
  const DataType q_type = q ? quantizedType(*q) : DataType::kUndefined;
  if (n.is("ConvTranspose")) {
    f.why = "ONNX Runtime 1.20's CPU provider has no integer ConvTranspose";
  } else if (n.is("Gemm")) {
    f.kernel = "QGemm";
  } else if (n.is("MatMul") && q) {
    if (q_type == x_type) f.kernel = "QLinearMatMul";
    else f.why = "its input and output are different integer types";
  } else if (n.is("MatMul")) {
    if (foldsIntoFloatGemm(n)) f.why = "ONNX Runtime first folds the MatMul and its bias Add into a float Gemm";
    else f.kernel = "MatMulIntegerToFloat";
    f.fuses_if_requantized = f.kernel == "float";
  } else if (!q) {
    f.why = "its output is not requantized (placement inputs): float on dequantized inputs";
    f.fuses_if_requantized = perTensor(x_dq);
  } else if (!perTensor(x_dq)) {
    f.why = "its input has per-channel scales";
  } else if (q_type != x_type) {
    f.why = "its input and output are different integer types";
  } else {
    f.kernel = "QLinearConv";
  }
  return f;
}

// The output of insertLogSqrt2FakeQuant: Mul(Exp(DequantizeLinear(.)), DequantizeLinear(.)).
bool isLogSqrt2Output(const Value* v) {
  const Node* mul = producerOf(v, "Mul");
  if (!mul || mul->numInputs() != 2) return false;
  const Node* exp = producerOf(mul->input(0), "Exp");
  return exp && producerOf(exp->input(0), "DequantizeLinear") && producerOf(mul->input(1), "DequantizeLinear");
}

}  // namespace

OrtCpuForecast forecastOrtCpuKernels(const Graph& g) {
  OrtCpuForecast out;
  for (const auto& node : g.nodes()) {
    const Node& n = *node;
    if (!(n.is("Conv") || n.is("ConvTranspose") || n.is("MatMul") || n.is("Gemm")) || n.numInputs() < 2) continue;
    const Node* x_dq = producerOf(n.input(0), "DequantizeLinear");
    const Node* w_dq = producerOf(n.input(1), "DequantizeLinear");
    if (!x_dq && w_dq && n.is("MatMul") && isLogSqrt2Output(n.input(0))) {
      ++out.float_log_quantized;
      continue;
    }
    if (!x_dq || !w_dq) {
      ++out.float_layers;
      continue;
    }
    OrtLayerForecast f = forecastLayer(n, *x_dq, *w_dq);
    out.int8_activations = out.int8_activations || dequantizedType(*x_dq) == DataType::kInt8;
    out.quantized_macs += f.macs;
    if (f.kernel == "float") {
      ++out.float_on_dequantized;
    } else {
      ++out.integer_kernels[f.kernel];
      out.integer_macs += f.macs;
    }
    out.quantized.push_back(std::move(f));
  }
  return out;
}

nlohmann::json ortCpuSection(const OrtCpuForecast& forecast, size_t listed) {
  std::vector<const OrtLayerForecast*> floats;
  for (const OrtLayerForecast& f : forecast.quantized) {
    if (f.kernel == "float") floats.push_back(&f);
  }
  std::stable_sort(floats.begin(), floats.end(),
                   [](const OrtLayerForecast* a, const OrtLayerForecast* b) { return a->macs > b->macs; });
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = 0; i < floats.size() && i < listed; ++i) {
    list.push_back({{"node", floats[i]->node}, {"op", floats[i]->op}, {"why", floats[i]->why},
                    {"macs", floats[i]->macs}});
  }
  return {{"integer_kernels", forecast.integer_kernels},
          {"float_on_dequantized", forecast.float_on_dequantized},
          {"float_unquantized", forecast.float_layers},
          {"float_log_quantized", forecast.float_log_quantized},
          {"integer_mac_share", std::round(forecast.integerMacShare() * 1e4) / 1e4},
          {"float_layer_share", std::round(forecast.floatLayerShare() * 1e4) / 1e4},
          {"int8_activations", forecast.int8_activations},
          {"float_layers_largest", list}};
}

}  // namespace vitq
