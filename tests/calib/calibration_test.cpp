#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "calib/calibration_session.h"
#include "calib/dataset.h"
#include "calib/npy_io.h"
#include "calib/observer.h"
#include "support/graph_dsl.h"

namespace vitq {
namespace {

namespace fs = std::filesystem;

const char* kModel = R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[N, 2] X) => (float[N, 3] Y) <float[2, 3] W = {1., 0., -1., 0., 1., 1.}> {
  H = MatMul(X, W)
  Y = Relu(H)
}
)ONNX";

void save(const Tensor& t, const fs::path& p) { REQUIRE(writeNpy(t, p).isOk()); }

TEST_CASE(".npy files round-trip and bad ones are refused", "[calib][npy]") {
  const fs::path dir = test::makeTempDir("vitq-npy");
  Tensor t = Tensor::fromVector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  save(t, dir / "a.npy");
  auto back = readNpy(dir / "a.npy");
  REQUIRE(back.isOk());
  CHECK(back->bitwiseEqual(t));
  auto bytes = encodeNpy(t);
  REQUIRE(bytes.isOk());
  auto cut = parseNpy(bytes->substr(0, bytes->size() - 4), "cut.npy");
  REQUIRE_FALSE(cut.isOk());
  CHECK_THAT(cut.status().message(), Catch::Contains("'cut.npy' holds 20 bytes of data; shape [2,3] of float needs 24"));
  auto junk = parseNpy("hello world", "junk.npy");
  REQUIRE_FALSE(junk.isOk());
  CHECK_THAT(junk.status().message(), Catch::Contains("'junk.npy' is not a .npy file"));
}

TEST_CASE("a folder of .npy samples feeds a one-input model", "[calib][dataset]") {
  Model m = test::parseModel(kModel);
  const fs::path dir = test::makeTempDir("vitq-ds");
  save(Tensor::fromVector<float>({1, 2}, {2}), dir / "s0.npy");     // without batch dim
  save(Tensor::fromVector<float>({3, -4}, {1, 2}), dir / "s1.npy");  // with batch dim
  auto ds = openNpyDataset(dir, {m.graph->inputs()[0]});
  REQUIRE(ds.isOk());
  REQUIRE((*ds)->size() == 2);
  auto s0 = (*ds)->sample(0);
  REQUIRE(s0.isOk());
  CHECK(s0->at("X").shape() == Shape{1, 2});
}

TEST_CASE("bad samples are refused naming the file", "[calib][dataset][errors]") {
  Model m = test::parseModel(kModel);
  const fs::path dir = test::makeTempDir("vitq-dsbad");
  save(Tensor::fromVector<float>({1, NAN}, {1, 2}), dir / "nan.npy");
  save(Tensor::fromVector<float>({1, 2, 3}, {1, 3}), dir / "wide.npy");
  save(Tensor::fromVector<int64_t>({1, 2}, {1, 2}), dir / "ints.npy");
  auto ds = openNpyDataset(dir, {m.graph->inputs()[0]});
  REQUIRE(ds.isOk());
  auto ints = (*ds)->sample(0);
  CHECK_THAT(ints.status().message(), Catch::Contains("ints.npy' holds int64; input 'X' takes float"));
  auto nan = (*ds)->sample(1);
  CHECK_THAT(nan.status().message(), Catch::Contains("nan.npy' contains NaN at element 1"));
  auto wide = (*ds)->sample(2);
  CHECK_THAT(wide.status().message(), Catch::Contains("wide.npy' has shape [1,3]; input 'X' is float[N,2]"));

  const fs::path empty = test::makeTempDir("vitq-empty");
  auto none = openNpyDataset(empty, {m.graph->inputs()[0]});
  REQUIRE_FALSE(none.isOk());
  CHECK_THAT(none.status().message(), Catch::Contains("holds no samples"));
}

TEST_CASE("min/max observers, per tensor and per channel", "[calib][observer]") {
  auto obs = makeMinMaxObserver(1);
  REQUIRE(obs->observe(Tensor::fromVector<float>({1, -2, 3, 4}, {2, 2})).isOk());
  REQUIRE(obs->observe(Tensor::fromVector<float>({0, 7, -5, 1}, {2, 2})).isOk());
  const TensorStats s = obs->stats();
  CHECK(s.min == -5);
  CHECK(s.max == 7);
  CHECK(s.count == 8);
  CHECK(s.channel_min == std::vector<float>{-5, -2});
  CHECK(s.channel_max == std::vector<float>{3, 7});
  // Each observation's own range, summed for ranges averaged over samples (mean-minmax).
  CHECK(s.observations == 2);
  CHECK(s.sample_min_sum == -2 + -5);
  CHECK(s.sample_max_sum == 4 + 7);
  auto bad = makeMinMaxObserver();
  CHECK_FALSE(bad->observe(Tensor::fromVector<float>({1, INFINITY}, {2})).isOk());
}

TEST_CASE("histogram observer counts every element over the first pass's range", "[calib][observer]") {
  auto obs = makeHistogramObserver(4);
  const Tensor t = Tensor::fromVector<float>({0, 1, 2, 3, 4, 4}, {6});
  REQUIRE(obs->numPasses() == 2);
  obs->beginPass(0);
  REQUIRE(obs->observe(t).isOk());
  obs->beginPass(1);
  REQUIRE(obs->observe(t).isOk());
  const TensorStats s = obs->stats();
  CHECK(s.hist_min == 0);
  CHECK(s.hist_max == 4);
  CHECK(s.histogram == std::vector<uint64_t>{1, 1, 1, 3});
}

TEST_CASE("calibration observes inputs and activations through the executor", "[calib]") {
  Model m = test::parseModel(kModel);
  const fs::path dir = test::makeTempDir("vitq-cal");
  save(Tensor::fromVector<float>({1, 2}, {1, 2}), dir / "a.npy");
  save(Tensor::fromVector<float>({-3, 1}, {1, 2}), dir / "b.npy");
  auto ds = openNpyDataset(dir, {m.graph->inputs()[0]});
  REQUIRE(ds.isOk());
  auto result = calibrate(*m.graph, 13, **ds, [](const Value&) { return makeMinMaxObserver(); });
  REQUIRE(result.isOk());
  CHECK(result->samples == 2);
  // H = X W: a -> [1, 2, 1], b -> [-3, 1, 4].
  CHECK(result->stats.at("X").min == -3);
  CHECK(result->stats.at("H").min == -3);
  CHECK(result->stats.at("H").max == 4);
  CHECK(result->stats.at("Y").min == 0);
  CHECK(result->stats.at("Y").max == 4);
}

}  // namespace
}  // namespace vitq
