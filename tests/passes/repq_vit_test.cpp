#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "exec/executor.h"
#include "ir/verifier.h"
#include "passes/ptq/log_quant_export.h"
#include "passes/ptq/scale_reparam.h"
#include "quant/math/quantize.h"
#include "quant/math/range_search.h"
#include "support/float_rewrite_checks.h"
#include "support/graph_dsl.h"

namespace vitq {
namespace {

// Fused LayerNorm feeding a MatMul with a bias Add, a bias-free MatMul and a transB Gemm.
const char* kFusedLn = R"ONNX(
<ir_version: 8, opset_import: ["" : 17]>
agraph (float[2, 3, 4] X) => (float[2, 3, 2] Y1, float[2, 3, 3] Y2)
  <float[4] G = {1.5, -0.5, 2., 0.8}, float[4] B = {0.1, 0.2, -0.3, 0.4},
   float[4, 2] W1 = {1., -2., 0.5, 0.25, -1., 3., 2., -0.5}, float[2] B1 = {0.3, -0.7},
   float[4, 3] W2 = {0.1, 0.2, 0.3, -0.4, 0.5, -0.6, 0.7, 0.8, -0.9, 1., -1.1, 1.2}> {
  N = LayerNormalization <axis = -1, epsilon = 0.00001> (X, G, B)
  M1 = MatMul(N, W1)
  Y1 = Add(M1, B1)
  Y2 = MatMul(N, W2)
}
)ONNX";

// Decomposed LayerNorm (opset 13 export) with only a gamma Mul, feeding a Gemm with transB and C.
const char* kDecomposedLn = R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[3, 4] X) => (float[3, 2] Y)
  <float[1] Two = {2.}, float[1] Eps = {0.00001}, float[4] G = {1.5, -0.5, 2., 0.8},
   float[2, 4] W = {1., -2., 0.5, 0.25, -1., 3., 2., -0.5}, float[2] C = {0.3, -0.7}> {
  Mu = ReduceMean <axes = [-1]> (X)
  D = Sub(X, Mu)
  P = Pow(D, Two)
  V = ReduceMean <axes = [-1]> (P)
  Ve = Add(V, Eps)
  S = Sqrt(Ve)
  Nn = Div(D, S)
  N = Mul(Nn, G)
  Y = Gemm <transB = 1, alpha = 0.5, beta = 2.> (N, W, C)
}
)ONNX";

using test::randomInput;
using test::requireSameOutputs;

TensorMap run(const Model& m, const Tensor& x) { return test::runWithX(m, x); }

TEST_CASE("channel transform folds exactly into a fused LayerNorm and its consumers", "[passes][repq]") {
  Model m = test::parseModel(kFusedLn);
  const Tensor x = randomInput({2, 3, 4}, 1);
  const TensorMap before = run(m, x);
  auto sites = findChannelFoldSites(*m.graph);
  REQUIRE(sites.size() == 1);
  CHECK(sites[0].channels == 4);
  CHECK(sites[0].consumers.size() == 2);
  const std::vector<float> sigma = {0.5f, 2.0f, 1.25f, 3.0f}, delta = {0.3f, -1.0f, 0.0f, 2.5f};
  auto out = foldChannelTransform(*m.graph, sites[0], sigma, delta);
  REQUIRE(out.isOk());
  REQUIRE(verifyModel(m).isOk());
  requireSameOutputs(before, run(m, x));
  // The bias-free MatMul received a bias Add carrying delta W.
  int adds = 0;
  for (const auto& n : m.graph->nodes()) adds += n->is("Add") ? 1 : 0;
  CHECK(adds == 2);
}

TEST_CASE("channel transform folds into a decomposed LayerNorm without beta and a Gemm", "[passes][repq]") {
  Model m = test::parseModel(kDecomposedLn);
  const Tensor x = randomInput({3, 4}, 2);
  const TensorMap before = run(m, x);
  auto sites = findChannelFoldSites(*m.graph);
  REQUIRE(sites.size() == 1);
  REQUIRE_FALSE(sites[0].norm.fused);
  auto out = foldChannelTransform(*m.graph, sites[0], {0.25f, 4.0f, 1.0f, 0.7f}, {1.0f, -0.5f, 0.2f, 0.0f});
  REQUIRE(out.isOk());
  CHECK((*out)->producer()->is("Add"));  // beta' needed a node of its own
  REQUIRE(verifyModel(m).isOk());
  requireSameOutputs(before, run(m, x));
}

TEST_CASE("a LayerNorm feeding a non-linear op is not a fold site", "[passes][repq]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 17]>
agraph (float[3, 4] X) => (float[3, 2] Y, float[3, 4] R)
  <float[4] G = {1., 1., 1., 1.}, float[4, 2] W = {1., 2., 3., 4., 5., 6., 7., 8.}> {
  N = LayerNormalization(X, G)
  Y = MatMul(N, W)
  R = Relu(N)
}
)ONNX");
  CHECK(findChannelFoldSites(*m.graph).empty());
}

TEST_CASE("RepQ factors make one per-tensor quantizer reproduce per-channel quantization", "[passes][repq]") {
  QuantSpec spec;
  spec.bits = 4;
  spec.is_signed = false;
  spec.symmetric = false;
  const std::vector<float> lo = {-0.5f, -8.0f, 0.0f, -1.0f}, hi = {0.5f, 2.0f, 30.0f, 0.1f};
  const QuantParams pc = paramsFromRanges(lo, hi, spec);
  const RepqFactors f = repqFactors(pc, {false, false, false, false}, false);
  const float s = f.per_tensor.scale[0];
  const int32_t z = f.per_tensor.zero_point[0];
  std::mt19937 rng(3);
  for (int trial = 0; trial < 2000; ++trial) {
    const size_t c = static_cast<size_t>(trial % 4);
    const float x = std::uniform_real_distribution<float>(lo[c] * 1.2f, hi[c] * 1.2f)(rng);
    const int32_t per_channel = quantizeValue(x, pc.scale[c], pc.zero_point[c], spec.qmin(), spec.qmax());
    const float x_folded = (x - f.delta[c]) / f.sigma[c];
    const int32_t per_tensor = quantizeValue(x_folded, s, z, spec.qmin(), spec.qmax());
    // Equal codes up to float rounding at exact ties.
    CHECK(std::abs(per_channel - per_tensor) <= (std::fabs(std::fmod(x / pc.scale[c], 1.0f)) > 0.499f ? 1 : 0));
  }
}

TEST_CASE("MSE range search clips a heavy tail and keeps a uniform range", "[quant][range]") {
  QuantSpec spec;
  spec.bits = 4;
  spec.is_signed = false;
  spec.symmetric = false;
  // Uniform mass on [0, 1]: clipping only adds error.
  std::vector<uint64_t> flat(256, 100);
  auto r = mseUniformRange({flat.data(), flat.size(), 0.0f, 1.0f}, spec);
  CHECK(r.second == Approx(1.0f));
  // All mass near 0, one outlier bin at 100: the range is clipped far below the outlier.
  std::vector<uint64_t> tail(1000, 0);
  for (int b = 0; b < 10; ++b) tail[static_cast<size_t>(b)] = 100000;
  tail[999] = 1;
  r = mseUniformRange({tail.data(), tail.size(), 0.0f, 100.0f}, spec);
  CHECK(r.second < 10.0f);
  CHECK(r.second > 0.5f);
}

// The expected error of a range summed bin by bin, as the search defines it.
double binByBinError(const std::vector<uint64_t>& counts, float h_lo, float h_hi, float lo, float hi,
                     const QuantSpec& spec) {
  float s;
  int32_t z;
  chooseParams(lo, hi, spec, s, z);
  const double grid_lo = static_cast<double>(spec.qmin() - z) * s, grid_hi = static_cast<double>(spec.qmax() - z) * s;
  const double width = (static_cast<double>(h_hi) - h_lo) / static_cast<double>(counts.size());
  double err = 0;
  for (size_t b = 0; b < counts.size(); ++b) {
    const double x = h_lo + width * (static_cast<double>(b) + 0.5), n = static_cast<double>(counts[b]);
    err += x < grid_lo ? n * (grid_lo - x) * (grid_lo - x) : x > grid_hi ? n * (x - grid_hi) * (x - grid_hi) : n * s * s / 12.0;
  }
  return err;
}

TEST_CASE("MSE range search finds the range of least bin-by-bin error among its candidates", "[quant][range]") {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 40; ++trial) {
    QuantSpec spec;
    spec.bits = trial % 3 == 0 ? 4 : 8;
    spec.is_signed = trial % 4 == 1;
    spec.symmetric = spec.is_signed;
    // Skewed, sparse histograms: a peak, a long tail, empty bins.
    std::vector<uint64_t> counts(512, 0);
    const double peak = std::uniform_real_distribution<double>(20, 300)(rng);
    for (size_t b = 0; b < counts.size(); ++b) {
      const double d = (static_cast<double>(b) - peak) / 12.0;
      counts[b] = static_cast<uint64_t>(1e5 * std::exp(-d * d)) + (rng() % 7 == 0 ? rng() % 50 : 0);
    }
    const float h_lo = std::uniform_real_distribution<float>(-6.0f, 0.5f)(rng);
    const float h_hi = h_lo + std::uniform_real_distribution<float>(1.0f, 40.0f)(rng);
    const auto found = mseUniformRange({counts.data(), counts.size(), h_lo, h_hi}, spec);
    const double found_err = binByBinError(counts, h_lo, h_hi, found.first, found.second, spec);
    // The candidates: each end shrunk by 0.92^k, k < 30.
    for (int i = 0; i < 30; ++i) {
      for (int j = 0; j < 30; ++j) {
        const float hi_f = static_cast<float>(std::pow(0.92, j));
        const float lo_f = spec.symmetric ? hi_f : static_cast<float>(std::pow(0.92, i));
        CHECK(found_err <= binByBinError(counts, h_lo, h_hi, h_lo * lo_f, h_hi * hi_f, spec) * (1 + 1e-9));
      }
    }
  }
}

TEST_CASE("MSE weight clipping never loses to min/max", "[quant][range]") {
  Tensor w = randomInput({8, 64}, 4);
  w.data<float>()[5] = 40.0f;  // one outlier in channel 0
  QuantSpec spec;
  spec.bits = 4;
  spec.axis = 0;
  const QuantParams mse = mseWeightParams(w, spec);
  std::vector<float> lo(8, 0.0f), hi(8, 0.0f);
  for (int64_t i = 0; i < w.numel(); ++i) {
    lo[static_cast<size_t>(i / 64)] = std::min(lo[static_cast<size_t>(i / 64)], w.data<float>()[i]);
    hi[static_cast<size_t>(i / 64)] = std::max(hi[static_cast<size_t>(i / 64)], w.data<float>()[i]);
  }
  const QuantParams mm = paramsFromRanges(lo, hi, spec);
  for (size_t c = 0; c < 8; ++c) {
    double e_mse = 0, e_mm = 0;
    for (int64_t i = 0; i < 64; ++i) {
      const float x = w.data<float>()[static_cast<int64_t>(c) * 64 + i];
      const float a = dequantizeValue(quantizeValue(x, mse.scale[c], 0, spec.qmin(), spec.qmax()), mse.scale[c], 0);
      const float b = dequantizeValue(quantizeValue(x, mm.scale[c], 0, spec.qmin(), spec.qmax()), mm.scale[c], 0);
      e_mse += (a - x) * (a - x);
      e_mm += (b - x) * (b - x);
    }
    CHECK(e_mse <= e_mm * (1 + 1e-6));
  }
  CHECK(mse.scale[0] < mm.scale[0]);  // the outlier channel is clipped
}

TEST_CASE("exported log-sqrt2 quantizer computes the log2 form of the quantizer", "[passes][repq]") {
  const float scale = 0.9f;
  for (int bits : {3, 4, 6}) {
    Model copy = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[64] X) => (float[64] Y) {
  Y = Identity(X)
}
)ONNX");
    Graph& cg = *copy.graph;
    insertLogSqrt2FakeQuant(cg, cg.inputs()[0], scale, bits, cg.nodes().front().get());
    REQUIRE(verifyModel(copy).isOk());
    Tensor in(DataType::kFloat, {64});
    for (int i = 0; i < 64; ++i) in.data<float>()[i] = i == 0 ? 0.0f : std::pow(0.8f, static_cast<float>(i - 1));
    const Tensor y = run(copy, in).at("Y");
    for (int i = 0; i < 64; ++i) {
      const float expected = logSqrt2FakeQuant(in.data<float>()[i], scale, bits);
      CHECK(y.data<float>()[i] == Approx(expected).epsilon(1e-6).margin(1e-12));
    }
    // Every non-zero output is s 2^(-k/2) for a code k < 2^bits.
    for (int i = 0; i < 64; ++i) {
      const float v = y.data<float>()[i];
      if (v == 0.0f) continue;
      const double k = -2.0 * std::log2(v / scale);
      CHECK(std::fabs(k - std::round(k)) < 1e-4);
      CHECK(std::round(k) < (1 << bits));
    }
  }
}

TEST_CASE("exported log-sqrt2 quantizer of a Softmax reads LogSoftmax and matches the quantizer", "[passes][repq]") {
  const float scale = 0.7f;
  for (int bits : {4, 8}) {
    Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[4, 40] X) => (float[4, 40] Y) {
  P = Softmax <axis = -1> (X)
  Y = Identity(P)
}
)ONNX");
    Graph& g = *m.graph;
    Value* p = g.findValue("P");
    insertLogSqrt2FakeQuant(g, p, scale, bits, g.nodeAfter(p->producer()));
    REQUIRE(verifyModel(m).isOk());
    int softmaxes = 0, log_softmaxes = 0;
    for (const auto& n : g.nodes()) {
      softmaxes += n->is("Softmax");
      log_softmaxes += n->is("LogSoftmax") && n->attrs().intOr("axis", 0) == -1;
    }
    CHECK(softmaxes == 0);  // read only by the quantizer, so replaced
    CHECK(log_softmaxes == 1);
    Tensor in(DataType::kFloat, {4, 40});
    for (int i = 0; i < 160; ++i) in.data<float>()[i] = 0.37f * static_cast<float>((i * 7) % 41) - 2.0f * static_cast<float>(i % 4);
    const Tensor y = run(m, in).at("Y");
    int zeros = 0;
    for (int r = 0; r < 4; ++r) {
      double sum = 0;
      for (int c = 0; c < 40; ++c) sum += std::exp(static_cast<double>(in.data<float>()[r * 40 + c]));
      for (int c = 0; c < 40; ++c) {
        const float prob = static_cast<float>(std::exp(static_cast<double>(in.data<float>()[r * 40 + c])) / sum);
        const float expected = logSqrt2FakeQuant(prob, scale, bits);
        CHECK(y.data<float>()[r * 40 + c] == Approx(expected).epsilon(1e-5).margin(1e-30));
        zeros += expected == 0.0f;
      }
    }
    if (bits == 4) CHECK(zeros > 0);  // codes past 15 give 0
  }
}

}  // namespace
}  // namespace vitq
