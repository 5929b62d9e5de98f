// Validators for numeric options, run on the option's text before CLI11 converts it: CLI11's
// Range lets "nan" through (every comparison with NaN is false), and its conversion to unsigned
// types wraps "-1" around to 2^64 - 1.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/usable_cores.h"

namespace vitq::cli {

/// A whole number >= \p least, digits only.
inline CLI::Validator wholeNumber(unsigned least) {
  return CLI::Validator(
      [least](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.size() <= 19 && text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits || std::stoull(text) < least) {
          return "'" + text + "' is not a whole number of at least " + std::to_string(least);
        }
        return "";
      },
      least == 0 ? "UINT" : "COUNT");
}

/// A finite floating-point number (no nan, no inf).
inline CLI::Validator finiteNumber() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const double v = std::stod(text, &used);
          if (used == text.size() && std::isfinite(v)) return "";
        } catch (const std::exception&) {
        }
        return "'" + text + "' is not a finite number";
      },
      "NUMBER");
}

/// --threads, defaulting to the cores this process may use (help shows the number).
inline CLI::Option* addThreadsOption(CLI::App* cmd, int& threads, const std::string& what = "Threads") {
  threads = std::min(usableCores(), 256);  // the most --threads takes
  return cmd
      ->add_option("--threads", threads,
                   what + " (default: the cores this process may use: its CPU affinity, capped by a cgroup CPU quota)")
      ->check(CLI::Range(1, 256));
}

}  // namespace vitq::cli
