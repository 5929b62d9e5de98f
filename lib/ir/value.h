// Value: an SSA edge. Produced by at most one node (or a graph input / initializer), used by any
// number of (node, input index) pairs. Only Graph mutates a Value, so use-lists stay symmetric.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/tensor.h"
#include "ir/tensor_type.h"

namespace vitq {

class Graph;
class Node;

using ValueId = uint64_t;
using NodeId = uint64_t;

struct Use {
  Node* user = nullptr;
  size_t index = 0;  // which input of user
  bool operator==(const Use& o) const { return user == o.user && index == o.index; }
};

class Value {
 public:
  ValueId id() const { return id_; }
  const std::string& name() const { return name_; }
  Graph* owner() const { return owner_; }

  /// The node computing this value; nullptr for graph inputs, initializers and undefined values.
  Node* producer() const { return producer_; }
  size_t producerIndex() const { return producer_index_; }
  const std::vector<Use>& uses() const { return uses_; }
  bool hasUses() const { return !uses_.empty(); }

  TensorType& type() { return type_; }
  const TensorType& type() const { return type_; }
  /// True when the model file declared this type (input, output or value_info); inferred types
  /// are used internally but not written back.
  bool typeDeclared() const { return type_declared_; }
  void setTypeDeclared(bool declared) { type_declared_ = declared; }
  /// Serialized TypeProto for non-tensor values (sequence, map, optional); empty for tensors.
  const std::string& opaqueType() const { return opaque_type_; }
  void setOpaqueType(std::string proto) { opaque_type_ = std::move(proto); }

  bool isGraphInput() const { return is_graph_input_; }
  bool isInitializer() const { return initializer_.has_value(); }
  /// An initializer that no caller can override (not also listed as a graph input).
  bool isConstant() const { return isInitializer() && !is_graph_input_; }
  const Tensor& initializer() const { return *initializer_; }
  /// Value is defined: produced by a node, a graph input or an initializer.
  bool isDefined() const { return producer_ || is_graph_input_ || isInitializer(); }

  /// Declared doc string of the value's value_info, kept for export.
  std::string doc_string;

 private:
  friend class Graph;
  friend struct GraphTestAccess;  // tests corrupt use-lists to exercise the verifier
  ValueId id_ = 0;
  std::string name_;
  Graph* owner_ = nullptr;
  Node* producer_ = nullptr;
  size_t producer_index_ = 0;
  std::vector<Use> uses_;
  TensorType type_;
  bool type_declared_ = false;
  std::string opaque_type_;
  bool is_graph_input_ = false;
  std::optional<Tensor> initializer_;
};

}  // namespace vitq
