// Graph: owns its nodes (kept in topological order) and values. Every mutation goes through the
// methods below so that use-lists, producers and the name index stay consistent; the verifier
// (verifier.h) checks those invariants. Subgraphs (If/Loop bodies) are Graphs whose parent is the
// graph of the node holding them; their nodes may use values of enclosing graphs.
#pragma once

#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "ir/node.h"
#include "ir/value.h"

namespace vitq {

class Graph {
 public:
  explicit Graph(Graph* parent = nullptr);
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  const std::string& name() const { return name_; }
  void setName(std::string name) { name_ = std::move(name); }
  Graph* parent() const { return parent_; }
  std::string doc_string;
  /// Serialized GraphProto fields vitq does not model (sparse initializers, quantization
  /// annotations, fields newer than this onnx), given back on export.
  std::string preserved_fields;

  // ---- values -------------------------------------------------------------------------------
  /// A new, undefined value named \p name (made unique if taken).
  Value* createValue(const std::string& name);
  Value* addInput(const std::string& name, TensorType type);
  Value* addInitializer(const std::string& name, Tensor tensor);
  /// Turns an existing value into an initializer (it must not be produced by a node).
  void setInitializer(Value* value, Tensor tensor);
  /// Lists an existing value among the graph inputs (IR < 4 models list initializers there).
  void markAsInput(Value* value);
  /// Removes an initializer from the graph inputs: it becomes a constant no caller can override.
  void unmarkInput(Value* value);
  void addOutput(Value* value);
  void setOutput(size_t index, Value* value);
  /// Erases a value that has no producer, no uses, and is neither input nor output.
  void eraseValue(Value* value);
  void renameValue(Value* value, const std::string& name);

  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  std::vector<Value*> initializers() const;
  std::vector<Value*> values() const;
  size_t numValues() const { return values_.size(); }
  bool isOutput(const Value* value) const;

  /// Mutable access to \p value, which this graph owns (a QuantTable's or a const traversal's key);
  /// nullptr for a value of another graph.
  Value* mutableValue(const Value* value);
  /// Value named \p name in this graph only, or nullptr.
  Value* findValue(const std::string& name) const;
  /// Value named \p name in this graph or an enclosing one, or nullptr.
  Value* lookup(const std::string& name) const;
  /// \p hint if no value of this graph or its ancestors uses it, else hint_1, hint_2, ...
  std::string uniqueName(const std::string& hint) const;

  // ---- nodes --------------------------------------------------------------------------------
  /// New node with \p num_outputs fresh output values named after the node, inserted before
  /// \p before (or at the end).
  Node* addNode(const std::string& op_type, const std::vector<Value*>& inputs, size_t num_outputs,
                const std::string& domain = "", Node* before = nullptr);
  /// New node with no inputs or outputs (the importer fills them with appendInput/appendOutput).
  Node* createNode(const std::string& op_type, const std::string& domain, const std::string& name,
                   Node* before = nullptr);
  void appendInput(Node* node, Value* value);
  /// Makes \p value (undefined, possibly nullptr for an omitted output) the next output of node.
  void appendOutput(Node* node, Value* value);
  void setInput(Node* node, size_t index, Value* value);
  /// Erases \p node; its outputs must be unused and not graph outputs.
  void eraseNode(Node* node);
  /// Redirects every use of \p from (graph outputs included) to \p to.
  void replaceAllUsesWith(Value* from, Value* to);
  /// Redirects the node uses of \p from to \p to, except those by \p keep (the node that now
  /// reads \p from to compute \p to); graph outputs keep \p from.
  void redirectUsesExcept(Value* from, Value* to, const Node* keep);
  void moveBefore(Node* node, Node* before);
  /// The node after \p node in order, or nullptr for the last.
  Node* nodeAfter(const Node* node) const;
  /// Reorders nodes topologically (stable); fails naming a node on a cycle.
  Status topologicalSort();

  const std::list<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  /// Snapshot of the node pointers, safe to iterate while erasing.
  std::vector<Node*> nodeList() const;
  size_t numNodes() const { return nodes_.size(); }

 private:
  void indexName(Value* value);
  void removeUse(Value* value, Node* user, size_t index);
  Value* newValue(const std::string& name);

  std::string name_;
  Graph* parent_;
  std::list<std::unique_ptr<Value>> values_;
  std::unordered_map<const Value*, std::list<std::unique_ptr<Value>>::iterator> value_pos_;
  std::unordered_map<std::string, Value*> by_name_;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
  std::list<std::unique_ptr<Node>> nodes_;  // declared after values_: destroyed first
};

/// ONNX model-level data around the main graph.
struct OpsetImport {
  std::string domain;  // "" is ai.onnx
  int64_t version = 0;
};

struct Model {
  int64_t ir_version = 8;
  std::vector<OpsetImport> opset_imports;
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  int64_t model_version = 0;
  std::string doc_string;
  std::vector<std::pair<std::string, std::string>> metadata_props;
  /// Model-local functions and training info are kept serialized and written back verbatim.
  std::vector<std::string> functions;
  std::vector<std::string> training_info;
  std::string unknown_fields;
  std::unique_ptr<Graph> graph = std::make_unique<Graph>();

  /// Opset version imported for \p domain ("" or "ai.onnx" for the default), 0 if none.
  int64_t opsetVersion(const std::string& domain_name) const;
};

}  // namespace vitq
