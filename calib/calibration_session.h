// CalibrationSession: runs a dataset through the executor and feeds chosen values (graph inputs
// and node outputs) to their observers through the executor's hooks, pass after pass. Memory stays
// bounded by the model plus one sample: samples are read one at a time and activations are not kept.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "calib/dataset.h"
#include "calib/observer.h"
#include "exec/executor.h"

namespace vitq {

using ObserverFactory = std::function<std::unique_ptr<Observer>(const Value&)>;

struct CalibrationResult {
  std::map<std::string, TensorStats> stats;  // by value name
  size_t samples = 0;
};

/// Observes every float value of \p graph that \p wanted accepts (all float values by default).
StatusOr<CalibrationResult> calibrate(const Graph& graph, int64_t opset, const Dataset& data,
                                      const ObserverFactory& make_observer,
                                      const std::function<bool(const Value&)>& wanted = nullptr,
                                      ExecOptions options = {});

}  // namespace vitq
