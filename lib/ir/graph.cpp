#include "ir/graph.h"

#include <algorithm>
#include <atomic>
#include <unordered_set>

#include "core/check.h"

namespace vitq {
namespace {

std::atomic<uint64_t> next_id{1};

}  // namespace

std::vector<Graph*> Node::subgraphs() const {
  std::vector<Graph*> out;
  for (const auto& [name, attr] : attrs_) {
    for (const auto& g : attr.graphs) out.push_back(g.get());
  }
  return out;
}

std::string Node::describe() const {
  std::string label = name_;
  if (label.empty() && !outputs_.empty() && outputs_[0]) label = "producing " + outputs_[0]->name();
  return "'" + label + "' (" + (domain_.empty() ? "" : domain_ + "::") + op_type_ + ")";
}

Graph::Graph(Graph* parent) : parent_(parent) {}

Graph::~Graph() {
  // Nodes of a subgraph may use values of enclosing graphs: drop those uses before dying.
  for (auto& node : nodes_) {
    for (size_t i = 0; i < node->inputs_.size(); ++i) {
      Value* v = node->inputs_[i];
      if (v && v->owner_ != this) removeUse(v, node.get(), i);
    }
  }
  nodes_.clear();
}

Value* Graph::newValue(const std::string& name) {
  auto value = std::make_unique<Value>();
  value->id_ = next_id++;
  value->owner_ = this;
  value->name_ = name;
  Value* raw = value.get();
  values_.push_back(std::move(value));
  value_pos_[raw] = std::prev(values_.end());
  indexName(raw);
  return raw;
}

void Graph::indexName(Value* value) {
  if (!value->name_.empty()) by_name_[value->name_] = value;
}

Value* Graph::createValue(const std::string& name) {
  return newValue(name.empty() ? std::string() : uniqueName(name));
}

Value* Graph::addInput(const std::string& name, TensorType type) {
  Value* v = createValue(name);
  v->type_ = std::move(type);
  v->type_declared_ = true;
  v->is_graph_input_ = true;
  inputs_.push_back(v);
  return v;
}

Value* Graph::addInitializer(const std::string& name, Tensor tensor) {
  Value* v = createValue(name);
  setInitializer(v, std::move(tensor));
  return v;
}

void Graph::setInitializer(Value* value, Tensor tensor) {
  VITQ_CHECK(value->owner_ == this && value->producer_ == nullptr)
      << "initializer '" << value->name_ << "' is produced by a node";
  TensorType type;
  type.dtype = tensor.dtype();
  std::vector<Dim> dims;
  for (int64_t d : tensor.shape()) dims.push_back(Dim::known(d));
  type.dims = std::move(dims);
  value->type_ = std::move(type);
  value->initializer_ = std::move(tensor);
}

void Graph::markAsInput(Value* value) {
  VITQ_CHECK(value->owner_ == this && !value->is_graph_input_) << "markAsInput";
  value->is_graph_input_ = true;
  inputs_.push_back(value);
}

void Graph::unmarkInput(Value* value) {
  VITQ_CHECK(value->owner_ == this && value->is_graph_input_ && value->isInitializer()) << "unmarkInput";
  value->is_graph_input_ = false;
  inputs_.erase(std::find(inputs_.begin(), inputs_.end(), value));
}

void Graph::addOutput(Value* value) { outputs_.push_back(value); }

void Graph::setOutput(size_t index, Value* value) {
  VITQ_CHECK(index < outputs_.size()) << "output index " << index;
  outputs_[index] = value;
}

bool Graph::isOutput(const Value* value) const {
  return std::find(outputs_.begin(), outputs_.end(), value) != outputs_.end();
}

void Graph::eraseValue(Value* value) {
  VITQ_CHECK(value->owner_ == this) << "eraseValue of a value owned by another graph";
  VITQ_CHECK(!value->producer_ && value->uses_.empty() && !isOutput(value))
      << "eraseValue of live value '" << value->name_ << "'";
  if (value->is_graph_input_) inputs_.erase(std::find(inputs_.begin(), inputs_.end(), value));
  auto named = by_name_.find(value->name_);
  if (named != by_name_.end() && named->second == value) by_name_.erase(named);
  auto pos = value_pos_.find(value);
  values_.erase(pos->second);
  value_pos_.erase(pos);
}

void Graph::renameValue(Value* value, const std::string& name) {
  auto named = by_name_.find(value->name_);
  if (named != by_name_.end() && named->second == value) by_name_.erase(named);
  value->name_ = name;
  indexName(value);
}

std::vector<Value*> Graph::initializers() const {
  std::vector<Value*> out;
  for (const auto& v : values_) {
    if (v->isInitializer()) out.push_back(v.get());
  }
  return out;
}

std::vector<Value*> Graph::values() const {
  std::vector<Value*> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v.get());
  return out;
}

Value* Graph::mutableValue(const Value* value) {
  auto it = value_pos_.find(value);
  return it == value_pos_.end() ? nullptr : it->second->get();
}

Value* Graph::findValue(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

Value* Graph::lookup(const std::string& name) const {
  for (const Graph* g = this; g; g = g->parent_) {
    if (Value* v = g->findValue(name)) return v;
  }
  return nullptr;
}

std::string Graph::uniqueName(const std::string& hint) const {
  const std::string base = hint.empty() ? std::string("v") : hint;
  if (!lookup(base)) return base;
  for (size_t i = 1;; ++i) {
    std::string candidate = base + "_" + std::to_string(i);
    if (!lookup(candidate)) return candidate;
  }
}

Node* Graph::createNode(const std::string& op_type, const std::string& domain,
                        const std::string& name, Node* before) {
  auto node = std::make_unique<Node>();
  node->id_ = next_id++;
  node->op_type_ = op_type;
  node->domain_ = domain;
  node->name_ = name;
  node->owner_ = this;
  Node* raw = node.get();
  auto where = before ? before->position_ : nodes_.end();
  VITQ_CHECK(!before || before->owner_ == this) << "insert before a node of another graph";
  raw->position_ = nodes_.insert(where, std::move(node));
  return raw;
}

Node* Graph::addNode(const std::string& op_type, const std::vector<Value*>& inputs,
                     size_t num_outputs, const std::string& domain, Node* before) {
  Node* node = createNode(op_type, domain, uniqueName(op_type), before);
  for (Value* v : inputs) appendInput(node, v);
  for (size_t i = 0; i < num_outputs; ++i) {
    appendOutput(node, createValue(node->name_ + "_out" + (num_outputs > 1 ? std::to_string(i) : "")));
  }
  return node;
}

void Graph::appendInput(Node* node, Value* value) {
  VITQ_CHECK(node->owner_ == this) << "appendInput on a node of another graph";
  node->inputs_.push_back(value);
  if (value) value->uses_.push_back(Use{node, node->inputs_.size() - 1});
}

void Graph::appendOutput(Node* node, Value* value) {
  VITQ_CHECK(node->owner_ == this) << "appendOutput on a node of another graph";
  if (value) {
    VITQ_CHECK(value->owner_ == this && !value->isDefined())
        << "value '" << value->name_ << "' is already defined";
    value->producer_ = node;
    value->producer_index_ = node->outputs_.size();
  }
  node->outputs_.push_back(value);
}

void Graph::removeUse(Value* value, Node* user, size_t index) {
  auto& uses = value->uses_;
  auto it = std::find(uses.begin(), uses.end(), Use{user, index});
  VITQ_CHECK(it != uses.end()) << "use-list of '" << value->name_ << "' misses a use";
  uses.erase(it);
}

void Graph::setInput(Node* node, size_t index, Value* value) {
  VITQ_CHECK(index < node->inputs_.size()) << "setInput index " << index;
  if (Value* old = node->inputs_[index]) removeUse(old, node, index);
  node->inputs_[index] = value;
  if (value) value->uses_.push_back(Use{node, index});
}

void Graph::eraseNode(Node* node) {
  VITQ_CHECK(node->owner_ == this) << "eraseNode of a node of another graph";
  for (Value* out : node->outputs_) {
    if (!out) continue;
    VITQ_CHECK(out->uses_.empty() && !isOutput(out))
        << "eraseNode " << node->describe() << ": output '" << out->name_ << "' is still used";
  }
  for (size_t i = 0; i < node->inputs_.size(); ++i) {
    if (node->inputs_[i]) removeUse(node->inputs_[i], node, i);
  }
  node->inputs_.clear();
  for (Value* out : node->outputs_) {
    if (!out) continue;
    out->producer_ = nullptr;
    eraseValue(out);
  }
  nodes_.erase(node->position_);
}

void Graph::redirectUsesExcept(Value* from, Value* to, const Node* keep) {
  const std::vector<Use> uses = from->uses_;
  for (const Use& u : uses) {
    if (u.user != keep) u.user->owner_->setInput(u.user, u.index, to);
  }
}

void Graph::replaceAllUsesWith(Value* from, Value* to) {
  if (from == to) return;
  const std::vector<Use> uses = from->uses_;
  for (const Use& u : uses) u.user->owner_->setInput(u.user, u.index, to);
  for (auto& out : outputs_) {
    if (out == from) out = to;
  }
}

void Graph::moveBefore(Node* node, Node* before) {
  VITQ_CHECK(node->owner_ == this && before->owner_ == this) << "moveBefore across graphs";
  nodes_.splice(before->position_, nodes_, node->position_);
}

Node* Graph::nodeAfter(const Node* node) const {
  VITQ_CHECK(node->owner_ == this) << "nodeAfter of a node of another graph";
  auto next = std::next(node->position_);
  return next == nodes_.end() ? nullptr : next->get();
}

std::vector<Node*> Graph::nodeList() const {
  std::vector<Node*> out;
  out.reserve(nodes_.size());
  for (const auto& n : nodes_) out.push_back(n.get());
  return out;
}

namespace {

// Values of this graph that \p node (and the subgraphs it holds) read.
void collectLocalInputs(const Node* node, const Graph* graph, std::vector<const Value*>& out) {
  for (const Value* v : node->inputs()) {
    if (v && v->owner() == graph) out.push_back(v);
  }
  for (const Graph* sub : node->subgraphs()) {
    for (const auto& inner : sub->nodes()) collectLocalInputs(inner.get(), graph, out);
  }
}

}  // namespace

Status Graph::topologicalSort() {
  // Kahn's algorithm, stable: among ready nodes the earliest in the current order goes first.
  std::vector<Node*> order = nodeList();
  std::unordered_map<const Node*, size_t> position;
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
  std::vector<size_t> pending(order.size(), 0);
  std::vector<std::vector<size_t>> dependents(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    std::vector<const Value*> reads;
    collectLocalInputs(order[i], this, reads);
    std::unordered_set<const Node*> producers;
    for (const Value* v : reads) {
      if (v->producer() && v->producer()->owner() == this) producers.insert(v->producer());
    }
    for (const Node* p : producers) {
      if (p == order[i]) return invalidModel("node " + order[i]->describe() + " uses its own output");
      dependents[position[p]].push_back(i);
      ++pending[i];
    }
  }
  std::vector<size_t> ready;
  for (size_t i = 0; i < order.size(); ++i) {
    if (pending[i] == 0) ready.push_back(i);
  }
  std::vector<Node*> sorted;
  sorted.reserve(order.size());
  // A min-heap on position keeps the original order wherever it is already valid.
  auto later = [](size_t a, size_t b) { return a > b; };
  std::make_heap(ready.begin(), ready.end(), later);
  while (!ready.empty()) {
    std::pop_heap(ready.begin(), ready.end(), later);
    size_t i = ready.back();
    ready.pop_back();
    sorted.push_back(order[i]);
    for (size_t d : dependents[i]) {
      if (--pending[d] == 0) {
        ready.push_back(d);
        std::push_heap(ready.begin(), ready.end(), later);
      }
    }
  }
  if (sorted.size() != order.size()) {
    for (size_t i = 0; i < order.size(); ++i) {
      if (pending[i] != 0) {
        return invalidModel("the graph has a cycle through node " + order[i]->describe());
      }
    }
  }
  for (Node* n : sorted) nodes_.splice(nodes_.end(), nodes_, n->position_);
  return Status::ok();
}

int64_t Model::opsetVersion(const std::string& domain_name) const {
  const bool want_default = domain_name.empty() || domain_name == "ai.onnx";
  for (const auto& op : opset_imports) {
    const bool is_default = op.domain.empty() || op.domain == "ai.onnx";
    if (want_default ? is_default : op.domain == domain_name) return op.version;
  }
  return 0;
}

}  // namespace vitq
