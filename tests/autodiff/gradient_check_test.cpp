// Finite-difference checks of the vector-Jacobian products and of block gradients. Each case is a
// small graph; the loss is L = sum_o <r_o, y_o> over its outputs with fixed random r_o, and the
// gradient blockGradients gives for every float input and initializer is compared with central
// differences (float forward passes, the loss summed in double). The error reported is
// max_i |g_i - fd_i| / max_i |fd_i| per value; set VITQ_GRADCHECK_REPORT=1 to print it per case.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "autodiff/block_gradients.h"
#include "autodiff/vjp.h"
#include "support/graph_dsl.h"

namespace vitq {
namespace {

// ---- building test graphs -------------------------------------------------------------------------

/// Uniform values in [lo, hi], nudged at least \p margin away from each point of \p kinks.
std::vector<float> randomValues(int64_t n, float lo, float hi, unsigned seed, const std::vector<float>& kinks = {},
                                float margin = 0.05f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) {
    x = dist(gen);
    for (float k : kinks) {
      if (std::fabs(x - k) < margin) x = k + (x < k ? -margin : margin);
    }
  }
  return v;
}

int64_t count(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Tensor randomTensor(const Shape& shape, float lo, float hi, unsigned seed, const std::vector<float>& kinks = {}) {
  return Tensor::fromVector(randomValues(count(shape), lo, hi, seed, kinks), shape);
}

/// The values -(n-1)/2 .. (n-1)/2 times \p spacing in a seeded random order: no two within a
/// finite-difference step of each other, so maxima (MaxPool, ReduceMax, Max) never swap.
Tensor distinctTensor(const Shape& shape, unsigned seed, float spacing = 0.05f) {
  std::vector<float> v(static_cast<size_t>(count(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = (static_cast<float>(i) - 0.5f * static_cast<float>(v.size() - 1)) * spacing;
  std::shuffle(v.begin(), v.end(), std::mt19937(seed));
  return Tensor::fromVector(v, shape);
}

std::string dims(const Shape& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s;
}

/// "float[2,3] W = {...}" with random values, for the initializer list of a test model.
std::string floatInit(const std::string& name, const Shape& shape, float lo, float hi, unsigned seed) {
  std::ostringstream os;
  os.precision(9);
  os << "float[" << dims(shape) << "] " << name << " = {";
  const auto v = randomValues(count(shape), lo, hi, seed);
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << "}";
  return os.str();
}

std::string intInit(const std::string& name, const std::vector<int64_t>& values) {
  std::string s = "int64[" + std::to_string(values.size()) + "] " + name + " = {";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + std::to_string(values[i]);
  return s + "}";
}

/// A one-graph model: signature "(float[2,3] X) => (float[3] Y)", initializers, node lines.
std::string modelText(int opset, const std::string& signature, const std::vector<std::string>& inits,
                      const std::string& body) {
  std::string init_list;
  for (size_t i = 0; i < inits.size(); ++i) init_list += (i ? ", " : "") + inits[i];
  return "<ir_version: 8, opset_import: [\"\" : " + std::to_string(opset) + "]>\nagraph " + signature + "\n" +
         (init_list.empty() ? "" : "<" + init_list + ">\n") + "{\n" + body + "\n}\n";
}

std::vector<const Node*> allNodes(const Graph& g) {
  std::vector<const Node*> out;
  for (const auto& n : g.nodes()) out.push_back(n.get());
  return out;
}

ValueTensors feedsOf(const Graph& g, const std::map<std::string, Tensor>& feeds) {
  ValueTensors t;
  for (const auto& [name, tensor] : feeds) {
    const Value* v = g.findValue(name);
    REQUIRE(v != nullptr);
    t[v] = tensor;
  }
  return t;
}

// ---- the finite-difference check ------------------------------------------------------------------

struct CheckResult {
  double max_rel_error = 0;
  std::map<std::string, double> per_value;
};

/// The loss <r_o, y_o> summed over the graph outputs, in double.
double loss(const Graph& g, const ValueTensors& tensors, const ValueTensors& weights) {
  double l = 0;
  for (const Value* out : g.outputs()) {
    const Tensor& y = tensors.at(out);
    const Tensor& r = weights.at(out);
    for (int64_t i = 0; i < y.numel(); ++i) l += double{y.data<float>()[i]} * r.data<float>()[i];
  }
  return l;
}

/// Compares blockGradients over the whole graph with central differences of step \p h for every
/// float graph input and initializer except \p skip; fails the test above \p tolerance.
CheckResult gradientCheck(const std::string& text, const std::map<std::string, Tensor>& feeds,
                          const std::set<std::string>& skip = {}, double tolerance = 1e-2, double h = 1e-2) {
  Model model = test::parseModel(text);
  const Graph& g = *model.graph;
  const int64_t opset = model.opsetVersion("");
  const std::vector<const Node*> block = allNodes(g);
  const ValueTensors inputs = feedsOf(g, feeds);
  ValueTensors forward = inputs;
  const Status fs = runBlockForward(block, opset, forward);
  INFO(fs.toString());
  REQUIRE(fs.isOk());
  ValueTensors weights;
  unsigned seed = 1000;
  for (const Value* out : g.outputs()) weights[out] = randomTensor(forward.at(out).shape(), -1, 1, seed++);
  std::vector<const Value*> wrt;
  for (const Value* v : g.values()) {
    const bool leaf = v->isGraphInput() || v->isInitializer();
    const Tensor* t = forward.count(v) ? &forward.at(v) : v->isInitializer() ? &v->initializer() : nullptr;
    if (leaf && t && t->dtype() == DataType::kFloat && v->hasUses() && !skip.count(v->name())) wrt.push_back(v);
  }
  REQUIRE(!wrt.empty());
  auto grads = blockGradients(g, block, forward, weights, wrt, opset);
  INFO(grads.status().toString());
  REQUIRE(grads.isOk());
  CheckResult result;
  for (const Value* v : wrt) {
    const Tensor base = forward.count(v) ? forward.at(v) : v->initializer();
    const Tensor& analytic = grads->at(v);
    REQUIRE(analytic.shape() == base.shape());
    double max_diff = 0, max_fd = 0;
    for (int64_t i = 0; i < base.numel(); ++i) {
      double l[2];
      for (int side = 0; side < 2; ++side) {
        ValueTensors t = inputs;
        Tensor p = base.clone();
        p.data<float>()[i] += static_cast<float>(side == 0 ? h : -h);
        t[v] = p;
        REQUIRE(runBlockForward(block, opset, t).isOk());
        l[side] = loss(g, t, weights);
      }
      // The step actually taken in float.
      const double step = double{base.data<float>()[i] + static_cast<float>(h)} - (base.data<float>()[i] - static_cast<float>(h));
      const double fd = (l[0] - l[1]) / step;
      REQUIRE(std::isfinite(fd));
      max_diff = std::max(max_diff, std::fabs(fd - analytic.data<float>()[i]));
      max_fd = std::max(max_fd, std::fabs(fd));
    }
    INFO("value '" << v->name() << "': max |fd| " << max_fd << ", max |g - fd| " << max_diff);
    CHECK(max_fd > 1e-3);  // a gradient that is everywhere zero would check nothing
    const double rel = max_diff / std::max(max_fd, 1e-12);
    CHECK(rel < tolerance);
    result.per_value[v->name()] = rel;
    result.max_rel_error = std::max(result.max_rel_error, rel);
  }
  if (std::getenv("VITQ_GRADCHECK_REPORT")) {
    std::string ops;
    for (const Node* node : block) ops += (ops.empty() ? "" : ",") + node->opType();
    std::printf("gradcheck %.2e  %s  [%s]\n", result.max_rel_error, ops.c_str(),
                Catch::getResultCapture().getCurrentTestName().c_str());
  }
  return result;
}

// A case with one input X of \p shape and body "Y = Op(X)"-style lines.
CheckResult unaryCase(int opset, const std::string& body, const Shape& shape, float lo, float hi,
                      const std::vector<float>& kinks = {}, const std::vector<std::string>& inits = {}) {
  const std::string sig = "(float[" + dims(shape) + "] X) => (float[] Y)";
  return gradientCheck(modelText(opset, sig, inits, body), {{"X", randomTensor(shape, lo, hi, 7, kinks)}});
}

// ---- per-op checks ----------------------------------------------------------------------------------

TEST_CASE("Conv gradients: plain 3x3 with bias", "[autodiff]") {
  gradientCheck(modelText(13, "(float[1,3,5,5] X) => (float[] Y)",
                          {floatInit("W", {4, 3, 3, 3}, -1, 1, 1), floatInit("B", {4}, -1, 1, 2)},
                          "Y = Conv <pads = [1, 1, 1, 1]> (X, W, B)"),
                {{"X", randomTensor({1, 3, 5, 5}, -1, 1, 3)}});
}

TEST_CASE("Conv gradients: depthwise, strided, padded, batch 2", "[autodiff]") {
  gradientCheck(modelText(13, "(float[2,4,6,6] X) => (float[] Y)",
                          {floatInit("W", {4, 1, 3, 3}, -1, 1, 1), floatInit("B", {4}, -1, 1, 2)},
                          "Y = Conv <group = 4, strides = [2, 2], pads = [1, 1, 1, 1]> (X, W, B)"),
                {{"X", randomTensor({2, 4, 6, 6}, -1, 1, 3)}});
}

TEST_CASE("Conv gradients: depthwise 5x5, dilated, asymmetric pads and strides", "[autodiff]") {
  // The direct depthwise loops: taps that fall off every side, a column stride of 2, dilation.
  gradientCheck(modelText(13, "(float[2,3,7,8] X, float[3,1,5,5] W) => (float[] Y)", {floatInit("B", {3}, -1, 1, 2)},
                          "Y = Conv <group = 3, dilations = [2, 1], strides = [1, 2], pads = [3, 2, 1, 4]> (X, W, B)"),
                {{"X", randomTensor({2, 3, 7, 8}, -1, 1, 3)}, {"W", randomTensor({3, 1, 5, 5}, -1, 1, 4)}});
}

TEST_CASE("Conv gradients: 2-D pointwise, plain and grouped", "[autodiff]") {
  // The image is its own column matrix on this path, for each group.
  gradientCheck(modelText(13, "(float[2,4,3,5] X, float[6,4,1,1] W, float[4,3,1,1] V) => (float[] Y)", {},
                          "P = Conv (X, W)\nY = Conv <group = 2> (P, V)"),
                {{"X", randomTensor({2, 4, 3, 5}, -1, 1, 3)},
                 {"W", randomTensor({6, 4, 1, 1}, -1, 1, 4)},
                 {"V", randomTensor({4, 3, 1, 1}, -1, 1, 5)}});
}

TEST_CASE("Conv gradients: grouped, dilated, asymmetric pads and strides", "[autodiff]") {
  gradientCheck(modelText(13, "(float[1,4,7,7] X, float[6,2,3,3] W) => (float[] Y)", {},
                          "Y = Conv <group = 2, dilations = [2, 2], strides = [1, 2], pads = [1, 0, 2, 1]> (X, W)"),
                {{"X", randomTensor({1, 4, 7, 7}, -1, 1, 3)}, {"W", randomTensor({6, 2, 3, 3}, -1, 1, 4)}});
}

TEST_CASE("Conv gradients: 1-D pointwise and strided", "[autodiff]") {
  gradientCheck(modelText(13, "(float[2,3,9] X, float[2,3,1] W, float[4,2,3] V) => (float[] Y)", {},
                          "P = Conv (X, W)\nY = Conv <strides = [2]> (P, V)"),
                {{"X", randomTensor({2, 3, 9}, -1, 1, 3)},
                 {"W", randomTensor({2, 3, 1}, -1, 1, 4)},
                 {"V", randomTensor({4, 2, 3}, -1, 1, 5)}});
}

TEST_CASE("Conv gradients: auto_pad SAME_UPPER with stride 2", "[autodiff]") {
  gradientCheck(modelText(13, "(float[1,2,5,6] X, float[3,2,2,3] W) => (float[] Y)", {},
                          "Y = Conv <auto_pad = \"SAME_UPPER\", strides = [2, 2]> (X, W)"),
                {{"X", randomTensor({1, 2, 5, 6}, -1, 1, 3)}, {"W", randomTensor({3, 2, 2, 3}, -1, 1, 4)}});
}

TEST_CASE("MatMul gradients: batched with broadcast batch dims", "[autodiff]") {
  gradientCheck(modelText(13, "(float[2,1,3,4] A, float[3,4,5] B) => (float[] Y)", {}, "Y = MatMul (A, B)"),
                {{"A", randomTensor({2, 1, 3, 4}, -1, 1, 1)}, {"B", randomTensor({3, 4, 5}, -1, 1, 2)}});
}

TEST_CASE("MatMul gradients: 1-D operands and a shared weight", "[autodiff]") {
  gradientCheck(modelText(13, "(float[4] A, float[2,4,3] B, float[3] C) => (float[] Y)",
                          {floatInit("W", {3, 3}, -1, 1, 9)}, "P = MatMul (A, B)\nQ = MatMul (P, W)\nY = MatMul (Q, C)"),
                {{"A", randomTensor({4}, -1, 1, 1)}, {"B", randomTensor({2, 4, 3}, -1, 1, 2)},
                 {"C", randomTensor({3}, -1, 1, 3)}});
}

TEST_CASE("Gemm gradients: transB, alpha, beta, C broadcast per column", "[autodiff]") {
  gradientCheck(modelText(13, "(float[3,4] A, float[5,4] B, float[5] C) => (float[] Y)", {},
                          "Y = Gemm <transB = 1, alpha = 0.7, beta = 1.3> (A, B, C)"),
                {{"A", randomTensor({3, 4}, -1, 1, 1)}, {"B", randomTensor({5, 4}, -1, 1, 2)},
                 {"C", randomTensor({5}, -1, 1, 3)}});
}

TEST_CASE("Gemm gradients: transA and transB, C broadcast per row", "[autodiff]") {
  gradientCheck(modelText(13, "(float[4,3] A, float[5,4] B, float[3,1] C) => (float[] Y)", {},
                          "Y = Gemm <transA = 1, transB = 1, alpha = 1.5> (A, B, C)"),
                {{"A", randomTensor({4, 3}, -1, 1, 1)}, {"B", randomTensor({5, 4}, -1, 1, 2)},
                 {"C", randomTensor({3, 1}, -1, 1, 3)}});
}

TEST_CASE("Gemm gradients: transA only, no C", "[autodiff]") {
  gradientCheck(modelText(13, "(float[4,3] A, float[4,5] B) => (float[] Y)", {}, "Y = Gemm <transA = 1> (A, B)"),
                {{"A", randomTensor({4, 3}, -1, 1, 1)}, {"B", randomTensor({4, 5}, -1, 1, 2)}});
}

TEST_CASE("Add, Sub, Mul, Div gradients with broadcasting", "[autodiff]") {
  const std::map<std::string, Tensor> feeds{{"A", randomTensor({2, 3, 4}, -1, 1, 1)},
                                            {"B", randomTensor({3, 1}, 0.5f, 2, 2)}};
  const std::string sig = "(float[2,3,4] A, float[3,1] B) => (float[] Y)";
  SECTION("Add") { gradientCheck(modelText(13, sig, {}, "Y = Add (A, B)"), feeds); }
  SECTION("Sub, broadcast on the left") { gradientCheck(modelText(13, sig, {}, "Y = Sub (B, A)"), feeds); }
  SECTION("Mul") { gradientCheck(modelText(13, sig, {}, "Y = Mul (A, B)"), feeds); }
  SECTION("Div") { gradientCheck(modelText(13, sig, {}, "Y = Div (A, B)"), feeds); }
  SECTION("Div by a tensor of the same shape, both broadcast") {
    gradientCheck(modelText(13, "(float[2,1,4] A, float[3,1] B) => (float[] Y)", {}, "Y = Div (B, A)"),
                  {{"A", randomTensor({2, 1, 4}, 0.5f, 2, 3)}, {"B", randomTensor({3, 1}, -1, 1, 4)}});
  }
  SECTION("Mul with a scalar initializer") {
    gradientCheck(modelText(13, "(float[2,3,4] A) => (float[] Y)", {"float S = {0.37}"}, "Y = Mul (A, S)"),
                  {{"A", randomTensor({2, 3, 4}, -1, 1, 1)}});
  }
}

TEST_CASE("Pow gradients: constant exponents", "[autodiff]") {
  SECTION("squared (the kernel's fast path), exponent gradient too") {
    unaryCase(13, "Y = Pow (X, E)", {2, 5}, 0.3f, 2, {}, {"float E = {2.0}"});
  }
  SECTION("fractional exponent") { unaryCase(13, "Y = Pow (X, E)", {2, 5}, 0.3f, 2, {}, {"float E = {2.5}"}); }
  SECTION("integer exponent, negative bases") { unaryCase(13, "Y = Pow (X, E)", {2, 5}, -2, 2, {}, {"int64 E = {3}"}); }
}

TEST_CASE("Softmax gradients", "[autodiff]") {
  SECTION("last axis") { unaryCase(13, "Y = Softmax <axis = -1> (X)", {2, 3, 5}, -2, 2); }
  SECTION("middle axis") { unaryCase(13, "Y = Softmax <axis = 1> (X)", {2, 3, 5}, -2, 2); }
  SECTION("opset 11: flattened from axis 1") { unaryCase(11, "Y = Softmax <axis = 1> (X)", {2, 3, 5}, -2, 2); }
}

TEST_CASE("LayerNormalization gradients", "[autodiff]") {
  SECTION("last axis, scale and bias") {
    gradientCheck(modelText(17, "(float[2,3,6] X, float[6] S, float[6] B) => (float[] Y)", {},
                            "Y = LayerNormalization <axis = -1> (X, S, B)"),
                  {{"X", randomTensor({2, 3, 6}, -2, 2, 1)}, {"S", randomTensor({6}, 0.5f, 1.5f, 2)},
                   {"B", randomTensor({6}, -1, 1, 3)}});
  }
  SECTION("axis 1 over two dims, epsilon, scale broadcast over one of them") {
    gradientCheck(modelText(17, "(float[2,3,4] X, float[4] S, float[3,4] B) => (float[] Y)", {},
                            "Y = LayerNormalization <axis = 1, epsilon = 0.01> (X, S, B)"),
                  {{"X", randomTensor({2, 3, 4}, -2, 2, 1)}, {"S", randomTensor({4}, 0.5f, 1.5f, 2)},
                   {"B", randomTensor({3, 4}, -1, 1, 3)}});
  }
  SECTION("no bias") {
    gradientCheck(modelText(17, "(float[3,5] X, float[5] S) => (float[] Y)", {}, "Y = LayerNormalization (X, S)"),
                  {{"X", randomTensor({3, 5}, -2, 2, 1)}, {"S", randomTensor({5}, 0.5f, 1.5f, 2)}});
  }
}

TEST_CASE("ReduceMean and ReduceSum gradients", "[autodiff]") {
  SECTION("axis 1, keepdims") { unaryCase(13, "Y = ReduceMean <axes = [1]> (X)", {2, 3, 4}, -1, 1); }
  SECTION("axes 0 and 2, no keepdims") { unaryCase(13, "Y = ReduceMean <axes = [0, -1], keepdims = 0> (X)", {2, 3, 4}, -1, 1); }
  SECTION("all axes") { unaryCase(13, "Y = ReduceMean (X)", {2, 3, 4}, -1, 1); }
  SECTION("opset 18: axes as an input") {
    unaryCase(18, "Y = ReduceMean (X, axes)", {2, 3, 4}, -1, 1, {}, {intInit("axes", {-1})});
  }
  SECTION("ReduceSum, opset 13 axes input") {
    unaryCase(13, "Y = ReduceSum <keepdims = 0> (X, axes)", {2, 3, 4}, -1, 1, {}, {intInit("axes", {1})});
  }
}

TEST_CASE("Unary gradients: Sqrt, Erf, Tanh, Sigmoid", "[autodiff]") {
  SECTION("Sqrt") { unaryCase(13, "Y = Sqrt (X)", {3, 4}, 0.3f, 3); }
  SECTION("Erf") { unaryCase(13, "Y = Erf (X)", {3, 4}, -2, 2); }
  SECTION("Tanh") { unaryCase(13, "Y = Tanh (X)", {3, 4}, -2, 2); }
  SECTION("Sigmoid") { unaryCase(13, "Y = Sigmoid (X)", {3, 4}, -4, 4); }
  SECTION("Identity") { unaryCase(13, "Y = Identity (X)", {3, 4}, -1, 1); }
}

TEST_CASE("Piecewise activations: Relu, HardSigmoid, HardSwish, Clip (away from the kinks)", "[autodiff]") {
  SECTION("Relu") { unaryCase(13, "Y = Relu (X)", {4, 5}, -1, 1, {0}); }
  SECTION("HardSigmoid with alpha and beta") {
    // Kinks where 0.3 x + 0.4 is 0 or 1.
    unaryCase(13, "Y = HardSigmoid <alpha = 0.3, beta = 0.4> (X)", {4, 5}, -4, 4, {-4.0f / 3, 2});
  }
  SECTION("HardSigmoid defaults") { unaryCase(13, "Y = HardSigmoid (X)", {4, 5}, -4, 4, {-2.5f, 2.5f}); }
  SECTION("HardSwish") { unaryCase(14, "Y = HardSwish (X)", {4, 5}, -5, 5, {-3, 3}); }
  SECTION("Clip with min and max inputs (their gradients too)") {
    gradientCheck(modelText(13, "(float[4,5] X, float Lo, float Hi) => (float[] Y)", {}, "Y = Clip (X, Lo, Hi)"),
                  {{"X", randomTensor({4, 5}, -2, 2, 1, {-0.5f, 0.8f})},
                   {"Lo", Tensor::fromVector<float>({-0.5f}, {})},
                   {"Hi", Tensor::fromVector<float>({0.8f}, {})}});
  }
  SECTION("Clip, max only") {
    unaryCase(13, "Y = Clip (X, , Hi)", {4, 5}, -2, 2, {0.8f}, {"float Hi = {0.8}"});
  }
  SECTION("Clip, opset 6 attributes") { unaryCase(6, "Y = Clip <min = -0.5, max = 0.8> (X)", {4, 5}, -2, 2, {-0.5f, 0.8f}); }
}

TEST_CASE("Gelu gradients, exact and tanh approximation", "[autodiff]") {
  SECTION("exact") { unaryCase(20, "Y = Gelu (X)", {3, 5}, -3, 3); }
  SECTION("tanh") { unaryCase(20, "Y = Gelu <approximate = \"tanh\"> (X)", {3, 5}, -3, 3); }
}

TEST_CASE("AveragePool and GlobalAveragePool gradients: strided, padded, ceil_mode, count_include_pad", "[autodiff]") {
  SECTION("2x2 stride 2") { unaryCase(13, "Y = AveragePool <kernel_shape = [2, 2], strides = [2, 2]> (X)", {1, 2, 4, 6}, -1, 1); }
  SECTION("3x3 padded, pads excluded from the count") {
    unaryCase(13, "Y = AveragePool <kernel_shape = [3, 3], pads = [1, 1, 1, 1]> (X)", {2, 1, 4, 5}, -1, 1);
  }
  SECTION("padded, pads counted, ceil_mode") {
    unaryCase(13,
              "Y = AveragePool <kernel_shape = [3, 2], strides = [2, 2], pads = [1, 0, 1, 1], count_include_pad = 1, "
              "ceil_mode = 1> (X)",
              {1, 2, 5, 5}, -1, 1);
  }
  SECTION("1-D") { unaryCase(13, "Y = AveragePool <kernel_shape = [3], strides = [2]> (X)", {1, 3, 9}, -1, 1); }
  SECTION("GlobalAveragePool") { unaryCase(13, "Y = GlobalAveragePool (X)", {2, 3, 4, 5}, -1, 1); }
}

TEST_CASE("Movement gradients: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Identity", "[autodiff]") {
  SECTION("Reshape with 0 and -1") {
    unaryCase(13, "Y = Reshape (X, s)", {2, 3, 4}, -1, 1, {}, {intInit("s", {0, -1, 2})});
  }
  SECTION("Flatten axis 2") { unaryCase(13, "Y = Flatten <axis = 2> (X)", {2, 3, 4}, -1, 1); }
  SECTION("Transpose") { unaryCase(13, "Y = Transpose <perm = [2, 0, 1]> (X)", {2, 3, 4}, -1, 1); }
  SECTION("Squeeze (axes input) then Unsqueeze (axes input)") {
    unaryCase(13, "P = Squeeze (X, a)\nY = Unsqueeze (P, b)", {2, 1, 4}, -1, 1, {},
              {intInit("a", {1}), intInit("b", {0, 3})});
  }
  SECTION("Squeeze and Unsqueeze, opset 11 attributes") {
    unaryCase(11, "P = Squeeze <axes = [1]> (X)\nY = Unsqueeze <axes = [-1]> (P)", {2, 1, 4}, -1, 1);
  }
}

TEST_CASE("Movement gradients: Concat, Slice, Split, Expand, Gather", "[autodiff]") {
  SECTION("Concat of three, one used twice") {
    gradientCheck(modelText(13, "(float[2,3] A, float[2,1] B) => (float[] Y)", {}, "Y = Concat <axis = 1> (A, B, A)"),
                  {{"A", randomTensor({2, 3}, -1, 1, 1)}, {"B", randomTensor({2, 1}, -1, 1, 2)}});
  }
  SECTION("Slice with axes and a negative step") {
    unaryCase(13, "Y = Slice (X, st, en, ax, sp)", {3, 4, 5}, -1, 1, {},
              {intInit("st", {-1, 1}), intInit("en", {0, 5}), intInit("ax", {2, 1}), intInit("sp", {-2, 2})});
  }
  SECTION("Slice, opset 9 attributes") {
    unaryCase(9, "Y = Slice <starts = [1], ends = [3], axes = [0]> (X)", {4, 3}, -1, 1);
  }
  SECTION("Split into uneven parts, both outputs in the loss") {
    gradientCheck(modelText(13, "(float[2,5] X) => (float[] Y, float[] Z)", {intInit("s", {2, 3})},
                            "Y, Z = Split <axis = 1> (X, s)"),
                  {{"X", randomTensor({2, 5}, -1, 1, 1)}});
  }
  SECTION("Split, only the second output used") {
    gradientCheck(modelText(13, "(float[6,2] X) => (float[] Z)", {}, "Y, Z = Split (X)"),
                  {{"X", randomTensor({6, 2}, -1, 1, 1)}});
  }
  SECTION("Expand") { unaryCase(13, "Y = Expand (X, s)", {3, 1}, -1, 1, {}, {intInit("s", {2, 3, 4})}); }
  SECTION("Gather with repeated indices") {
    unaryCase(13, "Y = Gather <axis = 1> (X, i)", {2, 4}, -1, 1, {}, {intInit("i", {3, 0, 3, -1})});
  }
}

TEST_CASE("Pass-through gradients: Cast, Dropout", "[autodiff]") {
  SECTION("Cast float to float") { unaryCase(13, "T = Cast <to = 1> (X)\nY = Tanh (T)", {3, 4}, -1, 1); }
  SECTION("no gradient through a cast to an integer and back") {
    // trunc(x) is 0 on (0, 1): the round trip adds nothing and takes no gradient.
    unaryCase(13, "I = Cast <to = 7> (X)\nF = Cast <to = 1> (I)\nY = Add (X, F)", {3, 4}, 0.1f, 0.9f);
  }
  SECTION("Dropout in inference mode, ratio as an input") {
    gradientCheck(modelText(13, "(float[3,4] X) => (float[] Y)", {"float r = {0.3}"}, "D = Dropout (X, r)\nY = Tanh (D)"),
                  {{"X", randomTensor({3, 4}, -1, 1, 1)}}, {"r"});
  }
}

TEST_CASE("Where gradients, broadcast condition and branches", "[autodiff]") {
  // The condition compares A with a constant: bool, so nothing flows into the comparison.
  gradientCheck(modelText(13, "(float[2,3,4] A, float[3,1] B) => (float[] Y)", {"float zero = {0.0}"},
                          "C = Greater (A, zero)\nY = Where (C, A, B)"),
                {{"A", randomTensor({2, 3, 4}, -1, 1, 1, {0})}, {"B", randomTensor({3, 1}, -1, 1, 2)}}, {"zero"});
}

TEST_CASE("Variadic gradients: Sum, Mean, Max, Min with broadcasting", "[autodiff]") {
  // Each input holds the maximum and the minimum of some element, and no two compared values are
  // within a finite-difference step of each other.
  const std::map<std::string, Tensor> feeds{{"A", Tensor::fromVector<float>({0.1f, 0.5f, -0.3f, 0.2f, -0.4f, 0.0f}, {2, 3})},
                                            {"B", Tensor::fromVector<float>({0.3f, -0.2f, 0.4f}, {3})},
                                            {"C", Tensor::fromVector<float>({-0.1f, 0.45f}, {2, 1})}};
  const std::string sig = "(float[2,3] A, float[3] B, float[2,1] C) => (float[] Y)";
  SECTION("Sum") { gradientCheck(modelText(13, sig, {}, "Y = Sum (A, B, C)"), feeds); }
  SECTION("Mean") { gradientCheck(modelText(13, sig, {}, "Y = Mean (A, B, C)"), feeds); }
  SECTION("Max") { gradientCheck(modelText(13, sig, {}, "Y = Max (A, B, C)"), feeds); }
  SECTION("Min") { gradientCheck(modelText(13, sig, {}, "Y = Min (A, B, C)"), feeds); }
}

TEST_CASE("Unary gradients: Neg, Exp, Log, Reciprocal, Softplus, LeakyRelu, Elu", "[autodiff]") {
  SECTION("Neg") { unaryCase(13, "Y = Neg (X)", {3, 4}, -1, 1); }
  SECTION("Exp") { unaryCase(13, "Y = Exp (X)", {3, 4}, -2, 2); }
  SECTION("Log") { unaryCase(13, "Y = Log (X)", {3, 4}, 0.3f, 3); }
  SECTION("Reciprocal") { unaryCase(13, "Y = Reciprocal (X)", {3, 4}, 0.3f, 3); }
  SECTION("Softplus") { unaryCase(13, "Y = Softplus (X)", {3, 4}, -3, 3); }
  SECTION("LeakyRelu") { unaryCase(13, "Y = LeakyRelu <alpha = 0.2> (X)", {3, 4}, -1, 1, {0}); }
  SECTION("Elu") { unaryCase(13, "Y = Elu <alpha = 0.7> (X)", {3, 4}, -2, 2, {0}); }
}

TEST_CASE("BatchNormalization gradients (inference): input, scale, bias, mean, variance", "[autodiff]") {
  gradientCheck(modelText(15, "(float[2,3,4,4] X, float[3] S, float[3] B, float[3] M, float[3] V) => (float[] Y)", {},
                          "Y = BatchNormalization <epsilon = 0.001> (X, S, B, M, V)"),
                {{"X", randomTensor({2, 3, 4, 4}, -2, 2, 1)}, {"S", randomTensor({3}, 0.5f, 1.5f, 2)},
                 {"B", randomTensor({3}, -1, 1, 3)}, {"M", randomTensor({3}, -0.5f, 0.5f, 4)},
                 {"V", randomTensor({3}, 0.5f, 1.5f, 5)}});
}

TEST_CASE("ReduceMax and ReduceMin gradients", "[autodiff]") {
  const std::map<std::string, Tensor> feeds{{"X", distinctTensor({2, 3, 4}, 5)}};
  const std::string sig = "(float[2,3,4] X) => (float[] Y)";
  SECTION("ReduceMax, axis 1, keepdims") { gradientCheck(modelText(13, sig, {}, "Y = ReduceMax <axes = [1]> (X)"), feeds); }
  SECTION("ReduceMin, two axes, no keepdims") {
    gradientCheck(modelText(13, sig, {}, "Y = ReduceMin <axes = [0, -1], keepdims = 0> (X)"), feeds);
  }
  SECTION("ReduceMax, opset 18 axes input") {
    gradientCheck(modelText(18, sig, {intInit("axes", {-1})}, "Y = ReduceMax (X, axes)"), feeds);
  }
  SECTION("ties share the gradient evenly") {
    Model model = test::parseModel(modelText(13, "(float[4] X) => (float[] Y)", {}, "Y = ReduceMax <keepdims = 0> (X)"));
    const Graph& g = *model.graph;
    ValueTensors t = feedsOf(g, {{"X", Tensor::fromVector<float>({1.0f, 3.0f, 3.0f, 2.0f}, {4})}});
    REQUIRE(runBlockForward(allNodes(g), 13, t).isOk());
    auto r = blockGradients(g, allNodes(g), t, {{g.outputs()[0], Tensor::fromVector<float>({1.0f}, {})}}, {g.findValue("X")}, 13);
    REQUIRE(r.isOk());
    const float* dx = r->at(g.findValue("X")).data<float>();
    CHECK(std::vector<float>(dx, dx + 4) == std::vector<float>{0.0f, 0.5f, 0.5f, 0.0f});
  }
}

TEST_CASE("Pad gradients: constant (with its value's gradient), reflect, edge, wrap", "[autodiff]") {
  SECTION("constant with a constant_value input") {
    gradientCheck(modelText(13, "(float[2,3,4] X, float V) => (float[] Y)", {intInit("p", {0, 1, 2, 0, 0, 1})},
                            "Y = Pad (X, p, V)"),
                  {{"X", randomTensor({2, 3, 4}, -1, 1, 1)}, {"V", Tensor::fromVector<float>({0.4f}, {})}});
  }
  SECTION("constant zero, negative pads crop") {
    unaryCase(13, "Y = Pad (X, p)", {2, 3, 4}, -1, 1, {}, {intInit("p", {0, -1, 1, 0, 2, -1})});
  }
  SECTION("reflect") { unaryCase(13, "Y = Pad <mode = \"reflect\"> (X, p)", {2, 3, 4}, -1, 1, {}, {intInit("p", {0, 2, 1, 0, 1, 3})}); }
  SECTION("edge") { unaryCase(13, "Y = Pad <mode = \"edge\"> (X, p)", {2, 3, 4}, -1, 1, {}, {intInit("p", {1, 2, 0, 0, 3, 1})}); }
  SECTION("wrap, opset 19") { unaryCase(19, "Y = Pad <mode = \"wrap\"> (X, p)", {2, 3, 4}, -1, 1, {}, {intInit("p", {0, 1, 2, 0, 2, 1})}); }
  SECTION("opset 18 axes input") {
    unaryCase(18, "Y = Pad (X, p, , a)", {2, 3, 4}, -1, 1, {}, {intInit("p", {2, 1, 1, 3}), intInit("a", {-1, 1})});
  }
  SECTION("opset 10 attributes") { unaryCase(10, "Y = Pad <pads = [0, 1, 1, 0, 2, 0]> (X)", {2, 3, 4}, -1, 1); }
}

TEST_CASE("Movement gradients: Tile, DepthToSpace, SpaceToDepth", "[autodiff]") {
  SECTION("Tile") { unaryCase(13, "Y = Tile (X, r)", {2, 3}, -1, 1, {}, {intInit("r", {2, 1})}); }
  SECTION("DepthToSpace DCR") { unaryCase(13, "Y = DepthToSpace <blocksize = 2> (X)", {1, 8, 2, 3}, -1, 1); }
  SECTION("DepthToSpace CRD") { unaryCase(13, "Y = DepthToSpace <blocksize = 2, mode = \"CRD\"> (X)", {1, 8, 2, 3}, -1, 1); }
  SECTION("SpaceToDepth") { unaryCase(13, "Y = SpaceToDepth <blocksize = 2> (X)", {1, 2, 4, 6}, -1, 1); }
}

// Resize's roi and scales are constants here (no gradient is defined for them).
CheckResult resizeCase(int opset, const std::string& attrs, const Shape& shape, const std::vector<std::string>& inits,
                       const std::string& inputs) {
  const std::string sig = "(float[" + dims(shape) + "] X) => (float[] Y)";
  return gradientCheck(modelText(opset, sig, inits, "Y = Resize " + attrs + " (X, " + inputs + ")"),
                       {{"X", randomTensor(shape, -1, 1, 7)}}, {"roi", "scales"});
}

TEST_CASE("Resize gradients: nearest, linear and cubic with the kernel's coordinate modes", "[autodiff]") {
  const std::string up = "float[4] scales = {1.0, 1.0, 2.0, 1.5}";
  SECTION("nearest, asymmetric floor, upsampling") {
    resizeCase(13, "<mode = \"nearest\", coordinate_transformation_mode = \"asymmetric\", nearest_mode = \"floor\">",
               {1, 2, 3, 4}, {up}, ", scales");
  }
  SECTION("nearest, half_pixel round_prefer_floor, downsampling by sizes") {
    resizeCase(13, "<mode = \"nearest\">", {1, 2, 6, 5}, {intInit("sizes", {1, 2, 4, 3})}, ", , sizes");
  }
  SECTION("linear, half_pixel, fractional scale") { resizeCase(13, "<mode = \"linear\">", {1, 2, 3, 4}, {up}, ", scales"); }
  SECTION("linear, align_corners, shrinking one axis and growing the other") {
    resizeCase(13, "<mode = \"linear\", coordinate_transformation_mode = \"align_corners\">", {2, 1, 5, 3},
               {intInit("sizes", {2, 1, 3, 7})}, ", , sizes");
  }
  SECTION("linear, pytorch_half_pixel") {
    resizeCase(13, "<mode = \"linear\", coordinate_transformation_mode = \"pytorch_half_pixel\">", {1, 2, 3, 4},
               {intInit("sizes", {1, 2, 1, 6})}, ", , sizes");
  }
  SECTION("cubic, as bicubic position-embedding interpolation") {
    resizeCase(13, "<mode = \"cubic\", cubic_coeff_a = -0.75, coordinate_transformation_mode = \"align_corners\">",
               {1, 3, 4, 4}, {intInit("sizes", {1, 3, 6, 5})}, ", , sizes");
  }
  SECTION("cubic, exclude_outside, half_pixel") {
    resizeCase(13, "<mode = \"cubic\", exclude_outside = 1>", {1, 1, 4, 5}, {up}, ", scales");
  }
  SECTION("linear, tf_crop_and_resize with extrapolation") {
    resizeCase(13, "<mode = \"linear\", coordinate_transformation_mode = \"tf_crop_and_resize\", extrapolation_value = 2.0>",
               {1, 1, 4, 4}, {"float[8] roi = {0, 0, -0.2, 0.1, 1, 1, 0.9, 1.3}", intInit("sizes", {1, 1, 5, 6})},
               "roi, , sizes");
  }
  SECTION("opset 18 axes") {
    resizeCase(18, "<mode = \"linear\", axes = [2, 3]>", {1, 2, 3, 4}, {"float[2] scales = {2.0, 0.75}"}, ", scales");
  }
  SECTION("Upsample, opset 9") {
    gradientCheck(modelText(9, "(float[1,2,3,4] X) => (float[] Y)", {up}, "Y = Upsample <mode = \"linear\"> (X, scales)"),
                  {{"X", randomTensor({1, 2, 3, 4}, -1, 1, 7)}}, {"scales"});
  }
}

TEST_CASE("ConvTranspose gradients: input, weight and bias", "[autodiff]") {
  SECTION("stride 2 with bias") {
    gradientCheck(modelText(13, "(float[1,3,3,4] X) => (float[] Y)",
                            {floatInit("W", {3, 2, 2, 2}, -1, 1, 1), floatInit("B", {2}, -1, 1, 2)},
                            "Y = ConvTranspose <strides = [2, 2]> (X, W, B)"),
                  {{"X", randomTensor({1, 3, 3, 4}, -1, 1, 3)}});
  }
  SECTION("groups, dilations, asymmetric pads, output_padding, batch 2") {
    gradientCheck(modelText(13, "(float[2,4,3,3] X, float[4,3,3,2] W) => (float[] Y)", {},
                            "Y = ConvTranspose <group = 2, strides = [2, 3], dilations = [2, 1], pads = [1, 0, 0, 2], "
                            "output_padding = [1, 2]> (X, W)"),
                  {{"X", randomTensor({2, 4, 3, 3}, -1, 1, 3)}, {"W", randomTensor({4, 3, 3, 2}, -1, 1, 4)}});
  }
  SECTION("1-D, auto_pad SAME_UPPER") {
    gradientCheck(modelText(13, "(float[1,2,5] X, float[2,3,3] W, float[3] B) => (float[] Y)", {},
                            "Y = ConvTranspose <strides = [2], auto_pad = \"SAME_UPPER\"> (X, W, B)"),
                  {{"X", randomTensor({1, 2, 5}, -1, 1, 3)}, {"W", randomTensor({2, 3, 3}, -1, 1, 4)},
                   {"B", randomTensor({3}, -1, 1, 5)}});
  }
  SECTION("output_shape") {
    gradientCheck(modelText(13, "(float[1,2,3,3] X, float[2,2,3,3] W) => (float[] Y)", {},
                            "Y = ConvTranspose <strides = [2, 2], output_shape = [8, 7]> (X, W)"),
                  {{"X", randomTensor({1, 2, 3, 3}, -1, 1, 3)}, {"W", randomTensor({2, 2, 3, 3}, -1, 1, 4)}});
  }
}

TEST_CASE("MaxPool gradients: the window maximum takes it", "[autodiff]") {
  auto maxPool = [](int opset, const std::string& attrs, const Shape& shape) {
    gradientCheck(modelText(opset, "(float[" + dims(shape) + "] X) => (float[] Y)", {}, "Y = MaxPool " + attrs + " (X)"),
                  {{"X", distinctTensor(shape, 11)}});
  };
  SECTION("2x2 stride 2") { maxPool(13, "<kernel_shape = [2, 2], strides = [2, 2]>", {1, 2, 4, 6}); }
  SECTION("3x3 stride 2, padded (ResNet's stem)") {
    maxPool(13, "<kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]>", {2, 2, 5, 5});
  }
  SECTION("dilated, ceil_mode") {
    maxPool(13, "<kernel_shape = [2, 2], strides = [2, 2], dilations = [2, 1], ceil_mode = 1>", {1, 1, 7, 6});
  }
  SECTION("1-D") { maxPool(13, "<kernel_shape = [3], strides = [2]>", {1, 3, 9}); }
  SECTION("with the Indices output") {
    gradientCheck(modelText(13, "(float[1,2,4,4] X) => (float[] Y)", {},
                            "Y, I = MaxPool <kernel_shape = [2, 2], strides = [2, 2], storage_order = 1> (X)"),
                  {{"X", distinctTensor({1, 2, 4, 4}, 12)}});
  }
}

// ---- blocks ---------------------------------------------------------------------------------------

// A MobileViT-style bridge: conv features unfolded to tokens, normalized, attention with the
// normalized tokens used three times (query, key, value) and a residual.
std::string bridgeBlock() {
  return modelText(17, "(float[1,3,4,4] X) => (float[] Y)",
                   {floatInit("W", {8, 3, 3, 3}, -0.5f, 0.5f, 11), floatInit("B", {8}, -0.5f, 0.5f, 12),
                    intInit("shape", {1, 8, 16}), floatInit("G", {8}, 0.5f, 1.5f, 13),
                    floatInit("Beta", {8}, -0.5f, 0.5f, 14), floatInit("Wq", {8, 8}, -0.5f, 0.5f, 15)},
                   "C = Conv <pads = [1, 1, 1, 1]> (X, W, B)\n"
                   "H = HardSwish (C)\n"
                   "R = Reshape (H, shape)\n"
                   "T = Transpose <perm = [0, 2, 1]> (R)\n"
                   "N = LayerNormalization <axis = -1> (T, G, Beta)\n"
                   "Q = MatMul (N, Wq)\n"
                   "K = Transpose <perm = [0, 2, 1]> (N)\n"
                   "S = MatMul (Q, K)\n"
                   "P = Softmax <axis = -1> (S)\n"
                   "O = MatMul (P, N)\n"
                   "Y = Add (O, N)");
}

TEST_CASE("Block gradients: conv -> tokens -> LayerNorm -> attention, weights and input", "[autodiff]") {
  // The conv output stays away from HardSwish's kinks at +-3 with these ranges.
  gradientCheck(bridgeBlock(), {{"X", randomTensor({1, 3, 4, 4}, -1, 1, 21)}});
}

TEST_CASE("Block gradients from tensors recorded by the executor's hooks", "[autodiff]") {
  Model model = test::parseModel(bridgeBlock());
  const Graph& g = *model.graph;
  const std::vector<const Node*> block = allNodes(g);
  auto exec = Executor::create(g, 17);
  REQUIRE(exec.isOk());
  BlockRecorder recorder(block);
  const Tensor x = randomTensor({1, 3, 4, 4}, -1, 1, 21);
  REQUIRE(exec->run({{"X", x}}, &recorder).isOk());
  ValueTensors direct = feedsOf(g, {{"X", x}});
  REQUIRE(runBlockForward(block, 17, direct).isOk());
  for (const auto& [v, t] : direct) {
    REQUIRE(recorder.tensors().count(v));
    CHECK(recorder.tensors().at(v).bitwiseEqual(t));
  }
  const Value* y = g.outputs()[0];
  const Value* w = g.findValue("W");
  const Value* n = g.findValue("N");
  const ValueTensors grad_y{{y, randomTensor(direct.at(y).shape(), -1, 1, 5)}};
  auto from_hooks = blockGradients(g, block, recorder.tensors(), grad_y, {w, n}, 17);
  auto from_run = blockGradients(g, block, direct, grad_y, {w, n}, 17);
  REQUIRE(from_hooks.isOk());
  REQUIRE(from_run.isOk());
  CHECK(from_hooks->at(w).bitwiseEqual(from_run->at(w)));
  // An intermediate value's gradient is the sum over its four uses; differentiating only the
  // attention half of the block, seeded at Y, gives the same.
  std::vector<const Node*> attention;
  for (const Node* node : block) {
    const std::string out = node->output(0)->name();
    if (out == "Q" || out == "K" || out == "S" || out == "P" || out == "O" || out == "Y") attention.push_back(node);
  }
  auto partial = blockGradients(g, attention, direct, grad_y, {n}, 17);
  REQUIRE(partial.isOk());
  const Tensor& a = from_run->at(n);
  const Tensor& b = partial->at(n);
  for (int64_t i = 0; i < a.numel(); ++i) CHECK(a.data<float>()[i] == Approx(b.data<float>()[i]).margin(1e-6));
}

// LayerNorm decomposed as exporters write it (the RepQ-ViT / Q-HyViT graphs before fusion).
std::string decomposedLayerNorm() {
  return modelText(13, "(float[2,3,6] X, float[6] G, float[6] Beta) => (float[] Y)",
                   {intInit("axes", {-1}), "float two = {2.0}", "float eps = {0.00001}"},
                   "M = ReduceMean <axes = [-1]> (X)\n"
                   "D = Sub (X, M)\n"
                   "Sq = Pow (D, two)\n"
                   "V = ReduceMean <axes = [-1]> (Sq)\n"
                   "Ve = Add (V, eps)\n"
                   "Sd = Sqrt (Ve)\n"
                   "Nm = Div (D, Sd)\n"
                   "Sc = Mul (Nm, G)\n"
                   "Y = Add (Sc, Beta)");
}

TEST_CASE("Block gradients: decomposed LayerNorm, and agreement with the fused op", "[autodiff]") {
  const std::map<std::string, Tensor> feeds{{"X", randomTensor({2, 3, 6}, -2, 2, 1)},
                                            {"G", randomTensor({6}, 0.5f, 1.5f, 2)},
                                            {"Beta", randomTensor({6}, -1, 1, 3)}};
  // Not the exponent: x^p has no real derivative in p for the negative deviations.
  gradientCheck(decomposedLayerNorm(), feeds, {"two"});

  const std::string fused = modelText(17, "(float[2,3,6] X, float[6] G, float[6] Beta) => (float[] Y)", {},
                                      "Y = LayerNormalization <axis = -1, epsilon = 0.00001> (X, G, Beta)");
  std::map<std::string, Tensor> grads[2];
  int k = 0;
  for (const std::string& text : {decomposedLayerNorm(), fused}) {
    Model model = test::parseModel(text);
    const Graph& g = *model.graph;
    ValueTensors t = feedsOf(g, feeds);
    REQUIRE(runBlockForward(allNodes(g), model.opsetVersion(""), t).isOk());
    const Value* y = g.outputs()[0];
    std::vector<const Value*> wrt{g.findValue("X"), g.findValue("G"), g.findValue("Beta")};
    auto r = blockGradients(g, allNodes(g), t, {{y, randomTensor({2, 3, 6}, -1, 1, 9)}}, wrt, model.opsetVersion(""));
    REQUIRE(r.isOk());
    for (const Value* v : wrt) grads[k][v->name()] = r->at(v);
    ++k;
  }
  for (const char* name : {"X", "G", "Beta"}) {
    const Tensor& a = grads[0].at(name);
    const Tensor& b = grads[1].at(name);
    for (int64_t i = 0; i < a.numel(); ++i) CHECK(a.data<float>()[i] == Approx(b.data<float>()[i]).margin(1e-4));
  }
}

TEST_CASE("Block gradients: shape computations are not differentiated", "[autodiff]") {
  // Shape -> Reshape (as dynamic-shape exports write it): no VJP for Shape is needed.
  gradientCheck(modelText(13, "(float[2,3,4] X) => (float[] Y)", {},
                          "s = Shape (X)\nF = Flatten (X)\nT = Tanh (F)\nY = Reshape (T, s)"),
                {{"X", randomTensor({2, 3, 4}, -1, 1, 1)}});
}

TEST_CASE("Block gradients: floats computed from a shape are not differentiated", "[autodiff]") {
  // Dynamic-shape scaling: 1 / floor(sqrt(float(Shape(X)[-1]))) multiplies X. Floor has no VJP, and
  // needs none: no gradient flows through an int64 shape, nor through the floats computed from it.
  const std::string text = modelText(13, "(float[2,3,4] X) => (float[] Y)", {intInit("last", {-1}), "float one = {1.0}"},
                                     "s = Shape (X)\nd = Gather (s, last)\nf = Cast <to = 1> (d)\nr = Sqrt (f)\n"
                                     "l = Floor (r)\nk = Div (one, l)\nT = Tanh (X)\nY = Mul (T, k)");
  gradientCheck(text, {{"X", randomTensor({2, 3, 4}, -1, 1, 1)}});
  // The same from the IR's types, before any tensor exists: nothing without a VJP on the path.
  Model model = test::parseModel(text);
  const Graph& g = *model.graph;
  CHECK(firstNodeWithoutVjp(allNodes(g), {g.findValue("X")}, {g.outputs()[0]}) == nullptr);
}

TEST_CASE("Block gradients: a position embedding resized to the input's grid", "[autodiff]") {
  // A ViT export's position-embedding interpolation: scales = float(Shape(X)[2:4]) / grid, after
  // ones for N and C; bicubic Resize of the constant P, added to the patch features. The scales
  // depend on X only through its int64 shape, so the Cast, Div and Concat are not differentiated.
  const std::string text =
      modelText(13, "(float[1,2,6,4] X) => (float[] Y)",
                {floatInit("W", {2, 2, 1, 1}, -1, 1, 1), floatInit("P", {1, 2, 3, 2}, -1, 1, 2), intInit("st", {2}),
                 intInit("en", {4}), "float[2] grid = {3.0, 2.0}", "float[2] ones = {1.0, 1.0}"},
                "s = Shape (X)\nhw = Slice (s, st, en)\nf = Cast <to = 1> (hw)\nr = Div (f, grid)\n"
                "scales = Concat <axis = 0> (ones, r)\n"
                "E = Resize <mode = \"cubic\", coordinate_transformation_mode = \"align_corners\"> (P, , scales)\n"
                "C = Conv (X, W)\nY = Add (C, E)");
  gradientCheck(text, {{"X", randomTensor({1, 2, 6, 4}, -1, 1, 3)}}, {"grid", "ones"});
  Model model = test::parseModel(text);
  const Graph& g = *model.graph;
  CHECK(firstNodeWithoutVjp(allNodes(g), {g.findValue("X"), g.findValue("W"), g.findValue("P")}, {g.outputs()[0]}) ==
        nullptr);
}

TEST_CASE("Block gradients: an op without a VJP fails naming the node", "[autodiff]") {
  Model model = test::parseModel(modelText(13, "(float[3] X) => (float[] Y)", {}, "A = Abs (X)\nY = Relu (A)"));
  Graph& g = *model.graph;
  g.nodeList()[0]->setName("abs_1");
  ValueTensors t = feedsOf(g, {{"X", randomTensor({3}, -1, 1, 1)}});
  REQUIRE(runBlockForward(allNodes(g), 13, t).isOk());
  const Value* y = g.outputs()[0];
  auto r = blockGradients(g, allNodes(g), t, {{y, randomTensor({3}, -1, 1, 2)}}, {g.findValue("X")}, 13);
  REQUIRE_FALSE(r.isOk());
  CHECK(r.status().code() == StatusCode::kUnsupported);
  CHECK_THAT(r.status().message(), Catch::Contains("'abs_1' (Abs)") && Catch::Contains("op Abs"));
  // Differentiating only the part after Abs works.
  auto after = blockGradients(g, allNodes(g), t, {{y, randomTensor({3}, -1, 1, 2)}}, {g.findValue("A")}, 13);
  CHECK(after.isOk());
  // The check from the IR's types finds the same node, and none for the part after it.
  const Node* missing = firstNodeWithoutVjp(allNodes(g), {g.findValue("X")}, {y});
  REQUIRE(missing != nullptr);
  CHECK(noVjpMessage(*missing) == "node 'abs_1' (Abs): no gradient (vector-Jacobian product) for op Abs");
  CHECK(firstNodeWithoutVjp(allNodes(g), {g.findValue("A")}, {y}) == nullptr);
}

TEST_CASE("Block gradients: bad requests are errors", "[autodiff]") {
  Model model = test::parseModel(modelText(13, "(float[3] X, float[3] Z) => (float[] Y)", {}, "Y = Relu (X)"));
  const Graph& g = *model.graph;
  ValueTensors t = feedsOf(g, {{"X", randomTensor({3}, -1, 1, 1)}, {"Z", randomTensor({3}, -1, 1, 1)}});
  REQUIRE(runBlockForward(allNodes(g), 13, t).isOk());
  const Value* y = g.outputs()[0];
  const Value* x = g.findValue("X");
  SECTION("a value outside the block") {
    auto r = blockGradients(g, allNodes(g), t, {{y, randomTensor({3}, -1, 1, 2)}}, {g.findValue("Z")}, 13);
    CHECK_THAT(r.status().message(), Catch::Contains("'Z'"));
  }
  SECTION("a gradient of the wrong shape") {
    auto r = blockGradients(g, allNodes(g), t, {{y, randomTensor({4}, -1, 1, 2)}}, {x}, 13);
    CHECK_THAT(r.status().message(), Catch::Contains("shape"));
  }
  SECTION("a gradient for a value the block does not produce") {
    auto r = blockGradients(g, allNodes(g), t, {{x, randomTensor({3}, -1, 1, 2)}}, {x}, 13);
    CHECK_FALSE(r.isOk());
  }
}

TEST_CASE("Every op of the reconstruction blocks has a VJP", "[autodiff]") {
  for (const char* op : {"Conv", "ConvTranspose", "MatMul", "Gemm", "Add", "Sub", "Mul", "Div", "Softmax",
                         "LayerNormalization", "BatchNormalization", "ReduceMean", "ReduceMax", "Pow", "Sqrt", "Erf",
                         "Tanh", "Sigmoid", "HardSigmoid", "HardSwish", "Relu", "LeakyRelu", "Clip", "Gelu", "Reshape",
                         "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Slice", "Identity", "Split", "Pad",
                         "Cast", "Where", "Expand", "Resize", "AveragePool", "GlobalAveragePool", "MaxPool"}) {
    INFO(op);
    CHECK(VjpRegistry::instance().find("", op) != nullptr);
  }
}

}  // namespace
}  // namespace vitq
