// Node: one operator application. Inputs may be nullptr (an omitted optional input, "" in ONNX);
// outputs are owned by the graph and may be nullptr (an omitted optional output).
#pragma once

#include <list>
#include <memory>
#include <string>
#include <vector>

#include "ir/attribute.h"
#include "ir/value.h"

namespace vitq {

class Node {
 public:
  NodeId id() const { return id_; }
  const std::string& opType() const { return op_type_; }
  /// "" for the default ai.onnx domain.
  const std::string& domain() const { return domain_; }
  const std::string& name() const { return name_; }
  void setName(std::string name) { name_ = std::move(name); }
  Graph* owner() const { return owner_; }

  size_t numInputs() const { return inputs_.size(); }
  Value* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  const std::vector<Value*>& inputs() const { return inputs_; }
  size_t numOutputs() const { return outputs_.size(); }
  Value* output(size_t i) const { return i < outputs_.size() ? outputs_[i] : nullptr; }
  const std::vector<Value*>& outputs() const { return outputs_; }

  Attributes& attrs() { return attrs_; }
  const Attributes& attrs() const { return attrs_; }
  /// Subgraphs held by graph attributes (If branches, Loop/Scan bodies).
  std::vector<Graph*> subgraphs() const;

  bool is(const char* op_type) const { return domain_.empty() && op_type_ == op_type; }
  /// "'name' (OpType)" for messages; uses the first output's name when the node has none.
  std::string describe() const;

  std::string doc_string;
  /// Serialized fields of the NodeProto that this onnx version does not know, given back on export.
  std::string unknown_fields;

 private:
  friend class Graph;
  NodeId id_ = 0;
  std::string op_type_;
  std::string domain_;
  std::string name_;
  Graph* owner_ = nullptr;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
  Attributes attrs_;
  std::list<std::unique_ptr<Node>>::iterator position_;
};

}  // namespace vitq
