// Small string helpers shared by the parsers of user text (flags, gates, config files, --preprocess).
#pragma once

#include <string>

namespace vitq {

/// \p text without leading and trailing whitespace (spaces, tabs, line ends).
inline std::string trimmed(const std::string& text) {
  const char* space = " \t\r\n\v\f";
  const size_t first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

}  // namespace vitq
