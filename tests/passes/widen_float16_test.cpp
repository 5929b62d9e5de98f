// float16/bfloat16: the conversions of ir/half.h (every bit pattern, every rounding tie), the
// Cast/CastLike/arithmetic kernels on 16-bit floats, and widen-float16: a float16 model computes
// what the same model in float32 computes on its float16 weights and inputs, rounded once at its
// float16 outputs, with the interface types unchanged.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "exec/executor.h"
#include "ir/half.h"
#include "ir/verifier.h"
#include "onnx_io/exporter.h"
#include "onnx_io/importer.h"
#include "passes/canonicalize/widen_float16.h"
#include "support/graph_dsl.h"

namespace vitq {
namespace {

bool isHalfNan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }
bool isBFloat16Nan(uint16_t b) { return (b & 0x7f80u) == 0x7f80u && (b & 0x7fu) != 0; }

std::vector<uint16_t> bits(const Tensor& t) {
  REQUIRE(dataTypeBits(t.dtype()) == 16);
  const auto* p = static_cast<const uint16_t*>(t.rawData());
  return std::vector<uint16_t>(p, p + t.numel());
}

std::vector<float> floats(const Tensor& t) {
  const Tensor f = widenToFloat(t);
  return std::vector<float>(f.data<float>(), f.data<float>() + f.numel());
}

TEST_CASE("every float16 and bfloat16 bit pattern widens exactly and narrows back to itself", "[half]") {
  for (uint32_t h = 0; h <= 0xffffu; ++h) {
    const auto b = static_cast<uint16_t>(h);
    const float f = halfBitsToFloat(b);
    if (isHalfNan(b)) {
      REQUIRE(std::isnan(f));
      REQUIRE(isHalfNan(toHalfBits(f)));
      REQUIRE((toHalfBits(f) & 0x8000u) == (b & 0x8000u));
    } else {
      REQUIRE(toHalfBits(f) == b);
      REQUIRE(toHalfBits(static_cast<double>(f)) == b);
    }
    const float g = bfloat16BitsToFloat(b);
    if (isBFloat16Nan(b)) {
      REQUIRE(isBFloat16Nan(toBFloat16Bits(g)));
    } else {
      REQUIRE(toBFloat16Bits(g) == b);
    }
  }
}

// For each pair of neighbours a < b: the midpoint goes to the even one, anything off it to the
// nearer one. Covers subnormals, the normal/subnormal boundary and the largest finite value.
template <typename Widen, typename Narrow>
void checkTies(uint16_t last_finite, Widen widen, Narrow narrow) {
  for (uint16_t a = 0; a < last_finite; ++a) {
    const auto b = static_cast<uint16_t>(a + 1);
    const float lo = widen(a), hi = widen(b);
    const float mid = lo + (hi - lo) / 2;  // exact: float has more than one bit to spare
    REQUIRE(mid > lo);
    REQUIRE(mid < hi);
    REQUIRE(narrow(mid) == ((a & 1u) ? b : a));
    REQUIRE(narrow(std::nextafter(mid, 0.0f)) == a);
    REQUIRE(narrow(std::nextafter(mid, INFINITY)) == b);
    REQUIRE(narrow(-mid) == static_cast<uint16_t>(narrow(mid) | 0x8000u));
  }
}

TEST_CASE("float to float16 and bfloat16 rounds to nearest even", "[half]") {
  checkTies(0x7bff, halfBitsToFloat, [](float f) { return toHalfBits(f); });
  checkTies(0x7f7f, bfloat16BitsToFloat, [](float f) { return toBFloat16Bits(f); });
}

TEST_CASE("float16 and bfloat16 edge values", "[half]") {
  CHECK(toHalfBits(65504.0f) == 0x7bff);
  CHECK(toHalfBits(std::nextafter(65520.0f, 0.0f)) == 0x7bff);
  CHECK(toHalfBits(65520.0f) == 0x7c00);  // the tie past the largest value rounds to Inf
  CHECK(toHalfBits(1e30f) == 0x7c00);
  CHECK(toHalfBits(-INFINITY) == 0xfc00);
  CHECK(isHalfNan(toHalfBits(std::numeric_limits<float>::quiet_NaN())));
  CHECK(toHalfBits(-0.0f) == 0x8000);
  CHECK(toHalfBits(std::ldexp(1.0f, -24)) == 0x0001);  // smallest subnormal
  CHECK(toHalfBits(std::ldexp(1.0f, -25)) == 0x0000);  // its half: tie to even zero
  CHECK(toHalfBits(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001);
  CHECK(toHalfBits(std::ldexp(3.0f, -25)) == 0x0002);  // 1.5 subnormal steps: tie to even 2
  CHECK(toHalfBits(std::ldexp(1.0f, -14)) == 0x0400);  // smallest normal
  CHECK(toHalfBits(std::ldexp(1023.5f, -24)) == 0x0400);  // the tie below it rounds up into it
  CHECK(toHalfBits(1e-30f) == 0x0000);
  CHECK(halfBitsToFloat(0x0001) == std::ldexp(1.0f, -24));
  CHECK(halfBitsToFloat(0x8000) == 0.0f);
  CHECK(std::signbit(halfBitsToFloat(0x8000)));
  CHECK(toBFloat16Bits(std::numeric_limits<float>::max()) == 0x7f80);  // past the largest bfloat16
  CHECK(toBFloat16Bits(std::numeric_limits<float>::denorm_min()) == 0x0000);
  CHECK(toBFloat16Bits(std::ldexp(1.0f, -133)) == 0x0001);  // bfloat16's smallest subnormal
  CHECK(isBFloat16Nan(toBFloat16Bits(std::numeric_limits<float>::quiet_NaN())));
  CHECK(isBFloat16Nan(toBFloat16Bits(std::numeric_limits<double>::quiet_NaN())));
}

TEST_CASE("double to float16 and bfloat16 rounds once", "[half]") {
  // Just past a tie: double -> float -> float16 would land on the tie and round to even (down).
  const double past_half_tie = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  CHECK(toHalfBits(static_cast<float>(past_half_tie)) == toHalfBits(1.0f));
  CHECK(toHalfBits(past_half_tie) == toHalfBits(1.0f + std::ldexp(1.0f, -10)));
  CHECK(toHalfBits(1.0 + std::ldexp(1.0, -11)) == toHalfBits(1.0f));  // the tie itself: even
  const double past_bf16_tie = 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40);
  CHECK(toBFloat16Bits(past_bf16_tie) == toBFloat16Bits(1.0f + std::ldexp(1.0f, -7)));
  CHECK(toHalfBits(1e300) == 0x7c00);
  CHECK(toBFloat16Bits(-1e300) == 0xff80);
  CHECK(toBFloat16Bits(1e-300) == 0x0000);
  CHECK(toHalfBits(static_cast<long double>(int64_t{2049})) == toHalfBits(2048.0f));  // tie: even
  CHECK(toHalfBits(static_cast<long double>(int64_t{2051})) == toHalfBits(2052.0f));
}

// ---- kernels ------------------------------------------------------------------------------------

Tensor halfTensor(const std::vector<float>& values) {
  return narrowFromFloat(Tensor::fromVector(values, {static_cast<int64_t>(values.size())}), DataType::kFloat16);
}

StatusOr<TensorMap> runText(const std::string& text, const TensorMap& feeds) {
  static std::vector<Model> keep;  // executors point into their graphs
  keep.push_back(test::parseModel(text));
  auto exec = Executor::create(*keep.back().graph, keep.back().opsetVersion(""));
  if (!exec.isOk()) return exec.status();
  return exec->run(feeds);
}

TEST_CASE("Cast and CastLike convert float16 and bfloat16 from and to every numeric type", "[half][kernels]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x{0.1f, -2.7f, 70000.0f, nan, 1.0f / 3.0f, -0.0f};
  auto out = runText(R"ONNX(
<ir_version: 8, opset_import: ["" : 15]>
agraph (float[6] X, int64[4] N, bool[2] T, double[1] D) => (float16[6] H, bfloat16[6] B, int32[6] HI, float16[4] NH,
    bfloat16[4] NB, float16[2] TH, double[6] HD, float16[6] BH, bfloat16[1] DB, float16[6] L, uint8[6] HU) {
  H = Cast <to = 10> (X)
  B = Cast <to = 16> (X)
  HI = Cast <to = 6> (H)
  NH = Cast <to = 10> (N)
  NB = Cast <to = 16> (N)
  TH = Cast <to = 10> (T)
  HD = Cast <to = 11> (H)
  BH = Cast <to = 10> (B)
  DB = Cast <to = 16> (D)
  L = CastLike (X, H)
  HU = Cast <to = 2> (H)
}
)ONNX",
                     {{"X", Tensor::fromVector(x, {6})},
                      {"N", Tensor::fromVector<int64_t>({2049, -65519, 65520, int64_t{1} << 62}, {4})},
                      {"T", Tensor::fromVector<bool>({true, false}, {2})},
                      {"D", Tensor::fromVector<double>({1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40)}, {1})}});
  REQUIRE(out.isOk());
  const TensorMap& o = *out;
  CHECK(o.at("H").dtype() == DataType::kFloat16);
  CHECK(o.at("B").dtype() == DataType::kBFloat16);
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) {
      CHECK(isHalfNan(bits(o.at("H"))[i]));
      CHECK(isBFloat16Nan(bits(o.at("B"))[i]));
      continue;
    }
    CHECK(bits(o.at("H"))[i] == toHalfBits(x[i]));
    CHECK(bits(o.at("B"))[i] == toBFloat16Bits(x[i]));
  }
  CHECK(bits(o.at("L")) == bits(o.at("H")));
  // float16 -> int32: truncation toward zero, Inf saturates, NaN gives 0 (as from float).
  const int32_t* hi = o.at("HI").data<int32_t>();
  CHECK(std::vector<int32_t>(hi, hi + 6) ==
        std::vector<int32_t>{0, -2, std::numeric_limits<int32_t>::max(), 0, 0, 0});
  const uint8_t* hu = o.at("HU").data<uint8_t>();
  CHECK(std::vector<uint8_t>(hu, hu + 6) == std::vector<uint8_t>{0, 0, 255, 0, 0, 0});
  CHECK(floats(o.at("NH")) == std::vector<float>{2048.0f, -65504.0f, INFINITY, INFINITY});
  CHECK(floats(o.at("NB")) == std::vector<float>{2048.0f, -65536.0f, 65536.0f, std::ldexp(1.0f, 62)});
  CHECK(floats(o.at("TH")) == std::vector<float>{1.0f, 0.0f});
  const double* hd = o.at("HD").data<double>();
  CHECK(hd[1] == static_cast<double>(halfBitsToFloat(toHalfBits(-2.7f))));
  CHECK(bits(o.at("BH"))[4] == toHalfBits(bfloat16BitsToFloat(toBFloat16Bits(1.0f / 3.0f))));
  CHECK(floats(o.at("DB")) == std::vector<float>{1.0f + std::ldexp(1.0f, -7)});
}

TEST_CASE("arithmetic on float16 computes in float32 and rounds the result", "[half][kernels]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto out = runText(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float16[4] A, float16[4] B, float16[4] C) => (float16[4] Mx, float16[4] Mn, float16[4] Md, float16[4] S,
    float16[4] Me, float16[4] Ad) {
  Mx = Max (A, B, C)
  Mn = Min (A, B)
  Md = Mod (A, B)
  S = Sum (A, B, C)
  Me = Mean (A, B, C)
  Ad = Add (A, B)
}
)ONNX",
                     {{"A", halfTensor({1.0f, -5.0f, nan, 2048.0f})},
                      {"B", halfTensor({2.0f, 3.0f, 1.0f, 1.0f})},
                      {"C", halfTensor({0.5f, 4.0f, 0.0f, 1.0f})}});
  REQUIRE(out.isOk());
  const TensorMap& o = *out;
  const std::vector<float> mx = floats(o.at("Mx"));
  CHECK(mx[0] == 2.0f);
  CHECK(mx[1] == 4.0f);
  CHECK(std::isnan(mx[2]));  // NaN propagates, as numpy
  CHECK(floats(o.at("Mn"))[1] == -5.0f);
  CHECK(floats(o.at("Md"))[1] == 1.0f);  // sign of the divisor
  CHECK(floats(o.at("S"))[0] == 3.5f);
  CHECK(floats(o.at("Me"))[1] == std::nearbyint(2.0f / 3.0f * 2048.0f) / 2048.0f);  // 2/3 to 11 bits
  CHECK(floats(o.at("Me"))[3] == halfBitsToFloat(toHalfBits(2050.0f / 3.0f)));  // one rounding
  CHECK(floats(o.at("Ad"))[3] == 2048.0f);  // 2049 is a tie: even
}

// ---- widen-float16 ------------------------------------------------------------------------------

// Conv -> Relu -> MatMul -> Add, a Cast inside (the shape as float), ConstantOfShape with a value
// attribute, two outputs. Written in float32; narrowed to float16 below.
const char* kModel = R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[1, 2, 5, 5] X) => (float[1, 3, 5, 4] Y, float[1, 3] P) {
  C = Conv <pads = [1, 1, 1, 1]> (X, W, Bc)
  R = Relu (C)
  M = MatMul (R, K)
  A = Add (M, Bk)
  Sh = Shape (A)
  Sf = Cast <to = 1> (Sh)
  D = Div (A, Sf)
  Z = ConstantOfShape (Sh)
  Y = Add (D, Z)
  P = ReduceMean <axes = [2, 3], keepdims = 0> (C)
}
)ONNX";

Model floatModel() {
  std::string text = kModel;
  const std::string inits = "<" + test::normalInitializer("W", {3, 2, 3, 3}, 1, 0.5f) + ", " +
                            test::normalInitializer("Bc", {3}, 2, 0.5f) + ", " +
                            test::normalInitializer("K", {5, 4}, 3, 0.5f) + ", " +
                            test::normalInitializer("Bk", {4}, 4, 0.5f) + ">";
  text.insert(text.find(" {\n"), " " + inits);
  Model m = test::parseModel(text);
  for (Node* n : m.graph->nodeList()) {
    if (n->is("ConstantOfShape")) n->attrs().set("value", Attribute::makeTensor(Tensor::fromVector<float>({0.375f}, {1})));
  }
  return m;
}

// What a float16 export holds: float16 weights, types and attribute tensors, Casts to float16.
void narrowToFloat16(Graph& g) {
  for (Value* v : g.values()) {
    if (v->isInitializer() && v->initializer().dtype() == DataType::kFloat) {
      g.setInitializer(v, narrowFromFloat(v->initializer(), DataType::kFloat16));
    } else if (v->type().dtype == DataType::kFloat) {
      v->type().dtype = DataType::kFloat16;
    }
  }
  for (Node* n : g.nodeList()) {
    for (auto& [name, attr] : n->attrs()) {
      if (attr.kind == AttributeKind::kTensor && attr.t.dtype() == DataType::kFloat) {
        attr.t = narrowFromFloat(attr.t, DataType::kFloat16);
      }
      if (n->is("Cast") && name == "to" && attr.i == 1) attr.i = 10;
    }
  }
}

// The float32 model on the float16 model's weights.
void roundWeightsToFloat16(Graph& g) {
  for (Value* v : g.initializers()) {
    if (v->initializer().dtype() == DataType::kFloat) {
      g.setInitializer(v, widenToFloat(narrowFromFloat(v->initializer(), DataType::kFloat16)));
    }
  }
}

TensorMap run(const Model& m, const TensorMap& feeds) {
  auto exec = Executor::create(*m.graph, m.opsetVersion(""));
  REQUIRE(exec.isOk());
  auto out = exec->run(feeds);
  REQUIRE(out.isOk());
  return *out;
}

Tensor input() {
  Tensor x(DataType::kFloat, {1, 2, 5, 5});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::sin(0.7f * static_cast<float>(i)) * 3.0f;
  return x;
}

bool has16BitFloatInside(const Graph& g) {
  for (const Value* v : g.values()) {
    const bool io = v->isGraphInput() || g.isOutput(v);
    if (!io && is16BitFloat(v->type().dtype)) return true;
    if (v->isInitializer() && is16BitFloat(v->initializer().dtype())) return true;
  }
  return false;
}

TEST_CASE("widen-float16 computes the float16 model in float32 with its interface kept", "[passes][widen-float16]") {
  Model exact = floatModel();
  Model reference = floatModel();
  roundWeightsToFloat16(*reference.graph);
  Model m = floatModel();
  narrowToFloat16(*m.graph);
  const Tensor x16 = narrowFromFloat(input(), DataType::kFloat16);
  {
    auto exec = Executor::create(*m.graph, 13);  // the executor has no float16 Conv
    CHECK(!(exec.isOk() && exec->run({{"X", x16}}).isOk()));
  }

  const WidenReport r = widenFloat16(*m.graph);
  REQUIRE(verifyModel(m).isOk());
  CHECK(r.initializers == 4);
  CHECK(r.casts == 1);
  CHECK(r.attributes == 1);
  CHECK(r.input_casts == 1);
  CHECK(r.output_casts == 2);
  CHECK(r.any());
  CHECK_FALSE(has16BitFloatInside(*m.graph));
  // The interface: names and types as before.
  REQUIRE(m.graph->inputs().size() == 1);
  CHECK(m.graph->inputs()[0]->name() == "X");
  CHECK(m.graph->inputs()[0]->type().toString() == "float16[1,2,5,5]");
  REQUIRE(m.graph->outputs().size() == 2);
  CHECK(m.graph->outputs()[0]->name() == "Y");
  CHECK(m.graph->outputs()[0]->type().toString() == "float16[1,3,5,4]");
  CHECK(m.graph->outputs()[1]->name() == "P");
  CHECK(m.graph->outputs()[1]->type().toString() == "float16[1,3]");
  const Node* first = m.graph->nodes().front().get();
  CHECK(first->is("Cast"));
  CHECK(first->attrs().intOr("to", 0) == 1);
  CHECK(first->input(0)->name() == "X");
  CHECK(first->output(0)->name() == "X_float32");
  CHECK(first->output(0)->uses().size() == 1);  // the Conv
  for (const Value* y : m.graph->outputs()) {
    REQUIRE(y->producer());
    CHECK(y->producer()->is("Cast"));
    CHECK(y->producer()->attrs().intOr("to", 0) == 10);
    CHECK(y->producer()->input(0)->name() == y->name() + "_float32");
    CHECK(y->producer()->input(0)->type().dtype == DataType::kFloat);
  }

  // What float32 computes on the float16 weights and input, rounded once: bit for bit.
  const TensorMap want = run(reference, {{"X", widenToFloat(x16)}});
  const TensorMap got = run(m, {{"X", x16}});
  const TensorMap exact_out = run(exact, {{"X", input()}});
  for (const char* name : {"Y", "P"}) {
    INFO(name);
    CHECK(got.at(name).dtype() == DataType::kFloat16);
    CHECK(bits(got.at(name)) == bits(narrowFromFloat(want.at(name), DataType::kFloat16)));
    // And within float16 rounding (of the weights, the input and the output) of the float32 model.
    const std::vector<float> g = floats(got.at(name));
    const float* e = exact_out.at(name).data<float>();
    for (size_t i = 0; i < g.size(); ++i) CHECK(std::fabs(g[i] - e[i]) <= 1e-2f * std::max(1.0f, std::fabs(e[i])));
  }

  // The rewritten model is valid ONNX: it exports, imports (with onnx's shape inference) and runs.
  auto again = importModel(exportModel(m), ".");
  REQUIRE(again.isOk());
  CHECK(again->graph->inputs()[0]->type().dtype == DataType::kFloat16);
  CHECK(bits(run(*again, {{"X", x16}}).at("Y")) == bits(got.at("Y")));
}

TEST_CASE("widen-float16 keeps a float32 interface and an output's own Cast", "[passes][widen-float16]") {
  // onnxconverter-common's keep_io_types form: float32 in and out, Casts to float16 inside.
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[2, 3] X) => (float[2, 4] Y, float16[2, 4] H)
  <float[3, 4] K = {1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.}> {
  Xh = Cast <to = 10> (X)
  M = MatMul (Xh, K)
  Y = Cast <to = 1> (M)
  H = Cast <to = 10> (Y)
}
)ONNX");
  Value* k = m.graph->findValue("K");
  m.graph->setInitializer(k, narrowFromFloat(k->initializer(), DataType::kFloat16));
  m.graph->findValue("Xh")->type().dtype = DataType::kFloat16;
  m.graph->findValue("M")->type().dtype = DataType::kFloat16;
  const size_t nodes = m.graph->numNodes();
  const WidenReport r = widenFloat16(*m.graph);
  REQUIRE(verifyModel(m).isOk());
  CHECK(m.graph->numNodes() == nodes);  // no Cast added: H already comes from one
  CHECK(r.input_casts == 0);
  CHECK(r.output_casts == 0);
  CHECK(r.casts == 1);  // Xh
  CHECK(m.graph->findValue("Xh")->producer()->attrs().intOr("to", 0) == 1);
  CHECK(m.graph->findValue("H")->producer()->attrs().intOr("to", 0) == 10);
  CHECK(m.graph->findValue("H")->type().dtype == DataType::kFloat16);
  CHECK_FALSE(has16BitFloatInside(*m.graph));
  const TensorMap out = run(m, {{"X", Tensor::fromVector<float>({1, 0, -1, 0.5f, 2, 0.25f}, {2, 3})}});
  CHECK(out.at("Y").data<float>()[0] == 1 - 9.0f);
  CHECK(floats(out.at("H"))[0] == 1 - 9.0f);
}

TEST_CASE("widen-float16 handles bfloat16, passthrough outputs and subgraphs", "[passes][widen-float16]") {
  Model m = test::parseModel(R"ONNX(
<ir_version: 8, opset_import: ["" : 13]>
agraph (bfloat16[3] X, bool C) => (bfloat16[3] X, bfloat16[3] Y, bfloat16[3] Y, bfloat16[3] Z) {
  Y = Neg (X)
  Z = If (C) <then_branch = g1 () => (bfloat16[3] T) { T = Identity (X) },
              else_branch = g2 () => (bfloat16[3] E) { E = Identity (Y) }>
}
)ONNX");
  const WidenReport r = widenFloat16(*m.graph);
  REQUIRE(verifyModel(m).isOk());
  CHECK(r.input_casts == 1);
  CHECK(r.output_casts == 2);  // Y (listed twice, one Cast) and Z; X passes through unchanged
  const auto& outs = m.graph->outputs();
  REQUIRE(outs.size() == 4);
  CHECK(outs[0] == m.graph->inputs()[0]);
  CHECK(outs[1] == outs[2]);
  CHECK(outs[1]->name() == "Y");
  CHECK(outs[1]->producer()->attrs().intOr("to", 0) == 16);
  for (const Value* v : outs) CHECK(v->type().dtype == DataType::kBFloat16);
  const Node* branch_user = m.graph->findValue("Z_float32")->producer();
  REQUIRE(branch_user->is("If"));
  for (const Graph* sub : branch_user->subgraphs()) {
    CHECK(sub->outputs()[0]->type().dtype == DataType::kFloat);
    // The branches read X (through the widened input) and Y (renamed, float32).
    const std::string read = sub->nodes().front()->input(0)->name();
    CHECK(read == (sub->outputs()[0]->name() == "T" ? "X_float32" : "Y_float32"));
  }
}

TEST_CASE("widen-float16 leaves a float32 model unchanged", "[passes][widen-float16]") {
  Model m = floatModel();
  const std::string before = exportModel(m).SerializeAsString();
  const WidenReport r = widenFloat16(*m.graph);
  CHECK_FALSE(r.any());
  CHECK(exportModel(m).SerializeAsString() == before);
}

}  // namespace
}  // namespace vitq
