#include "support/quant_fixtures.h"

#include <catch2/catch.hpp>

#include "calib/calibration_session.h"
#include "exec/executor.h"
#include "passes/ptq/plan_quantization.h"
#include "quant/math/quantize.h"

namespace vitq::test {

QuantTable minMaxTable(const Model& m, const Dataset& calib, int weight_bits, int activation_bits) {
  QuantOptions qo;
  qo.weight_bits = weight_bits;
  qo.activation_bits = activation_bits;
  QuantTable table = planQuantization(*m.graph, qo);
  REQUIRE(computeWeightParams(table).isOk());
  auto stats = calibrate(*m.graph, m.opsetVersion(""), calib, [](const Value&) { return makeMinMaxObserver(); },
                         [&table](const Value& v) { return table.has(&v); });
  REQUIRE(stats.isOk());
  for (const Value* v : table.values()) {
    TensorQuant& q = *table.find(v);
    if (q.role != QuantRoleOfValue::kActivation) continue;
    const TensorStats& s = stats->stats.at(v->name());
    q.params = paramsFromRanges({s.min}, {s.max}, q.spec);
  }
  return table;
}

double outputMse(const Model& a, const Model& b, const Dataset& data, const std::string& output) {
  auto ea = Executor::create(*a.graph, a.opsetVersion(""));
  auto eb = Executor::create(*b.graph, b.opsetVersion(""));
  REQUIRE(ea.isOk());
  REQUIRE(eb.isOk());
  double sum = 0;
  int64_t count = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    auto feeds = data.sample(i);
    REQUIRE(feeds.isOk());
    auto ya = ea->run(*feeds);
    auto yb = eb->run(*feeds);
    REQUIRE(ya.isOk());
    REQUIRE(yb.isOk());
    const Tensor& ta = ya->at(output);
    const Tensor& tb = yb->at(output);
    for (int64_t k = 0; k < ta.numel(); ++k) {
      const double d = ta.data<float>()[k] - tb.data<float>()[k];
      sum += d * d;
    }
    count += ta.numel();
  }
  return sum / static_cast<double>(count);
}

}  // namespace vitq::test
