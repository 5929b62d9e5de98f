// Library-level guarantees behind docs/robustness.md: sizes refused before allocation, kernel
// overflows reported as errors naming the node, schema checks at import, and AtomicFile leaving
// nothing behind on a file size limit or an interrupt.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "exec/executor.h"
#include "ir/memory_limit.h"
#include "onnx_io/atomic_file.h"
#include "onnx_io/model_file.h"
#include "support/graph_dsl.h"

namespace vitq {
namespace {

namespace fs = std::filesystem;

StatusOr<TensorMap> runOnce(const Model& model, TensorMap feeds) {
  VITQ_ASSIGN_OR_RETURN(Executor exec, Executor::create(*model.graph, model.opsetVersion("")));
  return exec.run(feeds);
}

TEST_CASE("a tensor larger than half the machine's memory is refused before allocation", "[robustness]") {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  CHECK(tensorByteLimit() == static_cast<size_t>(pages) * static_cast<size_t>(page) / 2);
  const int64_t rows = static_cast<int64_t>(tensorByteLimit() / 4 / 1024) + 1;  // one row past the limit
  REQUIRE_THROWS_AS(Tensor(DataType::kFloat, {rows, 1024}), TensorTooLarge);
  REQUIRE_THROWS_WITH(Tensor(DataType::kFloat, {rows, 1024}), Catch::Contains("more than half of this machine's memory"));
  REQUIRE_NOTHROW(Tensor(DataType::kFloat, {1024, 1024}));
}

TEST_CASE("a shape past 2^40 elements is a TensorTooLarge, not an abort", "[robustness]") {
  // Was a VITQ_CHECK: `vitq run` on an input declared [2^40, 3] died of SIGABRT.
  REQUIRE_THROWS_AS(Tensor(DataType::kFloat, {int64_t{1} << 40, 3}), TensorTooLarge);
  REQUIRE_THROWS_WITH(Tensor(DataType::kFloat, {int64_t{1} << 40, 3}),
                      "of shape [1099511627776,3] has more than 1099511627776 elements");
}

TEST_CASE("untrusted shapes are checked before allocating, naming the tensor", "[robustness]") {
  CHECK(checkAllocation(DataType::kFloat, {1, 3, 224, 224}, "input 'x'").isOk());
  CHECK(checkAllocation(DataType::kFloat, {int64_t{1} << 40, 3}, "input 'x'").message() ==
        "input 'x' of shape [1099511627776,3] has more than 1099511627776 elements");
  CHECK(checkAllocation(DataType::kFloat, {4, -1}, "input 'x'").message() ==
        "input 'x' of shape [4,-1] has a negative dimension");
  const int64_t rows = static_cast<int64_t>(tensorByteLimit() / 1024) + 1;  // one row of bytes past the limit
  const Status past = checkAllocation(DataType::kUInt8, {rows, 1024}, "'big.npy'");
  CHECK(past.message() == "'big.npy' of shape [" + std::to_string(rows) + ",1024] (uint8) " +
                              tensorTooLargeMessage(static_cast<size_t>(rows) * 1024));
  CHECK_THAT(past.message(), Catch::Contains(" needs ") && Catch::Contains("more than half of this machine's memory ("));
}

TEST_CASE("a kernel asked for a huge output fails naming the node", "[robustness][exec]") {
  const Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1] X) => (float[1] Y) <int64[2] S = {1048576, 524288}> {
  Big = ConstantOfShape(S)
  Y = Add(X, X)
}
)ONNX");
  auto out = runOnce(m, {{"X", Tensor::fromVector<float>({1.0f}, {1})}});
  REQUIRE_FALSE(out.isOk());
  CHECK_THAT(out.status().message(), Catch::Contains("(ConstantOfShape): its output needs"));
}

TEST_CASE("Tile repeats that overflow int64 are an error, not undefined behaviour", "[robustness][exec]") {
  const Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[2] X) => (float[N] Y) <int64[1] R = {4611686018427387904}> {
  Y = Tile(X, R)
}
)ONNX");
  auto out = runOnce(m, {{"X", Tensor::fromVector<float>({1.0f, 2.0f}, {2})}});
  REQUIRE_FALSE(out.isOk());
  CHECK_THAT(out.status().message(), Catch::Contains("overflow the shape [2]"));
}

TEST_CASE("Range with a NaN or infinite limit is an error", "[robustness][exec]") {
  const Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float Start, float Limit, float Delta) => (float[N] Y) {
  Y = Range(Start, Limit, Delta)
}
)ONNX");
  for (float limit : {std::nanf(""), INFINITY, -INFINITY}) {
    auto out = runOnce(m, {{"Start", Tensor::fromVector<float>({0.0f}, {})},
                           {"Limit", Tensor::fromVector<float>({limit}, {})},
                           {"Delta", Tensor::fromVector<float>({1.0f}, {})}});
    REQUIRE_FALSE(out.isOk());
    CHECK_THAT(out.status().message(), Catch::Contains("not a number"));
  }
}

TEST_CASE("import checks ops and attributes against the model's opset", "[robustness][import]") {
  auto later_op = test::tryImport(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1, 4] X, float[4] G) => (float[1, 4] Y) {
  Y = LayerNormalization(X, G)
}
)ONNX");
  REQUIRE_FALSE(later_op.isOk());
  CHECK_THAT(later_op.status().message(), Catch::Contains("does not exist in ai.onnx opset 13") &&
                                              Catch::Contains("added in opset 17"));
  auto float_perm = test::tryImport(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1, 4] X) => (float[4, 1] Y) {
  Y = Transpose <perm = 1.5> (X)
}
)ONNX");
  REQUIRE_FALSE(float_perm.isOk());
  CHECK_THAT(float_perm.status().message(), Catch::Contains("attribute 'perm' is float; Transpose takes INTS"));
}

TEST_CASE("model bytes are checked to be a model, whatever protobuf accepts", "[robustness][import]") {
  CHECK_THAT(parseModelProto("", 0, "x").status().message(), Catch::Contains("no ir_version"));
  const std::string only_version("\x08\x08", 2);
  CHECK_THAT(parseModelProto(only_version.data(), only_version.size(), "x").status().message(),
             Catch::Contains("no graph"));
  const std::string cut("\x08\x08\x3a\x80\x80\x80\x80\x80\x80\x80\x80\x40", 12);  // graph claims 2^62 bytes
  CHECK_THAT(parseModelProto(cut.data(), cut.size(), "x").status().message(),
             Catch::Contains("protobuf parsing failed"));
}

// Runs \p child in a forked process and returns its wait status.
template <typename Fn>
int inChild(Fn child) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    child();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

bool folderIsEmpty(const fs::path& dir) { return fs::directory_iterator(dir) == fs::directory_iterator(); }

TEST_CASE("a file size limit is a write error, and the temporary is removed", "[robustness][atomic]") {
  const fs::path dir = test::makeTempDir("vitq-fsize");
  const int status = inChild([&] {
    const rlimit limit{4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    Status written;
    {
      AtomicFile file(dir / "big.bin");  // destroyed before _exit, as in a failing command
      written = file.write(std::string(1 << 20, 'x'));
    }
    ::_exit(!written.isOk() && written.message().find("File too large") != std::string::npos ? 0 : 3);
  });
  REQUIRE(WIFEXITED(status));  // not killed by SIGXFSZ
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(folderIsEmpty(dir));
}

// The wait status of a child that writes \p destination's temporary, then receives \p sig before it
// commits (exit 3: the write failed; 4: the signal did not end it).
int signalledWhileWriting(const fs::path& destination, int sig) {
  return inChild([&] {
    AtomicFile file(destination);
    if (!file.write("partial").isOk()) ::_exit(3);
    ::raise(sig);
    ::_exit(4);  // not reached: SIGINT's handler re-raises with the default action, SIGKILL has none
  });
}

TEST_CASE("SIGINT between write and commit removes the temporary", "[robustness][atomic]") {
  const fs::path dir = test::makeTempDir("vitq-sigint");
  const int status = signalledWhileWriting(dir / "model.onnx", SIGINT);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGINT);
  CHECK(folderIsEmpty(dir));
}

TEST_CASE("a temporary left by a killed process is removed by the next write", "[robustness][atomic]") {
  const fs::path dir = test::makeTempDir("vitq-killed");
  // A writer killed between write and commit: no handler runs for SIGKILL, the temporary stays.
  const int status = signalledWhileWriting(dir / "model.onnx", SIGKILL);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir)) left.push_back(e.path().filename().string());
  REQUIRE(left.size() == 1);
  CHECK_THAT(left[0], Catch::StartsWith(".model.onnx.tmp-"));
  // Temporaries of a live process (this one) and of another output are not this write's to remove.
  const std::string live = ".model.onnx.tmp-" + std::to_string(::getpid()) + "-99";
  const std::string other = ".other.onnx" + left[0].substr(std::string(".model.onnx").size());
  for (const std::string& name : {live, other}) REQUIRE(std::ofstream(dir / name) << "x");
  AtomicFile next(dir / "model.onnx");
  REQUIRE(next.write("whole").isOk());
  REQUIRE(next.commit().isOk());
  CHECK_FALSE(fs::exists(dir / left[0]));
  CHECK(fs::exists(dir / live));
  CHECK(fs::exists(dir / other));
}

TEST_CASE("an output folder is checked before any work", "[robustness][atomic]") {
  const fs::path dir = test::makeTempDir("vitq-folder");
  CHECK(checkDestinationFolder(dir / "x.onnx").isOk());
  CHECK_THAT(checkDestinationFolder(dir / "missing" / "x.onnx").message(), Catch::Contains("does not exist"));
}

}  // namespace
}  // namespace vitq
