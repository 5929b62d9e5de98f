// Scores a quantization configuration end to end: the model with the configuration's QDQ nodes
// against the float reference on a fixed set of samples (loaded once, reference outputs cached).
// Sensitivity analysis and the budget search evaluate hundreds of configurations this way.
#pragma once

#include <vector>

#include "calib/dataset.h"
#include "exec/prefix_reuse.h"
#include "ir/graph.h"
#include "quant/quant_table.h"

namespace vitq {

/// Agreement of the quantized model with the float one on the first output.
struct ConfigMetrics {
  double sqnr_db = 0;
  double cosine = 0;
  double top1_agreement = -1;  // < 0: the output has no class dimension
};

class ConfigEvaluator {
 public:
  /// \p reference: the float model whose outputs are the truth; \p prepared: the float model the
  /// tables are keyed on (the reference after float-equivalent rewrites).
  static StatusOr<ConfigEvaluator> create(const Model& reference, const Model& prepared, const Dataset& samples,
                                          int threads);

  /// \p table (keyed on prepared's values) materialized into a copy of prepared, then scored.
  StatusOr<ConfigMetrics> evaluate(const QuantTable& table) const;
  /// A finished model, scored the same way (keeps no checkpoints: such models, e.g. --recipe
  /// auto's candidates, share little with each other).
  StatusOr<ConfigMetrics> evaluateModel(const Model& model) const { return score(model, false); }

  size_t samples() const { return feeds_.size(); }
  size_t evaluations() const { return evaluations_; }
  /// Fraction of the node runs that prefix reuse saved so far (0 before any evaluation).
  double reuseSaving() const;
  /// Turns prefix reuse off (each evaluation runs every node; tests compare the two).
  void disablePrefixReuse() { reuse_ = PrefixReuse(0); }

 private:
  ConfigEvaluator(const Model& prepared, int threads) : prepared_(&prepared), threads_(threads) {}
  StatusOr<ConfigMetrics> score(const Model& model, bool keep_checkpoints) const;

  const Model* prepared_;
  int threads_;
  std::string output_;  // the first output's name
  std::vector<TensorMap> feeds_;
  std::vector<Tensor> reference_;
  mutable size_t evaluations_ = 0;
  // Configurations differ in a few layers: what runs before the first difference is reused.
  mutable PrefixReuse reuse_;
};

}  // namespace vitq
