#include "exec/executor.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "exec/kernel_registry.h"
#include "exec/thread_scope.h"
#include "ir/memory_limit.h"

namespace vitq {

StatusOr<Executor> Executor::create(const Graph& graph, int64_t opset, ExecOptions options) {
  Executor ex;
  ex.graph_ = &graph;
  ex.opset_ = opset;
  ex.options_ = options;
  auto slot = [&ex](const Value* v) {
    auto it = ex.slot_of_.find(v);
    if (it != ex.slot_of_.end()) return it->second;
    const int s = ex.num_slots_++;
    ex.slot_of_[v] = s;
    ex.value_of_slot_.push_back(v);
    return s;
  };
  for (const Value* in : graph.inputs()) slot(in);
  for (const Value* init : graph.initializers()) slot(init);
  const auto& registry = KernelRegistry::instance();
  for (const auto& node : graph.nodes()) {
    const KernelFn* kernel = registry.find(node->domain(), node->opType());
    if (!kernel) {
      return unsupported("node " + node->describe() + ": op " + (node->domain().empty() ? "" : node->domain() + ".") +
                         node->opType() + " is not supported by vitq's executor");
    }
    // Before opset 7, `broadcast` with `axis` aligned the second operand at that axis; the kernels
    // broadcast the numpy way only (the same where no axis is given), so that model would run
    // with another meaning.
    if (opset < 7 && node->attrs().has("broadcast") && node->attrs().has("axis")) {
      return unsupported("node " + node->describe() + ": broadcasting along 'axis' (ai.onnx opset " +
                         std::to_string(opset) + ") is not supported; upgrade the model to opset 7 or newer");
    }
    if (!node->subgraphs().empty()) {
      return unsupported("node " + node->describe() + ": ops with subgraphs are not supported by vitq's executor");
    }
    Step step{node.get(), kernel, {}, {}, {}};
    for (const Value* v : node->inputs()) step.inputs.push_back(v ? slot(v) : -1);
    for (const Value* v : node->outputs()) step.outputs.push_back(v ? slot(v) : -1);
    ex.steps_.push_back(std::move(step));
  }
  // Last use of each slot; graph outputs, inputs and initializers are never released.
  std::vector<int> last_use(static_cast<size_t>(ex.num_slots_), -1);
  for (size_t i = 0; i < ex.steps_.size(); ++i) {
    for (int s : ex.steps_[i].inputs) {
      if (s >= 0) last_use[static_cast<size_t>(s)] = static_cast<int>(i);
    }
    for (int s : ex.steps_[i].outputs) {  // outputs nobody reads die right after their step
      if (s >= 0 && last_use[static_cast<size_t>(s)] < static_cast<int>(i)) last_use[static_cast<size_t>(s)] = static_cast<int>(i);
    }
  }
  std::vector<bool> keep(static_cast<size_t>(ex.num_slots_), false);
  for (const Value* v : graph.outputs()) keep[static_cast<size_t>(slot(v))] = true;
  for (const Value* v : graph.inputs()) keep[static_cast<size_t>(slot(v))] = true;
  for (const Value* v : graph.initializers()) keep[static_cast<size_t>(slot(v))] = true;
  for (int s = 0; s < ex.num_slots_; ++s) {
    if (!keep[static_cast<size_t>(s)] && last_use[static_cast<size_t>(s)] >= 0) {
      ex.steps_[static_cast<size_t>(last_use[static_cast<size_t>(s)])].release.push_back(s);
    }
  }
  return ex;
}

std::vector<std::pair<std::string, double>> Executor::profileByOp() const {
  std::map<std::string, double> by_op;
  for (size_t i = 0; i < node_ms_.size(); ++i) by_op[steps_[i].node->opType()] += node_ms_[i];
  std::vector<std::pair<std::string, double>> out(by_op.begin(), by_op.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::vector<std::pair<std::string, double>> Executor::profileByNode() const {
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < node_ms_.size(); ++i) out.emplace_back(steps_[i].node->describe(), node_ms_[i]);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::vector<const Value*> Executor::requiredInputs() const {
  std::vector<const Value*> out;
  for (const Value* v : graph_->inputs()) {
    if (!v->isInitializer()) out.push_back(v);
  }
  return out;
}

Status Executor::checkFeed(const Value& input, const Tensor& tensor) const {
  const TensorType& t = input.type();
  if (t.dtype != DataType::kUndefined && t.dtype != tensor.dtype()) {
    return invalidArgument("input '" + input.name() + "' must be " + dataTypeName(t.dtype) + ", got " +
                           dataTypeName(tensor.dtype()));
  }
  if (!t.dims) return Status::ok();
  bool ok = t.dims->size() == tensor.shape().size();
  for (size_t i = 0; ok && i < t.dims->size(); ++i) {
    ok = !(*t.dims)[i].isKnown() || (*t.dims)[i].value == tensor.shape()[i];
  }
  if (!ok) {
    return invalidArgument("input '" + input.name() + "' has shape " + shapeToString(tensor.shape()) +
                           "; the model declares " + t.toString());
  }
  return Status::ok();
}

namespace {

// A kernel whose output would not fit in memory (a shape computed from hostile data) becomes an
// error naming the node instead of an exception that unwinds past the graph.
Status runKernel(const KernelFn& kernel, KernelContext& ctx) {
  try {
    return kernel(ctx);
  } catch (const TensorTooLarge& e) {
    return ctx.error(std::string("its output ") + e.what());
  }
}

}  // namespace

StatusOr<TensorMap> Executor::run(const TensorMap& feeds, ExecHooks* hooks) const {
  return run(feeds, hooks, PartialRun{});
}

StatusOr<TensorMap> Executor::run(const TensorMap& feeds, ExecHooks* hooks, const PartialRun& partial) const {
  std::vector<Tensor> slots(static_cast<size_t>(num_slots_));
  std::vector<bool> present(static_cast<size_t>(num_slots_), false);
  auto put = [&](int s, Tensor t) {
    slots[static_cast<size_t>(s)] = std::move(t);
    present[static_cast<size_t>(s)] = true;
  };
  for (const Value* init : graph_->initializers()) put(slot_of_.at(init), init->initializer());
  for (const Value* in : graph_->inputs()) {
    auto it = feeds.find(in->name());
    if (it == feeds.end()) {
      if (in->isInitializer()) continue;
      return invalidArgument("no data for model input '" + in->name() + "' (" + in->type().toString() + ")");
    }
    VITQ_RETURN_IF_ERROR(checkFeed(*in, it->second));
    put(slot_of_.at(in), it->second);
  }
  for (const auto& [name, t] : feeds) {
    const Value* v = graph_->findValue(name);
    if (!v || !v->isGraphInput()) return invalidArgument("'" + name + "' is not an input of the model");
  }
  const bool partial_run = !partial.skip.empty();
  if (partial_run && partial.skip.size() != steps_.size()) return internalError("partial run: skip list of the wrong size");
  if (partial.seeds) {
    for (const auto& [name, t] : *partial.seeds) {
      const Value* v = graph_->findValue(name);
      auto it = v ? slot_of_.find(v) : slot_of_.end();
      if (it == slot_of_.end()) return internalError("partial run: seed '" + name + "' is not a value of the graph");
      put(it->second, t);
    }
  }
  auto captureAt = [&](size_t boundary) {
    if (boundary >= partial.capture_at.size() || !partial.capture_at[boundary]) return;
    TensorMap live;
    for (size_t s = 0; s < slots.size(); ++s) {
      const Value* v = value_of_slot_[s];
      if (present[s] && !v->isGraphInput() && !v->isInitializer()) live.emplace(v->name(), slots[s]);
    }
    partial.capture(boundary, std::move(live));
  };
  auto release = [&](const Step& step) {
    for (int s : step.release) {
      slots[static_cast<size_t>(s)] = Tensor();
      present[static_cast<size_t>(s)] = false;
    }
  };
  const OmpThreadScope threads(options_.threads);
  for (size_t index = 0; index < steps_.size(); ++index) {
    const Step& step = steps_[index];
    captureAt(index);
    if (partial_run && partial.skip[index]) {
      release(step);
      continue;
    }
    KernelContext ctx{*step.node, opset_, options_.threads, {}, {}};
    ctx.inputs.reserve(step.inputs.size());
    for (int s : step.inputs) {
      const bool there = s >= 0 && present[static_cast<size_t>(s)];
      // In a full run every input was computed; in a partial one, one may have been skipped unseeded.
      if (partial_run && s >= 0 && !there) {
        return internalError("partial run: node " + step.node->describe() + " reads '" +
                             value_of_slot_[static_cast<size_t>(s)]->name() + "', which was skipped and not seeded");
      }
      ctx.inputs.push_back(there ? &slots[static_cast<size_t>(s)] : nullptr);
    }
    ctx.outputs.resize(step.outputs.size());
    const auto t0 = std::chrono::steady_clock::now();
    Status status = runKernel(*step.kernel, ctx);
    if (options_.profile) {
      if (node_ms_.size() != steps_.size()) node_ms_.assign(steps_.size(), 0.0);
      node_ms_[index] +=
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    if (status.isOk() && hooks) status = hooks->afterNode(*step.node, ctx.inputs, ctx.outputs);
    if (!status.isOk()) return status;
    const bool keep = index < partial.keep_outputs.size() && partial.keep_outputs[index];
    for (size_t i = 0; i < step.outputs.size(); ++i) {
      if (step.outputs[i] < 0) continue;
      if (keep) (*partial.kept)[value_of_slot_[static_cast<size_t>(step.outputs[i])]->name()] = ctx.outputs[i];
      put(step.outputs[i], std::move(ctx.outputs[i]));
    }
    release(step);
  }
  captureAt(steps_.size());
  TensorMap out;
  for (const Value* v : graph_->outputs()) {
    const size_t s = static_cast<size_t>(slot_of_.at(v));
    if (partial_run && !present[s]) return internalError("partial run: output '" + v->name() + "' was skipped and not seeded");
    out[v->name()] = slots[s];
  }
  return out;
}

}  // namespace vitq
