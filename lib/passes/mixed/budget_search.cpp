#include "passes/mixed/budget_search.h"

#include <cmath>

#include "core/logging.h"

namespace vitq {
namespace {

constexpr double kTolerance = 1e-9;

class Search {
 public:
  Search(const std::vector<QuantUnit>& units, const std::vector<const QuantTable*>& rungs,
         const ConfigEvaluator& evaluator, const Budget& budget, BudgetResult& result)
      : units_(units), rungs_(rungs), evaluator_(evaluator), budget_(budget), result_(result) {}

  // Scores \p levels and logs the step.
  StatusOr<bool> tryLevels(const UnitLevels& levels, const std::string& phase, std::vector<size_t> changed,
                           int level) {
    VITQ_ASSIGN_OR_RETURN(ConfigMetrics m, evaluator_.evaluate(composeTable(units_, levels, rungs_)));
    if (budget_.metric == Budget::Metric::kTop1Drop && m.top1_agreement < 0) {
      return invalidArgument("--budget " + budget_.text +
                             ": the model's first output has no class dimension; use sqnr_db or cosine");
    }
    const bool holds = budget_.holds(m);
    result_.steps.push_back({phase, std::move(changed), level, m, holds});
    logger("vitq.budget")->info("{} -> {} = {:.4f} ({})", phase, budget_.text, budget_.value(m),
                                holds ? "holds" : "fails");
    if (holds) result_.final_metrics = m;
    return holds;
  }

 private:
  const std::vector<QuantUnit>& units_;
  const std::vector<const QuantTable*>& rungs_;
  const ConfigEvaluator& evaluator_;
  const Budget& budget_;
  BudgetResult& result_;
};

UnitLevels withPrefix(UnitLevels levels, const std::vector<size_t>& ranking, size_t count, int level) {
  for (size_t i = 0; i < count; ++i) levels[ranking[i]] = level;
  return levels;
}

std::vector<size_t> prefix(const std::vector<size_t>& ranking, size_t count) {
  return {ranking.begin(), ranking.begin() + static_cast<std::ptrdiff_t>(count)};
}

// Order of precision: base rung 0 < higher rungs < float.
int precisionOrder(int level, int rungs) { return level == kFloatLevel ? rungs : level; }

}  // namespace

double Budget::value(const ConfigMetrics& m) const {
  switch (metric) {
    case Metric::kTop1Drop: return 100.0 * (1.0 - m.top1_agreement);
    case Metric::kSqnrDb: return m.sqnr_db;
    case Metric::kCosine: return m.cosine;
  }
  return 0;
}

bool Budget::holds(const ConfigMetrics& m) const {
  const double v = value(m);
  return metric == Metric::kTop1Drop ? v <= limit + kTolerance : v >= limit - kTolerance;
}

StatusOr<Budget> parseBudget(const std::string& text) {
  const std::string forms = "expected top1_drop<=POINTS, sqnr_db>=DB or cosine>=VALUE";
  Budget b;
  b.text = text;
  const size_t op = text.find_first_of("<>");
  if (op == std::string::npos) return invalidArgument("--budget '" + text + "': " + forms);
  const std::string name = text.substr(0, op);
  size_t value_at = op + 1;
  if (value_at < text.size() && text[value_at] == '=') ++value_at;
  const char direction = text[op];
  if (name == "top1_drop" && direction == '<') b.metric = Budget::Metric::kTop1Drop;
  else if (name == "sqnr_db" && direction == '>') b.metric = Budget::Metric::kSqnrDb;
  else if (name == "cosine" && direction == '>') b.metric = Budget::Metric::kCosine;
  else return invalidArgument("--budget '" + text + "': " + forms);
  try {
    size_t used = 0;
    b.limit = std::stod(text.substr(value_at), &used);
    if (used != text.size() - value_at) throw std::invalid_argument("trailing characters");
  } catch (const std::exception&) {
    return invalidArgument("--budget '" + text + "': the limit is not a number; " + forms);
  }
  if (!std::isfinite(b.limit)) return invalidArgument("--budget '" + text + "': the limit must be a finite number");
  // A cosine above 1 can never hold: the search would end with every layer in float.
  if (b.metric == Budget::Metric::kCosine && b.limit > 1.0) {
    return invalidArgument("--budget '" + text + "': a cosine is at most 1");
  }
  return b;
}

StatusOr<BudgetResult> searchBudget(const std::vector<QuantUnit>& units, const std::vector<size_t>& ranking,
                                    const std::vector<const QuantTable*>& rungs, const ConfigEvaluator& evaluator,
                                    const Budget& budget) {
  BudgetResult result;
  Search search(units, rungs, evaluator, budget, result);
  const int top = static_cast<int>(rungs.size()) - 1;
  UnitLevels levels(units.size(), 0);
  VITQ_ASSIGN_OR_RETURN(bool holds, search.tryLevels(levels, "baseline", {}, 0));
  result.baseline = result.steps.back().metrics;
  const size_t n = ranking.size();
  std::vector<int> targets;
  if (top > 0) targets.push_back(top);
  targets.push_back(kFloatLevel);
  for (int target : targets) {
    if (holds || n == 0) break;
    // The shortest ranked prefix raised to target that meets the budget; count n is tried first.
    VITQ_ASSIGN_OR_RETURN(holds, search.tryLevels(withPrefix(levels, ranking, n, target), "raise", ranking, target));
    if (!holds) {
      levels = withPrefix(levels, ranking, n, target);
      continue;
    }
    size_t fails = 0, passes = n;
    while (passes - fails > 1) {
      const size_t mid = (fails + passes) / 2;
      VITQ_ASSIGN_OR_RETURN(bool ok, search.tryLevels(withPrefix(levels, ranking, mid, target), "raise",
                                                      prefix(ranking, mid), target));
      (ok ? passes : fails) = mid;
    }
    levels = withPrefix(levels, ranking, passes, target);
  }
  result.met = holds;
  if (!holds) {
    result.levels = levels;
    result.final_metrics = result.steps.back().metrics;
    return result;
  }
  // Lower each raised layer, least sensitive first, as far as the budget allows.
  for (auto it = ranking.rbegin(); it != ranking.rend(); ++it) {
    const size_t u = *it;
    const int current = precisionOrder(levels[u], top + 1);
    for (int order = 0; order < current; ++order) {
      UnitLevels trial = levels;
      trial[u] = order;
      VITQ_ASSIGN_OR_RETURN(bool ok, search.tryLevels(trial, "lower", {u}, order));
      if (ok) {
        levels = trial;
        break;
      }
    }
  }
  result.levels = levels;
  return result;
}

}  // namespace vitq
