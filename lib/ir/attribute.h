// Node attributes: a typed value per name, in the order the model declared them.
// Kinds vitq never interprets (sparse tensors, type protos, references to function attributes)
// are kept as the serialized AttributeProto so that export gives them back unchanged.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ir/tensor.h"

namespace vitq {

class Graph;

enum class AttributeKind { kFloat, kInt, kString, kTensor, kGraph, kFloats, kInts, kStrings, kTensors, kGraphs, kOpaque };

const char* attributeKindName(AttributeKind kind);

struct Attribute {
  AttributeKind kind = AttributeKind::kInt;
  float f = 0.0f;
  int64_t i = 0;
  std::string s;  // kString; for kOpaque the serialized AttributeProto
  Tensor t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::unique_ptr<Graph>> graphs;  // one for kGraph, several for kGraphs
  std::string doc_string;

  Attribute();
  ~Attribute();
  Attribute(Attribute&&) noexcept;
  Attribute& operator=(Attribute&&) noexcept;

  static Attribute makeFloat(float v);
  static Attribute makeInt(int64_t v);
  static Attribute makeString(std::string v);
  static Attribute makeFloats(std::vector<float> v);
  static Attribute makeInts(std::vector<int64_t> v);
  static Attribute makeTensor(Tensor v);
};

/// Name-ordered list of attributes (declaration order is kept for faithful export).
class Attributes {
 public:
  bool has(const std::string& name) const { return find(name) != nullptr; }
  const Attribute* find(const std::string& name) const;
  Attribute* find(const std::string& name);
  void set(const std::string& name, Attribute value);
  bool erase(const std::string& name);

  std::optional<int64_t> getInt(const std::string& name) const;
  std::optional<float> getFloat(const std::string& name) const;
  std::optional<std::string> getString(const std::string& name) const;
  std::optional<std::vector<int64_t>> getInts(const std::string& name) const;
  std::optional<std::vector<float>> getFloats(const std::string& name) const;
  const Tensor* getTensor(const std::string& name) const;

  int64_t intOr(const std::string& name, int64_t fallback) const { return getInt(name).value_or(fallback); }
  float floatOr(const std::string& name, float fallback) const { return getFloat(name).value_or(fallback); }
  std::string stringOr(const std::string& name, std::string fallback) const {
    return getString(name).value_or(std::move(fallback));
  }

  size_t size() const { return items_.size(); }
  auto begin() { return items_.begin(); }
  auto end() { return items_.end(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::pair<std::string, Attribute>> items_;
};

}  // namespace vitq
