#include "passes/mixed/quant_units.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "quant/op_rules.h"

namespace vitq {
namespace {

// The entries of \p values (in \p order's order) from \p source, with biases kept only when their
// input activation and weight are kept too (their scale is the product of those two).
QuantTable copyEntries(const std::vector<const Value*>& order,
                       const std::unordered_map<const Value*, const QuantTable*>& source) {
  QuantTable out;
  for (const Value* v : order) {
    auto it = source.find(v);
    if (it == source.end()) continue;
    const TensorQuant& q = *it->second->find(v);
    if (q.role == QuantRoleOfValue::kBias && (!source.count(q.bias_input) || !source.count(q.bias_weight))) continue;
    out.set(v, q);
  }
  return out;
}

}  // namespace

std::vector<QuantUnit> quantUnits(const Graph& graph, const QuantTable& table) {
  std::vector<QuantUnit> units;
  for (const auto& node : graph.nodes()) {
    if (quantRole(*node) != QuantRole::kCompute) continue;
    QuantUnit unit{node->name(), node->opType(), nullptr, nullptr, {}};
    auto consider = [&](const Value* v) {
      const TensorQuant* q = v ? table.find(v) : nullptr;
      if (!q) return;
      if (q->role == QuantRoleOfValue::kWeight) unit.weight = v;
      else if (q->role == QuantRoleOfValue::kBias) unit.bias = v;
      else if (std::find(unit.activations.begin(), unit.activations.end(), v) == unit.activations.end())
        unit.activations.push_back(v);
    };
    for (size_t i = 0; i < node->numInputs(); ++i) consider(node->input(i));
    if (!unit.weight && unit.activations.empty()) continue;  // excluded from the plan
    consider(node->output(0));
    units.push_back(std::move(unit));
  }
  return units;
}

QuantTable composeTable(const std::vector<QuantUnit>& units, const UnitLevels& levels,
                        const std::vector<const QuantTable*>& rungs) {
  std::unordered_map<const Value*, int> level_of;
  for (size_t u = 0; u < units.size(); ++u) {
    const int level = levels[u];
    if (level == kFloatLevel) continue;
    for (const Value* v : {units[u].weight, units[u].bias}) {
      if (v) level_of[v] = level;
    }
    for (const Value* a : units[u].activations) {
      auto [it, inserted] = level_of.emplace(a, level);
      if (!inserted) it->second = std::max(it->second, level);
    }
  }
  std::unordered_map<const Value*, const QuantTable*> source;
  for (const auto& [v, level] : level_of) source[v] = rungs.at(static_cast<size_t>(level));
  return copyEntries(rungs.at(0)->values(), source);
}

QuantTable selectEntries(const QuantTable& table, const std::vector<const Value*>& keep) {
  std::unordered_map<const Value*, const QuantTable*> source;
  for (const Value* v : keep) {
    if (table.has(v)) source[v] = &table;
  }
  return copyEntries(table.values(), source);
}

StatusOr<QuantTable> remapTable(const QuantTable& table, const Graph& target) {
  auto find = [&target](const Value* v) -> StatusOr<const Value*> {
    if (!v) return static_cast<const Value*>(nullptr);
    const Value* mapped = target.findValue(v->name());
    if (!mapped) return internalError("the copied graph lacks the quantized value '" + v->name() + "'");
    return mapped;
  };
  QuantTable out;
  for (const Value* v : table.values()) {
    TensorQuant q = *table.find(v);
    VITQ_ASSIGN_OR_RETURN(const Value* mapped, find(v));
    VITQ_ASSIGN_OR_RETURN(q.bias_input, find(q.bias_input));
    VITQ_ASSIGN_OR_RETURN(q.bias_weight, find(q.bias_weight));
    out.set(mapped, std::move(q));
  }
  return out;
}

}  // namespace vitq
