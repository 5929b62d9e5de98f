// Layers as mixed precision sees them. A unit is one planned compute node with the table entries
// it owns (its weight and bias) and the activations it reads and writes; a precision per unit
// (float, the base configuration, or a higher rung) composes a QuantTable.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "quant/quant_table.h"

namespace vitq {

struct QuantUnit {
  std::string node;
  std::string op;
  const Value* weight = nullptr;  // null for activation x activation MatMuls
  const Value* bias = nullptr;
  std::vector<const Value*> activations;  // planned inputs and output
};

/// The units of \p table's plan over \p graph, in graph order.
std::vector<QuantUnit> quantUnits(const Graph& graph, const QuantTable& table);

/// Precision of each unit: kFloatLevel, or an index into the rung tables (0 = the base configuration,
/// higher = more bits).
constexpr int kFloatLevel = -1;
using UnitLevels = std::vector<int>;

/// The table for \p levels: each unit's weight from the rung table of its level, each activation
/// from the highest level among the non-float units that touch it (absent if all are float), a
/// bias only where its weight and input are both quantized. All rung tables key the same values.
QuantTable composeTable(const std::vector<QuantUnit>& units, const UnitLevels& levels,
                        const std::vector<const QuantTable*>& rungs);

/// \p table restricted to the values \p keep accepts (biases also need their input and weight).
QuantTable selectEntries(const QuantTable& table, const std::vector<const Value*>& keep);

/// \p table re-keyed onto the same-named values of \p target (a copy of the graph it was made on).
StatusOr<QuantTable> remapTable(const QuantTable& table, const Graph& target);

}  // namespace vitq
