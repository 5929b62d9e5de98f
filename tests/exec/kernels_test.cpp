// Kernel edge cases the ONNX node suite does not pin down: rounding ties and saturation in
// QuantizeLinear, bit-exact integer requantization, Reshape 0/-1, Slice with negative steps and
// clamping, Resize half_pixel on a known input, transpose paths, and error messages for bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include "exec/executor.h"
#include "exec/gemm.h"
#include "exec/kernel_registry.h"
#include "support/graph_dsl.h"

namespace vitq {
namespace {

using test::oneGraphModel;
using test::runModelText;

template <typename T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

TEST_CASE("QuantizeLinear rounds ties to even and saturates", "[kernels]") {
  const std::vector<float> x{0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 300.0f, -300.0f, 2.4999f};
  SECTION("uint8") {
    auto out = runModelText(oneGraphModel(13, "(float[8] X) => (uint8[8] Y)", "  <float S = {1.0}, uint8 Z = {0}>\n  Y = QuantizeLinear(X, S, Z)"),
                   13, {{"X", Tensor::fromVector(x, {8})}});
    REQUIRE(out.isOk());
    CHECK(values<uint8_t>(out->at("Y")) == std::vector<uint8_t>{0, 2, 2, 0, 0, 255, 0, 2});
  }
  SECTION("int8 with a zero point and scale 2") {
    auto out = runModelText(oneGraphModel(13, "(float[8] X) => (int8[8] Y)", "  <float S = {2.0}, int8 Z = {-1}>\n  Y = QuantizeLinear(X, S, Z)"),
                   13, {{"X", Tensor::fromVector(x, {8})}});
    REQUIRE(out.isOk());
    // x / 2 = 0.25 0.75 1.25 -0.25 -0.75 150 -150 1.25 -> round 0 1 1 0 -1 150 -150 1, then -1 and clamp.
    CHECK(values<int8_t>(out->at("Y")) == std::vector<int8_t>{-1, 0, 0, -1, -2, 127, -128, 0});
  }
}

// Calls a kernel directly, for element types the text format cannot spell (int4).
Status callKernel(const std::string& op, const Node& node, int64_t opset, std::vector<const Tensor*> inputs,
                  std::vector<Tensor>& outputs) {
  const KernelFn* fn = KernelRegistry::instance().find("", op);
  REQUIRE(fn != nullptr);
  KernelContext ctx{node, opset, 1, std::move(inputs), {}};
  ctx.outputs.resize(1);
  Status s = (*fn)(ctx);
  outputs = ctx.outputs;
  return s;
}

TEST_CASE("QuantizeLinear and DequantizeLinear pack int4 low nibble first", "[kernels]") {
  Model m = test::parseModel(oneGraphModel(13, "(float[3] X) => (uint8[3] Y)", "  <float S = {1.0}>\n  Y = QuantizeLinear(X, S)"));
  const Node& node = *m.graph->nodes().front();
  Tensor x = Tensor::fromVector<float>({-9.0f, 3.5f, 7.6f}, {3});
  Tensor s = Tensor::fromVector<float>({1.0f}, {});
  Tensor z(DataType::kInt4, {});
  std::vector<Tensor> out;
  REQUIRE(callKernel("QuantizeLinear", node, 21, {&x, &s, &z}, out).isOk());
  REQUIRE(out[0].dtype() == DataType::kInt4);
  const uint8_t* bytes = static_cast<const uint8_t*>(out[0].rawData());
  // -9 saturates to -8 (0x8), 3.5 rounds to 4, 7.6 to 8 which saturates to 7.
  CHECK(bytes[0] == 0x48);
  CHECK(bytes[1] == 0x07);
  std::vector<Tensor> back;
  REQUIRE(callKernel("DequantizeLinear", node, 21, {&out[0], &s, &z}, back).isOk());
  CHECK(values<float>(back[0]) == std::vector<float>{-8.0f, 4.0f, 7.0f});
}

TEST_CASE("QLinearMatMul requantizes bit-exactly", "[kernels]") {
  const std::string body =
      "  <float SA = {0.05}, uint8 ZA = {120}, float SB = {0.02}, int8 ZB = {3}, float SY = {0.013}, uint8 ZY = {100}>\n"
      "  Y = QLinearMatMul(A, SA, ZA, B, SB, ZB, SY, ZY)";
  const std::vector<uint8_t> a{0, 255, 17, 120, 200, 33};
  const std::vector<int8_t> b{-128, 127, 5, -7, 64, 0};
  auto out = runModelText(oneGraphModel(13, "(uint8[2, 3] A, int8[3, 2] B) => (uint8[2, 2] Y)", body), 13,
                 {{"A", Tensor::fromVector(a, {2, 3})}, {"B", Tensor::fromVector(b, {3, 2})}});
  REQUIRE(out.isOk());
  const float mult = 0.05f * 0.02f / 0.013f;
  std::vector<uint8_t> want;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      int32_t acc = 0;
      for (int k = 0; k < 3; ++k) acc += (a[i * 3 + k] - 120) * (b[k * 2 + j] - 3);
      const float q = std::nearbyint(static_cast<float>(acc) * mult) + 100.0f;
      want.push_back(static_cast<uint8_t>(std::min(255.0f, std::max(0.0f, q))));
    }
  }
  CHECK(values<uint8_t>(out->at("Y")) == want);
}

TEST_CASE("MatMulInteger with a per-row A zero point", "[kernels]") {
  const std::vector<uint8_t> a{1, 2, 3, 4, 5, 6};
  const std::vector<uint8_t> b{7, 8, 9, 10, 11, 12};
  auto out = runModelText(oneGraphModel(13, "(uint8[2, 3] A, uint8[3, 2] B) => (int32[2, 2] Y)",
                       "  <uint8[2] ZA = {1, 4}, uint8 ZB = {9}>\n  Y = MatMulInteger(A, B, ZA, ZB)"),
                 13, {{"A", Tensor::fromVector(a, {2, 3})}, {"B", Tensor::fromVector(b, {3, 2})}});
  REQUIRE(out.isOk());
  std::vector<int32_t> want;
  const int za[2] = {1, 4};
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      int32_t acc = 0;
      for (int k = 0; k < 3; ++k) acc += (a[i * 3 + k] - za[i]) * (b[k * 2 + j] - 9);
      want.push_back(acc);
    }
  }
  CHECK(values<int32_t>(out->at("Y")) == want);
}

TEST_CASE("Integer Div truncates toward zero, by powers of two and otherwise", "[kernels]") {
  // One divisor per row (per channel, as the integer export's requantization): powers of two take
  // a shift, 3 divides; negative dividends round toward zero either way.
  const std::vector<int64_t> x{-9, -8, -7, -1, 0, 1, 7, 8, 9, -1000001, 1000001, std::numeric_limits<int64_t>::min() + 1};
  const std::vector<int64_t> d{1, 2, 8, 3};
  std::vector<int64_t> rows;
  for (size_t i = 0; i < d.size(); ++i) rows.insert(rows.end(), x.begin(), x.end());
  auto out = runModelText(oneGraphModel(13, "(int64[4,12] X, int64[4,1] D) => (int64[4,12] Y)", "  Y = Div(X, D)"), 13,
                 {{"X", Tensor::fromVector(rows, {4, 12})}, {"D", Tensor::fromVector(d, {4, 1})}});
  REQUIRE(out.isOk());
  std::vector<int64_t> expected;
  for (const int64_t q : d) {
    for (const int64_t v : x) expected.push_back(v / q);
  }
  CHECK(values<int64_t>(out->at("Y")) == expected);
  auto by_zero = runModelText(oneGraphModel(13, "(int32[3] X, int32[1] D) => (int32[3] Y)", "  Y = Div(X, D)"), 13,
                     {{"X", Tensor::fromVector(std::vector<int32_t>{-5, 0, 5}, {3})},
                      {"D", Tensor::fromVector(std::vector<int32_t>{0}, {1})}});
  REQUIRE(by_zero.isOk());
  CHECK(values<int32_t>(by_zero->at("Y")) == std::vector<int32_t>{0, 0, 0});
}

TEST_CASE("Reshape with 0 and -1", "[kernels]") {
  const std::string sig = "(float[2, 3, 4] X, int64[2] S) => (float Y)";
  Tensor x(DataType::kFloat, {2, 3, 4});
  auto out = runModelText(oneGraphModel(14, sig, "  Y = Reshape(X, S)"), 14,
                 {{"X", x}, {"S", Tensor::fromVector<int64_t>({0, -1}, {2})}});
  REQUIRE(out.isOk());
  CHECK(out->at("Y").shape() == Shape{2, 12});
  CHECK(out->at("Y").rawData() == x.rawData());  // zero-copy

  auto bad = runModelText(oneGraphModel(14, sig, "  Y = Reshape(X, S)"), 14, {{"X", x}, {"S", Tensor::fromVector<int64_t>({-1, -1}, {2})}});
  REQUIRE_FALSE(bad.isOk());
  CHECK_THAT(bad.status().message(), Catch::Contains("'producing Y' (Reshape)") && Catch::Contains("more than one -1"));

  auto mismatch = runModelText(oneGraphModel(14, sig, "  Y = Reshape(X, S)"), 14, {{"X", x}, {"S", Tensor::fromVector<int64_t>({5, 5}, {2})}});
  REQUIRE_FALSE(mismatch.isOk());
  CHECK_THAT(mismatch.status().message(), Catch::Contains("(Reshape)") && Catch::Contains("cannot reshape [2,3,4]"));
}

TEST_CASE("Slice with negative steps and out-of-range bounds", "[kernels]") {
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
  const std::string sig = "(float[3, 4] X, int64[2] B, int64[2] E, int64[2] A, int64[2] P) => (float Y)";
  auto out = runModelText(oneGraphModel(13, sig, "  Y = Slice(X, B, E, A, P)"), 13,
                 {{"X", Tensor::fromVector(v, {3, 4})},
                  {"B", Tensor::fromVector<int64_t>({100, -1}, {2})},
                  {"E", Tensor::fromVector<int64_t>({std::numeric_limits<int64_t>::min(), 0}, {2})},
                  {"A", Tensor::fromVector<int64_t>({0, 1}, {2})},
                  {"P", Tensor::fromVector<int64_t>({-2, -2}, {2})}});
  REQUIRE(out.isOk());
  // Rows 2, 0 (start clamped to 2); columns 3, 1 (end 0 is exclusive).
  CHECK(out->at("Y").shape() == Shape{2, 2});
  CHECK(values<float>(out->at("Y")) == std::vector<float>{11, 9, 3, 1});
}

TEST_CASE("Resize linear half_pixel on a 2x2 input", "[kernels]") {
  auto out = runModelText(oneGraphModel(13, "(float[1, 1, 2, 2] X) => (float[1, 1, 4, 4] Y)",
                       "  <float[4] S = {1.0, 1.0, 2.0, 2.0}>\n  Y = Resize <mode = \"linear\"> (X, , S)"),
                 13, {{"X", Tensor::fromVector<float>({1, 2, 3, 4}, {1, 1, 2, 2})}});
  REQUIRE(out.isOk());
  const std::vector<float> want{1.0f, 1.25f, 1.75f, 2.0f, 1.5f, 1.75f, 2.25f, 2.5f,
                                2.5f, 2.75f, 3.25f, 3.5f, 3.0f, 3.25f, 3.75f, 4.0f};
  const auto got = values<float>(out->at("Y"));
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-6));
}

TEST_CASE("Transpose matches a naive permutation on every path", "[kernels]") {
  // [2, 3, 4, 5] with perms that hit the block-copy, tiled 2-d and strided paths.
  const Shape in{2, 3, 40, 37};
  std::vector<float> v(2 * 3 * 40 * 37);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  for (const auto& perm : {std::vector<int64_t>{0, 2, 1, 3}, std::vector<int64_t>{0, 1, 3, 2},
                           std::vector<int64_t>{3, 2, 1, 0}, std::vector<int64_t>{1, 0, 2, 3}}) {
    std::string p = "[";
    for (size_t i = 0; i < perm.size(); ++i) p += (i ? ", " : "") + std::to_string(perm[i]);
    p += "]";
    auto out = runModelText(oneGraphModel(13, "(float[2, 3, 40, 37] X) => (float Y)", "  Y = Transpose <perm = " + p + "> (X)"), 13,
                   {{"X", Tensor::fromVector(v, in)}});
    REQUIRE(out.isOk());
    const Tensor& y = out->at("Y");
    Shape os(4);
    for (size_t i = 0; i < 4; ++i) os[i] = in[static_cast<size_t>(perm[i])];
    REQUIRE(y.shape() == os);
    bool same = true;
    int64_t o[4];
    for (o[0] = 0; o[0] < os[0]; ++o[0])
      for (o[1] = 0; o[1] < os[1]; ++o[1])
        for (o[2] = 0; o[2] < os[2]; ++o[2])
          for (o[3] = 0; o[3] < os[3]; ++o[3]) {
            int64_t idx[4];
            for (size_t i = 0; i < 4; ++i) idx[perm[i]] = o[i];
            const int64_t src = ((idx[0] * in[1] + idx[1]) * in[2] + idx[2]) * in[3] + idx[3];
            const int64_t dst = ((o[0] * os[1] + o[1]) * os[2] + o[2]) * os[3] + o[3];
            same = same && y.data<float>()[dst] == v[static_cast<size_t>(src)];
          }
    CHECK(same);
  }
}

TEST_CASE("Einsum attention forms match a naive contraction", "[kernels]") {
  std::vector<float> q(2 * 3 * 4 * 5), k(2 * 3 * 6 * 5);
  for (size_t i = 0; i < q.size(); ++i) q[i] = std::sin(static_cast<float>(i));
  for (size_t i = 0; i < k.size(); ++i) k[i] = std::cos(static_cast<float>(i));
  auto out = runModelText(oneGraphModel(12, "(float[2, 3, 4, 5] Q, float[2, 3, 6, 5] K) => (float Y)",
                       "  Y = Einsum <equation = \"bhid,bhjd->bhij\"> (Q, K)"),
                 12, {{"Q", Tensor::fromVector(q, {2, 3, 4, 5})}, {"K", Tensor::fromVector(k, {2, 3, 6, 5})}});
  REQUIRE(out.isOk());
  const Tensor& y = out->at("Y");
  REQUIRE(y.shape() == Shape{2, 3, 4, 6});
  for (int bh = 0; bh < 6; ++bh)
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 6; ++j) {
        double acc = 0;
        for (int d = 0; d < 5; ++d) acc += q[static_cast<size_t>((bh * 4 + i) * 5 + d)] * k[static_cast<size_t>((bh * 6 + j) * 5 + d)];
        CHECK(y.data<float>()[(bh * 4 + i) * 6 + j] == Approx(acc).epsilon(1e-5).margin(1e-6));
      }
}

TEST_CASE("Integer GEMM is exact on its float path and on its int32 path", "[kernels]") {
  // Small k keeps every partial sum under 2^24 (the float GEMM). k = 1500 with large same-sign
  // values and no zero points reaches about 4.5e7, where floats are 4 apart (int32 arithmetic;
  // a float GEMM would round). Both must equal an int64 reference exactly.
  std::mt19937 rng(7);
  for (const auto& [m, n, k] : {std::array<int64_t, 3>{37, 45, 60}, std::array<int64_t, 3>{9, 21, 1500}}) {
    const bool large = k > 1000;
    std::uniform_int_distribution<int> u8(large ? 200 : 0, 255), s8(large ? 100 : -128, 127);
    std::vector<uint8_t> a(static_cast<size_t>(m * k));
    std::vector<int8_t> b(static_cast<size_t>(k * n));
    for (auto& v : a) v = static_cast<uint8_t>(u8(rng));
    for (auto& v : b) v = static_cast<int8_t>(s8(rng));
    std::vector<int32_t> b_zero(static_cast<size_t>(n));
    for (auto& z : b_zero) z = large ? 0 : s8(rng) / 4;
    const int32_t a_zero = large ? 0 : 131;
    std::vector<int32_t> c(static_cast<size_t>(m * n));
    gemmInteger<uint8_t, int8_t>(m, n, k, a.data(), a_zero, b.data(), b_zero.data(), true, c.data());
    int64_t mismatches = 0;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        int64_t want = 0;
        for (int64_t r = 0; r < k; ++r) {
          want += (int64_t{a[static_cast<size_t>(i * k + r)]} - a_zero) *
                  (int64_t{b[static_cast<size_t>(r * n + j)]} - b_zero[static_cast<size_t>(j)]);
        }
        mismatches += c[static_cast<size_t>(i * n + j)] != want;
      }
    INFO("m " << m << " n " << n << " k " << k);
    CHECK(mismatches == 0);
  }
}

TEST_CASE("Depthwise ConvInteger equals an integer loop exactly", "[kernels]") {
  // 5x5 depthwise, stride 2 in x, padding (padded taps read the zero point), per-channel weight
  // zero points: the float fast path must give the integers an int64 loop gives.
  const int64_t channels = 4, h = 6, w = 19;
  std::vector<uint8_t> x(static_cast<size_t>(channels * h * w));
  std::vector<int8_t> k(static_cast<size_t>(channels * 25));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<int8_t>(static_cast<int>((i * 53) % 256) - 128);
  const std::vector<int8_t> kz{0, 3, -2, 5};
  const uint8_t xz = 97;
  auto out = runModelText(oneGraphModel(13, "(uint8[1, 4, 6, 19] X, int8[4, 1, 5, 5] W, uint8 XZ, int8[4] WZ) => (int32 Y)",
                       "  Y = ConvInteger <group = 4, kernel_shape = [5, 5], strides = [1, 2], pads = [2, 2, 2, 2]> "
                       "(X, W, XZ, WZ)"),
                 13,
                 {{"X", Tensor::fromVector(x, {1, channels, h, w})},
                  {"W", Tensor::fromVector(k, {channels, 1, 5, 5})},
                  {"XZ", Tensor::fromVector<uint8_t>({xz}, {})},
                  {"WZ", Tensor::fromVector(kz, {channels})}});
  REQUIRE(out.isOk());
  const Tensor& y = out->at("Y");
  const int64_t oh = h, ow = (w + 4 - 5) / 2 + 1;
  REQUIRE(y.shape() == Shape{1, channels, oh, ow});
  int64_t mismatches = 0;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        int64_t want = 0;
        for (int64_t ky = 0; ky < 5; ++ky)
          for (int64_t kx = 0; kx < 5; ++kx) {
            const int64_t iy = oy - 2 + ky, ix = ox * 2 - 2 + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            want += (int64_t{x[static_cast<size_t>((c * h + iy) * w + ix)]} - xz) *
                    (int64_t{k[static_cast<size_t>(c * 25 + ky * 5 + kx)]} - kz[static_cast<size_t>(c)]);
          }
        mismatches += y.data<int32_t>()[(c * oh + oy) * ow + ox] != want;
      }
  CHECK(mismatches == 0);
}

TEST_CASE("kernels reject bad input with errors naming the node", "[kernels]") {
  SECTION("Gather index out of range") {
    auto out = runModelText(oneGraphModel(13, "(float[3] X, int64[1] I) => (float Y)", "  Y = Gather(X, I)"), 13,
                   {{"X", Tensor::fromVector<float>({1, 2, 3}, {3})}, {"I", Tensor::fromVector<int64_t>({3}, {1})}});
    REQUIRE_FALSE(out.isOk());
    CHECK_THAT(out.status().message(), Catch::Contains("(Gather)") && Catch::Contains("index 3 is out of range"));
  }
  SECTION("Concat shapes disagree") {
    auto out = runModelText(oneGraphModel(13, "(float[2, 3] A, float[2, 4] B) => (float Y)", "  Y = Concat <axis = 0> (A, B)"), 13,
                   {{"A", Tensor(DataType::kFloat, {2, 3})}, {"B", Tensor(DataType::kFloat, {2, 4})}});
    REQUIRE_FALSE(out.isOk());
    CHECK_THAT(out.status().message(), Catch::Contains("(Concat)") && Catch::Contains("does not match"));
  }
  SECTION("Expand to an absurd shape") {
    auto out = runModelText(oneGraphModel(13, "(float[1] X, int64[3] S) => (float Y)", "  Y = Expand(X, S)"), 13,
                   {{"X", Tensor(DataType::kFloat, {1})},
                    {"S", Tensor::fromVector<int64_t>({int64_t{1} << 30, int64_t{1} << 30, 4}, {3})}});
    REQUIRE_FALSE(out.isOk());
    CHECK_THAT(out.status().message(), Catch::Contains("(Expand)"));
  }
  SECTION("Split sizes that do not cover the axis") {
    auto out = runModelText(oneGraphModel(13, "(float[5] X, int64[2] S) => (float A, float B)", "  A, B = Split(X, S)"), 13,
                   {{"X", Tensor(DataType::kFloat, {5})}, {"S", Tensor::fromVector<int64_t>({2, 2}, {2})}});
    REQUIRE_FALSE(out.isOk());
    CHECK_THAT(out.status().message(), Catch::Contains("(Split)") && Catch::Contains("do not cover"));
  }
  SECTION("Reshape shape given as float") {
    auto out = runModelText(oneGraphModel(13, "(float[4] X, float[2] S) => (float Y)", "  Y = Reshape(X, S)"), 13,
                   {{"X", Tensor(DataType::kFloat, {4})}, {"S", Tensor::fromVector<float>({2, 2}, {2})}});
    REQUIRE_FALSE(out.isOk());
    CHECK_THAT(out.status().message(), Catch::Contains("(Reshape)") && Catch::Contains("integer tensor"));
  }
}

TEST_CASE("MaxPool ceil_mode with indices, AveragePool count_include_pad", "[kernels]") {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
  auto out = runModelText(oneGraphModel(12, "(float[1, 1, 4, 4] X) => (float Y, int64 I)",
                       "  Y, I = MaxPool <kernel_shape = [3, 3], strides = [2, 2], ceil_mode = 1> (X)"),
                 12, {{"X", Tensor::fromVector(v, {1, 1, 4, 4})}});
  REQUIRE(out.isOk());
  CHECK(out->at("Y").shape() == Shape{1, 1, 2, 2});
  CHECK(values<float>(out->at("Y")) == std::vector<float>{10, 11, 14, 15});
  CHECK(values<int64_t>(out->at("I")) == std::vector<int64_t>{10, 11, 14, 15});

  auto avg = runModelText(oneGraphModel(11, "(float[1, 1, 4, 4] X) => (float Y)",
                       "  Y = AveragePool <kernel_shape = [2, 2], pads = [1, 1, 1, 1], strides = [2, 2], "
                       "count_include_pad = 1> (X)"),
                 11, {{"X", Tensor::fromVector(v, {1, 1, 4, 4})}});
  REQUIRE(avg.isOk());
  // Top-left window holds only X[0] = 0 plus three pads: 0 / 4; next covers X[1], X[2]: 3 / 4.
  const auto y = values<float>(avg->at("Y"));
  REQUIRE(y.size() == 9);
  CHECK(y[0] == 0.0f);
  CHECK(y[1] == 0.75f);
  CHECK(y[8] == 15.0f / 4.0f);
}

// Recurrent layers against ONNX Runtime 1.20.1 (CPU). Weights and inputs come from a formula both
// sides compute, 0.5 * sin(0.37 * i + k) over the flat index i; expected outputs printed by ORT.
Tensor sinTensor(const Shape& shape, int k) {
  Tensor t(DataType::kFloat, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(0.5 * std::sin(0.37 * static_cast<double>(i) + k));
  return t;
}

void checkClose(const Tensor& got, const std::vector<float>& want) {
  REQUIRE(got.numel() == static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) CHECK(got.data<float>()[i] == Approx(want[i]).margin(1e-6));
}

TEST_CASE("LSTM bidirectional with sequence_lens, initial states and peepholes matches ONNX Runtime", "[kernels]") {
  const std::string text = oneGraphModel(14,
      "(float[3,2,3] X, float[2,8,3] W, float[2,8,2] R, float[2,16] B, int32[2] L, float[2,2,2] H0, float[2,2,2] C0, "
      "float[2,6] P) => (float[3,2,2,2] Y, float[2,2,2] Yh, float[2,2,2] Yc)",
      "  Y, Yh, Yc = LSTM <direction = \"bidirectional\", hidden_size = 2> (X, W, R, B, L, H0, C0, P)");
  TensorMap feeds{{"X", sinTensor({3, 2, 3}, 0)}, {"W", sinTensor({2, 8, 3}, 1)}, {"R", sinTensor({2, 8, 2}, 2)},
                  {"B", sinTensor({2, 16}, 3)},   {"L", Tensor::fromVector<int32_t>({3, 2}, {2})},
                  {"H0", sinTensor({2, 2, 2}, 4)}, {"C0", sinTensor({2, 2, 2}, 5)}, {"P", sinTensor({2, 6}, 6)}};
  auto out = runModelText(text, 14, feeds);
  REQUIRE(out.isOk());
  // Batch entry 1 runs 2 steps: Y[2, :, 1] is zero, its reverse direction starts at t = 1.
  const std::vector<float> want_y{-0.090713337f, -0.16594745f, 0.071141019f, -0.059888292f, -0.042806376f, 0.0024921275f, -0.013202813f, 0.024851153f, 0.047042042f, -0.051309738f, -0.020147763f, -0.030768408f, 0.013500561f, 0.045877576f, 0.17649992f, 0.15241228f, -0.066897601f, -0.064016134f, 0.0f, 0.0f, 0.17877135f, 0.13762748f, 0.0f, 0.0f};
  const std::vector<float> want_yh{-0.066897601f, -0.064016134f, -0.020147763f, -0.030768408f, -0.042806376f, 0.0024921275f, -0.013202813f, 0.024851153f};
  const std::vector<float> want_yc{-0.12270819f, -0.099785283f, -0.037905388f, -0.053982884f, -0.089439526f, 0.0046610348f, -0.029010221f, 0.041877344f};
  checkClose(out->at("Y"), want_y);
  checkClose(out->at("Yh"), want_yh);
  checkClose(out->at("Yc"), want_yc);

  // A hidden_size that disagrees with W is refused, naming the node.
  const std::string bad = oneGraphModel(14, "(float[3,2,3] X, float[2,8,3] W, float[2,8,2] R) => (float[3,2,2,3] Y)",
                                "  Y = LSTM <direction = \"bidirectional\", hidden_size = 3> (X, W, R)");
  auto err = runModelText(bad, 14, {{"X", sinTensor({3, 2, 3}, 0)}, {"W", sinTensor({2, 8, 3}, 1)}, {"R", sinTensor({2, 8, 2}, 2)}});
  REQUIRE_FALSE(err.isOk());
  CHECK_THAT(err.status().message(), Catch::Contains("(LSTM)") && Catch::Contains("W has shape [2,8,3]"));
}

TEST_CASE("GRU with linear_before_reset = 1, sequence_lens and initial_h matches ONNX Runtime", "[kernels]") {
  TensorMap feeds{{"X", sinTensor({3, 2, 3}, 0)}, {"W", sinTensor({1, 6, 3}, 1)}, {"R", sinTensor({1, 6, 2}, 2)},
                  {"B", sinTensor({1, 12}, 3)},   {"L", Tensor::fromVector<int32_t>({2, 3}, {2})},
                  {"H0", sinTensor({1, 2, 2}, 4)}};
  const std::string sig =
      "(float[3,2,3] X, float[1,6,3] W, float[1,6,2] R, float[1,12] B, int32[2] L, float[1,2,2] H0) => "
      "(float[3,1,2,2] Y, float[1,2,2] Yh)";
  SECTION("forward, linear_before_reset = 1") {
    auto out = runModelText(oneGraphModel(14, sig, "  Y, Yh = GRU <hidden_size = 2, linear_before_reset = 1> (X, W, R, B, L, H0)"), 14, feeds);
    REQUIRE(out.isOk());
    checkClose(out->at("Y"), {-0.33159673f, -0.23281245f, -0.50189793f, -0.16139457f, -0.41290393f, -0.18459536f,
                              -0.22627249f, -0.34492353f, 0.0f, 0.0f, -0.15358394f, -0.33938837f});
    checkClose(out->at("Yh"), {-0.41290393f, -0.18459536f, -0.15358394f, -0.33938837f});
  }
  SECTION("reverse, linear_before_reset = 0, clip 0.6") {
    auto out = runModelText(oneGraphModel(14, sig, "  Y, Yh = GRU <hidden_size = 2, direction = \"reverse\", clip = 0.6> (X, W, R, B, L, H0)"),
                   14, feeds);
    REQUIRE(out.isOk());
    checkClose(out->at("Y"), {-0.29038414f, -0.0037521124f, -0.27495375f, -0.0128337f, -0.34886944f, -0.15490431f,
                              -0.095502719f, -0.32082915f, 0.0f, 0.0f, -0.1122261f, -0.25647369f});
    checkClose(out->at("Yh"), {-0.29038414f, -0.0037521124f, -0.27495375f, -0.0128337f});
  }
}

}  // namespace
}  // namespace vitq
