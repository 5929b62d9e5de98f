#include "ir/attribute.h"

#include "ir/graph.h"

namespace vitq {

const char* attributeKindName(AttributeKind kind) {
  switch (kind) {
    case AttributeKind::kFloat: return "float";
    case AttributeKind::kInt: return "int";
    case AttributeKind::kString: return "string";
    case AttributeKind::kTensor: return "tensor";
    case AttributeKind::kGraph: return "graph";
    case AttributeKind::kFloats: return "floats";
    case AttributeKind::kInts: return "ints";
    case AttributeKind::kStrings: return "strings";
    case AttributeKind::kTensors: return "tensors";
    case AttributeKind::kGraphs: return "graphs";
    case AttributeKind::kOpaque: return "opaque";
  }
  return "unknown";
}

Attribute::Attribute() = default;
Attribute::~Attribute() = default;
Attribute::Attribute(Attribute&&) noexcept = default;
Attribute& Attribute::operator=(Attribute&&) noexcept = default;

Attribute Attribute::makeFloat(float v) {
  Attribute a;
  a.kind = AttributeKind::kFloat;
  a.f = v;
  return a;
}
Attribute Attribute::makeInt(int64_t v) {
  Attribute a;
  a.kind = AttributeKind::kInt;
  a.i = v;
  return a;
}
Attribute Attribute::makeString(std::string v) {
  Attribute a;
  a.kind = AttributeKind::kString;
  a.s = std::move(v);
  return a;
}
Attribute Attribute::makeFloats(std::vector<float> v) {
  Attribute a;
  a.kind = AttributeKind::kFloats;
  a.floats = std::move(v);
  return a;
}
Attribute Attribute::makeInts(std::vector<int64_t> v) {
  Attribute a;
  a.kind = AttributeKind::kInts;
  a.ints = std::move(v);
  return a;
}
Attribute Attribute::makeTensor(Tensor v) {
  Attribute a;
  a.kind = AttributeKind::kTensor;
  a.t = std::move(v);
  return a;
}

const Attribute* Attributes::find(const std::string& name) const {
  for (const auto& [n, a] : items_) {
    if (n == name) return &a;
  }
  return nullptr;
}

Attribute* Attributes::find(const std::string& name) {
  for (auto& [n, a] : items_) {
    if (n == name) return &a;
  }
  return nullptr;
}

void Attributes::set(const std::string& name, Attribute value) {
  if (Attribute* existing = find(name)) {
    *existing = std::move(value);
  } else {
    items_.emplace_back(name, std::move(value));
  }
}

bool Attributes::erase(const std::string& name) {
  for (auto it = items_.begin(); it != items_.end(); ++it) {
    if (it->first == name) {
      items_.erase(it);
      return true;
    }
  }
  return false;
}

std::optional<int64_t> Attributes::getInt(const std::string& name) const {
  const Attribute* a = find(name);
  if (!a || a->kind != AttributeKind::kInt) return std::nullopt;
  return a->i;
}

std::optional<float> Attributes::getFloat(const std::string& name) const {
  const Attribute* a = find(name);
  if (!a || a->kind != AttributeKind::kFloat) return std::nullopt;
  return a->f;
}

std::optional<std::string> Attributes::getString(const std::string& name) const {
  const Attribute* a = find(name);
  if (!a || a->kind != AttributeKind::kString) return std::nullopt;
  return a->s;
}

std::optional<std::vector<int64_t>> Attributes::getInts(const std::string& name) const {
  const Attribute* a = find(name);
  if (!a || a->kind != AttributeKind::kInts) return std::nullopt;
  return a->ints;
}

std::optional<std::vector<float>> Attributes::getFloats(const std::string& name) const {
  const Attribute* a = find(name);
  if (!a || a->kind != AttributeKind::kFloats) return std::nullopt;
  return a->floats;
}

const Tensor* Attributes::getTensor(const std::string& name) const {
  const Attribute* a = find(name);
  if (!a || a->kind != AttributeKind::kTensor) return nullptr;
  return &a->t;
}

}  // namespace vitq
