// `vitq quantize --budget`: a greedy mixed-precision search. Layers are raised, most sensitive
// first, to the highest rung (8 bits) and then to float until the budget holds on the evaluation
// samples (the shortest ranked prefix, found by bisection); then each raised layer, least
// sensitive first, is lowered to the lowest precision at which the budget still holds.
// MPTQ-ViT's greedy mixed precision, with the sensitivity ranking as its order.
#pragma once

#include <string>
#include <vector>

#include "passes/mixed/config_evaluator.h"
#include "passes/mixed/quant_units.h"

namespace vitq {

struct Budget {
  enum class Metric { kTop1Drop, kSqnrDb, kCosine };
  Metric metric = Metric::kTop1Drop;
  double limit = 0;
  std::string text;

  /// The budget's metric on \p m: top-1 disagreement with the float model in percentage points,
  /// output SQNR in dB, or output cosine.
  double value(const ConfigMetrics& m) const;
  bool holds(const ConfigMetrics& m) const;
};

/// "top1_drop<=0.5" | "sqnr_db>=25" | "cosine>=0.999"; errors name the accepted forms.
StatusOr<Budget> parseBudget(const std::string& text);

struct BudgetStep {
  std::string phase;  // baseline, raise, lower
  std::vector<size_t> units;  // the units whose level this step set
  int level = 0;
  ConfigMetrics metrics;
  bool holds = false;
};

struct BudgetResult {
  UnitLevels levels;
  ConfigMetrics baseline;
  ConfigMetrics final_metrics;
  bool met = false;
  std::vector<BudgetStep> steps;
};

/// \p ranking: unit indices, most sensitive first; \p rungs: tables by level, 0 the base.
StatusOr<BudgetResult> searchBudget(const std::vector<QuantUnit>& units, const std::vector<size_t>& ranking,
                                    const std::vector<const QuantTable*>& rungs, const ConfigEvaluator& evaluator,
                                    const Budget& budget);

}  // namespace vitq
