// Conversion between onnx::TensorProto and Tensor, with every size checked before anything is
// allocated (hostile models declare absurd dims or lie about their data length).
#pragma once

#include <onnx/onnx_pb.h>

#include <filesystem>

#include "core/status.h"
#include "ir/tensor.h"

namespace vitq {

/// Where external data may be read from: files inside \p model_dir only.
struct TensorSource {
  std::filesystem::path model_dir;
  bool allow_external = true;
};

/// Decodes any of the proto's data fields (raw_data, typed fields, external data).
StatusOr<Tensor> tensorFromProto(const onnx::TensorProto& proto, const TensorSource& source);

/// Whether \p proto holds its elements (raw, typed or external data); false for the data-less
/// initializers of ExportOptions::omit_data_from_bytes.
bool carriesData(const onnx::TensorProto& proto);

/// Encodes \p tensor into \p proto as raw_data (string tensors as string_data); sets name if given.
void tensorToProto(const Tensor& tensor, onnx::TensorProto* proto);

}  // namespace vitq
