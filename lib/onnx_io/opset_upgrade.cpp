#include "onnx_io/opset_upgrade.h"

#include <onnx/version_converter/convert.h>

#include "onnx_io/exporter.h"
#include "onnx_io/importer.h"

namespace vitq {

StatusOr<Model> upgradeOpset(const Model& model, int64_t target) {
  const int64_t current = model.opsetVersion("");
  onnx::ModelProto proto = exportModel(model);
  if (current < target) {
    try {
      proto = onnx::version_conversion::ConvertVersion(proto, static_cast<int>(target));
    } catch (const std::exception& e) {
      return unsupported("cannot convert the model from opset " + std::to_string(current) + " to " +
                         std::to_string(target) + ": " + e.what());
    }
  }
  ImportOptions options;
  return importModel(proto, ".", options);
}

}  // namespace vitq
