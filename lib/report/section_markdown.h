// Markdown of the report's optional sections: the sensitivity ranking, the budget search, and the
// labelled accuracy (accuracyMarkdown appends them when the report has them).
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>

namespace vitq {

/// The ranking's first \p rows layers (all by default).
std::string sensitivityMarkdown(const nlohmann::json& sensitivity, size_t rows = static_cast<size_t>(-1));
std::string budgetMarkdown(const nlohmann::json& budget);
std::string labelledAccuracyMarkdown(const nlohmann::json& accuracy);

}  // namespace vitq
