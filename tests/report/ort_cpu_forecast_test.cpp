// The forecast of ONNX Runtime's integer kernels for QDQ exports (report/ort_cpu_forecast.h); the
// zoo test checks the same forecast against the graphs ONNX Runtime optimizes.
#include <catch2/catch.hpp>

#include "passes/ptq/log_quant_export.h"
#include "report/ort_cpu_forecast.h"
#include "support/graph_dsl.h"

namespace vitq {
namespace {

// Two 1x1 Convs sharing int8 weights: the first requantized through a Relu the quantizer makes
// redundant (zero point 0), the second read by a float Add; a third whose Relu a zero point of 128
// keeps.
constexpr const char* kConvs = R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1, 4, 8, 8] X) => (float[1, 4, 8, 8] Y, float[1, 4, 8, 8] Z)
  <int8[4, 4, 1, 1] W = {1,0,0,0, 0,1,0,0, 0,0,1,0, 0,0,0,1}, float[4] SW = {0.1, 0.1, 0.1, 0.1},
   int8[4] ZW = {0, 0, 0, 0}, float S = {0.05}, uint8 Z0 = {0}, uint8 Z128 = {128}> {
  XQ = QuantizeLinear(X, S, Z128)
  XD = DequantizeLinear(XQ, S, Z128)
  WD = DequantizeLinear <axis = 0> (W, SW, ZW)
  A = Conv(XD, WD)
  AR = Relu(A)
  AQ = QuantizeLinear(AR, S, Z0)
  AD = DequantizeLinear(AQ, S, Z0)
  B = Conv(AD, WD)
  Y = Add(B, X)
  C = Conv(AD, WD)
  CR = Relu(C)
  CQ = QuantizeLinear(CR, S, Z128)
  Z = DequantizeLinear(CQ, S, Z128)
}
)ONNX";

TEST_CASE("ONNX Runtime fuses a Conv whose output is requantized, not one read in float", "[report][ort]") {
  const Model m = test::parseModel(kConvs);
  const OrtCpuForecast f = forecastOrtCpuKernels(*m.graph);
  REQUIRE(f.quantized.size() == 3);
  CHECK(f.quantized[0].kernel == "QLinearConv");  // Relu dropped: the quantizer's range starts at 0
  CHECK(f.quantized[1].kernel == "float");
  CHECK(f.quantized[1].why == "its output is not requantized (placement inputs): float on dequantized inputs");
  CHECK(f.quantized[2].kernel == "float");  // zero point 128: the Relu clips what the quantizer keeps
  CHECK(f.integer_kernels == std::map<std::string, int>{{"QLinearConv", 1}});
  CHECK(f.float_on_dequantized == 2);
  // 1x1 Conv, 4 -> 4 channels on 8x8: 4 multiply-adds per output element.
  CHECK(f.quantized[0].macs == 4.0 * 4 * 8 * 8);
  CHECK(f.integerMacShare() == Approx(1.0 / 3));
  CHECK(f.floatLayerShare() == Approx(2.0 / 3));
  const nlohmann::json section = ortCpuSection(f, 1);
  CHECK(section["float_layers_largest"].size() == 1);
  CHECK(section["float_on_dequantized"] == 2);
}

// A 3-D MatMul with a float output, a 2-D one with a bias Add (ONNX Runtime makes it a float Gemm
// first), and one requantized.
constexpr const char* kMatMuls = R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[2, 3, 4] X, float[3, 4] X2) => (float[2, 3, 4] Y, float[3, 4] Y2, float[3, 4] Y3)
  <int8[4, 4] W = {1,0,0,0, 0,1,0,0, 0,0,1,0, 0,0,0,1}, float SW = {0.1}, int8 ZW = {0},
   float S = {0.05}, uint8 Z = {128}, float[4] Bias = {1, 2, 3, 4}> {
  XQ = QuantizeLinear(X, S, Z)
  XD = DequantizeLinear(XQ, S, Z)
  WD = DequantizeLinear(W, SW, ZW)
  Y = MatMul(XD, WD)
  X2Q = QuantizeLinear(X2, S, Z)
  X2D = DequantizeLinear(X2Q, S, Z)
  M2 = MatMul(X2D, WD)
  Y2 = Add(M2, Bias)
  M3 = MatMul(X2D, WD)
  M3Q = QuantizeLinear(M3, S, Z)
  Y3 = DequantizeLinear(M3Q, S, Z)
}
)ONNX";

TEST_CASE("MatMuls become MatMulIntegerToFloat or QLinearMatMul unless a bias Add folds them into Gemm",
          "[report][ort]") {
  const Model m = test::parseModel(kMatMuls);
  const OrtCpuForecast f = forecastOrtCpuKernels(*m.graph);
  REQUIRE(f.quantized.size() == 3);
  CHECK(f.quantized[0].kernel == "MatMulIntegerToFloat");
  CHECK(f.quantized[0].macs == 2.0 * 3 * 4 * 4);
  CHECK(f.quantized[1].kernel == "float");
  CHECK(f.quantized[1].why == "ONNX Runtime first folds the MatMul and its bias Add into a float Gemm");
  CHECK(f.quantized[2].kernel == "QLinearMatMul");
  CHECK(f.float_layers == 0);
  CHECK_FALSE(f.int8_activations);
}

// Attention probabilities with RepQ-ViT's log-sqrt2 quantizer: the context MatMul reads float powers
// of sqrt(2), so ONNX Runtime runs it in float; it is counted apart from the unquantized layers.
TEST_CASE("a MatMul reading the log-sqrt2 Softmax quantizer is counted as float apart", "[report][ort]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[2, 4, 4] A, float[2, 4, 3] V) => (float[2, 4, 3] Y, float[2, 4, 3] Y2)
  <float S = {0.05}, uint8 Z = {128}> {
  P = Softmax <axis = -1> (A)
  VQ = QuantizeLinear(V, S, Z)
  VD = DequantizeLinear(VQ, S, Z)
  Y = MatMul(P, VD)
  Y2 = MatMul(A, VD)
}
)ONNX");
  Graph& g = *m.graph;
  const OrtCpuForecast before = forecastOrtCpuKernels(g);
  CHECK(before.float_layers == 2);
  CHECK(before.float_log_quantized == 0);
  Value* p = g.findValue("P");
  insertLogSqrt2FakeQuant(g, p, 1.0f, 4, g.nodeAfter(p->producer()));
  const OrtCpuForecast f = forecastOrtCpuKernels(g);
  CHECK(f.float_log_quantized == 1);
  CHECK(f.float_layers == 1);  // the MatMul of the unquantized A
  CHECK(f.quantized.empty());
  CHECK(ortCpuSection(f)["float_log_quantized"] == 1);
}

}  // namespace
}  // namespace vitq
