// Model -> ModelProto, and atomic, deterministic writing of a model file (with external data for
// models past protobuf's 2 GB limit).
#pragma once

#include <onnx/onnx_pb.h>

#include <filesystem>

#include "core/status.h"
#include "ir/graph.h"

namespace vitq {

struct ExportOptions {
  /// > 0: main-graph initializers of at least this many bytes are written with their type and dims
  /// but no data, for an import that takes them from the same model (ImportOptions::
  /// initializers_from): a copy of a model without a serialized copy of its weights.
  size_t omit_data_from_bytes = 0;
};

onnx::ModelProto exportModel(const Model& model, const ExportOptions& options = {});

enum class ExternalData { kAuto, kAlways, kNever };

struct SaveOptions {
  /// kAuto moves large initializers to "<file>.data" when the model would pass ~1.8 GB.
  ExternalData external_data = ExternalData::kAuto;
  /// Initializers at least this large go to the data file when external data is used.
  size_t external_min_bytes = 1024;
};

/// Writes \p model to \p path through a temporary file in the same folder and a rename, so the
/// destination is either the old file or the complete new one, never a partial write.
Status saveModel(const Model& model, const std::filesystem::path& path, const SaveOptions& options = {});

}  // namespace vitq
