#include "pattern/transformer_patterns.h"

#include <algorithm>
#include <optional>
#include <unordered_set>

#include "pattern/match_utils.h"

namespace vitq {
namespace {

// Reduction over the last axis only (attribute, or input since opset 18).
bool reducesLastAxis(const Node& reduce) {
  std::vector<int64_t> axes;
  if (auto a = reduce.attrs().getInts("axes")) axes = *a;
  else if (reduce.numInputs() > 1 && reduce.input(1) && reduce.input(1)->isConstant()) {
    axes = reduce.input(1)->initializer().toInt64Vector();
  }
  if (axes.size() != 1) return false;
  if (axes[0] == -1) return true;
  const Value* x = reduce.input(0);
  return x->type().dims && axes[0] == static_cast<int64_t>(x->type().dims->size()) - 1;
}

// mean = ReduceMean(x); d = Sub(x, mean); var = ReduceMean(Pow(d, 2) | Mul(d, d));
// y = d / Sqrt(var + eps)  or  d * Reciprocal(Sqrt(var + eps)); then optional Mul(gamma), Add(beta).
std::optional<LayerNormMatch> matchDecomposed(Node* mean) {
  if (!mean->is("ReduceMean") || !reducesLastAxis(*mean)) return std::nullopt;
  Value* x = mean->input(0);
  Node* sub = nullptr;
  for (Node* n : usersOf(mean->output(0))) {
    if (n->is("Sub") && n->input(0) == x && n->input(1) == mean->output(0)) sub = n;
  }
  if (!sub) return std::nullopt;
  Value* d = sub->output(0);
  Node* square = nullptr;
  for (Node* n : usersOf(d)) {
    if ((n->is("Pow") && n->input(0) == d && isConstantNear(n->input(1), 2.0)) ||
        (n->is("Mul") && n->input(0) == d && n->input(1) == d)) {
      square = n;
    }
  }
  if (!square) return std::nullopt;
  Node* var = soleUser(square->output(0));
  if (!var || !var->is("ReduceMean") || !reducesLastAxis(*var)) return std::nullopt;
  Node* add_eps = soleUser(var->output(0));
  if (!add_eps || !add_eps->is("Add")) return std::nullopt;
  auto eps = scalarConstant(otherOperand(add_eps, var->output(0)));
  if (!eps || *eps < 0 || *eps > 1e-1) return std::nullopt;
  Node* sqrt = soleUser(add_eps->output(0));
  if (!sqrt || !sqrt->is("Sqrt")) return std::nullopt;
  LayerNormMatch m;
  m.input = x;
  m.epsilon = *eps;
  m.nodes = {mean, sub, square, var, add_eps, sqrt};
  Node* norm = nullptr;
  Node* after_sqrt = soleUser(sqrt->output(0));
  if (after_sqrt && after_sqrt->is("Div") && after_sqrt->input(0) == d) {
    norm = after_sqrt;
  } else if (after_sqrt && after_sqrt->is("Reciprocal")) {
    Node* mul = soleUser(after_sqrt->output(0));
    if (!mul || !mul->is("Mul") || otherOperand(mul, after_sqrt->output(0)) != d) return std::nullopt;
    m.nodes.push_back(after_sqrt);
    norm = mul;
  } else {
    return std::nullopt;
  }
  // d feeds exactly the square and the normalization.
  if (usersOf(d).size() != 2) return std::nullopt;
  m.nodes.push_back(norm);
  m.output = norm->output(0);
  if (Node* mul = soleUser(m.output); mul && mul->is("Mul")) {
    Value* g = otherOperand(mul, m.output);
    if (g && g->isConstant()) {
      m.gamma = g;
      m.nodes.push_back(mul);
      m.output = mul->output(0);
    }
  }
  if (Node* add = soleUser(m.output); add && add->is("Add")) {
    Value* b = otherOperand(add, m.output);
    if (b && b->isConstant()) {
      m.beta = b;
      m.nodes.push_back(add);
      m.output = add->output(0);
    }
  }
  return m;
}

// Given the "1 + erf(..)" or "1 + tanh(..)" value, finds x * 0.5 * (that) in its three orders.
bool matchGeluTail(Value* x, Node* add_one, GeluMatch& m) {
  Value* a = add_one->output(0);
  Node* mul = soleUser(a);
  if (!mul || !mul->is("Mul")) return false;
  Value* other = otherOperand(mul, a);
  if (other == x) {  // (x * (1 + erf)) * 0.5
    Node* half = soleUser(mul->output(0));
    if (!half || !half->is("Mul") || !isConstantNear(otherOperand(half, mul->output(0)), 0.5)) return false;
    m.nodes.insert(m.nodes.end(), {add_one, mul, half});
    m.output = half->output(0);
    return true;
  }
  if (isConstantNear(other, 0.5)) {  // x * ((1 + erf) * 0.5)
    Node* outer = soleUser(mul->output(0));
    if (!outer || !outer->is("Mul") || otherOperand(outer, mul->output(0)) != x) return false;
    m.nodes.insert(m.nodes.end(), {add_one, mul, outer});
    m.output = outer->output(0);
    return true;
  }
  if (Node* half = producedBy(other, "Mul")) {  // (x * 0.5) * (1 + erf)
    if (otherOperand(half, x) && isConstantNear(otherOperand(half, x), 0.5) && soleUser(half->output(0)) == mul) {
      m.nodes.insert(m.nodes.end(), {half, add_one, mul});
      m.output = mul->output(0);
      return true;
    }
  }
  return false;
}

std::optional<GeluMatch> matchErfGelu(Node* erf) {
  Value* x = nullptr;
  Node* scale = erf->input(0) ? erf->input(0)->producer() : nullptr;
  if (!scale || soleUser(scale->output(0)) != erf) return std::nullopt;
  if (scale->is("Div") && isConstantNear(scale->input(1), 1.41421356)) x = scale->input(0);
  if (scale->is("Mul")) {
    if (isConstantNear(scale->input(1), 0.70710678)) x = scale->input(0);
    else if (isConstantNear(scale->input(0), 0.70710678)) x = scale->input(1);
  }
  if (!x) return std::nullopt;
  Node* add_one = soleUser(erf->output(0));
  if (!add_one || !add_one->is("Add") || !isConstantNear(otherOperand(add_one, erf->output(0)), 1.0)) {
    return std::nullopt;
  }
  GeluMatch m{"erf", x, nullptr, {scale, erf}};
  if (!matchGeluTail(x, add_one, m)) return std::nullopt;
  return m;
}

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): finds x as the Add operand that also feeds
// the cubic term.
std::optional<GeluMatch> matchTanhGelu(Node* tanh) {
  Node* scale = producedBy(tanh->input(0), "Mul");
  if (!scale) return std::nullopt;
  Value* inner = nullptr;
  if (isConstantNear(scale->input(0), 0.7978845608)) inner = scale->input(1);
  else if (isConstantNear(scale->input(1), 0.7978845608)) inner = scale->input(0);
  Node* add = producedBy(inner, "Add");
  if (!add) return std::nullopt;
  for (int side = 0; side < 2; ++side) {
    Value* x = add->input(side);
    Node* cubic = producedBy(add->input(1 - side), "Mul");
    if (!cubic) continue;
    Value* c = cubic->input(0);
    Value* p = cubic->input(1);
    if (!isConstantNear(c, 0.044715)) std::swap(c, p);
    if (!isConstantNear(c, 0.044715)) continue;
    Node* pow = p ? p->producer() : nullptr;
    if (!pow) continue;
    const bool cube = (pow->is("Pow") && pow->input(0) == x && isConstantNear(pow->input(1), 3.0)) ||
                      (pow->is("Mul") && (pow->input(0) == x || pow->input(1) == x));
    if (!cube) continue;
    Node* add_one = soleUser(tanh->output(0));
    if (!add_one || !add_one->is("Add") || !isConstantNear(otherOperand(add_one, tanh->output(0)), 1.0)) {
      return std::nullopt;
    }
    GeluMatch m{"tanh", x, nullptr, {pow, cubic, add, scale, tanh}};
    if (pow->is("Mul") && pow->input(0) != pow->input(1)) {
      Value* sq = pow->input(0) == x ? pow->input(1) : pow->input(0);
      if (Node* square = producedBy(sq, "Mul")) m.nodes.insert(m.nodes.begin(), square);
    }
    if (matchGeluTail(x, add_one, m)) return m;
  }
  return std::nullopt;
}

bool isMatMulLike(const Node* n) { return n && (n->is("MatMul") || n->is("Einsum")); }

// Ops allowed between the two attention MatMuls and the Softmax.
bool isAttentionGlue(const Node* n) {
  return n->is("Mul") || n->is("Div") || n->is("Add") || n->is("Where") || n->is("Cast") ||
         n->is("Reshape") || n->is("Dropout") || n->is("Identity");
}

}  // namespace

std::vector<LayerNormMatch> findLayerNorms(const Graph& graph) {
  std::vector<LayerNormMatch> out;
  for (const auto& node : graph.nodes()) {
    if (node->is("LayerNormalization")) {
      LayerNormMatch m;
      m.fused = true;
      m.input = node->input(0);
      m.output = node->output(0);
      m.gamma = node->input(1);
      m.beta = node->input(2);
      m.epsilon = node->attrs().floatOr("epsilon", 1e-5f);
      m.nodes = {node.get()};
      out.push_back(std::move(m));
    } else if (auto m = matchDecomposed(node.get())) {
      out.push_back(std::move(*m));
    }
  }
  return out;
}

std::vector<GeluMatch> findGelus(const Graph& graph) {
  std::vector<GeluMatch> out;
  for (const auto& node : graph.nodes()) {
    const std::string& op = node->opType();
    if (node->domain().empty() && op == "Gelu") {
      const std::string approx = node->attrs().stringOr("approximate", "none");
      out.push_back({approx == "tanh" ? "Gelu(tanh)" : "Gelu", node->input(0), node->output(0), {node.get()}});
    } else if (node->domain() == "com.microsoft" && (op == "Gelu" || op == "FastGelu" || op == "BiasGelu")) {
      out.push_back({"com.microsoft." + op, node->input(0), node->output(0), {node.get()}});
    } else if (node->is("Erf")) {
      if (auto m = matchErfGelu(node.get())) out.push_back(std::move(*m));
    } else if (node->is("Tanh")) {
      if (auto m = matchTanhGelu(node.get())) out.push_back(std::move(*m));
    }
  }
  return out;
}

std::vector<AttentionMatch> findAttention(const Graph& graph) {
  std::vector<AttentionMatch> out;
  for (const auto& node : graph.nodes()) {
    if (!node->is("Softmax")) continue;
    AttentionMatch m;
    m.softmax = node.get();
    // Backward: through scale / mask / cast to the scores MatMul.
    Value* v = node->input(0);
    for (int step = 0; step < 6 && v && v->producer(); ++step) {
      Node* p = v->producer();
      if (isMatMulLike(p)) {
        m.scores_matmul = p;
        break;
      }
      if (!isAttentionGlue(p)) break;
      m.between.push_back(p);
      Value* next = nullptr;
      for (Value* in : p->inputs()) {  // follow the operand that leads to a MatMul, else the first non-constant
        if (!in || in->isConstant()) continue;
        if (!next || isMatMulLike(in->producer())) next = in;
      }
      v = next;
    }
    // Forward: through casts/dropout to the MatMul that reads the probabilities as its first input.
    Value* p_out = node->output(0);
    for (int step = 0; step < 4 && p_out; ++step) {
      Node* user = soleUser(p_out);
      if (!user) break;
      if (isMatMulLike(user)) {
        m.context_matmul = user;
        break;
      }
      if (!(user->is("Cast") || user->is("Dropout") || user->is("Identity") || user->is("Reshape"))) break;
      m.between.push_back(user);
      p_out = user->output(0);
    }
    if (m.scores_matmul && m.context_matmul) out.push_back(std::move(m));
  }
  return out;
}

}  // namespace vitq
