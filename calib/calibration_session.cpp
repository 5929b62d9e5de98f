#include "calib/calibration_session.h"

#include "core/progress.h"

#include <algorithm>
#include <unordered_map>

namespace vitq {
namespace {

class ObservingHooks : public ExecHooks {
 public:
  explicit ObservingHooks(std::unordered_map<const Value*, Observer*> observers) : observers_(std::move(observers)) {}

  Status afterNode(const Node& node, const std::vector<const Tensor*>&, std::vector<Tensor>& outputs) override {
    for (size_t i = 0; i < node.numOutputs(); ++i) {
      auto it = observers_.find(node.output(i));
      if (it == observers_.end()) continue;
      Status s = it->second->observe(outputs[i]);
      if (!s.isOk()) return s.withContext("activation '" + node.output(i)->name() + "' of node " + node.describe());
    }
    return Status::ok();
  }

 private:
  std::unordered_map<const Value*, Observer*> observers_;
};

}  // namespace

StatusOr<CalibrationResult> calibrate(const Graph& graph, int64_t opset, const Dataset& data,
                                      const ObserverFactory& make_observer,
                                      const std::function<bool(const Value&)>& wanted, ExecOptions options) {
  if (data.size() == 0) return invalidArgument("the calibration set is empty");
  VITQ_ASSIGN_OR_RETURN(Executor exec, Executor::create(graph, opset, options));
  std::map<std::string, std::unique_ptr<Observer>> owned;
  std::unordered_map<const Value*, Observer*> by_value;
  std::vector<const Value*> observed_inputs;
  for (const Value* v : graph.values()) {
    if (v->isConstant() || v->type().dtype != DataType::kFloat || (!v->producer() && !v->isGraphInput())) continue;
    if (wanted && !wanted(*v)) continue;
    auto obs = make_observer(*v);
    by_value[v] = obs.get();
    if (v->isGraphInput()) observed_inputs.push_back(v);
    owned[v->name()] = std::move(obs);
  }
  int passes = 1;
  for (const auto& [name, obs] : owned) passes = std::max(passes, obs->numPasses());
  ObservingHooks hooks(by_value);
  for (int pass = 0; pass < passes; ++pass) {
    for (auto& [name, obs] : owned) obs->beginPass(pass);
    Progress progress(passes > 1 ? "calibrating, pass " + std::to_string(pass + 1) + "/" + std::to_string(passes)
                                 : std::string("calibrating"),
                      data.size());
    for (size_t i = 0; i < data.size(); ++i, progress.advance()) {
      VITQ_ASSIGN_OR_RETURN(TensorMap feeds, data.sample(i));
      for (const Value* in : observed_inputs) {
        auto it = feeds.find(in->name());
        if (it != feeds.end()) VITQ_RETURN_IF_ERROR(by_value[in]->observe(it->second).withContext("input '" + in->name() + "'"));
      }
      Status s = exec.run(feeds, &hooks).status();
      if (!s.isOk()) return s.withContext("calibration sample " + std::to_string(i));
    }
  }
  CalibrationResult result;
  result.samples = data.size();
  for (const auto& [name, obs] : owned) result.stats[name] = obs->stats();
  return result;
}

}  // namespace vitq
