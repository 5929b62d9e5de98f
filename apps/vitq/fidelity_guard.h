// The fidelity guard, on by default in `vitq quantize`: a written model that is clearly broken
// against its float model on the evaluation samples fails the run with exit 3 (kGateFailed),
// naming the outputs and the most damaged layers, unless --no-guard is given.
//
// Clearly broken: some float output has cosine < 0.9 against the float model, or top-1 agreement
// < 0.5 while its cosine is below 0.99. The second bound needs both: an output that is not a
// class score (a probability map, a feature vector) has arg-max ties that flip under any rounding,
// so agreement alone would fail sound models. Tighter, model-specific bounds are --fail-if gates.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "core/status.h"

namespace vitq::cli {

inline constexpr double kGuardMinCosine = 0.9;
inline constexpr double kGuardMinTop1Agreement = 0.5;
inline constexpr double kGuardTop1CosineCeiling = 0.99;

/// ok, or kGateFailed explaining why the model that \p report describes (written to \p output)
/// is broken.
Status checkFidelity(const nlohmann::json& report, const std::string& output);

}  // namespace vitq::cli
