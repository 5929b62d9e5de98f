// Checks shared by the tests of float-equivalent graph rewrites (scale reparameterization,
// SmoothQuant): run a one-input model, compare outputs before and after.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "exec/executor.h"
#include "ir/graph.h"

namespace vitq::test {

/// N(0, 2^2) values of \p shape, reproducible from \p seed.
inline Tensor randomInput(const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  Tensor x(DataType::kFloat, shape);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = dist(rng);
  return x;
}

/// Runs \p m with \p x as its input "X".
inline TensorMap runWithX(const Model& m, const Tensor& x) {
  auto exec = Executor::create(*m.graph, m.opsetVersion(""));
  REQUIRE(exec.isOk());
  auto out = exec->run({{"X", x}});
  INFO(out.status().toString());
  REQUIRE(out.isOk());
  return *out;
}

/// Every output element equal within 1e-5 relative (absolute below 1).
inline void requireSameOutputs(const TensorMap& a, const TensorMap& b) {
  for (const auto& [name, t] : a) {
    const Tensor& u = b.at(name);
    REQUIRE(u.numel() == t.numel());
    for (int64_t i = 0; i < t.numel(); ++i) {
      CHECK(std::fabs(t.data<float>()[i] - u.data<float>()[i]) <= 1e-5f * std::max(1.0f, std::fabs(t.data<float>()[i])));
    }
  }
}

}  // namespace vitq::test
