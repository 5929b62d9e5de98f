#include "ir/tensor_type.h"

namespace vitq {

bool TensorType::isFullyKnown() const {
  if (!dims) return false;
  for (const Dim& d : *dims) {
    if (!d.isKnown()) return false;
  }
  return true;
}

std::string TensorType::toString() const {
  std::string s = dataTypeName(dtype);
  if (!dims) return s + "[...]";
  s += "[";
  for (size_t i = 0; i < dims->size(); ++i) {
    if (i) s += ",";
    const Dim& d = (*dims)[i];
    s += d.isKnown() ? std::to_string(d.value) : (d.param.empty() ? "?" : d.param);
  }
  return s + "]";
}

}  // namespace vitq
