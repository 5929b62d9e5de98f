// QuantTable: the side table of quantization decisions, keyed by Value. The graph stays float
// until materialize-qdq turns the table into QuantizeLinear/DequantizeLinear nodes.
#pragma once

#include <unordered_map>
#include <vector>

#include "ir/value.h"
#include "quant/quant_spec.h"

namespace vitq {

enum class QuantRoleOfValue { kActivation, kWeight, kBias };

struct TensorQuant {
  QuantRoleOfValue role = QuantRoleOfValue::kActivation;
  QuantSpec spec;
  QuantParams params;  // filled by calibration (activations) or from the data (weights, biases)
  // For a bias: the activation and weight whose scales multiply into the bias scale.
  const Value* bias_input = nullptr;
  const Value* bias_weight = nullptr;
};

class QuantTable {
 public:
  /// Adds or replaces \p v's decision; a replaced value keeps its place in the order.
  void set(const Value* v, TensorQuant q) {
    if (entries_.insert_or_assign(v, std::move(q)).second) order_.push_back(v);
  }
  bool has(const Value* v) const { return entries_.count(v) > 0; }
  const TensorQuant* find(const Value* v) const {
    auto it = entries_.find(v);
    return it == entries_.end() ? nullptr : &it->second;
  }
  TensorQuant* find(const Value* v) {
    auto it = entries_.find(v);
    return it == entries_.end() ? nullptr : &it->second;
  }
  /// Moves the decision for \p from to \p to (a pass put a node between a value and its readers).
  void rekey(const Value* from, const Value* to) {
    auto it = entries_.find(from);
    if (it == entries_.end()) return;
    entries_[to] = std::move(it->second);
    entries_.erase(from);
    for (auto& v : order_) {
      if (v == from) v = to;
    }
    for (auto& [value, q] : entries_) {  // biases name the activation whose scale they use
      if (q.bias_input == from) q.bias_input = to;
    }
  }
  /// Values in the order they were added (deterministic iteration).
  const std::vector<const Value*>& values() const { return order_; }

 private:
  std::unordered_map<const Value*, TensorQuant> entries_;
  std::vector<const Value*> order_;
};

}  // namespace vitq
