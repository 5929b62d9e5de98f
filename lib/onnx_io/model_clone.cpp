#include "onnx_io/model_clone.h"

#include "onnx_io/exporter.h"
#include "onnx_io/importer.h"

namespace vitq {

StatusOr<Model> cloneModel(const Model& model) {
  ImportOptions options;
  options.lift_constants = false;
  options.infer_shapes = false;
  // Large initializers are not serialized: the copy shares their buffers (nothing writes into an
  // initializer's buffer; rewrites set new tensors).
  options.initializers_from = model.graph.get();
  VITQ_ASSIGN_OR_RETURN(Model copy, importModel(exportModel(model, {kSharedInitializerBytes}), {}, options));
  // The ONNX form carries only declared types; passes read the inferred ones too.
  for (const auto& node : copy.graph->nodes()) {
    for (Value* v : node->outputs()) {
      const Value* source = v ? model.graph->findValue(v->name()) : nullptr;
      if (source && !v->typeDeclared()) v->type() = source->type();
    }
  }
  return copy;
}

}  // namespace vitq
