#include "passes/ptq/reconstruction_check.h"

#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "autodiff/block_gradients.h"

namespace vitq {
namespace {

// The values a block learns, as learnBlockRounding chooses them (a weight shared with an earlier
// block is learned there).
std::vector<const Value*> learnedValues(const ReconstructionBlock& block, const QuantTable& table,
                                        const ReconstructionOptions& o, std::unordered_set<const Value*>& done) {
  std::vector<const Value*> out;
  for (const Node* node : block.nodes) {
    for (const Value* v : node->inputs()) {
      if (v && learnableWeight(v, table.find(v)) && done.insert(v).second) out.push_back(v);
    }
    if (!o.quantize_activations || !o.learn_activation_scales) continue;
    for (const Value* v : node->outputs()) {
      const TensorQuant* q = v ? table.find(v) : nullptr;
      if (q && q->role == QuantRoleOfValue::kActivation && q->spec.scheme == QuantScheme::kUniform && q->spec.axis < 0) {
        out.push_back(v);
      }
    }
  }
  return out;
}

// " --exclude a --exclude b": the named nodes of \p block that read a weight of \p learned and
// whose output reaches \p target's inputs through float values (as its gradient would go back).
std::string feedingLayers(const ReconstructionBlock& block, const std::vector<const Value*>& learned,
                          const Node* target) {
  const std::unordered_set<const Value*> wanted(learned.begin(), learned.end());
  std::unordered_map<const Value*, std::set<const Node*>> feeders;  // value -> layers upstream of it
  std::set<const Node*> found;
  for (const Node* node : block.nodes) {
    std::set<const Node*> up;
    for (const Value* v : node->inputs()) {
      if (!v || !holdsFloat(v)) continue;
      if (wanted.count(v) && v->isConstant()) up.insert(node);
      if (auto it = feeders.find(v); it != feeders.end()) up.insert(it->second.begin(), it->second.end());
    }
    if (node == target) {
      found = up;
      break;
    }
    for (const Value* v : node->outputs()) {
      if (v) feeders[v] = up;
    }
  }
  std::set<std::string> names;  // sorted, without repeats
  for (const Node* n : found) {
    if (!n->name().empty()) names.insert(n->name());
  }
  std::string out;
  for (const std::string& name : names) out += " --exclude " + name;
  return out;
}

}  // namespace

Status checkReconstructible(const std::vector<ReconstructionBlock>& blocks, const QuantTable& table,
                            const ReconstructionOptions& options) {
  std::unordered_set<const Value*> done;
  for (const ReconstructionBlock& block : blocks) {
    if (!block.output) return invalidArgument("block '" + block.name + "' has no output");
    const std::vector<const Value*> learned = learnedValues(block, table, options, done);
    if (learned.empty()) continue;
    const Node* missing = firstNodeWithoutVjp(block.nodes, learned, {block.output});
    if (!missing) continue;
    const std::string layers = feedingLayers(block, learned, missing);
    return unsupported(noVjpMessage(*missing) + "; reconstruction cannot pass through it (--reconstruct none" +
                       (layers.empty() ? "" : ", or keep the layers that feed it in float:" + layers) + ")");
  }
  return Status::ok();
}

}  // namespace vitq
