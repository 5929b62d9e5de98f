#include "onnx_io/model_fingerprint.h"

#include <cstdint>
#include <cstdio>

#include "onnx_io/exporter.h"
#include "onnx_io/model_file.h"

namespace vitq {

StatusOr<std::string> modelFingerprint(const Model& model) {
  onnx::ModelProto proto = exportModel(model);
  proto.clear_producer_name();
  proto.clear_producer_version();
  proto.clear_doc_string();
  proto.clear_model_version();
  proto.mutable_graph()->clear_doc_string();
  VITQ_ASSIGN_OR_RETURN(std::string bytes, serializeModelProto(proto));
  uint64_t hash = 14695981039346656037ull;  // FNV-1a offset basis and prime
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return std::string("fnv1a64:") + hex;
}

}  // namespace vitq
