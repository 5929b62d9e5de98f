// The I-ViT functions of the integer export (passes/lower/integer_functions.h) run by vitq's
// executor after inlining (onnx_io/function_inlining.h), bit for bit against the C++ kernels of
// quant/math/integer_nonlinear.h: Shiftmax rows, ShiftGELU on every int8 code, I-LayerNorm rows
// over channel counts and spreads (which exercises the unrolled integer square root).
#include <catch2/catch.hpp>

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "exec/executor.h"
#include "onnx_io/function_inlining.h"
#include "onnx_io/importer.h"
#include "passes/lower/integer_functions.h"
#include "quant/math/integer_nonlinear.h"

namespace vitq {
namespace {

// Model: y = vitq.<fn>(x, p) with x an int32 [rows, cols] input and p an int64 initializer.
onnx::ModelProto callModel(const std::string& fn, int64_t rows, int64_t cols, const std::vector<int64_t>& param,
                           const std::vector<int64_t>& param_dims, int out_type, int calls = 1) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(17);
  op = m.add_opset_import();
  op->set_domain(kIntegerDomain);
  op->set_version(1);
  for (const auto& f : integerFunctionProtos(17)) m.add_functions()->ParseFromString(f);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::INT32);
  tt->mutable_shape()->add_dim()->set_dim_value(rows);
  tt->mutable_shape()->add_dim()->set_dim_value(cols);
  auto* p = g->add_initializer();
  p->set_name("p");
  p->set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : param_dims) p->add_dims(d);
  for (int64_t v : param) p->add_int64_data(v);
  std::string x = "x";
  for (int c = 0; c < calls; ++c) {  // chained calls check that the inliner renames apart
    auto* n = g->add_node();
    n->set_op_type(fn);
    n->set_domain(kIntegerDomain);
    n->add_input(x);
    n->add_input("p");
    x = c + 1 == calls ? "y" : "y" + std::to_string(c);
    n->add_output(x);
  }
  auto* out = g->add_output();
  out->set_name("y");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(out_type);
  return m;
}

Tensor runModel(const onnx::ModelProto& proto, const std::vector<int32_t>& x, int64_t rows, int64_t cols) {
  ImportOptions o;
  o.inline_functions = true;
  auto model = importModel(proto, ".", o);
  REQUIRE(model.isOk());
  REQUIRE(model->functions.empty());
  auto exec = Executor::create(*model->graph, 17);
  REQUIRE(exec.isOk());
  auto out = exec->run({{"x", Tensor::fromVector<int32_t>(x, {rows, cols})}});
  INFO((out.isOk() ? std::string() : out.status().toString()));
  REQUIRE(out.isOk());
  return out->at("y");
}

TEST_CASE("vitq.Shiftmax equals shiftmaxRow", "[integer][functions]") {
  std::mt19937 rng(7);
  for (double inv_s : {4.5, 12.3, 40.0, 200.0, 900.0}) {
    auto plan = planShiftmax(1.0 / inv_s, kShiftmaxN, kShiftmaxOutBits);
    REQUIRE(plan.isOk());
    for (int64_t cols : {1, 7, 50, 255}) {
      const int64_t rows = 40;
      std::vector<int32_t> x(static_cast<size_t>(rows * cols));
      for (int64_t r = 0; r < rows; ++r) {
        const int spread = 1 + static_cast<int>(r * 6);  // close values to the full int8 range
        std::uniform_int_distribution<int> d(-std::min(127, spread), std::min(127, spread));
        for (int64_t c = 0; c < cols; ++c) x[static_cast<size_t>(r * cols + c)] = d(rng);
      }
      const Tensor y = runModel(callModel("Shiftmax", rows, cols, {plan->exp.x0}, {}, onnx::TensorProto::INT32), x, rows, cols);
      std::vector<int32_t> expect(x.size());
      for (int64_t r = 0; r < rows; ++r) shiftmaxRow(&x[static_cast<size_t>(r * cols)], static_cast<size_t>(cols), *plan, &expect[static_cast<size_t>(r * cols)]);
      for (size_t i = 0; i < x.size(); ++i) REQUIRE(y.data<int32_t>()[i] == expect[i]);
    }
  }
}

TEST_CASE("vitq.ShiftGELU equals shiftGeluRow (per-element max) on every int8 code", "[integer][functions]") {
  std::vector<int32_t> x;
  for (int v = -128; v <= 127; ++v) x.push_back(v);
  for (double a : {0.3, 1.0, 3.7, 8.0, 20.0, 60.0}) {
    auto plan = planShiftGelu(a / 127.0, kShiftGeluN, true);
    REQUIRE(plan.isOk());
    const Tensor y = runModel(callModel("ShiftGELU", 1, 256, {plan->exp.x0}, {}, onnx::TensorProto::INT32), x, 1, 256);
    std::vector<int32_t> expect(x.size());
    shiftGeluRow(x.data(), x.size(), *plan, expect.data());
    for (size_t i = 0; i < x.size(); ++i) REQUIRE(y.data<int32_t>()[i] == expect[i]);
  }
}

TEST_CASE("vitq.ILayerNorm equals iLayerNormRow", "[integer][functions]") {
  std::mt19937 rng(11);
  for (int64_t cols : {1, 2, 3, 96, 768}) {
    std::normal_distribution<float> gd(1.0f, 0.5f), bd(0.0f, 0.3f);
    std::vector<float> gamma, beta;
    for (int64_t c = 0; c < cols; ++c) {
      float g = gd(rng);
      gamma.push_back(g == 0 ? 0.5f : g);
      beta.push_back(bd(rng));
    }
    auto plan = planILayerNorm(gamma, beta);
    REQUIRE(plan.isOk());
    const int64_t rows = 64;
    std::vector<int32_t> x(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r) {
      // spreads from constant rows (V = 0) over small ones to alternating +-32767 (V ~ C 2^30)
      const int spread = r == 0 ? 0 : r < 8 ? static_cast<int>(r) : r < 60 ? (1 << (r % 16)) : 32767;
      std::uniform_int_distribution<int> d(-spread, spread);
      const int centre = std::uniform_int_distribution<int>(-100, 100)(rng);
      for (int64_t c = 0; c < cols; ++c) {
        int v = r >= 60 ? ((c % 2) ? 32767 : -32768) : std::clamp(centre + d(rng), -32768, 32767);
        x[static_cast<size_t>(r * cols + c)] = v;
      }
    }
    const Tensor y = runModel(callModel("ILayerNorm", rows, cols, plan->bias, {cols}, onnx::TensorProto::INT64), x, rows, cols);
    std::vector<int64_t> expect(x.size());
    for (int64_t r = 0; r < rows; ++r) iLayerNormRow(&x[static_cast<size_t>(r * cols)], *plan, &expect[static_cast<size_t>(r * cols)]);
    for (size_t i = 0; i < x.size(); ++i) {
      INFO("C " << cols << " element " << i);
      REQUIRE(y.data<int64_t>()[i] == expect[i]);
    }
  }
}

TEST_CASE("inlining renames each call's values apart and drops the functions", "[integer][functions]") {
  auto plan = planShiftmax(1.0 / 10, kShiftmaxN, kShiftmaxOutBits);
  REQUIRE(plan.isOk());
  onnx::ModelProto m = callModel("Shiftmax", 2, 5, {plan->exp.x0}, {}, onnx::TensorProto::INT32, 3);
  auto n = inlineLocalFunctions(m);
  REQUIRE(n.isOk());
  CHECK(*n == 3);
  CHECK(m.functions_size() == 0);
  std::set<std::string> outputs;
  for (const auto& node : m.graph().node()) {
    CHECK(node.domain().empty());
    for (const auto& o : node.output()) CHECK(outputs.insert(o).second);
  }
  // Shiftmax applied three times (its output codes feed the next call as inputs).
  std::vector<int32_t> x = {3, -4, 10, 0, 7, -20, 5, 5, 1, 2};
  const Tensor y = runModel(callModel("Shiftmax", 2, 5, {plan->exp.x0}, {}, onnx::TensorProto::INT32, 3), x, 2, 5);
  std::vector<int32_t> a(10), b(10);
  for (int r = 0; r < 2; ++r) {
    shiftmaxRow(&x[r * 5], 5, *plan, &a[r * 5]);
    shiftmaxRow(&a[r * 5], 5, *plan, &b[r * 5]);
    shiftmaxRow(&b[r * 5], 5, *plan, &a[r * 5]);
  }
  for (size_t i = 0; i < 10; ++i) CHECK(y.data<int32_t>()[i] == a[i]);
}

}  // namespace
}  // namespace vitq
