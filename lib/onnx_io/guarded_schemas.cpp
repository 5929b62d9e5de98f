#include "onnx_io/guarded_schemas.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include <onnx/defs/shape_inference.h>

namespace vitq {
namespace {

// Ops whose weight's rank ONNX 1.12's convolution inference assumes equals the input's (a
// mismatch indexes past the input's dims): op -> (data input, weight input).
const std::map<std::string, std::pair<int, int>>& convolutionLike() {
  static const std::map<std::string, std::pair<int, int>> ops = {
      {"Conv", {0, 1}}, {"ConvInteger", {0, 1}}, {"QLinearConv", {0, 3}}, {"ConvTranspose", {0, 1}}};
  return ops;
}

onnx::InferenceFunction guardRanks(onnx::InferenceFunction original, int data, int weight) {
  return [original, data, weight](onnx::InferenceContext& ctx) {
    if (onnx::hasInputShape(ctx, data) && onnx::hasInputShape(ctx, weight)) {
      const int x_rank = ctx.getInputType(data)->tensor_type().shape().dim_size();
      const int w_rank = ctx.getInputType(weight)->tensor_type().shape().dim_size();
      if (x_rank != w_rank) {
        fail_shape_inference("the weight has rank ", w_rank, " but the input has rank ", x_rank);
      }
    }
    if (original) original(ctx);
  };
}

class GuardedRegistry final : public onnx::ISchemaRegistry {
 public:
  const onnx::OpSchema* GetSchema(const std::string& key, const int max_version,
                                  const std::string& domain) const override {
    const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Instance()->GetSchema(key, max_version, domain);
    if (!schema || (!domain.empty() && domain != "ai.onnx")) return schema;
    auto guard = convolutionLike().find(key);
    if (guard == convolutionLike().end()) return schema;
    std::lock_guard<std::mutex> lock(mutex_);
    auto& copy = guarded_[std::make_tuple(key, schema->since_version(), domain)];
    if (!copy) {
      copy = std::make_unique<onnx::OpSchema>(*schema);
      copy->TypeAndShapeInferenceFunction(
          guardRanks(schema->GetTypeAndShapeInferenceFunction(), guard->second.first, guard->second.second));
    }
    return copy.get();
  }

 private:
  mutable std::mutex mutex_;
  mutable std::map<std::tuple<std::string, int, std::string>, std::unique_ptr<onnx::OpSchema>> guarded_;
};

}  // namespace

const onnx::ISchemaRegistry* guardedSchemaRegistry() {
  static const GuardedRegistry registry;
  return &registry;
}

}  // namespace vitq
