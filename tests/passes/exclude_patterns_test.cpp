// --exclude and --noise-layers patterns: an op type in any case, a glob over node names, or a glob
// over output tensor names, including the bias Add's output that reports list as a layer's value.
#include <catch2/catch.hpp>

#include "passes/ptq/plan_quantization.h"
#include "support/graph_dsl.h"

namespace vitq {

TEST_CASE("node patterns match op types in any case, node names and the tensor names reports list", "[passes][exclude]") {
  const Model m = test::parseModel(R"(<ir_version: 8, opset_import: ["" : 17]>
g (float[2, 4] X) => (float[2, 3] Y, float[2, 3] Z)
  <float[4, 3] W = {1,2,3,4,5,6,7,8,9,10,11,12}, float[3] B = {1, 2, 3}> {
  T = MatMul (X, W)
  Y = Add (T, B)
  Z = Relu (T)
}
)");
  const Node* matmul = nullptr;
  const Node* add = nullptr;
  for (const auto& n : m.graph->nodes()) {
    if (n->is("MatMul")) matmul = n.get();
    if (n->is("Add")) add = n.get();
  }
  REQUIRE(matmul);
  REQUIRE(add);
  CHECK(matchesNodePattern(*matmul, "MatMul"));
  CHECK(matchesNodePattern(*matmul, "matmul"));  // op types in any case
  CHECK(matchesNodePattern(*matmul, "T"));       // its output tensor
  CHECK(matchesNodePattern(*add, "Y"));
  // T has two readers, so Y is not the MatMul's layer value: only the Add matches it.
  CHECK_FALSE(matchesNodePattern(*matmul, "Y"));
  CHECK_FALSE(matchesNodePattern(*matmul, "nosuch"));
  CHECK(checkNodePatterns({m.graph.get()}, {"relu", "T"}, "--exclude").isOk());
  const Status none = checkNodePatterns({m.graph.get()}, {"nosuch"}, "--exclude");
  CHECK_THAT(none.message(), Catch::Contains("--exclude 'nosuch' names no node of the model"));
}

TEST_CASE("a layer's bias Add output, as the report's layers list it, names the layer", "[passes][exclude]") {
  const Model m = test::parseModel(R"(<ir_version: 8, opset_import: ["" : 17]>
g (float[2, 4] X) => (float[2, 3] Y)
  <float[4, 3] W = {1,2,3,4,5,6,7,8,9,10,11,12}, float[3] B = {1, 2, 3}> {
  T = MatMul (X, W)
  Y = Add (T, B)
}
)");
  for (const auto& n : m.graph->nodes()) {
    if (n->is("MatMul")) CHECK(matchesNodePattern(*n, "Y"));
  }
}

}  // namespace vitq
