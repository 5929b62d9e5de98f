// Executor: runs a graph on concrete inputs with the kernel table. Nodes run in topological order;
// each intermediate tensor is freed after its last use; hooks see every node's inputs and outputs
// (observers for calibration, fake-quant simulation, per-layer error reports).
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "exec/kernel.h"
#include "ir/graph.h"

namespace vitq {

class ExecHooks {
 public:
  virtual ~ExecHooks() = default;
  /// Called after \p node ran. Hooks may replace \p outputs (fake quantization) or keep copies.
  virtual Status afterNode(const Node& node, const std::vector<const Tensor*>& inputs,
                           std::vector<Tensor>& outputs) = 0;
};

struct ExecOptions {
  int threads = 1;
  bool profile = false;  // accumulate time per node (see Executor::profile)
};

using TensorMap = std::unordered_map<std::string, Tensor>;

/// A run that takes up where an earlier run of a related graph left off (exec/prefix_reuse.h):
/// the steps marked in \p skip do not run, and the values they would have produced that later
/// steps read come from \p seeds, by name. Before step i (i == steps for the end) with
/// \p capture_at[i] set, \p capture(i, values) receives every value then live that the graph
/// computed (not its inputs or initializers).
struct PartialRun {
  std::vector<char> skip;  // per step; empty: every step runs
  const TensorMap* seeds = nullptr;
  std::vector<char> capture_at;  // per step boundary (steps + 1); empty: no captures
  std::function<void(size_t, TensorMap)> capture;
  /// Steps whose outputs are also put in \p kept, by name (empty: none).
  std::vector<char> keep_outputs;
  TensorMap* kept = nullptr;
};

class Executor {
 public:
  /// Prepares \p graph (which must outlive the executor). Fails naming the first node whose op has
  /// no kernel, before anything runs.
  static StatusOr<Executor> create(const Graph& graph, int64_t opset, ExecOptions options = {});

  /// Runs on \p feeds (by graph input name) and returns the graph outputs by name.
  StatusOr<TensorMap> run(const TensorMap& feeds, ExecHooks* hooks = nullptr) const;
  /// The same, resuming from \p partial's seeds. A step that runs and reads a value nobody
  /// produced (not seeded, its producer skipped) fails naming the value.
  StatusOr<TensorMap> run(const TensorMap& feeds, ExecHooks* hooks, const PartialRun& partial) const;

  const Graph& graph() const { return *graph_; }
  /// Steps in run order: one per node.
  size_t stepCount() const { return steps_.size(); }
  const Node& stepNode(size_t i) const { return *steps_[i].node; }

  /// Graph inputs a caller must feed (inputs without an initializer default).
  std::vector<const Value*> requiredInputs() const;

  /// Milliseconds spent per op type over all runs so far (ExecOptions::profile only).
  std::vector<std::pair<std::string, double>> profileByOp() const;
  void resetProfile() const { node_ms_.clear(); }
  /// Milliseconds per node ("name (Op)"), slowest first (ExecOptions::profile only).
  std::vector<std::pair<std::string, double>> profileByNode() const;

 private:
  struct Step {
    const Node* node;
    const KernelFn* kernel;
    std::vector<int> inputs;   // slot per input, -1 when omitted
    std::vector<int> outputs;  // slot per output, -1 when omitted
    std::vector<int> release;  // slots whose last use is this step
  };
  Executor() = default;
  Status checkFeed(const Value& input, const Tensor& tensor) const;

  const Graph* graph_ = nullptr;
  int64_t opset_ = 0;
  ExecOptions options_;
  int num_slots_ = 0;
  std::vector<Step> steps_;
  std::unordered_map<const Value*, int> slot_of_;
  std::vector<const Value*> value_of_slot_;
  mutable std::vector<double> node_ms_;  // per step, when profiling
};

}  // namespace vitq
