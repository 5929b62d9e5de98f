// Runs vitq's executor over ONNX's backend node tests (Debian's libonnx-testdata): each test is a
// model.onnx with test_data_set_0/input_*.pb and output_*.pb. Outputs must match within the suite's
// tolerance (rtol 1e-3, atol 1e-7). Tests whose ops have no kernel are counted as unsupported.
// Exit status 1 if any test fails or errors, unless the test is listed in --known with a reason.
//
//   vitq_conformance --suite DIR [--filter SUBSTR] [--known FILE] [--verbose]
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "exec/executor.h"
#include "onnx_io/importer.h"
#include "onnx_io/tensor_proto.h"

namespace fs = std::filesystem;
using namespace vitq;

namespace {

StatusOr<Tensor> readTensorFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  onnx::TensorProto proto;
  if (!proto.ParseFromIstream(&in)) return invalidModel("cannot parse " + path.string());
  return tensorFromProto(proto, TensorSource{path.parent_path(), false});
}

template <typename T>
bool closeAll(const Tensor& got, const Tensor& want, double& worst) {
  const T* g = got.data<T>();
  const T* w = want.data<T>();
  for (int64_t i = 0; i < want.numel(); ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(w[i]) && std::isnan(g[i])) continue;
      if (std::isinf(w[i]) || std::isinf(g[i])) {
        if (w[i] != g[i]) return false;
        continue;
      }
      const double diff = std::fabs(static_cast<double>(g[i]) - static_cast<double>(w[i]));
      worst = std::max(worst, diff);
      if (!(diff <= 1e-7 + 1e-3 * std::fabs(static_cast<double>(w[i])))) return false;
    } else if (g[i] != w[i]) {
      return false;
    }
  }
  return true;
}

std::string compare(const Tensor& got, const Tensor& want) {
  if (got.dtype() != want.dtype()) {
    return std::string("dtype ") + dataTypeName(got.dtype()) + ", expected " + dataTypeName(want.dtype());
  }
  if (got.shape() != want.shape()) return "shape " + shapeToString(got.shape()) + ", expected " + shapeToString(want.shape());
  double worst = 0;
  bool ok = true;
  switch (want.dtype()) {
    case DataType::kFloat: ok = closeAll<float>(got, want, worst); break;
    case DataType::kDouble: ok = closeAll<double>(got, want, worst); break;
    case DataType::kString: ok = got.strings() == want.strings(); break;
    default: ok = got.bitwiseEqual(want); break;
  }
  if (ok) return "";
  std::ostringstream os;
  os << "values differ (max abs diff " << worst << ")";
  return os.str();
}

struct Result {
  std::string status;  // pass, fail, error, unsupported
  std::string detail;
  std::set<std::string> ops;
};

Result runTest(const fs::path& dir) {
  Result r;
  auto model = loadModel(dir / "model.onnx");
  if (!model.isOk()) return {"error", model.status().message(), {}};
  for (const auto& n : model->graph->nodes()) r.ops.insert(n->opType());
  auto exec = Executor::create(*model->graph, model->opsetVersion(""));
  if (!exec.isOk()) {
    r.status = exec.status().code() == StatusCode::kUnsupported ? "unsupported" : "error";
    r.detail = exec.status().message();
    return r;
  }
  TensorMap feeds;
  const auto inputs = exec->requiredInputs();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const fs::path p = dir / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb");
    if (!fs::exists(p)) break;
    auto t = readTensorFile(p);
    if (!t.isOk()) return {"unsupported", "input " + std::to_string(i) + " is not a tensor", r.ops};
    feeds[inputs[i]->name()] = std::move(t).value();
  }
  auto outputs = exec->run(feeds);
  if (!outputs.isOk()) return {"error", outputs.status().message(), r.ops};
  const auto& graph_outputs = model->graph->outputs();
  for (size_t i = 0; i < graph_outputs.size(); ++i) {
    const fs::path p = dir / "test_data_set_0" / ("output_" + std::to_string(i) + ".pb");
    if (!fs::exists(p)) continue;
    auto want = readTensorFile(p);
    if (!want.isOk()) return {"unsupported", "output " + std::to_string(i) + " is not a tensor", r.ops};
    const std::string diff = compare(outputs->at(graph_outputs[i]->name()), *want);
    if (!diff.empty()) return {"fail", "output " + graph_outputs[i]->name() + ": " + diff, r.ops};
  }
  r.status = "pass";
  return r;
}

std::map<std::string, std::string> readKnown(const std::string& path) {
  std::map<std::string, std::string> known;
  if (path.empty()) return known;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.find(' ');
    known[line.substr(0, space)] = space == std::string::npos ? "" : line.substr(space + 1);
  }
  return known;
}

}  // namespace

int main(int argc, char** argv) {
  std::string suite, filter, known_path;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--suite" && i + 1 < argc) suite = argv[++i];
    else if (a == "--filter" && i + 1 < argc) filter = argv[++i];
    else if (a == "--known" && i + 1 < argc) known_path = argv[++i];
    else if (a == "--verbose") verbose = true;
    else {
      std::fprintf(stderr, "usage: vitq_conformance --suite DIR [--filter SUBSTR] [--known FILE] [--verbose]\n");
      return 2;
    }
  }
  std::vector<fs::path> tests;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(suite, ec)) {
    if (e.is_directory() && e.path().filename().string().find(filter) != std::string::npos) tests.push_back(e.path());
  }
  if (ec || tests.empty()) {
    std::fprintf(stderr, "no node tests under '%s'\n", suite.c_str());
    return 2;
  }
  std::sort(tests.begin(), tests.end());
  const auto known = readKnown(known_path);
  std::map<std::string, int> counts;
  int unexpected = 0;
  std::set<std::string> failing_ops;
  for (const auto& dir : tests) {
    const std::string name = dir.filename().string();
    Result r = runTest(dir);
    ++counts[r.status];
    const bool bad = r.status == "fail" || r.status == "error";
    if (bad) {
      const bool is_known = known.count(name) > 0;
      unexpected += is_known ? 0 : 1;
      for (const auto& op : r.ops) failing_ops.insert(op);
      std::printf("%s %s: %s: %s\n", is_known ? "known" : "FAIL ", name.c_str(), r.status.c_str(), r.detail.c_str());
    } else if (verbose) {
      std::printf("%-11s %s %s\n", r.status.c_str(), name.c_str(), r.detail.c_str());
    }
  }
  std::printf("node tests: %zu; pass %d, fail %d, error %d, unsupported %d; unexpected failures %d\n", tests.size(),
              counts["pass"], counts["fail"], counts["error"], counts["unsupported"], unexpected);
  return unexpected == 0 ? 0 : 1;
}
