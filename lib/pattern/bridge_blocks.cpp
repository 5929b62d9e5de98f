#include "pattern/bridge_blocks.h"

#include <algorithm>
#include <deque>
#include <unordered_map>
#include <unordered_set>

#include "pattern/transformer_patterns.h"

namespace vitq {
namespace {

bool isConv(const Node* n) { return n->is("Conv") || n->is("ConvTranspose"); }

bool isLayoutOp(const Node* n) {
  return n->is("Reshape") || n->is("Transpose") || n->is("Flatten") || n->is("Squeeze") ||
         n->is("Unsqueeze") || n->is("Split") || n->is("Slice");
}

// Ops a bridge may pass through without ending it.
bool isPassThrough(const Node* n) {
  static const char* kOps[] = {"Relu", "HardSwish", "HardSigmoid", "Sigmoid", "Mul", "Add", "Clip",
                               "BatchNormalization", "Identity", "Dropout", "Cast", "Concat",
                               "Tanh", "Erf", "Div", "Gelu", "Pad"};
  if (isLayoutOp(n)) return true;
  return std::any_of(std::begin(kOps), std::end(kOps), [n](const char* op) { return n->is(op); });
}

struct Step {
  Node* node;
  std::vector<Node*> layout;
};

}  // namespace

const char* bridgeDirectionName(BridgeMatch::Direction d) {
  return d == BridgeMatch::Direction::kConvToTransformer ? "conv->transformer" : "transformer->conv";
}

std::vector<BridgeMatch> findBridges(const Graph& graph) {
  // Transformer-region nodes: every LayerNorm node and the attention MatMul-Softmax-MatMul.
  std::unordered_set<const Node*> token_ops;
  for (const auto& ln : findLayerNorms(graph)) token_ops.insert(ln.nodes.begin(), ln.nodes.end());
  for (const auto& a : findAttention(graph)) token_ops.insert({a.scores_matmul, a.softmax, a.context_matmul});
  constexpr int kMaxDepth = 12;
  std::vector<BridgeMatch> out;
  for (const auto& start : graph.nodes()) {
    if (!isConv(start.get())) continue;
    // Breadth-first from the conv, forward (conv -> transformer) then backward (transformer -> conv);
    // the closest token op reached through a layout change makes the bridge.
    for (int dir = 0; dir < 2; ++dir) {
      const bool forward = dir == 0;
      std::deque<Step> queue{{start.get(), {}}};
      std::unordered_map<const Node*, int> depth{{start.get(), 0}};
      bool found = false;
      while (!queue.empty() && !found) {
        Step s = queue.front();
        queue.pop_front();
        std::vector<Node*> next;
        if (forward) {
          for (Value* o : s.node->outputs()) {
            if (!o) continue;
            for (const Use& u : o->uses()) {
              if (u.user->owner() == &graph) next.push_back(u.user);
            }
          }
        } else {
          const size_t data_inputs = s.node == start.get() ? 1 : s.node->numInputs();
          for (size_t i = 0; i < data_inputs; ++i) {
            Value* in = s.node->input(i);
            if (in && in->producer()) next.push_back(in->producer());
          }
        }
        for (Node* n : next) {
          if (depth.count(n) || depth[s.node] >= kMaxDepth) continue;
          depth[n] = depth[s.node] + 1;
          if (token_ops.count(n)) {
            if (!s.layout.empty()) {
              found = true;
              BridgeMatch b;
              b.direction = forward ? BridgeMatch::Direction::kConvToTransformer
                                    : BridgeMatch::Direction::kTransformerToConv;
              b.conv = start.get();
              b.token_op = n;
              b.layout_ops = s.layout;
              if (!forward) std::reverse(b.layout_ops.begin(), b.layout_ops.end());
              out.push_back(std::move(b));
              break;
            }
            continue;  // stop at the first token op on this path
          }
          if (isConv(n) || !isPassThrough(n)) continue;
          Step t{n, s.layout};
          if (isLayoutOp(n)) t.layout.push_back(n);
          queue.push_back(std::move(t));
        }
      }
    }
  }
  return out;
}

}  // namespace vitq
