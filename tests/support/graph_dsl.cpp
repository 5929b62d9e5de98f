#include "support/graph_dsl.h"

#include <onnx/defs/parser.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <vector>

namespace vitq::test {

std::string normalInitializer(const std::string& name, const std::vector<int64_t>& shape, unsigned seed, float amp) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, amp);
  int64_t n = 1;
  std::ostringstream os;
  os.precision(9);
  os << "float[";
  for (size_t i = 0; i < shape.size(); ++i) {
    os << (i ? "," : "") << shape[i];
    n *= shape[i];
  }
  os << "] " << name << " = {";
  for (int64_t i = 0; i < n; ++i) os << (i ? ", " : "") << dist(gen);
  os << "}";
  return os.str();
}

onnx::ModelProto parseProto(const std::string& text) {
  onnx::ModelProto proto;
  const auto status = onnx::OnnxParser::Parse(proto, text.c_str());
  INFO(status.ErrorMessage());
  REQUIRE(status.IsOK());
  return proto;
}

StatusOr<Model> tryImport(const std::string& text, const ImportOptions& options) {
  onnx::ModelProto proto = parseProto(text);
  return importModel(proto, ".", options);
}

Model parseModel(const std::string& text, const ImportOptions& options) {
  auto model = tryImport(text, options);
  INFO(model.status().message());
  REQUIRE(model.isOk());
  return std::move(model).value();
}

std::string oneGraphModel(int opset, const std::string& signature, std::string body) {
  std::string inits;
  if (body.rfind("  <", 0) == 0) {
    const size_t end = body.find(">\n");
    inits = body.substr(2, end - 1);
    body = body.substr(end + 2);
  }
  return "<ir_version: 8, opset_import: [\"\" : " + std::to_string(opset) + "]>\nagraph " + signature + "\n  " +
         inits + " {\n" + body + "\n}\n";
}

StatusOr<TensorMap> runModelText(const std::string& text, int opset, TensorMap feeds) {
  static std::vector<Model> keep;
  keep.push_back(parseModel(text));
  auto exec = Executor::create(*keep.back().graph, opset);
  if (!exec.isOk()) return exec.status();
  return exec->run(feeds);
}

namespace {
struct TempDirs {
  std::vector<std::filesystem::path> dirs;
  ~TempDirs() {
    for (const auto& d : dirs) {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  }
};
TempDirs g_temp_dirs;
}  // namespace

std::string makeTempDir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  g_temp_dirs.dirs.emplace_back(tmpl);
  return tmpl;
}

}  // namespace vitq::test
