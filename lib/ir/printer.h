// Human-readable dump of a graph in a syntax close to ONNX's textual format, for
// `vitq inspect --print-ir` and for test failure messages.
#pragma once

#include <ostream>
#include <string>

#include "ir/graph.h"

namespace vitq {

void printGraph(const Graph& graph, std::ostream& os, int indent = 0);
std::string graphToString(const Graph& graph);

}  // namespace vitq
