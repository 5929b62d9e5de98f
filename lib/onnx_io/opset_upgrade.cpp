#include "onnx_io/opset_upgrade.h"
#include "onnx_io/guarded_schemas.h"

#include <onnx/shape_inference/implementation.h>
#include <onnx/version_converter/convert.h>

#include <set>

#include "onnx_io/exporter.h"
#include "onnx_io/importer.h"
#include "onnx_io/model_clone.h"

namespace vitq {

StatusOr<Model> upgradeOpset(const Model& model, int64_t target, const std::map<std::string, int64_t>& ranks) {
  const int64_t current = model.opsetVersion("");
  // Without a conversion the weights need no serialized copy: the result shares them.
  const bool converts = current < target;
  onnx::ModelProto proto = exportModel(model, {converts ? 0 : kSharedInitializerBytes});
  if (current < target) {
    // Declare rank-only types (every dim unknown) where the file and inference know none.
    std::set<std::string> typed;
    for (const auto& vi : proto.graph().value_info()) typed.insert(vi.name());
    for (const auto& vi : proto.graph().output()) typed.insert(vi.name());
    for (const auto& [name, rank] : ranks) {
      if (typed.count(name)) continue;
      auto* vi = proto.mutable_graph()->add_value_info();
      vi->set_name(name);
      auto* tt = vi->mutable_type()->mutable_tensor_type();
      tt->set_elem_type(onnx::TensorProto::FLOAT);
      auto* shape = tt->mutable_shape();
      for (int64_t i = 0; i < rank; ++i) shape->add_dim();
    }
    try {
      // Some adapters (Softmax 12 -> 13) need the input ranks: infer shapes first.
      onnx::ShapeInferenceOptions options{false, 0, true};
      onnx::shape_inference::InferShapes(proto, guardedSchemaRegistry(), options);
      proto = onnx::version_conversion::ConvertVersion(proto, static_cast<int>(target));
    } catch (const std::exception& e) {
      return unsupported("cannot convert the model from opset " + std::to_string(current) + " to " +
                         std::to_string(target) + ": " + e.what());
    }
  }
  ImportOptions options;
  if (!converts) options.initializers_from = model.graph.get();
  return importModel(proto, ".", options);
}

}  // namespace vitq
