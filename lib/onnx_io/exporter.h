// Model -> ModelProto, and atomic, deterministic writing of a model file (with external data for
// models past protobuf's 2 GB limit).
#pragma once

#include <onnx/onnx_pb.h>

#include <filesystem>

#include "core/status.h"
#include "ir/graph.h"

namespace vitq {

onnx::ModelProto exportModel(const Model& model);

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
