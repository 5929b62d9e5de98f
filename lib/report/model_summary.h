// What `vitq inspect` reports about a model: interface, opsets, parameters, op histogram,
// transformer structures, conv/transformer bridges and quantizable nodes.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "onnx_io/importer.h"

namespace vitq {

struct ModelSummary {
  nlohmann::json json;  // the canonical form; text is rendered from it
};

ModelSummary summarizeModel(const Model& model, const ImportReport& import, const std::string& file);
/// The summary as text; \p list_nodes adds one line per quantizable node (name, op, input and weight
/// shapes, the value reports judge it by).
std::string summaryToText(const ModelSummary& summary, bool list_nodes = false);

}  // namespace vitq
