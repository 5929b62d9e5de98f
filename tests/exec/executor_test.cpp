#include <catch2/catch.hpp>

#include "exec/executor.h"
#include "support/graph_dsl.h"

namespace vitq {
namespace {

const char* kMlp = R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[N, 2] X) => (float[N, 2] Y)
  <float[2, 3] W1 = {1., 0., -1., 0., 1., 1.}, float[3] B1 = {0., 0., 1.}, float[3, 2] W2 = {1., 0., 0., 1., 1., 1.}> {
  H = MatMul(X, W1)
  HB = Add(H, B1)
  R = Relu(HB)
  Y = MatMul(R, W2)
}
)ONNX";

// Records each node's op and output, and can scale one op's output (a stand-in for fake-quant).
struct RecordingHooks : ExecHooks {
  std::vector<std::string> ops;
  std::string scale_op;
  Status afterNode(const Node& node, const std::vector<const Tensor*>&, std::vector<Tensor>& outputs) override {
    ops.push_back(node.opType());
    if (node.opType() == scale_op) {
      Tensor scaled = outputs[0].clone();
      for (int64_t i = 0; i < scaled.numel(); ++i) scaled.data<float>()[i] *= 2.0f;
      outputs[0] = scaled;
    }
    return Status::ok();
  }
};

TEST_CASE("executor computes a small MLP", "[exec]") {
  Model m = test::parseModel(kMlp);
  auto exec = Executor::create(*m.graph, 13);
  REQUIRE(exec.isOk());
  TensorMap feeds{{"X", Tensor::fromVector<float>({1, 2, -1, 0}, {2, 2})}};
  auto out = exec->run(feeds);
  REQUIRE(out.isOk());
  const Tensor& y = out->at("Y");
  // Row 0: H = [1, 2, 1] + B1 = [1, 2, 2], relu, times W2 = [1+2, 2+2] = [3, 4].
  // Row 1: H = [-1, 0, 1] + B1 = [-1, 0, 2] -> relu [0, 0, 2] -> [2, 2].
  CHECK(y.shape() == Shape{2, 2});
  CHECK(y.data<float>()[0] == 3.0f);
  CHECK(y.data<float>()[1] == 4.0f);
  CHECK(y.data<float>()[2] == 2.0f);
  CHECK(y.data<float>()[3] == 2.0f);
}

TEST_CASE("hooks see every node and may replace outputs", "[exec]") {
  Model m = test::parseModel(kMlp);
  auto exec = Executor::create(*m.graph, 13);
  REQUIRE(exec.isOk());
  RecordingHooks hooks;
  hooks.scale_op = "Relu";
  TensorMap feeds{{"X", Tensor::fromVector<float>({1, 2, -1, 0}, {2, 2})}};
  auto out = exec->run(feeds, &hooks);
  REQUIRE(out.isOk());
  CHECK(hooks.ops == std::vector<std::string>{"MatMul", "Add", "Relu", "MatMul"});
  CHECK(out->at("Y").data<float>()[0] == 6.0f);  // doubled by the hook, seen downstream
}

TEST_CASE("executor errors name the node, input or op", "[exec][errors]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[2] X) => (float[2] Y) {
  Y = NoSuchOp(X)
}
)ONNX");
  auto bad_op = Executor::create(*m.graph, 13);
  REQUIRE_FALSE(bad_op.isOk());
  CHECK(bad_op.status().code() == StatusCode::kUnsupported);
  CHECK_THAT(bad_op.status().message(), Catch::Contains("op NoSuchOp is not supported"));

  Model mlp = test::parseModel(kMlp);
  auto exec = Executor::create(*mlp.graph, 13);
  REQUIRE(exec.isOk());
  auto missing = exec->run({});
  REQUIRE_FALSE(missing.isOk());
  CHECK_THAT(missing.status().message(), Catch::Contains("no data for model input 'X'"));
  auto shape = exec->run({{"X", Tensor(DataType::kFloat, {2, 3})}});
  REQUIRE_FALSE(shape.isOk());
  CHECK_THAT(shape.status().message(), Catch::Contains("input 'X' has shape [2,3]; the model declares float[N,2]"));
  auto dtype = exec->run({{"X", Tensor(DataType::kInt64, {2, 2})}});
  REQUIRE_FALSE(dtype.isOk());
  CHECK_THAT(dtype.status().message(), Catch::Contains("must be float, got int64"));
  auto extra = exec->run({{"X", Tensor(DataType::kFloat, {1, 2})}, {"Z", Tensor(DataType::kFloat, {1})}});
  REQUIRE_FALSE(extra.isOk());
  CHECK_THAT(extra.status().message(), Catch::Contains("'Z' is not an input"));
}

TEST_CASE("kernel shape errors are reported, not crashes", "[exec][errors]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[2, 3] A, float[2, 3] B) => (float[2, 3] Y) {
  Y = MatMul(A, B)
}
)ONNX");
  auto exec = Executor::create(*m.graph, 13);
  REQUIRE(exec.isOk());
  auto out = exec->run({{"A", Tensor(DataType::kFloat, {2, 3})}, {"B", Tensor(DataType::kFloat, {2, 3})}});
  REQUIRE_FALSE(out.isOk());
  CHECK_THAT(out.status().message(), Catch::Contains("(MatMul): inner dimensions differ: [2,3] x [2,3]"));
}

}  // namespace
}  // namespace vitq
