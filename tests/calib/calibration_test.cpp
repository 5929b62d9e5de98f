#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "calib/calibration_session.h"
#include "calib/dataset.h"
#include "calib/npy_io.h"
#include "calib/npz_io.h"
#include "ir/memory_limit.h"
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

TEST_CASE("a stacked batch feeds an input that has no batch dim, one row per sample", "[calib][dataset]") {
  Model m = test::parseModel(R"ONNX(<ir_version: 8, opset_import: ["" : 17]>
g (float[2] X) => (float[2] Y) {
  Y = Relu(X)
}
)ONNX");
  const fs::path dir = test::makeTempDir("vitq-dsnobatch");
  save(Tensor::fromVector<float>({1, 2, 3, 4, 5, 6}, {3, 2}), dir / "rows.npy");
  auto ds = openNpyDataset(dir / "rows.npy", {m.graph->inputs()[0]});
  REQUIRE(ds.isOk());
  REQUIRE((*ds)->size() == 3);
  auto s2 = (*ds)->sample(2);
  REQUIRE(s2.isOk());
  CHECK(s2->at("X").shape() == Shape{2});
  CHECK(std::vector<float>(s2->at("X").data<float>(), s2->at("X").data<float>() + 2) == std::vector<float>{5, 6});
}

TEST_CASE("float64 samples (numpy's default) are converted to float32; values past float32 are refused",
          "[calib][dataset]") {
  Model m = test::parseModel(kModel);
  const fs::path dir = test::makeTempDir("vitq-ds64");
  save(Tensor::fromVector<double>({1.5, -2.25}, {1, 2}), dir / "a.npy");
  save(Tensor::fromVector<double>({1e300, 0.0}, {1, 2}), dir / "b.npy");
  auto ds = openNpyDataset(dir, {m.graph->inputs()[0]});
  REQUIRE(ds.isOk());
  auto a = (*ds)->sample(0);
  REQUIRE(a.isOk());
  const Tensor& x = a->at("X");
  CHECK(x.dtype() == DataType::kFloat);
  CHECK(std::vector<float>(x.data<float>(), x.data<float>() + 2) == std::vector<float>{1.5f, -2.25f});
  auto b = (*ds)->sample(1);
  CHECK_THAT(b.status().message(), Catch::Contains("b.npy' holds float64 and element 0"));
  CHECK_THAT(b.status().message(), Catch::Contains("past float32's range"));
}

TEST_CASE("a batch file's shape error says how the file is split into samples", "[calib][dataset][errors]") {
  Model m = test::parseModel(kModel);
  const fs::path dir = test::makeTempDir("vitq-dsbatch");
  save(Tensor::fromVector<float>(std::vector<float>(9, 1.0f), {3, 1, 3}), dir / "batch.npy");
  auto ds = openNpyDataset(dir / "batch.npy", {m.graph->inputs()[0]});
  REQUIRE(ds.isOk());
  auto s = (*ds)->sample(0);
  CHECK_THAT(s.status().message(), Catch::Contains("batch.npy[0]' has shape [1,1,3]; input 'X' is float[N,2]"));
  CHECK_THAT(s.status().message(), Catch::Contains("(a batch file of shape [3,1,3] is split along its first "
                                                   "dimension: 3 samples of shape [1,1,3])"));
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

TEST_CASE("a data folder refuses a .npy that is no regular file, and samples of no elements", "[calib][dataset][errors]") {
  Model m = test::parseModel(kModel);
  const fs::path dir = test::makeTempDir("vitq-dsodd");
  save(Tensor::fromVector<float>({1, 2}, {1, 2}), dir / "a.npy");
  fs::create_directory(dir / "b.npy");  // was skipped: calibration on fewer samples than the folder shows
  auto folder = openNpyDataset(dir, {m.graph->inputs()[0]});
  REQUIRE_FALSE(folder.isOk());
  CHECK(folder.status().message() == "'" + (dir / "b.npy").string() + "' in data folder '" + dir.string() +
                                         "' is not a regular file (a folder, pipe, socket or device); samples are .npy files");
  fs::remove(dir / "b.npy");
  REQUIRE(::mkfifo((dir / "c.npy").c_str(), 0600) == 0);
  CHECK_THAT(openNpyDataset(dir, {m.graph->inputs()[0]}).status().message(), Catch::Contains("c.npy' in data folder"));
  fs::remove(dir / "c.npy");
  save(Tensor(DataType::kFloat, {0, 2}), dir / "empty.npy");  // X is float[N, 2]: N = 0 passes the shape check
  auto ds = openNpyDataset(dir, {m.graph->inputs()[0]});
  REQUIRE(ds.isOk());
  auto empty = (*ds)->sample(1);
  REQUIRE_FALSE(empty.isOk());
  CHECK(empty.status().message() == "'" + (dir / "empty.npy").string() +
                                        "' has shape [0,2], which holds no elements; a sample needs at least one");
}

// The bytes of a ZIP archive holding \p entries (name, bytes) as np.savez (stored) or
// np.savez_compressed (raw deflate) writes them; \p size_error is added to each declared size.
std::string zipOf(const std::vector<std::pair<std::string, std::string>>& entries, bool deflated,
                  int size_error = 0) {
  auto put = [](std::string& out, uint64_t v, int width) {
    for (int i = 0; i < width; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  std::string body, directory;
  for (const auto& [name, data] : entries) {
    std::string stored = data;
    if (deflated) {
      z_stream z{};
      REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
      stored.resize(deflateBound(&z, static_cast<uLong>(data.size())));
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
      z.avail_in = static_cast<uInt>(data.size());
      z.next_out = reinterpret_cast<Bytef*>(stored.data());
      z.avail_out = static_cast<uInt>(stored.size());
      REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
      stored.resize(z.total_out);
      deflateEnd(&z);
    }
    const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
    const uint64_t local = body.size();
    for (std::string* record : {&body, &directory}) {
      const bool central = record == &directory;
      put(*record, central ? 0x02014b50 : 0x04034b50, 4);
      put(*record, 20, central ? 4 : 2);  // versions made by (central only) and needed
      put(*record, 0, 2);                  // flags
      put(*record, deflated ? 8 : 0, 2);
      put(*record, 0, 4);                  // time and date
      put(*record, crc, 4);
      put(*record, stored.size(), 4);
      put(*record, data.size() + static_cast<uint64_t>(size_error), 4);
      put(*record, name.size(), 2);
      put(*record, 0, 2);  // extra field length
      if (central) {
        put(*record, 0, 6);  // comment length, disk, internal attributes
        put(*record, 0, 4);  // external attributes
        put(*record, local, 4);
      }
      *record += name;
    }
    body += stored;
  }
  std::string end;
  put(end, 0x06054b50, 4);
  put(end, 0, 4);  // disk numbers
  put(end, entries.size(), 2);
  put(end, entries.size(), 2);
  put(end, directory.size(), 4);
  put(end, body.size(), 4);
  put(end, 0, 2);
  return body + directory + end;
}

void writeFile(const fs::path& path, const std::string& bytes) { REQUIRE(std::ofstream(path, std::ios::binary) << bytes); }

std::vector<float> floats(const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.numel()); }

TEST_CASE(".npy batches and .npz entries are read a slice at a time, in any order", "[calib][npy]") {
  std::vector<float> values(15);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  const Tensor x = Tensor::fromVector<float>(values, {5, 3});
  const Tensor n = Tensor::fromVector<int64_t>({7, 8, 9, 10, 11}, {5});
  const fs::path dir = test::makeTempDir("vitq-slices");
  save(x, dir / "x.npy");
  auto npy = openNpy(dir / "x.npy");
  REQUIRE(npy.isOk());
  CHECK(npy->shape() == Shape{5, 3});
  CHECK(floats(*npy->rows(3, 1)) == std::vector<float>{9, 10, 11});
  CHECK(floats(*npy->rows(1, 2)) == std::vector<float>{3, 4, 5, 6, 7, 8});
  CHECK_FALSE(npy->rows(4, 2).isOk());
  for (bool deflated : {false, true}) {
    CAPTURE(deflated);
    const fs::path path = dir / (deflated ? "packed.npz" : "stored.npz");
    writeFile(path, zipOf({{"x.npy", *encodeNpy(x)}, {"notes.txt", "not an array"}, {"n.npy", *encodeNpy(n)}}, deflated));
    auto arrays = openNpz(path);
    REQUIRE(arrays.isOk());
    REQUIRE(arrays->size() == 2);
    CHECK(arrays->at(0).first == "x");
    CHECK(arrays->at(1).first == "n");
    const NpyArray& a = arrays->at(0).second;
    // Forward, back to an earlier row (a deflated entry is inflated again from its start), forward.
    CHECK(floats(*a.rows(3, 1)) == std::vector<float>{9, 10, 11});
    CHECK(floats(*a.rows(0, 2)) == std::vector<float>{0, 1, 2, 3, 4, 5});
    CHECK(floats(*a.rows(4, 1)) == std::vector<float>{12, 13, 14});
    CHECK(a.all()->bitwiseEqual(x));
    CHECK(arrays->at(1).second.rows(2, 3)->toInt64Vector() == std::vector<int64_t>{9, 10, 11});
  }
  // One changed byte of an entry's data: the CRC-32 checked on opening refuses the archive.
  std::string bad = zipOf({{"x.npy", *encodeNpy(x)}}, false);
  bad[100] ^= 0x01;
  writeFile(dir / "bad.npz", bad);
  CHECK(openNpz(dir / "bad.npz").status().message() == "'" + (dir / "bad.npz").string() +
                                                           "': entry 'x.npy' is corrupt (CRC mismatch)");
  // A deflate stream shorter or longer than its declared size, or damaged: refused on opening.
  for (int size_error : {1, -1}) {
    writeFile(dir / "size.npz", zipOf({{"x.npy", *encodeNpy(x)}}, true, size_error));
    CHECK(openNpz(dir / "size.npz").status().message() == "'" + (dir / "size.npz").string() +
                                                             "': entry 'x.npy' does not inflate to its declared size");
  }
  std::string damaged = zipOf({{"x.npy", *encodeNpy(x)}}, true);
  damaged[40] = static_cast<char>(0xff);  // inside the deflate data (30-byte header, 5-byte name)
  writeFile(dir / "damaged.npz", damaged);
  CHECK_THAT(openNpz(dir / "damaged.npz").status().message(),
             Catch::StartsWith("'" + (dir / "damaged.npz").string() + "': entry 'x.npy' ") &&
                 (Catch::EndsWith("does not inflate to its declared size") || Catch::EndsWith("(CRC mismatch)")));
}

TEST_CASE("a .npy larger than a tensor may be is refused before it is read", "[calib][npy][robustness]") {
  const fs::path dir = test::makeTempDir("vitq-npybig");
  const int64_t rows = static_cast<int64_t>(tensorByteLimit() / 1024) + 1;
  const std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", 1024), }";
  std::string lead = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header;
  writeFile(dir / "big.npy", lead);
  fs::resize_file(dir / "big.npy", lead.size() + static_cast<uint64_t>(rows) * 1024);  // sparse: no disk used
  auto big = readNpy(dir / "big.npy");
  REQUIRE_FALSE(big.isOk());
  CHECK_THAT(big.status().message(), Catch::StartsWith("'" + (dir / "big.npy").string() + "' of shape [" +
                                                       std::to_string(rows) + ",1024] (uint8) needs "));
  // A header that claims more than numpy ever writes is damage, not an array.
  writeFile(dir / "long.npy", std::string("\x93NUMPY\x02\x00\x00\x00\x00\x01", 12));
  CHECK_THAT(readNpy(dir / "long.npy").status().message(), Catch::Contains("its .npy header claims 16777216 bytes"));
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
