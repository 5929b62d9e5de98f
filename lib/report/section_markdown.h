// Markdown of the report's optional sections: the sensitivity ranking, the budget search, and the
// labelled accuracy (accuracyMarkdown appends them when the report has them).
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>

namespace vitq {

/// \p text (a node, value or output name from the model) as Markdown text that stays inside its
/// table cell and renders as written: `|` and backslashes escaped, `<`, `>` and `&` as entities
/// (no HTML reaches a renderer), line breaks and other control characters as visible escapes
/// (`\n`, `\x01`), so that a name can neither end its row nor add a column.
std::string escapeMarkdown(const std::string& text);

/// The ranking's first \p rows layers (all by default).
std::string sensitivityMarkdown(const nlohmann::json& sensitivity, size_t rows = static_cast<size_t>(-1));
std::string budgetMarkdown(const nlohmann::json& budget);
std::string labelledAccuracyMarkdown(const nlohmann::json& accuracy);

}  // namespace vitq
