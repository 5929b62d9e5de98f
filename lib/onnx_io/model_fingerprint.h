// A fingerprint of a model's content (graph, weights, opsets), so that files derived from one
// model, such as calibration statistics, are never applied to another.
#pragma once

#include <string>

#include "core/status.h"
#include "ir/graph.h"

namespace vitq {

/// "fnv1a64:" and 16 hex digits of the FNV-1a hash of the model's deterministic serialization,
/// with producer and doc strings left out (re-saving a model elsewhere keeps its fingerprint).
StatusOr<std::string> modelFingerprint(const Model& model);

}  // namespace vitq
