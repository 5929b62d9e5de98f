// `--recipe auto`: quantizes the model with each candidate recipe and placement on part of the
// calibration samples, scores each on the rest (samples the candidate did not calibrate on), and
// picks the best, so that a user need not know which ranges or placement a model needs.
#pragma once

#include <nlohmann/json.hpp>

#include "api/quantization_inputs.h"
#include "vitq/quantize_flags.h"

namespace vitq::cli {

struct AutoChoice {
  QuantizeFlags flags;     // the user's flags with the chosen recipe and placement
  nlohmann::json report;   // the report's `auto` section: what was tried, the scores, the choice
};

/// The flags with the default recipe in place when --recipe was not given: auto, or minmax where a
/// flag names one recipe's work (--pipeline, --weight-only, --budget, --stats, --stop-after, --format integer).
QuantizeFlags withDefaultRecipe(const QuantizeFlags& o);

/// Refuses flags that `--recipe auto` cannot combine with, naming them.
Status checkAutoFlags(const QuantizeFlags& o);

/// The user's flags as the first candidate they fit, to check the other flags before any work (the
/// choice comes once the model and data are loaded).
QuantizeFlags firstFittingCandidate(const QuantizeFlags& o);

/// Tries the candidates within --auto-budget seconds and returns the best by output SQNR on the
/// held-out calibration samples (the earlier candidate on a tie).
StatusOr<AutoChoice> chooseRecipe(const QuantizeFlags& o, const QuantizationInputs& in);

}  // namespace vitq::cli
