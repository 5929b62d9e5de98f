// Gives every unnamed node a name ("<OpType>_<n>", unique in the graph): per-layer choices
// (--layer-bits, the budget search's float layers, reports) address layers by node name.
#pragma once

#include <cstddef>

#include "ir/graph.h"

namespace vitq {

/// Returns how many nodes were named. Deterministic: graph order.
size_t nameUnnamedNodes(Graph& graph);

}  // namespace vitq
