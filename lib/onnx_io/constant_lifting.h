// Turns ai.onnx `Constant` nodes into initializers, in this graph and every subgraph.
// Real exports (PP-OCR) keep every weight in a Constant; passes want them as initializers.
// Kept as nodes: sparse constants and Constants whose output is a graph output.
#pragma once

#include "ir/graph.h"

namespace vitq {

/// Returns how many Constant nodes became initializers.
size_t liftConstants(Graph& graph);

}  // namespace vitq
