#include "passes/canonicalize/name_nodes.h"

#include <string>
#include <unordered_set>

namespace vitq {

size_t nameUnnamedNodes(Graph& graph) {
  std::unordered_set<std::string> taken;
  for (const auto& node : graph.nodes()) taken.insert(node->name());
  size_t named = 0, counter = 0;
  for (const auto& node : graph.nodes()) {
    if (!node->name().empty()) continue;
    std::string name;
    do {
      name = node->opType() + "_" + std::to_string(counter++);
    } while (taken.count(name));
    taken.insert(name);
    node->setName(name);
    ++named;
  }
  return named;
}

}  // namespace vitq
