#include "pattern/bridge_blocks.h"

#include <algorithm>
#include <deque>
#include <unordered_map>
#include <unordered_set>

#include "pattern/match_utils.h"
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

namespace {

std::vector<Node*> usersOf(const Node* n) {
  std::vector<Node*> users;
  for (const Value* o : n->outputs()) {
    if (!o) continue;
    for (const Use& u : o->uses()) users.push_back(u.user);
  }
  return users;
}

// Nodes reachable forward from \p start (inclusive), breadth first, at most \p limit steps.
std::vector<Node*> forwardFrom(Node* start, int limit) {
  std::vector<Node*> order{start};
  std::unordered_map<const Node*, int> depth{{start, 0}};
  for (size_t i = 0; i < order.size(); ++i) {
    if (depth[order[i]] >= limit) continue;
    for (Node* u : usersOf(order[i])) {
      if (depth.count(u)) continue;
      depth[u] = depth[order[i]] + 1;
      order.push_back(u);
    }
  }
  return order;
}

bool constantWeightLinear(const Node* n) {
  return (n->is("MatMul") || n->is("Gemm")) && n->input(1) && n->input(1)->isConstant();
}

// The value a conv -> transformer block ends at (see BridgeBlock).
Value* convToTransformerEnd(const Graph& graph, const BridgeMatch& b) {
  constexpr int kLimit = 64;
  const std::vector<Node*> reach = forwardFrom(b.token_op, kLimit);
  const Value* x = b.token_op->input(0);
  for (Node* n : reach) {
    if (n != b.token_op && n->is("Add") && std::find(n->inputs().begin(), n->inputs().end(), x) != n->inputs().end()) {
      return n->output(0);
    }
  }
  const std::unordered_set<const Node*> reached(reach.begin(), reach.end());
  for (const auto& a : findAttention(graph)) {
    if (!reached.count(a.scores_matmul)) continue;
    for (Node* n : forwardFrom(a.context_matmul, 8)) {
      if (!constantWeightLinear(n)) continue;
      Value* out = n->output(0);
      if (const Node* add = soleUser(out); n->is("MatMul") && add && add->is("Add")) {
        const Value* other = otherOperand(add, out);
        if (other && other->isConstant()) out = add->output(0);
      }
      return out;
    }
    return a.context_matmul->output(0);
  }
  return b.token_op->output(0);
}

}  // namespace

std::vector<BridgeBlock> findBridgeBlocks(const Graph& graph) {
  std::vector<BridgeBlock> blocks;
  for (const BridgeMatch& b : findBridges(graph)) {
    const bool forward = b.direction == BridgeMatch::Direction::kConvToTransformer;
    Node* start = forward ? b.conv : b.token_op;
    Value* end = forward ? convToTransformerEnd(graph, b) : b.conv->output(0);
    if (!end || !end->producer()) continue;
    // Descendants of the start that are ancestors of the end.
    std::unordered_set<const Node*> after;
    for (Node* n : forwardFrom(start, 1 << 30)) after.insert(n);
    std::unordered_set<const Node*> before;
    std::vector<Node*> stack{end->producer()};
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      if (!before.insert(n).second || n == start) continue;
      for (const Value* in : n->inputs()) {
        if (in && in->producer() && after.count(in->producer())) stack.push_back(in->producer());
      }
    }
    BridgeBlock block;
    block.bridge = b;
    block.output = end;
    std::unordered_set<const Value*> produced, seen;
    for (Node* n : graph.nodeList()) {
      if (!before.count(n) || !after.count(n)) continue;
      block.nodes.push_back(n);
      for (const Value* o : n->outputs()) {
        if (o) produced.insert(o);
      }
    }
    for (const Node* n : block.nodes) {
      for (const Value* in : n->inputs()) {
        if (in && !in->isConstant() && !produced.count(in) && seen.insert(in).second) block.inputs.push_back(in);
      }
    }
    blocks.push_back(std::move(block));
  }
  return blocks;
}

}  // namespace vitq
