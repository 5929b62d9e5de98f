#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "ir/verifier.h"
#include "onnx_io/exporter.h"
#include "onnx_io/importer.h"
#include "onnx_io/model_file.h"
#include "support/graph_dsl.h"

namespace vitq {
namespace {

namespace fs = std::filesystem;

const char* kSmallModel = R"ONNX(
<ir_version: 8, opset_import: ["" : 13], producer_name: "test">
agraph (float[N, 4] X) => (float[N, 4] Y) <float[4] W = {1.0, 2.0, 3.0, 4.0}> {
  C = Constant <value = float[1] {2.0}> ()
  T = Mul(X, C)
  Y = Add(T, W)
}
)ONNX";

void writeBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::string serialize(const onnx::ModelProto& proto) {
  auto bytes = serializeModelProto(proto);
  REQUIRE(bytes.isOk());
  return *bytes;
}

TEST_CASE("Constant nodes become initializers on import", "[import]") {
  ImportReport report;
  onnx::ModelProto proto = test::parseProto(kSmallModel);
  auto model = importModel(proto, ".", {}, &report);
  REQUIRE(model.isOk());
  const Graph& g = *model->graph;
  CHECK(report.lifted_constants == 1);
  CHECK(g.numNodes() == 2);
  Value* c = g.findValue("C");
  REQUIRE(c);
  REQUIRE(c->isConstant());
  CHECK(c->initializer().data<float>()[0] == 2.0f);
  CHECK(g.findValue("W")->initializer().data<float>()[3] == 4.0f);
  CHECK(model->producer_name == "test");
}

TEST_CASE("Constant nodes stay when lifting is off", "[import]") {
  ImportOptions options;
  options.lift_constants = false;
  Model model = test::parseModel(kSmallModel, options);
  CHECK(model.graph->numNodes() == 3);
}

TEST_CASE("export then import gives the same graph", "[import][export]") {
  Model model = test::parseModel(kSmallModel);
  onnx::ModelProto exported = exportModel(model);
  auto again = importModel(exported, ".");
  REQUIRE(again.isOk());
  CHECK(exportModel(*again).SerializeAsString() == exported.SerializeAsString());
  CHECK(exported.graph().initializer_size() == 2);
  CHECK(exported.graph().output(0).type().tensor_type().shape().dim(0).dim_param() == "N");
}

TEST_CASE("subgraphs keep their references to outer values", "[import][export]") {
  Model model = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (bool c, float[2] X) => (float[2] Y) {
  Y = If (c) <then_branch = g1 () => (float[2] a) { a = Neg(X) }, else_branch = g2 () => (float[2] b) { b = Abs(X) }>
}
)ONNX");
  const Graph& g = *model.graph;
  Value* x = g.findValue("X");
  REQUIRE(x->uses().size() == 2);  // Neg and Abs inside the branches
  CHECK(x->uses()[0].user->owner() != &g);
  onnx::ModelProto exported = exportModel(model);
  CHECK(exported.graph().node(0).attribute(0).g().node(0).input(0) == "X");
  REQUIRE(verifyModel(model).isOk());
}

TEST_CASE("a node input that is never produced is an error naming it", "[import][errors]") {
  auto model = test::tryImport(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[2] X) => (float[2] Y) {
  Y = Add(X, Missing)
}
)ONNX");
  REQUIRE_FALSE(model.isOk());
  CHECK_THAT(model.status().message(), Catch::Contains("input 'Missing' is never produced"));
  CHECK(model.status().code() == StatusCode::kInvalidModel);
}

TEST_CASE("a value produced twice is an error", "[import][errors]") {
  auto model = test::tryImport(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[2] X) => (float[2] Y) {
  Y = Neg(X)
  Y = Abs(X)
}
)ONNX");
  REQUIRE_FALSE(model.isOk());
  CHECK_THAT(model.status().message(), Catch::Contains("'Y' is produced twice"));
}

TEST_CASE("a cycle in the file is an error", "[import][errors]") {
  auto model = test::tryImport(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[2] X) => (float[2] B) {
  A = Add(X, B)
  B = Neg(A)
}
)ONNX");
  REQUIRE_FALSE(model.isOk());
  CHECK_THAT(model.status().message(), Catch::Contains("cycle"));
}

TEST_CASE("nodes out of order are sorted on import", "[import]") {
  Model model = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[2] X) => (float[2] B) {
  B = Neg(A)
  A = Abs(X)
}
)ONNX");
  CHECK(model.graph->nodes().front()->opType() == "Abs");
}

TEST_CASE("tensor data that does not match the shape is refused", "[import][errors]") {
  onnx::ModelProto proto = test::parseProto(kSmallModel);
  auto* w = proto.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_raw_data(std::string(8, '\0'));  // 2 floats for shape [4]
  auto model = importModel(proto, ".");
  REQUIRE_FALSE(model.isOk());
  CHECK_THAT(model.status().message(), Catch::Contains("tensor 'W' holds 8 bytes"));
}

TEST_CASE("a tensor declaring a huge shape is refused before allocating", "[import][errors]") {
  onnx::ModelProto proto = test::parseProto(kSmallModel);
  auto* w = proto.mutable_graph()->mutable_initializer(0);
  w->clear_dims();
  w->add_dims(int64_t{25} << 30);  // 100 GB of floats, no data behind it
  auto model = importModel(proto, ".");
  REQUIRE_FALSE(model.isOk());
  CHECK_THAT(model.status().message(), Catch::Contains("tensor 'W'"));
}

TEST_CASE("models newer than the linked onnx import", "[import]") {
  onnx::ModelProto proto = test::parseProto(kSmallModel);
  proto.set_ir_version(10);
  proto.mutable_opset_import(0)->set_version(21);
  auto model = importModel(proto, ".");
  REQUIRE(model.isOk());
  CHECK(model->ir_version == 10);
  CHECK(model->opsetVersion("") == 21);
  CHECK(exportModel(*model).opset_import(0).version() == 21);
}

TEST_CASE("unknown fields of newer onnx versions survive a round trip", "[import][export]") {
  onnx::ModelProto proto = test::parseProto(kSmallModel);
  // Field 99 (varint) on the node stands in for a field this onnx does not know.
  auto* unknown = proto.mutable_graph()->mutable_node(1)->GetReflection()->MutableUnknownFields(
      proto.mutable_graph()->mutable_node(1));
  unknown->AddVarint(99, 7);
  auto model = importModel(proto, ".");
  REQUIRE(model.isOk());
  onnx::ModelProto exported = exportModel(*model);
  const auto& fields = exported.graph().node(0).GetReflection()->GetUnknownFields(exported.graph().node(0));
  REQUIRE(fields.field_count() == 1);
  CHECK(fields.field(0).number() == 99);
  CHECK(fields.field(0).varint() == 7);
}

TEST_CASE("file errors: missing, empty, truncated, not ONNX", "[import][errors]") {
  const fs::path dir = test::makeTempDir("vitq-import");
  auto missing = loadModel(dir / "nope.onnx");
  REQUIRE_FALSE(missing.isOk());
  CHECK_THAT(missing.status().message(), Catch::Contains("does not exist"));

  writeBytes(dir / "empty.onnx", "");
  auto empty = loadModel(dir / "empty.onnx");
  REQUIRE_FALSE(empty.isOk());
  CHECK_THAT(empty.status().message(), Catch::Contains("is empty"));

  const std::string bytes = serialize(test::parseProto(kSmallModel));
  writeBytes(dir / "cut.onnx", bytes.substr(0, bytes.size() / 2));
  auto cut = loadModel(dir / "cut.onnx");
  REQUIRE_FALSE(cut.isOk());
  CHECK_THAT(cut.status().message(), Catch::Contains("cut.onnx"));

  writeBytes(dir / "text.onnx", "this is a plain text file, not a model\n");
  auto text = loadModel(dir / "text.onnx");
  REQUIRE_FALSE(text.isOk());
  CHECK_THAT(text.status().message(), Catch::Contains("text.onnx"));
}

onnx::ModelProto withExternalWeight(const std::string& location, int64_t length) {
  onnx::ModelProto proto = test::parseProto(kSmallModel);
  auto* w = proto.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [w](const std::string& k, const std::string& v) {
    auto* e = w->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  add("location", location);
  add("offset", "4");
  add("length", std::to_string(length));
  return proto;
}

TEST_CASE("external data is read from the model's folder", "[import][external]") {
  const fs::path dir = test::makeTempDir("vitq-ext");
  const float values[5] = {0, 5, 6, 7, 8};  // 4 bytes of padding, then the tensor
  writeBytes(dir / "w.bin", std::string(reinterpret_cast<const char*>(values), sizeof(values)));
  writeBytes(dir / "m.onnx", serialize(withExternalWeight("w.bin", 16)));
  auto model = loadModel(dir / "m.onnx");
  REQUIRE(model.isOk());
  CHECK(model->graph->findValue("W")->initializer().data<float>()[3] == 8.0f);

  // Writing with external data and reading back gives the same values.
  SaveOptions save;
  save.external_data = ExternalData::kAlways;
  save.external_min_bytes = 1;
  REQUIRE(saveModel(*model, dir / "out.onnx", save).isOk());
  CHECK(fs::exists(dir / "out.onnx.data"));
  auto again = loadModel(dir / "out.onnx");
  REQUIRE(again.isOk());
  CHECK(again->graph->findValue("W")->initializer().bitwiseEqual(model->graph->findValue("W")->initializer()));
}

TEST_CASE("external data may not leave the model's folder", "[import][external][errors]") {
  const fs::path root = test::makeTempDir("vitq-escape");
  fs::create_directory(root / "model");
  writeBytes(root / "secret.bin", std::string(64, 'x'));
  writeBytes(root / "model" / "up.onnx", serialize(withExternalWeight("../secret.bin", 16)));
  auto up = loadModel(root / "model" / "up.onnx");
  REQUIRE_FALSE(up.isOk());
  CHECK_THAT(up.status().message(), Catch::Contains("leaves the model's folder"));

  writeBytes(root / "model" / "abs.onnx", serialize(withExternalWeight((root / "secret.bin").string(), 16)));
  auto abs = loadModel(root / "model" / "abs.onnx");
  REQUIRE_FALSE(abs.isOk());
  CHECK_THAT(abs.status().message(), Catch::Contains("is absolute"));

  fs::create_symlink(root / "secret.bin", root / "model" / "link.bin");
  writeBytes(root / "model" / "link.onnx", serialize(withExternalWeight("link.bin", 16)));
  auto link = loadModel(root / "model" / "link.onnx");
  REQUIRE_FALSE(link.isOk());
  CHECK_THAT(link.status().message(), Catch::Contains("leaves the model's folder"));
}

TEST_CASE("external data of the wrong length or missing file is refused", "[import][external][errors]") {
  const fs::path dir = test::makeTempDir("vitq-extbad");
  writeBytes(dir / "short.bin", std::string(8, '\0'));
  writeBytes(dir / "short.onnx", serialize(withExternalWeight("short.bin", 16)));
  auto s = loadModel(dir / "short.onnx");
  REQUIRE_FALSE(s.isOk());
  CHECK_THAT(s.status().message(), Catch::Contains("has 8 bytes"));

  writeBytes(dir / "len.onnx", serialize(withExternalWeight("short.bin", 12)));
  auto l = loadModel(dir / "len.onnx");
  REQUIRE_FALSE(l.isOk());
  CHECK_THAT(l.status().message(), Catch::Contains("does not match its shape"));

  writeBytes(dir / "gone.onnx", serialize(withExternalWeight("gone.bin", 16)));
  auto g = loadModel(dir / "gone.onnx");
  REQUIRE_FALSE(g.isOk());
  CHECK_THAT(g.status().message(), Catch::Contains("'gone.bin' not found"));
}

TEST_CASE("saving is atomic and deterministic", "[export]") {
  const fs::path dir = test::makeTempDir("vitq-save");
  Model model = test::parseModel(kSmallModel);
  REQUIRE(saveModel(model, dir / "a.onnx").isOk());
  REQUIRE(saveModel(model, dir / "b.onnx").isOk());
  std::ifstream a(dir / "a.onnx", std::ios::binary), b(dir / "b.onnx", std::ios::binary);
  const std::string ba((std::istreambuf_iterator<char>(a)), {}), bb((std::istreambuf_iterator<char>(b)), {});
  CHECK(ba == bb);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  CHECK(files == 2);  // no temporaries left behind

  const Status bad = saveModel(model, dir / "no-such-folder" / "x.onnx");
  REQUIRE_FALSE(bad.isOk());
  CHECK_THAT(bad.message(), Catch::Contains("no-such-folder"));
}

}  // namespace
}  // namespace vitq
