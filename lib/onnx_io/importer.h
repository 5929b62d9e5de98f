// ModelProto -> Model. Accepts any opset from 7 on and IR versions newer than the linked onnx
// library knows (parsing is plain protobuf; onnx's shape inference runs only where it applies).
#pragma once

#include <onnx/onnx_pb.h>

#include <filesystem>

#include "core/status.h"
#include "ir/graph.h"

namespace vitq {

struct ImportOptions {
  /// Turn `Constant` nodes into initializers (real exports keep all weights in Constants).
  bool lift_constants = true;
  /// Fill intermediate value types with onnx shape inference (opset <= what onnx knows).
  bool infer_shapes = true;
  /// Replace calls of model-local functions by their bodies (function_inlining.h), so that the
  /// executor can run them; the functions are dropped from the imported model.
  bool inline_functions = false;
  /// Main-graph initializers written without data (ExportOptions::omit_data_from_bytes) take the
  /// same-named initializer of this graph, sharing its buffer.
  const Graph* initializers_from = nullptr;
};

/// What the import did beyond a plain translation.
struct ImportReport {
  size_t lifted_constants = 0;
  bool shapes_inferred = false;
};

/// Newest ai.onnx opset vitq has been written against; newer ones import with a warning.
constexpr int64_t kNewestKnownOpset = 23;

/// Reads and imports the model at \p path; errors name the file and the offending node/tensor.
StatusOr<Model> loadModel(const std::filesystem::path& path, const ImportOptions& options = {},
                          ImportReport* report = nullptr);

/// Imports an already parsed proto.
/// External data is resolved relative to \p model_dir.
StatusOr<Model> importModel(const onnx::ModelProto& proto, const std::filesystem::path& model_dir,
                            const ImportOptions& options = {}, ImportReport* report = nullptr);

}  // namespace vitq
