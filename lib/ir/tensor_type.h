// Static type of a Value: element type plus a shape whose dims may be unknown or symbolic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/dtype.h"

namespace vitq {

struct Dim {
  int64_t value = -1;  // >= 0 when known
  std::string param;   // symbolic name ("batch"), may be empty when unknown

  bool isKnown() const { return value >= 0; }
  static Dim known(int64_t v) { return Dim{v, {}}; }
  static Dim symbolic(std::string name) { return Dim{-1, std::move(name)}; }
  bool operator==(const Dim& o) const { return value == o.value && param == o.param; }
};

struct TensorType {
  DataType dtype = DataType::kUndefined;
  std::optional<std::vector<Dim>> dims;  // nullopt: rank unknown

  bool hasRank() const { return dims.has_value(); }
  bool isFullyKnown() const;
  /// "float[N,3,48,?]" style text.
  std::string toString() const;
};

}  // namespace vitq
