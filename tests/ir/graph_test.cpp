#include <catch2/catch.hpp>

#include "ir/graph.h"
#include "ir/verifier.h"

namespace vitq {

// Reaches into Value to corrupt use-lists, which the public API never allows.
struct GraphTestAccess {
  static std::vector<Use>& uses(Value* v) { return v->uses_; }
};

namespace {

TensorType floatType(std::vector<int64_t> dims) {
  TensorType t;
  t.dtype = DataType::kFloat;
  std::vector<Dim> ds;
  for (int64_t d : dims) ds.push_back(Dim::known(d));
  t.dims = ds;
  return t;
}

TEST_CASE("graph mutation keeps use-lists symmetric", "[ir]") {
  Graph g;
  Value* x = g.addInput("x", floatType({2, 3}));
  Value* w = g.addInitializer("w", Tensor(DataType::kFloat, {3, 4}));
  Node* mm = g.addNode("MatMul", {x, w}, 1);
  Node* relu = g.addNode("Relu", {mm->output(0)}, 1);
  g.addOutput(relu->output(0));
  REQUIRE(verifyGraph(g).isOk());
  REQUIRE(x->uses().size() == 1);
  CHECK(x->uses()[0].user == mm);
  CHECK(mm->output(0)->producer() == mm);

  // Insert an Identity between MatMul and Relu, then remove it again with RAUW.
  Node* id = g.addNode("Identity", {mm->output(0)}, 1, "", relu);
  g.setInput(relu, 0, id->output(0));
  REQUIRE(verifyGraph(g).isOk());
  CHECK(mm->output(0)->uses().size() == 1);
  g.replaceAllUsesWith(id->output(0), mm->output(0));
  g.eraseNode(id);
  REQUIRE(verifyGraph(g).isOk());
  CHECK(g.numNodes() == 2);
  CHECK(mm->output(0)->uses().size() == 1);
  CHECK(mm->output(0)->uses()[0].user == relu);
}

TEST_CASE("replaceAllUsesWith also redirects graph outputs", "[ir]") {
  Graph g;
  Value* x = g.addInput("x", floatType({1}));
  Node* a = g.addNode("Neg", {x}, 1);
  g.addOutput(a->output(0));
  Node* b = g.addNode("Abs", {x}, 1);
  g.replaceAllUsesWith(a->output(0), b->output(0));
  CHECK(g.outputs()[0] == b->output(0));
  g.eraseNode(a);
  CHECK(verifyGraph(g).isOk());
}

TEST_CASE("unique names never collide", "[ir]") {
  Graph g;
  g.addInput("x", floatType({1}));
  Value* v = g.createValue("x");
  CHECK(v->name() == "x_1");
  CHECK(g.uniqueName("x") == "x_2");
}

TEST_CASE("verifier rejects a use-list mismatch", "[ir][verifier]") {
  Graph g;
  Value* x = g.addInput("x", floatType({1}));
  Node* n = g.addNode("Relu", {x}, 1);
  g.addOutput(n->output(0));
  GraphTestAccess::uses(x).clear();
  const Status s = verifyGraph(g);
  REQUIRE_FALSE(s.isOk());
  CHECK_THAT(s.message(), Catch::Contains("missing from its use-list"));
  GraphTestAccess::uses(x).push_back(Use{n, 0});  // restore so the destructor's checks hold
}

TEST_CASE("verifier rejects a stale use", "[ir][verifier]") {
  Graph g;
  Value* x = g.addInput("x", floatType({1}));
  Value* y = g.addInput("y", floatType({1}));
  Node* n = g.addNode("Relu", {x}, 1);
  g.addOutput(n->output(0));
  GraphTestAccess::uses(y).push_back(Use{n, 0});
  const Status s = verifyGraph(g);
  REQUIRE_FALSE(s.isOk());
  CHECK_THAT(s.message(), Catch::Contains("lists a use that does not read it"));
  GraphTestAccess::uses(y).clear();
}

TEST_CASE("verifier rejects a dangling value", "[ir][verifier]") {
  Graph g;
  Value* x = g.addInput("x", floatType({1}));
  Value* ghost = g.createValue("ghost");
  Node* n = g.addNode("Add", {x, ghost}, 1);
  g.addOutput(n->output(0));
  const Status s = verifyGraph(g);
  REQUIRE_FALSE(s.isOk());
  CHECK_THAT(s.message(), Catch::Contains("'ghost' is never produced"));
}

TEST_CASE("verifier and topological sort reject a cycle", "[ir][verifier]") {
  Graph g;
  Value* x = g.addInput("x", floatType({1}));
  Node* a = g.addNode("Add", {x, x}, 1);
  Node* b = g.addNode("Relu", {a->output(0)}, 1);
  g.setInput(a, 1, b->output(0));  // a reads b, b reads a
  g.addOutput(b->output(0));
  const Status v = verifyGraph(g);
  REQUIRE_FALSE(v.isOk());
  CHECK_THAT(v.message(), Catch::Contains("before it is produced"));
  const Status t = g.topologicalSort();
  REQUIRE_FALSE(t.isOk());
  CHECK_THAT(t.message(), Catch::Contains("cycle"));
  g.setInput(a, 1, x);  // break the cycle so destruction is clean
}

TEST_CASE("topological sort repairs a misordered graph", "[ir]") {
  Graph g;
  Value* x = g.addInput("x", floatType({1}));
  Node* a = g.addNode("Neg", {x}, 1);
  Node* b = g.addNode("Abs", {a->output(0)}, 1);
  g.addOutput(b->output(0));
  g.moveBefore(b, a);
  CHECK_FALSE(verifyGraph(g).isOk());
  REQUIRE(g.topologicalSort().isOk());
  CHECK(verifyGraph(g).isOk());
  CHECK(g.nodes().front().get() == a);
}

TEST_CASE("verifier checks op arity against the ONNX schema", "[ir][verifier]") {
  Graph g;
  Value* x = g.addInput("x", floatType({1}));
  Node* n = g.addNode("Relu", {x, x}, 1);  // Relu takes one input
  g.addOutput(n->output(0));
  VerifyOptions options;
  options.onnx_opset = 13;
  const Status s = verifyGraph(g, options);
  REQUIRE_FALSE(s.isOk());
  CHECK_THAT(s.message(), Catch::Contains("has 2 inputs; opset 13 allows 1 to 1"));
}

TEST_CASE("element counts refuse overflow and negative dims", "[ir][tensor]") {
  CHECK(checkedElementCount({2, 3, 4}).value() == 24);
  CHECK_FALSE(checkedElementCount({-1, 3}).isOk());
  CHECK_FALSE(checkedElementCount({int64_t{1} << 32, int64_t{1} << 32}).isOk());
  CHECK(checkedElementCount({0, int64_t{1} << 62}).value() == 0);
}

TEST_CASE("tensors are shared handles; clone copies", "[ir][tensor]") {
  Tensor a = Tensor::fromVector<float>({1, 2, 3, 4}, {2, 2});
  Tensor shared = a;
  Tensor copy = a.clone();
  a.data<float>()[0] = 9;
  CHECK(shared.data<float>()[0] == 9);
  CHECK(copy.data<float>()[0] == 1);
  CHECK(a.reshaped({4}).shape() == Shape{4});
  CHECK(storageBytes(DataType::kInt4, 5) == 3);
}

}  // namespace
}  // namespace vitq
