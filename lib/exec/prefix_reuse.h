// Prefix reuse: runs a series of related graphs (one model under different quantization
// configurations) on a fixed list of samples, and lets each run start where an earlier run's
// values still hold. Sensitivity analysis and the budget search score hundreds of configurations
// that differ in one or a few layers; everything upstream of the first difference is the same
// computation on the same data.
//
// How: every node gets a signature (op, attributes, input and output names, the bytes of its
// constant inputs). While a graph runs, the values live at a few step boundaries are kept
// (checkpoints), each with the signatures of the nodes that ran before it. A later graph skips its
// nodes whose signature is in a checkpoint's prefix and whose producers are skipped too, and takes
// the values they made from the checkpoint. Kernels are deterministic, so the outputs are the same
// bits as a full run. Checkpoints are dropped past a byte budget: never-used ones first, then the
// least recently used. Steps computed from constants alone (a weight's DequantizeLinear) run for
// the first sample only; the others take their values.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <unordered_set>
#include <vector>

#include "exec/executor.h"

namespace vitq {

/// Per step of an executor: its signature, and whether it computes from constants alone
/// (initializers and other such steps; e.g. a weight's DequantizeLinear). Constant steps always
/// run and are never kept in checkpoints; their inputs' identities are part of their readers'
/// signatures.
struct StepSignatures {
  std::vector<uint64_t> of;
  std::vector<char> constant;
};
StepSignatures stepSignatures(const Executor& exec);

class PrefixReuse {
 public:
  /// \p byte_budget: the most memory checkpoints may hold (0 turns reuse off).
  explicit PrefixReuse(size_t byte_budget = defaultByteBudget());

  /// Runs \p exec on every sample of \p samples (the same list, in the same order, on every call)
  /// and hands each sample's outputs to \p on_outputs. \p keep_checkpoints false: the run may
  /// resume from checkpoints but keeps none of its own (a graph unlike those that follow).
  Status runSamples(const Executor& exec, const std::vector<TensorMap>& samples,
                    const std::function<Status(size_t, TensorMap&)>& on_outputs, bool keep_checkpoints = true);

  /// Steps run and steps a full run would have taken, over all calls and samples.
  size_t stepsRun() const { return steps_run_; }
  size_t stepsTotal() const { return steps_total_; }
  size_t checkpoints() const { return checkpoints_.size(); }

  /// 256 MiB, or a sixteenth of the memory (an eighth of ir/memory_limit.h's tensor limit) where
  /// that is less. On a DeiT-S sensitivity run with 8 samples, 1 GiB reused no more than this.
  static size_t defaultByteBudget();

 private:
  struct Checkpoint {
    uint64_t key = 0;                     // identity of the prefix (order-free sum of its signatures)
    std::unordered_set<uint64_t> prefix;  // signatures of the nodes that ran before it
    std::unordered_set<std::string> names;
    std::vector<TensorMap> values;  // per sample
    size_t bytes = 0;
    uint64_t last_used = 0;
  };
  struct Plan {
    const Checkpoint* from = nullptr;
    std::vector<char> skip;
    size_t skipped = 0;
    std::vector<std::string> seed_names;  // what the running steps read from skipped ones
  };

  Plan bestResume(const Executor& exec, const StepSignatures& signatures) const;
  /// Drops checkpoints (never \p keep) until they and \p incoming bytes fit the budget.
  void keepWithinBudget(size_t incoming, const Checkpoint* keep);

  size_t byte_budget_;
  std::list<Checkpoint> checkpoints_;
  uint64_t clock_ = 0;
  size_t steps_run_ = 0;
  size_t steps_total_ = 0;
};

}  // namespace vitq
