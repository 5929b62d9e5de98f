#include "passes/ptq/plan_quantization.h"

#include <fnmatch.h>
#include <strings.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/logging.h"
#include "pattern/match_utils.h"
#include "quant/math/quantize.h"
#include "quant/op_rules.h"

namespace vitq {
namespace {

// Why \p node stays float by the options' choice, or "" if it does not.
std::string exclusionReason(const Node& node, const QuantOptions& options) {
  for (const auto& name : options.float_nodes) {
    if (name == node.name()) return "kept in float by the budget search";
  }
  for (const auto& pattern : options.exclude) {
    if (matchesNodePattern(node, pattern)) return "excluded by the user";
  }
  return "";
}

bool isFloatActivation(const Value* v) {
  return v && !v->isConstant() && (v->type().dtype == DataType::kFloat || v->type().dtype == DataType::kUndefined);
}


// Output-channel axis of a compute node's weight: Conv [M, C/g, k..] -> 0; ConvTranspose
// [C, M/g, k..] -> 1 (output channel m of every group reads scale m % (M/g)); MatMul [K, N] -> 1;
// Gemm B -> transB ? 0 : 1. A MatMul weight of rank 3 or more (a batch of matrices) gets one
// scale: ONNX Runtime fuses its QDQ form into MatMulIntegerToFloat, whose zero point must be a
// scalar or one value per column of a 2-D B, and fails at run time otherwise.
int64_t weightAxis(const Node& node, const Tensor& w) {
  if (node.is("Conv")) return 0;
  if (node.is("ConvTranspose")) return 1;
  if (node.is("Gemm")) return node.attrs().intOr("transB", 0) ? 0 : 1;
  return w.rank() == 2 ? 1 : -1;  // MatMul
}

// Switches the activations read by quantized depthwise Convs to per-channel scales where no other
// quantized compute layer reads them (a 1x1 Conv or MatMul sums over channels, so its input needs
// one scale) and the depthwise Conv's output is not quantized: a quantized output (the integer
// placement) is there for ONNX Runtime's QLinearConv, which takes per-tensor input parameters only.
void useChannelScalesForDepthwiseInputs(const Graph& graph, QuantTable& table) {
  for (const auto& node : graph.nodes()) {
    if (!isDepthwiseConv(*node) || !table.has(node->input(1)) || table.has(node->output(0))) continue;
    const Value* x = node->input(0);
    TensorQuant* q = table.find(x);
    if (!q || q->role != QuantRoleOfValue::kActivation || q->spec.scheme != QuantScheme::kUniform) continue;
    bool only_depthwise = true;
    for (const Use& use : x->uses()) {
      const Node& reader = *use.user;
      if (quantRole(reader) != QuantRole::kCompute || !table.has(reader.input(1))) continue;
      if (!isDepthwiseConv(reader) || use.index != 0 || table.has(reader.output(0))) only_depthwise = false;
    }
    if (only_depthwise) q->spec.axis = 1;
  }
}

// Weight-only: plans \p node's weight (MatMul or Gemm with a constant 2-D float weight, per output
// channel or in blocks along the input dimension); returns why it stays float otherwise.
std::string planWeightOnly(const Node& node, const QuantOptions& options, int bits, QuantTable& table) {
  const bool gemm = node.is("Gemm");
  if (!node.is("MatMul") && !gemm) return "weight-only quantization covers MatMul and Gemm weights";
  const Value* w = node.input(1);
  if (!isFloatConstant(w) || w->initializer().rank() != 2 || w->initializer().numel() == 0) {
    return "its weight is not a constant 2-D float matrix";
  }
  if (gemm && node.attrs().intOr("transA", 0) != 0) return "Gemm with transA reads its weight as the second operand only";
  if (table.has(w)) return "";  // shared with a layer planned before
  const int64_t input_axis = gemm && node.attrs().intOr("transB", 0) ? 1 : 0;
  QuantSpec ws;
  ws.bits = std::min(bits, options.max_weight_bits);
  ws.is_signed = ws.symmetric = !options.weight_asymmetric;
  if (options.weight_group_size > 0 && w->initializer().dim(input_axis) > options.weight_group_size) {
    ws.axis = input_axis;
    ws.block_size = options.weight_group_size;
  } else {
    ws.axis = weightAxis(node, w->initializer());
  }
  table.set(w, TensorQuant{QuantRoleOfValue::kWeight, ws, {}, nullptr, nullptr});
  return "";
}

// A Gather's constant float table read along axis 0 (an embedding): planned like a weight-only
// matrix whose rows are the channels (one scale per token, or per block of a token's row).
// Returns why a float table is left out; tables of other types (shape arithmetic) are not
// embeddings and are passed over in silence.
std::string planEmbedding(const Node& node, const QuantOptions& options, int bits, QuantTable& table, bool* planned) {
  *planned = false;
  const Value* data = node.input(0);
  if (!isFloatConstant(data)) return "";
  const Tensor& t = data->initializer();
  if (t.rank() != 2 || t.numel() == 0) return "its table '" + data->name() + "' is not a 2-D matrix";
  const int64_t axis = node.attrs().intOr("axis", 0);
  if (axis != 0 && axis != -2) return "it gathers along axis " + std::to_string(axis) + ", not rows";
  *planned = true;
  if (table.has(data)) return "";  // tied with a layer's weight planned before: one grid for both
  QuantSpec ws;
  ws.bits = std::min(bits, options.max_weight_bits);
  ws.is_signed = ws.symmetric = !options.weight_asymmetric;
  if (options.weight_group_size > 0 && t.dim(1) > options.weight_group_size) {
    ws.axis = 1;
    ws.block_size = options.weight_group_size;
  } else {
    ws.axis = 0;
  }
  table.set(data, TensorQuant{QuantRoleOfValue::kWeight, ws, {}, nullptr, nullptr});
  return "";
}

}  // namespace

bool isDepthwiseConv(const Node& node) {
  if (!node.is("Conv") || node.attrs().intOr("group", 1) <= 1) return false;
  const Value* w = node.input(1);
  return w && w->isConstant() && w->initializer().rank() >= 3 && w->initializer().dim(1) == 1;
}

namespace {

bool globMatches(const std::string& pattern, const Value* v) {
  return v && fnmatch(pattern.c_str(), v->name().c_str(), 0) == 0;
}

// The tensors a user may have copied from a report: the node's outputs, and for a layer whose
// output goes only to its bias Add, that Add's output (the report's `value` of the layer).
bool matchesOutput(const Node& node, const std::string& pattern) {
  for (const Value* v : node.outputs()) {
    if (globMatches(pattern, v)) return true;
    if (v && v->uses().size() == 1 && v->uses()[0].user->is("Add") && globMatches(pattern, v->uses()[0].user->output(0))) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool matchesNodePattern(const Node& node, const std::string& pattern) {
  return strcasecmp(pattern.c_str(), node.opType().c_str()) == 0 ||
         (!node.name().empty() && fnmatch(pattern.c_str(), node.name().c_str(), 0) == 0) || matchesOutput(node, pattern);
}

Status checkNodePatterns(const std::vector<const Graph*>& graphs, const std::vector<std::string>& patterns,
                         const std::string& option) {
  for (const auto& pattern : patterns) {
    std::vector<std::string> matched;
    for (const Graph* g : graphs) {
      for (const auto& node : g->nodes()) {
        if (matchesNodePattern(*node, pattern) &&
            std::find(matched.begin(), matched.end(), node->name()) == matched.end()) {
          matched.push_back(node->name());
        }
      }
    }
    if (matched.empty()) {
      return invalidArgument(option + " '" + pattern + "' names no node of the model (neither an op type in it, "
                             "in any case, nor a glob matching a node name or an output tensor name; `vitq inspect "
                             "--print-ir` lists them)");
    }
    std::string list;
    for (size_t i = 0; i < matched.size() && i < 8; ++i) list += (i ? ", " : "") + matched[i];
    logger("vitq.quantize")->info("{} '{}' matches {} node(s): {}{}", option, pattern, matched.size(), list,
                                  matched.size() > 8 ? ", ..." : "");
  }
  return Status::ok();
}

QuantTable planQuantization(const Graph& graph, const QuantOptions& options, QuantPlanSummary* summary) {
  QuantTable table;
  QuantPlanSummary local;
  QuantPlanSummary& s = summary ? *summary : local;
  QuantSpec act;
  act.bits = options.activation_bits;
  act.is_signed = options.activation_symmetric;
  act.symmetric = options.activation_symmetric;
  auto layerBits = [&options](const Node& node, int fallback) {
    for (const auto& [name, bits] : options.layer_bits) {
      if (name == node.name()) return std::max(bits, fallback);
    }
    return fallback;
  };
  auto addActivation = [&](const Value* v, int bits) {
    if (TensorQuant* q = table.find(v)) {
      q->spec.bits = std::max(q->spec.bits, bits);
      return;
    }
    QuantSpec spec = act;
    spec.bits = bits;
    table.set(v, TensorQuant{QuantRoleOfValue::kActivation, spec, {}, nullptr, nullptr});
  };
  for (const auto& node : graph.nodes()) {
    if (quantRole(*node) != QuantRole::kCompute) continue;
    ++s.compute_nodes;
    if (const std::string why = exclusionReason(*node, options); !why.empty()) {
      s.excluded.push_back(node->describe() + ": " + why);
      continue;
    }
    const Value* x = node->input(0);
    const Value* w = node->input(1);
    if (!isFloatActivation(x) && !isFloatConstant(x)) {
      s.excluded.push_back(node->describe() + ": input is not float");
      continue;
    }
    // A weight with a zero-size dim (a layer of no output channels or an empty reduction) has no
    // range to take scales from: the layer stays float (it computes nothing worth quantizing).
    if (isFloatConstant(w) && w->initializer().numel() == 0) {
      const std::string why = "its weight '" + w->name() + "' of shape " + shapeToString(w->initializer().shape()) +
                              " has no elements; kept in float";
      logger("vitq.quantize")->warn("node {}: {}", node->describe(), why);
      s.excluded.push_back(node->describe() + ": " + why);
      continue;
    }
    if (options.weights_only) {
      if (const std::string why = planWeightOnly(*node, options, layerBits(*node, options.weight_bits), table); !why.empty()) {
        s.excluded.push_back(node->describe() + ": " + why);
      } else {
        ++s.quantized_nodes;
      }
      continue;
    }
    ++s.quantized_nodes;
    const int act_bits = layerBits(*node, options.activation_bits);
    if (isFloatActivation(x)) addActivation(x, act_bits);
    if (isFloatConstant(w)) {
      if (!table.has(w)) {
        QuantSpec ws;
        ws.bits = std::min(layerBits(*node, options.weight_bits), options.max_weight_bits);
        ws.axis = weightAxis(*node, w->initializer());
        table.set(w, TensorQuant{QuantRoleOfValue::kWeight, ws, {}, nullptr, nullptr});
      }
    } else if (isFloatActivation(w)) {
      addActivation(w, act_bits);  // activation x activation MatMul (attention)
    }
    const Value* b = node->input(2);
    const bool has_bias = takesBias(*node) && isFloatConstant(b) &&
                          b->initializer().rank() == 1 && isFloatActivation(x) && isFloatConstant(w) &&
                          b->uses().size() == 1;
    if (has_bias) {
      QuantSpec bs;
      bs.bits = 32;
      bs.axis = 0;
      table.set(b, TensorQuant{QuantRoleOfValue::kBias, bs, {}, x, w});
    }
    const bool requantize = options.quantize_outputs ||
                            std::find(options.requantized_outputs.begin(), options.requantized_outputs.end(),
                                      node->name()) != options.requantized_outputs.end();
    if (requantize && node->output(0) && node->output(0)->type().dtype != DataType::kInt64) addActivation(node->output(0), act_bits);
  }
  if (options.weights_only && options.embeddings) {
    std::set<const Value*> tables;
    for (const auto& node : graph.nodes()) {
      if (!node->is("Gather")) continue;
      if (const std::string why = exclusionReason(*node, options); !why.empty()) {
        if (isFloatConstant(node->input(0))) s.excluded.push_back(node->describe() + ": " + why);
        continue;
      }
      bool planned = false;
      const std::string why = planEmbedding(*node, options, layerBits(*node, options.weight_bits), table, &planned);
      if (!why.empty()) s.excluded.push_back(node->describe() + ": " + why);
      if (planned) tables.insert(node->input(0));
    }
    s.embedding_tables = static_cast<int>(tables.size());  // a table two Gathers read counts once
  }
  if (options.depthwise_channel_inputs) useChannelScalesForDepthwiseInputs(graph, table);
  return table;
}

StatusOr<QuantParams> minMaxWeightParams(const Tensor& w, const QuantSpec& spec, const std::string& name) {
  const int64_t axis = spec.axis;
  if (axis >= w.rank()) return internalError("weight '" + name + "' has no axis " + std::to_string(axis));
  // The ranges' layout: one per tensor, per channel along the axis, or per block of the axis.
  QuantParams layout;
  layout.axis = axis;
  layout.block_size = spec.block_size;
  if (spec.block_size > 0) layout.scale_shape = blockedScaleShape(w.shape(), axis, spec.block_size);
  int64_t count = axis >= 0 ? w.dim(axis) : 1;
  if (spec.block_size > 0) {
    count = 1;
    for (int64_t d : layout.scale_shape) count *= d;
  }
  std::vector<float> lo(static_cast<size_t>(count), 0.0f), hi(static_cast<size_t>(count), 0.0f);
  const float* p = w.data<float>();
  bool finite = true;
  ParamIndexer(layout, w.shape()).forEachRun(w.numel(), [&](int64_t start, int64_t run, int64_t c, int64_t step) {
    for (int64_t r = 0; r < run; ++r, c += step) {
      const float v = p[start + r];
      finite = finite && std::isfinite(v);
      lo[static_cast<size_t>(c)] = std::min(lo[static_cast<size_t>(c)], v);
      hi[static_cast<size_t>(c)] = std::max(hi[static_cast<size_t>(c)], v);
    }
  });
  for (int64_t i = 0; !finite && i < w.numel(); ++i) {
    if (!std::isfinite(p[i])) {
      return invalidArgument("weight '" + name + "' contains " + (std::isnan(p[i]) ? "NaN" : "Inf") + " at element " +
                             std::to_string(i) + "; it cannot be quantized (--exclude its layer)");
    }
  }
  QuantParams params = paramsFromRanges(lo, hi, spec);
  params.block_size = layout.block_size;
  params.scale_shape = layout.scale_shape;
  return params;
}

Status computeWeightParams(QuantTable& table) {
  for (const Value* v : table.values()) {
    TensorQuant& q = *table.find(v);
    if (q.role != QuantRoleOfValue::kWeight) continue;
    VITQ_ASSIGN_OR_RETURN(q.params, minMaxWeightParams(v->initializer(), q.spec, v->name()));
  }
  return Status::ok();
}

}  // namespace vitq
